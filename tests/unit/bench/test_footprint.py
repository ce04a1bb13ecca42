"""The footprint bench's process walk: every descendant found, each read and summed by kind."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.footprint import Proc, by_kind, descendants, read_processes


def test_the_walk_finds_children_and_grandchildren_and_reads_their_memory() -> None:
    # A child that starts a grandchild, both sleeping until killed.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen(['sleep', '30']); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        found = descendants([os.getpid()])
        assert os.getpid() in found and child.pid in found
        procs = {p.pid: p for p in read_processes(found, up_pid=os.getpid())}
        grandchildren = [p for p in procs.values() if p.kind == "sleep"]
        assert len(grandchildren) == 1
        assert procs[os.getpid()].kind.startswith("quark up")
        assert procs[child.pid].kind == "Python: other"
        assert all(p.rss_kib > 0 and 0 < p.pss_kib <= p.rss_kib for p in procs.values())
    finally:
        subprocess.run(["pkill", "-P", str(child.pid)], check=False)
        child.kill()
        child.wait()


def test_by_kind_sums_in_megabytes_largest_first() -> None:
    kinds = by_kind(
        [
            Proc(1, "PostgreSQL (embedded)", 10_000, 2_000),
            Proc(2, "PostgreSQL (embedded)", 10_000, 2_000),
            Proc(3, "nats-server (embedded)", 1_000, 1_000),
        ]
    )
    assert list(kinds) == ["PostgreSQL (embedded)", "nats-server (embedded)"]
    assert kinds["PostgreSQL (embedded)"] == {"processes": 2, "rss_mb": 20.5, "pss_mb": 4.1}
