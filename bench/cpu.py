"""CPU used by each process of a run, from /proc: what a figure costs and where.

Dividing the cores a process used by the rate of a figure gives the CPU it spends per
request; once the cores are busy, that is what has to shrink for the rate to grow.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.loadgen import LoopResult, Send, closed_loop
from bench.profile import Recording, recording


def _cpu_seconds(pid: int) -> float | None:
    if pid <= 0:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return None
    # utime and stime are fields 14 and 15 of stat(5); index 11/12 after the ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The whole machine's busy cores (our processes, PostgreSQL, Redis, the kernel, and
#: anybody else's work: a busy neighbour shows up here).
MACHINE = "whole machine"


class CpuMeter:
    """Cores used by each process between `start()` and `stop()`, from /proc; with
    profiling on (`python -m bench profile`), a flame graph of each over the same window,
    named by `label` (the figure it measures)."""

    def __init__(self, pids: dict[str, int], label: str = "window") -> None:
        self.pids = pids
        self.label = label
        self._before: dict[str, float | None] = {}
        self._t0 = 0.0
        self._recording: Recording | None = None
        self.cores: dict[str, float] = {}

    def start(self) -> None:
        self._recording = recording(self.label, self.pids)
        self._t0 = time.perf_counter()
        self._before = {name: _cpu_seconds(pid) for name, pid in self.pids.items()}
        self._before[MACHINE] = _machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._t0
        after = {name: _cpu_seconds(pid) for name, pid in self.pids.items()}
        after[MACHINE] = _machine_busy_seconds()
        for name, value in after.items():
            before = self._before.get(name)
            if before is not None and value is not None and wall > 0:
                self.cores[name] = round((value - before) / wall, 2)
        if self._recording is not None:
            self._recording.stop(self.cores)
            self._recording = None
        return self.cores


def _machine_busy_seconds() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (FileNotFoundError, IndexError):
        return None
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def metered_loop(
    send: Send,
    pids: dict[str, int],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    warmup_seconds: float,
    label: str = "window",
) -> tuple[LoopResult, dict[str, float]]:
    """`closed_loop(send)` after a warm-up, and the cores each of `pids` used while it was
    measured (the warm-up runs separately so the sample covers the measured part only)."""
    await closed_loop(send, clients=clients, seconds=warmup_seconds, max_requests=max_requests)
    meter = CpuMeter(pids, label)
    meter.start()
    result = await closed_loop(send, clients=clients, seconds=seconds, max_requests=max_requests)
    return result, meter.stop()
