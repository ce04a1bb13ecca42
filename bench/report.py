"""What every suite shares around its figures: progress lines, the machine it ran on, the
table it prints, and the run itself (bounded in time; Ctrl-C or SIGTERM stops everything it
started; the JSON report written where asked)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.environment import ROOT, BenchSetupError
from core import embedded_nats

RESULTS = Path(__file__).resolve().parent / "results"

#: One suite's work: measures (reporting progress to the callable it is given) and returns
#: the JSON report.
Suite = Callable[[Callable[[str], None]], Coroutine[Any, Any, dict[str, Any]]]
#: A text made from a report (the table, the details).
Text = Callable[[dict[str, Any]], str]


class Progress:
    """Timestamped progress lines on stderr (the table goes to stdout)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(
            f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True
        )


def nats_version() -> str:
    output = subprocess.run(
        [str(embedded_nats.nats_binary()), "--version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout
    match = re.search(r"\d+\.\d+\.\d+\S*", output)
    return match.group(0) if match else output.strip()


def machine() -> dict[str, Any]:
    """Where and when a run happened, for the report."""
    return {
        "cpu_count": os.cpu_count(),
        "nats_server_version": nats_version(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def cpu_ms_per_request(cores: dict[str, float], per_s: float) -> dict[str, float]:
    """CPU ms each process spends per request: what must shrink for a higher rate."""
    return {name: round(used / per_s * 1000, 3) for name, used in cores.items()} if per_s else {}


def fmt(value: float | None, unit: str) -> str:
    """A figure for the table: `/s` rates without decimals, anything else as milliseconds."""
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:,.2f} ms"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def ratio(value: float | None, bound: float | None) -> float | None:
    """`value / bound`, rounded; None when either is missing or zero."""
    return None if not value or not bound else round(value / bound, 3)


def plus(a: float | None, b: float | None) -> float | None:
    """`a + b` (a floor made of two floors); None when either is missing."""
    return None if a is None or b is None else a + b


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; the columns in `right` aligned right."""
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), "-+-".join("-" * w for w in widths)]
    out += [line(x) for x in rows]
    return "\n".join(out)


def footer(result: dict[str, Any]) -> list[str]:
    """The last lines of every suite's details: the machine and where each server came from."""
    lines = [
        f"machine: {result['cpu_count']} CPUs, nats-server {result['nats_server_version']}, "
        f"{result['python']}; mode {result['mode']}"
    ]
    return lines + [f"{name}: {origin}" for name, origin in result["backends"].items()]


def run_suite(
    name: str,
    suite: Suite,
    *,
    quick: bool,
    output: Path | None,
    timeout: float,
    table: Text,
    details: Text,
) -> int:
    """Run `suite` on uvloop within `timeout` seconds, write its report to `output` (default
    `bench/results/<name>.json`, `<name>-quick.json` with `quick`) and print its table and
    details; the exit status of `python -m bench`."""
    path = output or RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    say = Progress()
    try:
        import uvloop

        runner: Callable[[Coroutine[Any, Any, dict[str, Any]]], dict[str, Any]] = uvloop.run
    except ImportError:  # pragma: no cover - non-Linux
        runner = asyncio.run

    async def guarded() -> dict[str, Any]:
        # SIGTERM cancels the run like Ctrl-C does, so every process we started is stopped.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        async with asyncio.timeout(timeout):
            return await suite(say)

    try:
        result = runner(guarded())
    except BenchSetupError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"bench: gave up after {timeout:.0f}s", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; everything it started was stopped", file=sys.stderr)
        return 130
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(table(result))
    print()
    print(details(result))
    print(f"\nwritten to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0
