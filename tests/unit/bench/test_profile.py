"""`python -m bench profile`'s recordings: a measured window writes a flame graph of each
Python process it meters (and none of a process that is not Python), and lists them with the
cores each used; with profiling off a meter records nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import profile
from bench.cpu import CpuMeter

BUSY = "import time\nend = time.time() + 30\nwhile time.time() < end:\n    sum(range(1000))\n"


@pytest.fixture
def busy_python() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    time.sleep(0.3)  # past the interpreter's start-up
    yield child
    child.kill()
    child.wait()


def test_a_window_writes_a_flame_graph_per_python_process(
    tmp_path: Path, busy_python: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(profile.PROFILE_ENV, str(tmp_path))
    sleeper = subprocess.Popen(["sleep", "30"])  # not Python: py-spy cannot read it
    try:
        meter = CpuMeter({"busy": busy_python.pid, "sleep": sleeper.pid}, "POST /v1/posts")
        meter.start()
        time.sleep(1.0)
        cores = meter.stop()
    finally:
        sleeper.kill()
        sleeper.wait()
    graph = tmp_path / "post-v1-posts" / "busy.svg"
    assert "<svg" in graph.read_text()
    assert not (tmp_path / "post-v1-posts" / "sleep.svg").exists()
    # The busy loop's share of a core depends on what else runs (tests run several at once
    # on two cores, and CI saw it get 0.05 of one while py-spy sampled it); a sleeping
    # process uses next to nothing.
    assert cores["busy"] > 0 and cores["sleep"] < 0.05
    assert cores["busy"] > cores["sleep"]
    readme = (tmp_path / "README.md").read_text()
    assert "**POST /v1/posts**" in readme
    assert "[busy.svg](post-v1-posts/busy.svg)" in readme

    # The same figure measured again gets a folder of its own.
    again = CpuMeter({"busy": busy_python.pid}, "POST /v1/posts")
    again.start()
    time.sleep(0.5)
    again.stop()
    assert (tmp_path / "post-v1-posts-2" / "busy.svg").exists()

    # An id in the label does not make each run's folder a new name.
    named = CpuMeter(
        {"busy": busy_python.pid}, "POST /v1/posts/0190a1b2-0000-7000-8000-00000000abcd/comments"
    )
    named.start()
    time.sleep(0.3)
    named.stop()
    assert (tmp_path / "post-v1-posts-id-comments" / "busy.svg").exists()


def test_without_profiling_a_meter_records_nothing(
    tmp_path: Path, busy_python: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(profile.PROFILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    meter = CpuMeter({"busy": busy_python.pid}, "quiet")
    meter.start()
    time.sleep(0.3)
    assert meter.stop()["busy"] > 0
    assert list(tmp_path.iterdir()) == []
