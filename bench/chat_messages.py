"""The direct conversations of the chat bench, and figure 2: messages/s through the API.

Senders and recipients are people of their own (`make_pairs`): access tokens minted for
random user ids, and the recipients, whom the edge checks to be people, given a profile row
written straight into the profiles read model (`give_profiles`) instead of a sign-up that
would measure argon2. `post_message` is how every figure sends, to the edge or to the raw
server; figure 2 (`messages_figure`) is `CLIENTS` senders in a closed loop, each in a
direct conversation of their own, with the CPU each process used meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import nats

from bench.cpu import metered_loop
from bench.environment import BenchSetupError, Platform, access_tokens
from bench.loadgen import LoopResult, bearer_headers

if TYPE_CHECKING:
    from bench.chat import Sizes

CLIENTS = 64
MESSAGE_BODY = json.dumps(
    {"body": "Are we still on for tomorrow? I'll bring the maps and the thermos."}
).encode()


@dataclass(frozen=True)
class Pair:
    """A direct conversation: who sends, who receives (and the tokens of both)."""

    sender: str
    recipient: str
    sender_token: str
    recipient_token: str
    conversation_id: str = ""


async def give_profiles(pool: asyncpg.Pool, user_ids: Sequence[str], timeout: float = 30) -> None:
    """A profile row for each of `user_ids` in the profiles read model (once its projection
    has made its tables): enough for the edge to take them as people to message."""
    deadline = time.monotonic() + timeout
    while not await pool.fetchval("SELECT to_regclass('profiles.profiles') IS NOT NULL"):
        if time.monotonic() > deadline:
            raise BenchSetupError("the profiles projection made no table")
        await asyncio.sleep(0.1)
    await pool.executemany(
        "INSERT INTO profiles.profiles (user_id, display_name, updated_at) "
        "VALUES ($1::uuid, $2, now()) ON CONFLICT DO NOTHING",
        [(u, f"Reader {n}") for n, u in enumerate(user_ids)],
    )


async def start_direct(
    session: aiohttp.ClientSession, base_url: str, token: str, other: str
) -> str:
    """`POST /v1/conversations` of kind direct; the conversation's id."""
    body = {"kind": "direct", "members": [other]}
    headers = bearer_headers([token])[0]
    async with session.post(f"{base_url}/v1/conversations", json=body, headers=headers) as resp:
        answer = await resp.json(content_type=None)
        if resp.status not in (200, 201):
            raise BenchSetupError(f"POST /v1/conversations answered {resp.status}: {answer}")
        return str(answer["id"])


async def make_pairs(
    setup_tokens: Any, pool: asyncpg.Pool, base_url: str, count: int
) -> list[Pair]:
    """`count` direct conversations between people of their own, 16 started at once."""
    senders = [str(uuid.uuid4()) for _ in range(count)]
    recipients = [str(uuid.uuid4()) for _ in range(count)]
    await give_profiles(pool, recipients)
    s_tokens = access_tokens(setup_tokens, count, senders)
    r_tokens = access_tokens(setup_tokens, count, recipients)
    pairs = [Pair(*x) for x in zip(senders, recipients, s_tokens, r_tokens, strict=True)]
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as session:

        async def start(p: Pair) -> Pair:
            async with gate:
                cid = await start_direct(session, base_url, p.sender_token, p.recipient)
                return dataclasses.replace(p, conversation_id=cid)

        return list(await asyncio.gather(*(start(p) for p in pairs)))


async def wait_platform(
    platform: Platform, nc: nats.NATS, session: aiohttp.ClientSession, timeout: float = 60
) -> None:
    """Until the edge is ready and the chat handler serves every command."""
    await platform.wait_ready(session, timeout)
    await platform.wait_handlers(nc, timeout)


async def post_message(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes
) -> str | None:
    async with session.post(url, data=body, headers=headers) as resp:
        text = await resp.read()
        if resp.status != 201:
            return f"HTTP {resp.status}: {text[:200]!r}"
    return None


def messages_url(base_url: str, conversation_id: str) -> str:
    return f"{base_url}/v1/conversations/{conversation_id}/messages"


# --- figure 2: messages/s -----------------------------------------------------------------


async def messages_figure(
    platform: Platform, pairs: Sequence[Pair], sizes: Sizes, say: Callable[[str], None]
) -> tuple[LoopResult, dict[str, float]]:
    say(f"figure 2: POST /v1/conversations/{{id}}/messages, {CLIENTS} senders")
    urls = [messages_url(platform.base_url, p.conversation_id) for p in pairs[:CLIENTS]]
    headers = bearer_headers([p.sender_token for p in pairs[:CLIENTS]])
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(i: int) -> str | None:
            return await post_message(session, urls[i], headers[i], MESSAGE_BODY)

        return await metered_loop(
            send,
            platform.pids(),
            clients=CLIENTS,
            seconds=sizes.http_seconds,
            max_requests=sizes.http_max_requests,
            warmup_seconds=sizes.warmup_seconds,
            label="chat send",
        )
