"""Typed application state (aiohttp AppKeys) and request-scoped helpers every route uses."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from core.bootstrap import Infra
from core.commands import CommandReply, parse_position
from core.errors import QuarkError, ValidationError
from core.ids import derived_id, is_uuid, new_id
from core.ratelimit import Rule
from edge.positions import PositionWatcher
from edge.writes import WriteLog

INFRA = web.AppKey("infra", Infra)
POSITIONS = web.AppKey("positions", PositionWatcher)
WRITES = web.AppKey("writes", WriteLog)
#: The streams each read model consumes (streams.yaml): a read waits only for those.
READ_STREAMS = web.AppKey("read_streams", dict)
#: The position of the command this request sent, for its `Quark-Position` header.
COMMAND_POSITION = web.RequestKey("command_position", str)
CORRELATION_ID = web.RequestKey("correlation_id", str)
RATE_HEADERS = web.RequestKey("rate_headers", dict)
#: Set by `edge.idempotency` when the request carries an `Idempotency-Key`: a digest of
#: (person, route, key) from which the request's command and entity ids derive.
IDEMPOTENCY_SEED = web.RequestKey("idempotency_seed", str)


#: The PostgreSQL connection a page read holds while it runs its queries (`page_reads`).
PAGE_CONNECTION = web.RequestKey("page_connection", object)


def infra(request: web.Request) -> Infra:
    return request.app[INFRA]


def db(request: web.Request) -> asyncpg.Pool | asyncpg.Connection:
    """Where a read's queries go: the connection its page holds (`page_reads`), else the
    pool (each query then takes a connection and gives it back)."""
    conn = request.get(PAGE_CONNECTION)
    return conn if conn is not None else request.app[INFRA].pool


@contextlib.asynccontextmanager
async def page_reads(request: web.Request) -> AsyncIterator[None]:
    """Hold one pooled connection for the block's queries (`db`). A query through the pool
    costs the edge about two and a half times one on a held connection (asyncpg's acquire
    and release: ≈ 150 µs of CPU against ≈ 60), and a page of posts runs six in a row.
    Only around queries that follow each other: never across a command's round trip or a
    wait for a position, which would keep a connection from everyone else meanwhile."""
    if request.get(PAGE_CONNECTION) is not None:
        yield
        return
    async with request.app[INFRA].pool.acquire() as conn:
        request[PAGE_CONNECTION] = conn
        try:
            yield
        finally:
            del request[PAGE_CONNECTION]


def correlation_id(request: web.Request) -> str:
    return str(request.get(CORRELATION_ID, ""))


def created_id(request: web.Request, kind: str) -> str:
    """The id of the `kind` entity this request creates. With an `Idempotency-Key` it is a
    function of (person, route, key), so a retry names the same entity and converges on the
    first attempt's commit; without one, a new UUIDv7."""
    seed = request.get(IDEMPOTENCY_SEED)
    if seed is None:
        return new_id()
    return derived_id(request.app[INFRA].secret_key, "idempotent-entity", seed, kind)


def command_id_for(request: web.Request, step: str = "") -> str | None:
    """The command id of this request's command (`step` tells several apart), derived like
    `created_id`; None without an `Idempotency-Key` (the bus makes a new one)."""
    seed = request.get(IDEMPOTENCY_SEED)
    if seed is None:
        return None
    return derived_id(request.app[INFRA].secret_key, "idempotent-command", seed, step)


def path_id(request: web.Request, name: str, not_found: type[QuarkError]) -> str:
    """A path id that cannot exist (not a UUID) is simply not found."""
    value = request.match_info[name]
    if not is_uuid(value):
        raise not_found()
    return value


async def wait_for_position(request: web.Request, projection: str) -> None:
    """Wait until `projection` has applied what this read must see (read-your-writes):
    the position in `Quark-After`, and — for a signed-in reader — their own acknowledged
    writes (`edge/writes.py`). Bounded by `QUARK_READ_WAIT_TIMEOUT` in all; 503 beyond."""
    app = request.app
    settings = app[INFRA].settings
    targets: dict[str, int] = {}
    # Present but empty is a malformed position, not an absent one.
    after = request.headers.get("Quark-After", request.query.get("after"))
    if after is not None:
        try:
            stream, seq = parse_position(after)
        except ValueError:
            raise ValidationError("Quark-After must be a position such as CONTENT:42") from None
        if stream not in app[INFRA].decl.file.streams:
            raise ValidationError(f"Quark-After names no stream of this platform ({stream})")
        targets[stream] = seq
    reads = app[READ_STREAMS].get(projection)
    if settings.read_your_writes and reads and "Authorization" in request.headers:
        from edge.auth import token_holder  # edge.auth builds on this module

        who = await token_holder(request)
        if who is not None:
            for stream, seq in app[WRITES].positions_for(who.user_id).items():
                if stream in reads and seq > targets.get(stream, 0):
                    targets[stream] = seq
    if not targets:
        return
    watcher = app[POSITIONS]
    deadline = asyncio.get_running_loop().time() + settings.read_wait_timeout
    for stream, seq in targets.items():
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        await watcher.wait(projection, stream, seq, remaining)


def command_headers(reply: CommandReply) -> dict[str, str]:
    return {"Quark-Position": reply.position or ""}


async def limit(request: web.Request, rule: Rule, subject: str, cost: int = 1) -> None:
    """Enforce `rule` for `subject` (a user id, an IP, a keyed hash — never raw personal
    data). Over the limit: 429 problem with Retry-After and RateLimit-*; within it, the
    response carries RateLimit-* too (added by the edge's request middleware)."""
    decision = await request.app[INFRA].limiter.check(rule, subject, cost)
    request[RATE_HEADERS] = decision.headers()


def client_ip(request: web.Request) -> str:
    """The client's address: the TCP peer, or — when the peer is a trusted proxy — the last
    address in `X-Forwarded-For` that is not one of ours (anything left of it is what the
    client claimed, and a client can claim anything)."""
    peer = request.remote or ""
    networks = request.app[INFRA].settings.proxy_networks()
    if not networks:
        return peer

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not trusted(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the client side: fall back to the proxy
    return peer
