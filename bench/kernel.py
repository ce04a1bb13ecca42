"""The kernel benchmark: `python -m bench kernel [--quick]`.

Five figures, each printed beside a ceiling (or floor) measured in the same run
(`bench/ceilings.py`), with the target from the design and whether it is met:

1. **Commands/s and latency through `POST /v1/posts`** with 1 and 64 concurrent clients.
   The platform runs as separate `quark run` processes (edge, posts handler, the posts and
   author_stats projections), as in production, so the figure includes every hop: HTTP in,
   NATS request to the handler, durable JetStream append, reply, HTTP out — while the
   projections consume the same commits. Each client sends sequentially over a keep-alive
   connection (closed loop), after a warm-up; the run is bounded in time and count. Each
   client (each wrk thread) is a user of its own with a real bearer token, minted by this
   process from the `signing_keys` ring the edge loads (`bench.environment.access_tokens`),
   so every command pays the edge's token check and Redis revocation lookup.
2. **Commit → read-model lag** at a steady 500 commands/s, offered open-loop through the
   same edge. For each command, lag is the time from the 201 (commit acknowledged) until the
   posts projection announces, on `quark.positions.posts`, a checkpoint at or past the
   reply's position — exactly what a read with `Quark-After` waits for. A notification
   that arrived before the 201 counts as zero lag (the read model was already there).
3. **Replay rate**: the platform is stopped, the CONTENT stream is recreated empty and
   filled with 200,000 `PostPublished` commits through `EventStore.append` (pipelined, on
   the same durable server, so the events are exactly what handlers write), then
   `core.replay.replay` rebuilds the posts read model from them — what `quark replay
   posts` does, in this process — and the row count is checked.
4. **Loading a 100-event aggregate**: one post with 1 `PublishPost` and 99 `EditPost`
   commits through `core.bus.execute`, then `EventStore.load` repeated with snapshots off
   (the figure) and on (an extra).
5. **The hub's cost** (`bench/hub_cost.py`): figure 1's 64-client rate in alternating rounds
   without the hub and with it running and one dashboard open.

While figure 1 runs with 64 clients, the CPU time of every process we started (and of the
whole machine) is sampled from /proc, and divided by the command rate: the CPU each process
spends per command is what has to shrink once the cores are busy.

Ceilings (throughput) and floors (latency) come from `bench/ceilings.py`: durable JetStream
publishes and a hello-world aiohttp server for figure 1, a one-row PostgreSQL commit for
figure 2, `COPY` and the raw stream read for figure 3, a raw-socket batch direct get for
figure 4. Ratios are value / ceiling for throughputs and value / floor for latencies.

The machine has two cores and the load generator shares them with the servers; so does the
hello-world ceiling, which is driven by the same client code and therefore comparable.

This module holds the sizes, the run in its order and the report; the figures are measured
in `bench/kernel_commands.py` (1, 2 and the overload phase), `bench/kernel_replay.py` (3 and
4) and `bench/hub_cost.py` (5), the ceilings taken before the platform starts in
`bench/kernel_ceilings.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.environment import LIFTED, Backends, access_tokens, set_up
from bench.hub_cost import hub_cost_figure, hub_cost_text
from bench.kernel_ceilings import measure_ceilings
from bench.kernel_commands import (
    HTTP_BODY,
    PositionLog,
    commands_figure,
    lag_figure,
    overload_figure,
    wait_platform,
)
from bench.kernel_replay import load_figure, replay_figure
from bench.loadgen import LoopResult, rounded, server_errors
from bench.report import (
    fmt,
    fmt_ratio,
    footer,
    machine,
    plus,
    ratio,
    render_table,
)
from core.projection import POSITIONS_SUBJECT

#: From DESIGN.md and the kernel issue. Throughputs are floors, latencies ceilings.
TARGETS: dict[str, float] = {
    "commands_per_s_64": 3000,
    "p99_ms_64": 50,
    "p50_ms_1": 2,
    "lag_p50_ms": 5,
    "lag_p99_ms": 25,
    "replay_events_per_s": 50000,
    "aggregate_load_ms": 5,
}
HIGHER_IS_BETTER = {"commands_per_s_64", "commands_per_s_1", "replay_events_per_s"}


@dataclass(frozen=True)
class Sizes:
    warmup_seconds: float
    http_seconds: float
    http_max_requests: int
    lag_rate: float
    lag_seconds: float
    replay_events: int
    bulk_concurrency: int
    bulk_max_seconds: float
    load_repeat: int
    pg_commits: int
    overall_timeout: float
    overload_seconds: float
    #: The overload phase offers this many times the 64-client closed-loop rate.
    overload_factor: float


FULL = Sizes(
    warmup_seconds=2.0,
    http_seconds=10.0,
    http_max_requests=200_000,
    lag_rate=500.0,
    lag_seconds=10.0,
    replay_events=200_000,
    bulk_concurrency=256,
    bulk_max_seconds=240.0,
    load_repeat=500,
    pg_commits=1000,
    overall_timeout=600.0,
    overload_seconds=5.0,
    overload_factor=3.0,
)
QUICK = Sizes(
    warmup_seconds=0.5,
    http_seconds=3.0,
    http_max_requests=50_000,
    lag_rate=500.0,
    lag_seconds=3.0,
    replay_events=20_000,
    bulk_concurrency=256,
    bulk_max_seconds=60.0,
    load_repeat=100,
    pg_commits=200,
    overall_timeout=270.0,
    overload_seconds=2.0,
    overload_factor=3.0,
)


# --- the run ------------------------------------------------------------------------------


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            say(f"settings lifted for the run: {LIFTED}")
            setup = await set_up(tmp, stack, say, extra_env=LIFTED)
            backends, platform, infra = setup.backends, setup.platform, setup.infra
            # One user per simulated client (64 at most), each with a token of its own.
            tokens = access_tokens(setup.tokens, 64)

            ceiling = await measure_ceilings(backends, tmp, sizes, tokens, say)

            positions = PositionLog()
            await infra.nc.subscribe(f"{POSITIONS_SUBJECT}.posts", cb=positions.on_msg)

            say(
                "starting the platform: quark run handler posts / projection posts / "
                "projection author_stats / edge"
            )
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            async with aiohttp.ClientSession() as session:
                await wait_platform(platform, session, infra.nc, tokens[0])
            commands, cores = await commands_figure(platform, sizes, tokens, platform.pids(), say)
            hub = await hub_cost_figure(
                platform, tokens, setup.tokens, HTTP_BODY, sizes.http_seconds / 2, say
            )
            lag = await lag_figure(platform, infra.nc, positions, sizes, tokens, say)
            overload = await overload_figure(
                platform, infra.store, sizes, tokens, commands[64].per_s, say
            )
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)

            replayed = await replay_figure(infra, backends, sizes, say)
            aggregate = await load_figure(infra, backends.nats_url, sizes, say)
            say("cleaning up")
    result = assemble(
        sizes, quick, backends, ceiling, commands, cores, lag, overload, replayed, aggregate
    )
    result["hub_cost"] = hub
    return result


def assemble(
    sizes: Sizes,
    quick: bool,
    backends: Backends,
    ceiling: dict[str, Any],
    commands: dict[int, LoopResult],
    cores: dict[str, float],
    lag: dict[str, Any],
    overload: dict[str, Any],
    replayed: dict[str, Any],
    aggregate: dict[str, Any],
) -> dict[str, Any]:
    c1, c64 = commands[1], commands[64]
    js1, js64 = ceiling["jetstream_1"], ceiling["jetstream_64"]
    h1, h64 = ceiling["aiohttp_hello_1"], ceiling["aiohttp_hello_64"]
    pgc: LoopResult = ceiling["pg_commit"]
    figures: dict[str, float | None] = {
        "commands_per_s_64": round(c64.per_s, 1),
        "p99_ms_64": rounded(c64.p99_ms),
        "p50_ms_1": rounded(c1.p50_ms),
        "commands_per_s_1": round(c1.per_s, 1),
        "p50_ms_64": rounded(c64.p50_ms),
        "p99_ms_1": rounded(c1.p99_ms),
        "lag_p50_ms": lag["lag_p50_ms"],
        "lag_p99_ms": lag["lag_p99_ms"],
        "replay_events_per_s": replayed["replay"]["events_per_s"],
        "aggregate_load_ms": aggregate["median_ms"],
    }
    ceilings_out: dict[str, float | None] = {
        "jetstream_publish_per_s_64": round(js64.per_s, 1),
        "jetstream_publish_p50_ms_64": rounded(js64.p50_ms),
        "jetstream_publish_p99_ms_64": rounded(js64.p99_ms),
        "jetstream_publish_per_s_1": round(js1.per_s, 1),
        "jetstream_publish_p50_ms_1": rounded(js1.p50_ms),
        "jetstream_publish_p99_ms_1": rounded(js1.p99_ms),
        "aiohttp_hello_per_s": round(h64.per_s, 1),
        "aiohttp_hello_p50_ms_64": rounded(h64.p50_ms),
        "aiohttp_hello_p99_ms_64": rounded(h64.p99_ms),
        "aiohttp_hello_per_s_1": round(h1.per_s, 1),
        "aiohttp_hello_p50_ms_1": rounded(h1.p50_ms),
        "aiohttp_hello_p99_ms_1": rounded(h1.p99_ms),
        "pg_commit_p50_ms": rounded(pgc.p50_ms),
        "pg_commit_p99_ms": rounded(pgc.p99_ms),
        "pg_copy_rows_per_s": replayed["pg_copy"]["rows_per_s"],
        "stream_read_msgs_per_s": replayed["stream_read"]["msgs_per_s"],
        "direct_get_100_ms": rounded(aggregate["direct_get"]["median_ms"]),
        "direct_get_100_p99_ms": rounded(aggregate["direct_get"]["p99_ms"]),
        "direct_get_100_nats_py_ms": rounded(aggregate["direct_get_nats_py"]["median_ms"]),
    }
    floor_p50_1 = plus(js1.p50_ms, h1.p50_ms)
    floor_p99_64 = plus(js64.p99_ms, h64.p99_ms)
    ceilings_out["floor_p50_ms_1"] = rounded(floor_p50_1)
    ceilings_out["floor_p99_ms_64"] = rounded(floor_p99_64)

    ratios = {
        "commands_per_s_64_vs_jetstream": ratio(c64.per_s, js64.per_s),
        "commands_per_s_64_vs_aiohttp": ratio(c64.per_s, h64.per_s),
        "commands_per_s_1_vs_jetstream": ratio(c1.per_s, js1.per_s),
        "p99_ms_64_vs_floor": ratio(c64.p99_ms, floor_p99_64),
        "p50_ms_1_vs_floor": ratio(c1.p50_ms, floor_p50_1),
        "lag_p50_ms_vs_pg_commit": ratio(lag["lag_p50_ms"], pgc.p50_ms),
        "lag_p99_ms_vs_pg_commit": ratio(lag["lag_p99_ms"], pgc.p99_ms),
        "replay_events_per_s_vs_pg_copy": ratio(
            replayed["replay"]["events_per_s"], replayed["pg_copy"]["rows_per_s"]
        ),
        "replay_events_per_s_vs_stream_read": ratio(
            replayed["replay"]["events_per_s"], replayed["stream_read"]["msgs_per_s"]
        ),
        "aggregate_load_ms_vs_direct_get": ratio(
            aggregate["median_ms"], aggregate["direct_get"]["median_ms"]
        ),
        "aggregate_load_ms_vs_direct_get_nats_py": ratio(
            aggregate["median_ms"], aggregate["direct_get_nats_py"]["median_ms"]
        ),
    }
    met = {}
    for key, target in TARGETS.items():
        value = figures[key]
        met[key] = value is not None and (
            value >= target if key in HIGHER_IS_BETTER else value <= target
        )
    # Issue 8: no answer of class 5xx other than 503, in any phase.
    other_5xx = {
        "commands_1": server_errors(c1.error_kinds)["http_5xx_other_than_503"],
        "commands_64": server_errors(c64.error_kinds)["http_5xx_other_than_503"],
        "lag": lag["http_5xx_other_than_503"],
        "overload": overload["http_5xx_other_than_503"],
    }
    return {
        **figures,
        "http_5xx_other_than_503": other_5xx,
        "overload": overload,
        "ceilings": ceilings_out,
        "ratios": ratios,
        "targets": dict(TARGETS),
        "met": met,
        "details": {
            "commands_1": c1.summary() | {"first_error": c1.first_error},
            "commands_64": c64.summary() | {"first_error": c64.first_error},
            "cores_used_during_commands_64": cores,
            # CPU each process spends per command: what must shrink for more commands/s
            # once the machine is busy.
            "cpu_ms_per_command_64": {
                name: round(used / c64.per_s * 1000, 3) for name, used in cores.items()
            }
            if c64.per_s
            else {},
            "lag": lag,
            "replay": replayed,
            "aggregate_load": aggregate,
            "jetstream_publish_1": js1.summary(),
            "jetstream_publish_64": js64.summary(),
            "aiohttp_hello_1": h1.summary(),
            "aiohttp_hello_64": h64.summary(),
            "pg_commit": pgc.summary(),
        },
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": backends.origins,
        "load_generator": "wrk" if shutil.which("wrk") else "python (aiohttp client)",
        **machine(),
    }


# --- the report ---------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    c = result["ceilings"]
    r = result["ratios"]
    t = result["targets"]
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        label: str, key: str, unit: str, bound_label: str, bound: float | None, ratio_key: str
    ) -> None:
        value = result[key]
        target = t.get(key)
        if target is None:
            target_s, met_s = "-", "-"
        else:
            sign = ">=" if key in HIGHER_IS_BETTER else "<="
            target_s = f"{sign} {fmt(target, unit)}"
            met_s = "yes" if result["met"][key] else "NO"
        shown = r.get(ratio_key)
        rows.append(
            (
                label,
                fmt(value, unit),
                target_s,
                met_s,
                f"{fmt(bound, unit)} {bound_label}",
                fmt_ratio(shown),
            )
        )

    def extra(bound_label: str, bound: float | None, unit: str, ratio_key: str) -> None:
        shown = r.get(ratio_key)
        rows.append(
            (
                "",
                "",
                "",
                "",
                f"{fmt(bound, unit)} {bound_label}",
                fmt_ratio(shown),
            )
        )

    row(
        "commands/s, 64 clients",
        "commands_per_s_64",
        "/s",
        "JetStream publish, 64",
        c["jetstream_publish_per_s_64"],
        "commands_per_s_64_vs_jetstream",
    )
    extra("aiohttp hello, 64", c["aiohttp_hello_per_s"], "/s", "commands_per_s_64_vs_aiohttp")
    row(
        "p99 latency, 64 clients",
        "p99_ms_64",
        "ms",
        "floor: JS p99 + hello p99",
        c["floor_p99_ms_64"],
        "p99_ms_64_vs_floor",
    )
    row(
        "p50 latency, 1 client",
        "p50_ms_1",
        "ms",
        "floor: JS p50 + hello p50",
        c["floor_p50_ms_1"],
        "p50_ms_1_vs_floor",
    )
    row(
        "commands/s, 1 client",
        "commands_per_s_1",
        "/s",
        "JetStream publish, 1",
        c["jetstream_publish_per_s_1"],
        "commands_per_s_1_vs_jetstream",
    )
    row("p50 latency, 64 clients", "p50_ms_64", "ms", "", None, "")
    row("p99 latency, 1 client", "p99_ms_1", "ms", "", None, "")
    row(
        "lag p50 @ 500/s",
        "lag_p50_ms",
        "ms",
        "floor: PG commit p50",
        c["pg_commit_p50_ms"],
        "lag_p50_ms_vs_pg_commit",
    )
    row(
        "lag p99 @ 500/s",
        "lag_p99_ms",
        "ms",
        "floor: PG commit p99",
        c["pg_commit_p99_ms"],
        "lag_p99_ms_vs_pg_commit",
    )
    row(
        "replay events/s",
        "replay_events_per_s",
        "/s",
        "PG COPY rows",
        c["pg_copy_rows_per_s"],
        "replay_events_per_s_vs_pg_copy",
    )
    extra(
        "stream read msgs",
        c["stream_read_msgs_per_s"],
        "/s",
        "replay_events_per_s_vs_stream_read",
    )
    row(
        "100-event aggregate load",
        "aggregate_load_ms",
        "ms",
        "floor: direct get, raw",
        c["direct_get_100_ms"],
        "aggregate_load_ms_vs_direct_get",
    )
    extra(
        "direct get via nats-py",
        c["direct_get_100_nats_py_ms"],
        "ms",
        "aggregate_load_ms_vs_direct_get_nats_py",
    )
    headers = ("figure", "value", "target", "met?", "ceiling / floor", "ratio")
    return render_table(headers, rows, right={1, 2, 5})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    lag = d["lag"]
    rep = d["replay"]
    agg = d["aggregate_load"]
    lines = [
        "ratio: throughput = value / ceiling (1.00 = at the ceiling); "
        "latency = value / floor (1.00 = at the floor).",
        f"commands: 1 client {d['commands_1']['requests']:,} requests "
        f"({d['commands_1']['errors']} errors), 64 clients {d['commands_64']['requests']:,} "
        f"requests ({d['commands_64']['errors']} errors)",
        "cores used during 64-client commands: "
        + ", ".join(f"{k} {v:.2f}" for k, v in d["cores_used_during_commands_64"].items()),
        "CPU ms per command (64 clients): "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["cpu_ms_per_command_64"].items()),
        f"lag run: offered {lag['offered_per_s']:.0f}/s, achieved {lag['achieved_per_s']:.0f}/s, "
        f"{lag['commands']:,} commands ({lag['errors']} errors); lag p90 {lag['lag_p90_ms']} ms, "
        f"max {lag['lag_max_ms']} ms; {lag['visible_before_reply']:,} visible before their 201; "
        f"HTTP p50 {lag['http_p50_ms']} ms, p99 {lag['http_p99_ms']} ms",
        f"overload: offered {result['overload']['offered_per_s']:.0f}/s (achieved "
        f"{result['overload']['achieved_per_s']:.0f}/s), {result['overload']['acknowledged']:,} "
        f"acknowledged ({result['overload']['acknowledged_per_s']:.0f}/s, p50 "
        f"{result['overload']['p50_ms_201']} ms, p99 {result['overload']['p99_ms_201']} ms), "
        f"{result['overload']['http_503']:,} answered 503; "
        f"{result['overload']['acknowledged_missing_from_the_log']} acknowledged missing from "
        "the log",
        "HTTP 5xx other than 503, per phase (must all be 0): "
        + ", ".join(f"{k} {v}" for k, v in result["http_5xx_other_than_503"].items()),
        f"replay: {rep['replay']['events']:,} events in {rep['replay']['seconds']:.2f}s; "
        f"bulk load {rep['bulk_load']['commits']:,} commits at {rep['bulk_load']['per_s']:,.0f}/s "
        f"through EventStore.append (durable server); "
        f"COPY {rep['pg_copy']['rows']:,} rows in {rep['pg_copy']['seconds']:.2f}s",
        f"aggregate load: median {agg['median_ms']} ms, p99 {agg['p99_ms']} ms without snapshot; "
        f"with snapshot median {agg['with_snapshot_median_ms']} ms, p99 "
        f"{agg['with_snapshot_p99_ms']} ms ({agg['with_snapshot_events_after_snapshot']} "
        "events after it)",
        f"JetStream publish: 1 publisher p50 {d['jetstream_publish_1']['p50_ms']} ms; "
        f"64 publishers p50 {d['jetstream_publish_64']['p50_ms']} ms, "
        f"p99 {d['jetstream_publish_64']['p99_ms']} ms",
        *([hub_cost_text(result["hub_cost"])] if "hub_cost" in result else []),
        *footer(result),
    ]
    return "\n".join(lines)
