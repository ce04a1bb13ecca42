"""The messenger benchmark (issue 11): `python -m bench chat [--quick]`.

Five figures, each printed beside a ceiling (or floor) measured in the same run, as a ratio,
and beside the issue's target. The platform runs as separate `quark run` processes
(`WORKERS`: the chat handler, the chat and live projections, the profiles and follows
projections a direct message checks, the edge), with the message quota lifted (`LIFTED`);
the limiter still runs. Clients are real websockets of the live channel (docs/websocket.md),
held by this process, so the edge's memory is measured in a process of its own.

1. **Idle sockets held**: `idle_sockets` authenticated connections on one edge process, its
   RSS growth divided by their number. Ceiling (floor): the same clients held by a raw
   aiohttp websocket server (`bench/broadcast.py`), measured the same way. Target ≤ 30 KiB.
2. **Messages/s through the API**: `POST /v1/conversations/{id}/messages` at 64 clients, each
   a sender of their own in a direct conversation of their own. Ceilings: the aiohttp
   hello-world POST with the same Python client and body size, and durable JetStream
   appends at 64 publishers (every message is one such append).
3. **Send → delivered**: an open loop at `latency_rate` messages/s spread over `pairs` direct
   conversations, each timed from its POST (the message id is the client's, so the frame
   names it) to its recipient's socket reading the `message.new` item; p50, p99 and the
   rate achieved. Floor: the same client and rate relaying a frame of the same size through
   the raw server (`POST /v1/relay/{token}`: one HTTP hop and one websocket write).
4. **Channel deliveries/s**: a channel of `channel_members` members, all connected, its owner
   posting from 4 clients for `channel_seconds`; `message.new` frames counted at the
   clients until every acknowledged message has reached every member. Ceiling: the raw
   server broadcasting a frame of the same size to as many sockets of the same client
   code, driven by 4 clients the same way (`POST /v1/broadcast`). Target >= 0.7 x raw
   (issue 15; issue 11 asked 0.5).
   Both sides are read by this one Python process: on a small machine the raw server's
   figure is what this client reads, not what the server can write, and it varies from run
   to run (the details print the posts/s and broadcasts/s behind each).
5. **Resume**: a reader with 10 direct conversations leaves; 500 messages arrive; it
   reconnects with its cursor: time from sending `auth` to reading the 500th item. Floor:
   reading the same 500 items of its inbox subject straight from JetStream with one
   ephemeral pull consumer (what the edge's catch-up itself reads).

People are cheap: access tokens are minted for random user ids (`access_tokens`); the
recipients of direct messages, whom the edge checks to be people, are given a profile row
written straight into the profiles read model (the seeding `bench.blog_search` does for
posts), instead of a sign-up that would measure argon2.

This module holds the sizes, the run in its order and the report. The clients and figure 1
are in `bench/chat_sockets.py`, the conversations and figure 2 in `bench/chat_messages.py`,
figures 3 to 5 in `bench/chat_deliveries.py`, the ceilings and floors in
`bench/chat_ceilings.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.chat_ceilings import measure_ceilings, raw_server_figures
from bench.chat_deliveries import channel_figure, latency_figure, resume_figure
from bench.chat_messages import (
    CLIENTS,
    make_pairs,
    messages_figure,
    messages_url,
    post_message,
    wait_platform,
)
from bench.chat_sockets import idle_figure, raise_open_files
from bench.environment import LIFTED, access_tokens, caught_up, set_up, watch_positions
from bench.loadgen import LoopResult, bearer_headers
from bench.loadgen import rounded as _r
from bench.report import cpu_ms_per_request, fmt, fmt_ratio, footer, machine, ratio, render_table

#: The processes the figures need, in start order, the edge last.
WORKERS: tuple[tuple[str, ...], ...] = (
    ("handler", "chat"),
    ("projection", "chat"),
    ("projection", "live"),
    # A direct message checks blocks (follows) and that its members are people (profiles);
    # every message is screened with the word filter's rules.
    ("projection", "profiles,follows,word_filters"),
    ("edge",),
)
#: The issue's targets.
TARGET_KIB_PER_SOCKET = 30.0
TARGET_P50_MS = 5.0
TARGET_P99_MS = 25.0
TARGET_CHANNEL_RATIO = 0.7


@dataclass(frozen=True)
class Sizes:
    idle_sockets: int
    #: Direct conversations (sender, recipient) of figures 2 and 3.
    pairs: int
    warmup_seconds: float
    http_seconds: float
    http_max_requests: int
    latency_rate: float
    latency_seconds: float
    channel_members: int
    channel_seconds: float
    resume_items: int
    resume_runs: int
    overall_timeout: float


FULL = Sizes(
    idle_sockets=5_000,
    pairs=200,
    warmup_seconds=2.0,
    http_seconds=10.0,
    http_max_requests=200_000,
    latency_rate=1_000.0,
    latency_seconds=10.0,
    channel_members=1_000,
    channel_seconds=10.0,
    resume_items=500,
    resume_runs=3,
    overall_timeout=1500.0,
)
QUICK = Sizes(
    idle_sockets=500,
    pairs=CLIENTS,
    warmup_seconds=0.5,
    http_seconds=3.0,
    http_max_requests=50_000,
    latency_rate=200.0,
    latency_seconds=3.0,
    channel_members=200,
    channel_seconds=3.0,
    resume_items=500,
    resume_runs=1,
    overall_timeout=400.0,
)


# --- the run ------------------------------------------------------------------------------


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    # Two sockets per client connection in this process (client and loopback peer are in
    # different processes, but the bench holds the channel's and the idle figure's at once
    # at worst), plus NATS, PostgreSQL and Redis connections.
    limit = raise_open_files(2 * sizes.idle_sockets + 4096)
    say(f"open files: {limit:,}; settings lifted for the run: {LIFTED}")
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            setup = await set_up(tmp, stack, say, WORKERS, LIFTED)
            backends, platform, infra = setup.backends, setup.platform, setup.infra
            tokens = access_tokens(setup.tokens, CLIENTS)

            hello, jetstream = await measure_ceilings(backends.nats_url, tmp, tokens, sizes, say)
            watcher = await watch_positions(infra, stack)

            say("starting the platform: " + " / ".join(" ".join(w) for w in WORKERS))
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            edge_pid = platform.children[-1].process.pid
            async with aiohttp.ClientSession() as session:
                await wait_platform(platform, infra.nc, session)
            say(f"setting up {sizes.pairs} direct conversations")
            pairs = await make_pairs(setup.tokens, infra.pool, platform.base_url, sizes.pairs)

            idle_tokens = access_tokens(setup.tokens, sizes.idle_sockets)
            idle = await idle_figure(platform.base_url, edge_pid, idle_tokens, say, "edge")
            platform.check_alive()

            messages, cores = await messages_figure(platform, pairs, sizes, say)
            say("waiting for the chat and live projections to apply the messages")
            await caught_up(watcher, infra, "CHAT", ["chat", "live"], 300)

            say(
                f"figure 3: send -> delivered at {sizes.latency_rate:,.0f}/s over "
                f"{len(pairs)} direct conversations"
            )

            async def via_edge(session: aiohttp.ClientSession, i: int, mid: str) -> str | None:
                p = pairs[i % len(pairs)]
                body = json.dumps({"id": mid, "body": "On my way, see you at the station."})
                url = messages_url(platform.base_url, p.conversation_id)
                return await post_message(
                    session, url, bearer_headers([p.sender_token])[0], body.encode()
                )

            latency = await latency_figure(
                platform.base_url,
                [p.recipient_token for p in pairs],
                via_edge,
                sizes.latency_rate,
                sizes.latency_seconds,
                sizes.warmup_seconds,
            )
            await caught_up(watcher, infra, "CHAT", ["chat", "live"], 300)
            # Past what the platform sustains, figure 3 measures a queue; at half the rate
            # of figure 2 it measures the path itself.
            calm_rate = float(round(min(sizes.latency_rate, messages.per_s / 2))) or 1.0
            say(f"figure 3: send -> delivered at {calm_rate:,.0f}/s (half of figure 2)")
            calm = await latency_figure(
                platform.base_url,
                [p.recipient_token for p in pairs],
                via_edge,
                calm_rate,
                sizes.latency_seconds,
                sizes.warmup_seconds,
            )
            await caught_up(watcher, infra, "CHAT", ["chat", "live"], 300)
            resume = await resume_figure(platform, infra, watcher, setup.tokens, sizes, say)
            channel, frame_bytes = await channel_figure(platform, setup.tokens, sizes, say)
            platform.check_alive()
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)

            raw_idle, raw_latency, raw_channel = await raw_server_figures(
                tmp, sizes, len(pairs), latency["frame_bytes"], frame_bytes, say
            )
            say("cleaning up")
    return assemble(
        sizes,
        quick,
        backends.origins,
        idle,
        raw_idle,
        messages,
        cores,
        hello,
        jetstream,
        latency,
        calm,
        raw_latency,
        channel,
        raw_channel,
        resume,
    )


def assemble(
    sizes: Sizes,
    quick: bool,
    origins: dict[str, str],
    idle: dict[str, Any],
    raw_idle: dict[str, Any],
    messages: LoopResult,
    cores: dict[str, float],
    hello: LoopResult,
    jetstream: LoopResult,
    latency: dict[str, Any],
    calm: dict[str, Any],
    raw_latency: dict[str, Any],
    channel: dict[str, Any],
    raw_channel: dict[str, Any],
    resume: dict[str, Any],
) -> dict[str, Any]:
    figures = {
        "kib_per_idle_socket": idle["kib_per_socket"],
        "messages_per_s_64": round(messages.per_s, 1),
        "messages_p50_ms_64": _r(messages.p50_ms),
        "messages_p99_ms_64": _r(messages.p99_ms),
        "delivered_p50_ms": latency["p50_ms"],
        "delivered_p99_ms": latency["p99_ms"],
        "delivered_per_s": latency["delivered_per_s"],
        "calm_rate_per_s": calm["offered_per_s"],
        "calm_delivered_p50_ms": calm["p50_ms"],
        "calm_delivered_p99_ms": calm["p99_ms"],
        "channel_deliveries_per_s": channel["deliveries_per_s"],
        "resume_ms": resume["resume_ms"],
    }
    bounds = {
        "raw_kib_per_idle_socket": raw_idle["kib_per_socket"],
        "aiohttp_hello_per_s_64": round(hello.per_s, 1),
        "jetstream_publish_per_s_64": round(jetstream.per_s, 1),
        "raw_relay_p50_ms": raw_latency["p50_ms"],
        "raw_relay_p99_ms": raw_latency["p99_ms"],
        "raw_relay_per_s": raw_latency["delivered_per_s"],
        "raw_broadcast_deliveries_per_s": raw_channel["deliveries_per_s"],
        "jetstream_read_ms": resume["jetstream_read_ms"],
    }
    ratios = {
        "idle_vs_raw": ratio(idle["kib_per_socket"], raw_idle["kib_per_socket"]),
        "messages_vs_hello": ratio(messages.per_s, hello.per_s),
        "messages_vs_jetstream": ratio(messages.per_s, jetstream.per_s),
        "delivered_p50_vs_raw": ratio(latency["p50_ms"], raw_latency["p50_ms"]),
        "delivered_p99_vs_raw": ratio(latency["p99_ms"], raw_latency["p99_ms"]),
        "delivered_rate_vs_raw": ratio(latency["delivered_per_s"], raw_latency["delivered_per_s"]),
        "calm_p50_vs_raw": ratio(calm["p50_ms"], raw_latency["p50_ms"]),
        "calm_p99_vs_raw": ratio(calm["p99_ms"], raw_latency["p99_ms"]),
        "channel_vs_raw": ratio(channel["deliveries_per_s"], raw_channel["deliveries_per_s"]),
        "resume_vs_jetstream": ratio(resume["resume_ms"], resume["jetstream_read_ms"]),
    }
    return {
        **figures,
        "ceilings": bounds,
        "ratios": ratios,
        "details": {
            "idle": idle,
            "raw_idle": raw_idle,
            "messages_64": messages.summary()
            | {"first_error": messages.first_error, "error_kinds": dict(messages.error_kinds)},
            "cpu_ms_per_message_64": cpu_ms_per_request(cores, messages.per_s),
            "aiohttp_hello_64": hello.summary(),
            "jetstream_publish_64": jetstream.summary(),
            "latency": latency,
            "latency_at_half_capacity": calm,
            "raw_latency": raw_latency,
            "channel": channel,
            "raw_channel": raw_channel,
            "resume": resume,
        },
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": origins,
        "load_generator": "python (aiohttp client, websockets in the bench process)",
        **machine(),
    }


# --- the report ---------------------------------------------------------------------------


def _kib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} KiB"


def table(result: dict[str, Any]) -> str:
    c, r, d = result["ceilings"], result["ratios"], result["details"]
    s = result["sizes"]
    lat = d["latency"]
    rows = [
        (
            f"edge memory per idle socket, {d['idle']['sockets']:,} sockets",
            _kib(result["kib_per_idle_socket"]),
            f"{_kib(c['raw_kib_per_idle_socket'])} raw aiohttp ws",
            fmt_ratio(r["idle_vs_raw"]),
            f"<= {TARGET_KIB_PER_SOCKET:.0f} KiB",
        ),
        (
            f"messages/s via POST, {CLIENTS} senders (DMs)",
            fmt(result["messages_per_s_64"], "/s"),
            f"{fmt(c['aiohttp_hello_per_s_64'], '/s')} aiohttp hello POST",
            fmt_ratio(r["messages_vs_hello"]),
            "",
        ),
        (
            "",
            "",
            f"{fmt(c['jetstream_publish_per_s_64'], '/s')} JetStream appends",
            fmt_ratio(r["messages_vs_jetstream"]),
            "",
        ),
        (
            f"send -> delivered p50 at {s['latency_rate']:,.0f}/s offered",
            fmt(result["delivered_p50_ms"], "ms"),
            f"{fmt(c['raw_relay_p50_ms'], 'ms')} raw relay p50",
            fmt_ratio(r["delivered_p50_vs_raw"]),
            f"<= {TARGET_P50_MS:.0f} ms",
        ),
        (
            "send -> delivered p99",
            fmt(result["delivered_p99_ms"], "ms"),
            f"{fmt(c['raw_relay_p99_ms'], 'ms')} raw relay p99",
            fmt_ratio(r["delivered_p99_vs_raw"]),
            f"<= {TARGET_P99_MS:.0f} ms",
        ),
        (
            f"  achieved delivery rate ({lat['missing']} missing)",
            fmt(result["delivered_per_s"], "/s"),
            f"{fmt(c['raw_relay_per_s'], '/s')} raw relay",
            fmt_ratio(r["delivered_rate_vs_raw"]),
            f"{s['latency_rate']:,.0f}/s",
        ),
        (
            f"send -> delivered p50 at {result['calm_rate_per_s']:,.0f}/s (half fig. 2)",
            fmt(result["calm_delivered_p50_ms"], "ms"),
            f"{fmt(c['raw_relay_p50_ms'], 'ms')} raw relay p50",
            fmt_ratio(r["calm_p50_vs_raw"]),
            f"<= {TARGET_P50_MS:.0f} ms",
        ),
        (
            "send -> delivered p99 (half fig. 2)",
            fmt(result["calm_delivered_p99_ms"], "ms"),
            f"{fmt(c['raw_relay_p99_ms'], 'ms')} raw relay p99",
            fmt_ratio(r["calm_p99_vs_raw"]),
            f"<= {TARGET_P99_MS:.0f} ms",
        ),
        (
            f"channel deliveries/s, {d['channel']['members']:,} members",
            fmt(result["channel_deliveries_per_s"], "/s"),
            f"{fmt(c['raw_broadcast_deliveries_per_s'], '/s')} raw broadcast",
            fmt_ratio(r["channel_vs_raw"]),
            f">= {TARGET_CHANNEL_RATIO} x raw",
        ),
        (
            f"resume: auth -> {d['resume']['items']}th missed item",
            fmt(result["resume_ms"], "ms"),
            f"{fmt(c['jetstream_read_ms'], 'ms')} JetStream read of them",
            fmt_ratio(r["resume_vs_jetstream"]),
            "",
        ),
    ]
    headers = ("figure", "value", "ceiling / floor (same run)", "ratio", "target")
    return render_table(headers, rows, right={1, 3})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    idle, raw_idle, lat, raw_lat = d["idle"], d["raw_idle"], d["latency"], d["raw_latency"]
    ch, raw_ch = d["channel"], d["raw_channel"]

    def top(cpu: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())

    lines = [
        "ratio: throughput = value / ceiling; latency and memory = value / floor.",
        f"idle sockets: edge RSS {idle['rss_before_mib']} -> {idle['rss_after_mib']} MiB for "
        f"{idle['sockets']:,} sockets ({idle['open_at_measure']:,} open when measured), "
        f"{idle['connects_per_s']:,.0f} connects/s; raw server {raw_idle['rss_before_mib']} -> "
        f"{raw_idle['rss_after_mib']} MiB, {raw_idle['connects_per_s']:,.0f} connects/s",
        f"messages: {d['messages_64']['requests']:,} in the measured run, "
        f"{d['messages_64']['errors']} errors {d['messages_64']['error_kinds']}",
        "CPU ms per message (64 senders): " + top(d["cpu_ms_per_message_64"]),
        f"send -> delivered: {lat['sent']:,} sent ({lat['send_errors']} errors), "
        f"{lat['delivered']:,} delivered, max {lat['max_ms']} ms, frames of "
        f"{lat['frame_bytes']} bytes; raw relay {raw_lat['delivered']:,} delivered, "
        f"max {raw_lat['max_ms']} ms",
        f"send -> delivered at half of figure 2: {d['latency_at_half_capacity']['sent']:,} "
        f"sent, {d['latency_at_half_capacity']['delivered']:,} delivered "
        f"({d['latency_at_half_capacity']['delivered_per_s']:,.0f}/s), max "
        f"{d['latency_at_half_capacity']['max_ms']} ms",
        f"channel: {ch['posts_acked']:,} posts acknowledged ({ch['posts_per_s']:,.0f}/s), "
        f"{ch['deliveries']:,} deliveries ({ch['missing']:,} missing) in {ch['seconds']} s, "
        f"closes {ch['closes']}, joins {ch['joins_per_s']:,.0f}/s; raw: "
        f"{raw_ch['posts_acked']:,} broadcasts, {raw_ch['deliveries']:,} deliveries in "
        f"{raw_ch['seconds']} s, frames of {raw_ch['frame_bytes']} bytes",
        "resume runs: "
        + "; ".join(
            f"{x['resume_ms']} ms (JetStream {x['jetstream_read_ms']} ms)"
            for x in d["resume"]["runs"]
        ),
        *footer(result),
    ]
    return "\n".join(lines)
