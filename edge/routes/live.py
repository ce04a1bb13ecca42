"""`GET /v1/ws`: the live channel (protocol in docs/websocket.md).

The session replays the person's inbox after the client's cursor with an ordered consumer,
which then simply continues with live items: one source, so there is no moment between
"replayed" and "live" where an item could slip through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref

import msgspec
import nats.js.errors
from aiohttp import WSMsgType, web
from nats.js.api import ConsumerConfig, DeliverPolicy

from core import inbox
from core.errors import FieldError, QuarkError, ValidationError
from core.logging import get_logger
from edge.auth import ACCESS, principal
from edge.context import infra
from edge.params import INT64_MAX, IntQuery
from edge.routing import Route

log = get_logger("quark.edge.live")
SOCKETS = web.AppKey("websockets", weakref.WeakSet)
#: Largest frame a client may send (it only sends pings).
MAX_CLIENT_FRAME = 4096
#: How often an open websocket checks that its session still stands (seconds).
SESSION_CHECK_SECONDS = 10.0
#: Close code for "sign in again" (4000-4999 are the application's own).
CLOSE_UNAUTHORIZED = 4401
_encoder = msgspec.json.Encoder()


class Item(msgspec.Struct):
    type: str
    cursor: int
    item: msgspec.Raw


class NotAWebsocket(QuarkError):
    """A plain GET: without the handshake aiohttp would refuse it with an untyped 400."""

    code = "websocket-required"
    status = 400
    title = "This is a websocket endpoint: send a websocket handshake"


_CURSOR = IntQuery("cursor", "Resume after this cursor", minimum=0, maximum=INT64_MAX)


async def live(request: web.Request) -> web.StreamResponse:
    who = await principal(request, query_token=True)
    user = who.user_id
    cursor = _CURSOR.read_optional(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_CLIENT_FRAME)
    if not ws.can_prepare(request).ok:
        raise NotAWebsocket()
    i = infra(request)
    js = i.nc.jetstream()
    try:
        state = (await js.stream_info(inbox.STREAM)).state
    except nats.js.errors.NotFoundError:
        raise ValidationError("live delivery is not set up (INBOX stream missing)") from None
    if cursor is not None and cursor > state.last_seq:
        raise ValidationError(
            "cursor is ahead of the inbox", errors=[FieldError("cursor", "from the future")]
        )

    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    # A client without a cursor starts after what the inbox held when it connected: a
    # sequence taken from the stream's state, not "new messages from whenever the consumer
    # gets created", which would drop an item delivered in between.
    start = state.last_seq if cursor is None else cursor
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start + 1)
    sub = await js.subscribe(
        inbox.subject(user),
        stream=inbox.STREAM,
        ordered_consumer=True,
        config=config,
        idle_heartbeat=5.0,
        flow_control=True,
    )
    await ws.send_json({"type": "ready", "cursor": start})
    if cursor is not None and state.first_seq > cursor + 1 and state.messages:
        # Items after the cursor have aged out (max_age): say so rather than pretend.
        await ws.send_json(
            {"type": "reset", "reason": "cursor-expired", "cursor": state.first_seq - 1}
        )

    async def pump() -> None:
        async for msg in sub.messages:
            frame = Item("item", msg.metadata.sequence.stream, msgspec.Raw(msg.data))
            await ws.send_str(_encoder.encode(frame).decode())

    async def guard() -> None:
        """A websocket outlives the request that opened it: it ends when its session is
        ended (next check) or its access token expires; the client reconnects with a new one."""
        access = request.app[ACCESS]
        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            if access.is_revoked(who.session_id):
                await ws.close(code=CLOSE_UNAUTHORIZED, message=b"session ended")
                return
            if who.expires_at and time.time() >= who.expires_at:
                await ws.close(code=CLOSE_UNAUTHORIZED, message=b"access token expired")
                return

    pumping = asyncio.create_task(pump())
    guarding = asyncio.create_task(guard())
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            try:
                kind = msgspec.json.decode(frame.data).get("type")
            except (msgspec.DecodeError, AttributeError):
                kind = None
            if kind == "ping":
                await ws.send_json({"type": "pong"})
            else:
                await ws.send_json({"type": "error", "reason": "unknown-frame"})
            if pumping.done():
                break
    finally:
        pumping.cancel()
        guarding.cancel()
        with contextlib.suppress(BaseException):
            await pumping
        with contextlib.suppress(BaseException):
            await guarding
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        await ws.close()
    return ws


async def close_sockets(app: web.Application) -> None:
    """On shutdown: tell every client the server is going away (1001) so it reconnects
    elsewhere with its cursor."""
    for ws in set(app[SOCKETS]):
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"server shutdown")


ROUTES = [
    Route(
        "GET",
        "/v1/ws",
        live,
        "Live channel (websocket): per-user items with cursors",
        "live",
        params=(_CURSOR.param,),
        status=101,
        raises=(NotAWebsocket, ValidationError),
        auth="bearer",
        name="live",
    ),
]
