"""`python -m bench profile <suite> [--quick]`: a suite's run with a py-spy flame graph of
every platform process over each measured window.

Every figure that says what its processes cost measures them between `CpuMeter.start()` and
`stop()` (bench/cpu.py): the steady part of its load, after the warm-up. With profiling on
(`QUARK_BENCH_PROFILE`, which this command sets), the meter also starts `py-spy record` on
each Python process of the window (edge, handlers, projections, gateway, media worker, the
load generator) and stops it with the window, so each flame graph shows exactly the load its
figure measured. nats-server, PostgreSQL and Redis are not Python: their share is the CPU
column of the suite's own report.

The graphs go to `bench/results/profiles/<date>-<suite>[-quick]/<window>/<process>.svg`, with
a README.md listing each window's processes and the cores each used under the profiler.
Sampling costs CPU (`--nonblocking` keeps it from pausing the process, not from using a
core), so a profiled run's figures are for reading the graphs beside, not for the record.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

#: Set to a folder: every measured window writes its flame graphs there.
PROFILE_ENV = "QUARK_BENCH_PROFILE"
#: Samples a second: enough for a few seconds' window to show what costs 1 %.
RATE = 200
RESULTS = Path(__file__).resolve().parent / "results" / "profiles"

_windows: dict[str, int] = {}
#: Ids in a window's label (a path such as /v1/posts/<id>/comments) become `{id}`, so a
#: window keeps its name from one run to the next.
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "window"


def _is_python(pid: int) -> bool:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return b"python" in Path(argv0.decode(errors="replace")).name.encode()


def py_spy() -> str:
    """The py-spy beside this interpreter (the dev dependencies install it), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: ./dev installs the dev dependencies")
    return found


#: How long a window waits for its py-spy processes to start sampling.
START_SECONDS = 10.0


def _wait_sampling(spy: subprocess.Popen[bytes], deadline: float) -> None:
    """Until `spy` prints that it samples (py-spy's "Sampling process" line, on stdout), it
    ends, or `deadline`; its errors stay on stderr for `communicate()` to read after."""
    assert spy.stdout is not None
    fd = spy.stdout.fileno()
    seen = b""
    while b"Sampling process" not in seen and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return
        chunk = os.read(fd, 4096)
        if not chunk:
            return
        seen += chunk


class Recording:
    """py-spy on each Python process of one measured window, until `stop()`."""

    def __init__(self, folder: Path, label: str, pids: dict[str, int]) -> None:
        label = _ID.sub("{id}", label)
        count = _windows[label] = _windows.get(label, 0) + 1
        self.folder = folder / (_slug(label) + (f"-{count}" if count > 1 else ""))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.label = label
        self.started = time.perf_counter()
        self.spies: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        for name, pid in pids.items():
            if not _is_python(pid):
                continue
            out = self.folder / f"{_slug(name)}.svg"
            argv = [py_spy(), "record", "-p", str(pid), "-r", str(RATE), "--nonblocking"]
            argv += ["-o", str(out), "--format", "flamegraph"]
            self.spies[name] = (
                subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
                out,
            )
        # A py-spy stopped before it samples writes no graph (a loaded machine can take
        # longer to start it than a short window lasts): the window starts once each says so.
        deadline = time.monotonic() + START_SECONDS
        for spy, _ in self.spies.values():
            _wait_sampling(spy, deadline)
        self.started = time.perf_counter()

    def stop(self, cores: dict[str, float]) -> None:
        """End every recording (py-spy writes its graph on SIGINT) and note the window."""
        seconds = time.perf_counter() - self.started
        for spy, _ in self.spies.values():
            spy.send_signal(signal.SIGINT)
        lines = [f"- **{self.label}**, {seconds:.1f} s:"]
        for name, (spy, out) in self.spies.items():
            try:
                _, err = spy.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            used = cores.get(name)
            share = f"{used:.2f} cores" if used is not None else "cores not measured"
            if out.exists():
                lines.append(f"  - {name}: [{out.name}]({self.folder.name}/{out.name}), {share}")
            else:
                why = (err or b"").decode(errors="replace").strip().splitlines()[-1:] or ["?"]
                lines.append(f"  - {name}: no graph ({why[0]}), {share}")
        with (self.folder.parent / "README.md").open("a") as readme:
            readme.write("\n".join(lines) + "\n")


def recording(label: str, pids: dict[str, int]) -> Recording | None:
    """A recording of this window when profiling is on, else None."""
    folder = os.environ.get(PROFILE_ENV)
    return Recording(Path(folder), label, pids) if folder else None


def main(argv: list[str]) -> int:
    from bench.__main__ import SUITES
    from bench.__main__ import main as run_suite

    parser = argparse.ArgumentParser(
        prog="python -m bench profile",
        description="Run a suite with a py-spy flame graph of every platform process over "
        "each measured window (bench/results/profiles/<date>-<suite>/).",
    )
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true", help="the suite's small sizes")
    parser.add_argument("--output", type=Path, default=None, help="the folder for the graphs")
    args = parser.parse_args(argv)
    py_spy()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    folder = args.output or RESULTS / f"{stamp}-{args.suite}{'-quick' if args.quick else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    command = f"python -m bench profile {args.suite}{' --quick' if args.quick else ''}"
    (folder / "README.md").write_text(
        f"# Flame graphs: `{command}`, {stamp} UTC\n\n"
        f"py-spy, {RATE} Hz, non-blocking, over each measured window of the suite (after its "
        "warm-up); one graph per Python process. Cores are as used under the profiler.\n\n"
    )
    os.environ[PROFILE_ENV] = str(folder)
    suite_args = [args.suite, "--output", str(folder / f"{args.suite}.json")]
    status = run_suite(suite_args + (["--quick"] if args.quick else []))
    print(f"flame graphs: {folder}")
    return status
