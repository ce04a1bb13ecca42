"""The footprint benchmark: `python -m bench footprint [--quick]` — the memory the whole
embedded platform holds when idle.

It runs exactly what `./dev up` runs (`quark up` with no server configured, so NATS,
PostgreSQL and Redis are embedded ones in a new data dir), waits for the banner, lets the
platform settle (`Sizes.settle_seconds`: projections catch up, pools shrink to what idle
needs), then reads every process of the platform: `quark up`'s descendants and the embedded
PostgreSQL's (its postmaster is started by `pg_ctl` and is nobody's child), from
`/proc/<pid>/status` (VmRSS) and `/proc/<pid>/smaps_rollup` (Pss). Two totals, because they
answer different questions:

- **RSS summed**: what the issue's target counts (≤ 400 MB). It counts a shared page once
  per process that maps it, so PostgreSQL's shared buffers are counted in every backend
  that touched them.
- **PSS summed**: what the machine really gives the platform (a shared page divided among
  the processes that share it).

There is no ceiling to divide by: memory does not vary with the machine's speed the way
throughput does, so the figure is compared with the target directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.environment import ROOT, BenchSetupError
from bench.report import footer, machine, render_table
from core import embedded
from core.bootstrap import PG_IDLE_SECONDS

#: The issue's bound on the idle platform, all processes together (RSS, MB = 10^6 bytes).
TARGET_MB = 400


@dataclass(frozen=True)
class Sizes:
    settle_seconds: float
    overall_timeout: float


#: Past `core.bootstrap.PG_IDLE_SECONDS`, by when the pools keep only what idle needs.
FULL = Sizes(settle_seconds=60.0, overall_timeout=300.0)
QUICK = Sizes(settle_seconds=PG_IDLE_SECONDS + 10.0, overall_timeout=180.0)


@dataclass(frozen=True)
class Proc:
    pid: int
    kind: str
    rss_kib: int
    pss_kib: int


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (one pass)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(roots: Iterable[int]) -> list[int]:
    """`roots` and every process below them."""
    kids = _children()
    seen: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo += kids.get(pid, [])
    return seen


def _field_kib(path: str, name: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def kind_of(pid: int, up_pid: int) -> str:
    """A process's kind, for the table: the platform's own Python process, each server, the
    optional modules (by their command), or a helper process of Python's."""
    if pid == up_pid:
        return "quark up (Python: every module)"
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    command = " ".join(a.decode(errors="replace") for a in argv if a)
    name = Path(f"/proc/{pid}/comm").read_text().strip()
    if name == "postgres" or "postgres" in argv[0].decode(errors="replace"):
        return "PostgreSQL (embedded)"
    for server in ("nats-server", "redis-server"):
        if server in command:
            return f"{server} (embedded)"
    if name in ("node", "npm") or "node" in argv[0].decode(errors="replace"):
        return "node (optional modules)"
    if "resource_tracker" in command:
        return "Python: multiprocessing resource tracker"
    if "python" in name or "python" in command:
        return "Python: other"
    return name


def read_processes(pids: Iterable[int], up_pid: int) -> list[Proc]:
    procs = []
    for pid in pids:
        with contextlib.suppress(OSError):
            procs.append(
                Proc(
                    pid,
                    kind_of(pid, up_pid),
                    _field_kib(f"/proc/{pid}/status", "VmRSS"),
                    _field_kib(f"/proc/{pid}/smaps_rollup", "Pss"),
                )
            )
    return procs


def by_kind(procs: list[Proc]) -> dict[str, dict[str, float]]:
    kinds: dict[str, dict[str, float]] = {}
    for p in procs:
        k = kinds.setdefault(p.kind, {"processes": 0, "rss_mb": 0.0, "pss_mb": 0.0})
        k["processes"] += 1
        k["rss_mb"] += p.rss_kib * 1024 / 1e6
        k["pss_mb"] += p.pss_kib * 1024 / 1e6
    return {
        name: {key: round(v, 1) for key, v in k.items()}
        for name, k in sorted(kinds.items(), key=lambda kv: -kv[1]["rss_mb"])
    }


def _postmaster(data_dir: Path) -> int | None:
    """The embedded PostgreSQL's postmaster (`pg_ctl` daemonises it: it is not a child)."""
    pidfile = (data_dir / "postgres" / "cluster").resolve() / "pgdata" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(pidfile.read_text().split()[0])
    return None


def _quark() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "quark"
    return [str(venv)] if venv.exists() else [sys.executable, "-m", "station.cli"]


async def _wait_banner(up: asyncio.subprocess.Process, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.returncode is not None:
            raise BenchSetupError(f"quark up exited ({up.returncode}): see {log}")
        if b"quark is up" in await asyncio.to_thread(log.read_bytes):
            return
        await asyncio.sleep(0.2)
    raise BenchSetupError(f"quark up printed no banner in {timeout:.0f}s: see {log}")


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quark-footprint-") as tmp:
        data = Path(tmp) / "data"
        log = Path(tmp) / "up.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUARK_")} | {
            "QUARK_DATA_DIR": str(data),
            "QUARK_HTTP_PORT": str(embedded.free_port()),
            "QUARK_HUB_PORT": str(embedded.free_port()),
        }
        say("starting quark up (embedded NATS, PostgreSQL, Redis) in a new data dir")
        started = time.perf_counter()
        with log.open("wb") as out:
            up = await asyncio.create_subprocess_exec(
                *_quark(), "up", cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            await _wait_banner(up, log, 120)
            ready_s = time.perf_counter() - started
            say(f"up in {ready_s:.1f}s; idle for {sizes.settle_seconds:.0f}s")
            await asyncio.sleep(sizes.settle_seconds)
            roots = [up.pid] + [p for p in [_postmaster(data)] if p is not None]
            procs = read_processes(descendants(roots), up.pid)
        finally:
            up.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(up.wait(), 60)
            except TimeoutError:
                up.kill()
                await up.wait()
    rss = sum(p.rss_kib for p in procs) * 1024 / 1e6
    pss = sum(p.pss_kib for p in procs) * 1024 / 1e6
    return {
        "suite": "footprint",
        "mode": "quick" if quick else "full",
        **machine(),
        "backends": {"nats, postgres, redis": "embedded, as `./dev up` starts them"},
        "settle_seconds": sizes.settle_seconds,
        "up_seconds": round(ready_s, 1),
        "processes": len(procs),
        "rss_mb": round(rss, 1),
        "pss_mb": round(pss, 1),
        "target_rss_mb": TARGET_MB,
        "by_kind": by_kind(procs),
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        [name, str(int(k["processes"])), f"{k['rss_mb']:.1f}", f"{k['pss_mb']:.1f}"]
        for name, k in result["by_kind"].items()
    ]
    rows.append(
        [
            "all processes",
            str(result["processes"]),
            f"{result['rss_mb']:.1f}",
            f"{result['pss_mb']:.1f}",
        ]
    )
    return render_table(["process", "n", "RSS MB", "PSS MB"], rows, right={1, 2, 3})


def details_text(result: dict[str, Any]) -> str:
    verdict = "within" if result["rss_mb"] <= result["target_rss_mb"] else "OVER"
    return "\n".join(
        [
            f"idle ./dev up after {result['settle_seconds']:.0f}s: RSS summed "
            f"{result['rss_mb']:.1f} MB, {verdict} the target of {result['target_rss_mb']} MB; "
            f"PSS summed {result['pss_mb']:.1f} MB; up in {result['up_seconds']}s",
            *footer(result),
        ]
    )
