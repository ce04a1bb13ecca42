"""Figures 2 and 3 of the identity bench: authenticated requests and logins through the
platform.

Accounts are created through the real sign-up flow first (`sign_up`, with the client the
e2e tests use). Figure 2 reads the security log with their access tokens through two fresh
edge processes, with and without read-your-writes, in alternating rounds (`read_figure`),
beside the hello-world GET by the same clients (`hello_get_ceiling`); figure 3 logs in at
1, 4 and 16 clients, client i of n using accounts i, i+n, … so that no two race for one
(`login_figure`). Each run samples the CPU of every process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from bench import ceilings
from bench.cpu import metered_loop
from bench.environment import BenchSetupError, Platform
from bench.loadgen import LoopResult, Send, bearer_headers, http_sender
from tests.support.identity import IdentityClient

if TYPE_CHECKING:
    from bench.identity import Sizes

SECURITY_LOG = "/v1/me/security-log?limit=1"
READ_CLIENTS = 64
#: Alternating rounds of the authenticated read, with and without read-your-writes.
READ_ROUNDS = 3
LOGIN_CLIENTS = (1, 4, 16)


async def hello_get_ceiling(
    tmp: Path, tokens: list[str], sizes: Sizes, say: Callable[[str], None]
) -> LoopResult:
    say(f"ceiling: aiohttp hello-world GET, {READ_CLIENTS} clients")
    return await ceilings.aiohttp_hello_get(
        tmp,
        SECURITY_LOG,
        tokens,
        clients=READ_CLIENTS,
        seconds=sizes.http_seconds,
        max_requests=sizes.max_requests,
        warmup_seconds=sizes.warmup_seconds,
    )


async def sign_up(
    platform: Platform, session: aiohttp.ClientSession, sizes: Sizes, say: Callable[[str], None]
) -> tuple[list[dict[str, Any]], float]:
    """`sizes.accounts` accounts through the sign-up flow, as a client does it; their tokens,
    phones and passwords, and the seconds it took."""
    say(f"creating {sizes.accounts} accounts through sign-up (codes from the SMS outbox)")
    # The client the e2e tests sign up with: the bench drives the flow exactly as they do.
    client = IdentityClient(session, platform.data_dir / "sms-outbox.jsonl")
    slots = asyncio.Semaphore(sizes.sign_up_concurrency)

    async def one() -> dict[str, Any]:
        async with slots:
            return await client.sign_up()

    started = time.perf_counter()
    try:
        accounts = await asyncio.gather(*(one() for _ in range(sizes.accounts)))
    except AssertionError as exc:
        platform.check_alive()
        raise BenchSetupError(f"sign-up failed: {exc}") from None
    return list(accounts), time.perf_counter() - started


async def read_figure(
    platform: Platform,
    session: aiohttp.ClientSession,
    accounts: list[dict[str, Any]],
    sizes: Sizes,
    say: Callable[[str], None],
) -> dict[str, list[tuple[LoopResult, dict[str, float]]]]:
    """The authenticated read through two fresh edge processes started side by side, one
    with read-your-writes (as shipped), one with `QUARK_READ_YOUR_WRITES=false`, in
    alternating rounds so that the machine's drift hits both alike: what the guarantee
    costs. (The platform's own edge served the sign-ups; a fresh pair compares like with
    like.)"""
    with_ = platform.start_extra_edge("edge with RYW", {"QUARK_READ_YOUR_WRITES": "true"})
    without = platform.start_extra_edge("edge without RYW", {"QUARK_READ_YOUR_WRITES": "false"})
    tokens = [accounts[i % len(accounts)]["access_token"] for i in range(READ_CLIENTS)]
    rounds: dict[str, list[tuple[LoopResult, dict[str, float]]]] = {"with": [], "without": []}
    for round_no in range(READ_ROUNDS):
        for label, base in (("with", with_), ("without", without)):
            say(
                f"figure 2: GET {SECURITY_LOG}, {READ_CLIENTS} clients, {label} read-your-writes "
                f"(round {round_no + 1} of {READ_ROUNDS})"
            )
            send = http_sender(session, "GET", f"{base}{SECURITY_LOG}", bearer_headers(tokens))
            rounds[label].append(
                await _through_platform(platform, send, READ_CLIENTS, sizes, f"read {label}")
            )
    return rounds


async def login_figure(
    platform: Platform,
    session: aiohttp.ClientSession,
    accounts: list[dict[str, Any]],
    sizes: Sizes,
    say: Callable[[str], None],
) -> dict[int, tuple[LoopResult, dict[str, float]]]:
    bodies = [
        json.dumps({"phone": a["phone"], "password": a["password"]}).encode() for a in accounts
    ]
    url = f"{platform.base_url}/v1/auth/login"
    out: dict[int, tuple[LoopResult, dict[str, float]]] = {}
    for clients in LOGIN_CLIENTS:
        say(f"figure 3: POST /v1/auth/login, {clients} client(s)")
        headers = [{"Content-Type": "application/json"}] * clients
        send = http_sender(session, "POST", url, headers, body=_in_turn(bodies, clients))
        out[clients] = await _through_platform(
            platform, send, clients, sizes, f"login {clients} clients"
        )
    return out


async def _through_platform(
    platform: Platform, send: Send, clients: int, sizes: Sizes, label: str
) -> tuple[LoopResult, dict[str, float]]:
    """A warmed-up closed loop against the platform, with the cores each process used."""
    result = await metered_loop(
        send,
        platform.pids(),
        clients=clients,
        seconds=sizes.http_seconds,
        max_requests=sizes.max_requests,
        warmup_seconds=sizes.warmup_seconds,
        label=label,
    )
    platform.check_alive()
    return result


def _in_turn(bodies: list[bytes], clients: int) -> Callable[[int], bytes]:
    """Client i's next body of `bodies[i], bodies[i + clients], ...`: no two clients share
    one (`len(bodies)` is a multiple of `clients`)."""
    sent = [0] * clients

    def body(i: int) -> bytes:
        n = sent[i]
        sent[i] += 1
        return bodies[(i + clients * n) % len(bodies)]

    return body
