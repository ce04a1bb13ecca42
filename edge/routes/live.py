"""`GET /v1/ws`: the live channel, the messenger's gateway (protocol in docs/websocket.md).

The handshake carries no credentials: the client's first frame is `auth` (a token in a URL
lands in proxy and access logs). The session then registers with the edge's `LiveHub`
(one reader of the INBOX stream for the whole process), catches up from the client's cursor
with a consumer of its own while the hub's items for it wait in a buffer, and goes live
where the two meet: no gap, no repeat, and no consumer per connection once it is live.

The socket's own life once live (its queue, its writer, the hub's items, each client
frame) is `edge.live_connection.Connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import weakref
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats.js.errors
from aiohttp import WSMsgType, web

from core import inbox
from core.errors import QuarkError, TimeoutWaitingError
from core.logging import get_logger
from core.metrics import WEBSOCKET_CLOSES_TOTAL, WEBSOCKETS_OPEN
from edge.auth import Principal, verify_access_token
from edge.context import INFRA, POSITIONS, infra
from edge.live_connection import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_BAD_CURSOR,
    CLOSE_BAD_FIRST_FRAME,
    CLOSE_INTERNAL,
    CLOSE_SUSPENDED,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    HUB,
    Closing,
    Connection,
)
from edge.live_frames import (
    MAX_CLIENT_FRAME,
    Auth,
    PresenceSignal,
    Ready,
    Reset,
    decode_frame,
    encoder,
)
from edge.live_hub import LiveHub
from edge.routing import Route
from projections import chat as chat_model
from projections import live as live_model

log = get_logger("quark.edge.live")
SOCKETS = web.AppKey("websockets", weakref.WeakSet)

#: Seconds a client has, after the handshake, to send its `auth` frame.
AUTH_DEADLINE_SECONDS = 10.0
#: How often an open websocket checks that its session still stands (seconds).
SESSION_CHECK_SECONDS = 10.0
#: Websocket pings every this many seconds; no pong within half of it drops the connection.
HEARTBEAT_SECONDS = 30.0
#: The kernel's send buffer per connection (bounded too, rather than autotuned to MiBs).
SEND_BUFFER_BYTES = 128 * 1024
#: How long a closing handshake may take before the connection is simply dropped.
CLOSE_SECONDS = 5.0
#: How long a connecting session waits for the memberships of the live read model.
MEMBERSHIP_WAIT_SECONDS = 5.0


class NotAWebsocket(QuarkError):
    """A plain GET: without the handshake aiohttp would refuse it with an untyped 400."""

    code = "websocket-required"
    status = 400
    title = "This is a websocket endpoint: send a websocket handshake"


class NoQueryHere(QuarkError):
    """`?access_token=` (or any query): refused loudly, not ignored, so an old client fails at
    once instead of at the auth deadline."""

    code = "websocket-query"
    status = 400
    title = "The live channel takes no query parameters: send token and cursor in the auth frame"


async def live(request: web.Request) -> web.StreamResponse:
    if request.query:
        detail = "never put a token in a URL (it lands in logs)" * ("access_token" in request.query)
        raise NoQueryHere(detail or None)
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS,
        max_msg_size=MAX_CLIENT_FRAME,
        timeout=CLOSE_SECONDS,
        # A frame is then written whole the moment it is sent (see Connection.write).
        compress=False,
    )
    if not ws.can_prepare(request).ok:
        raise NotAWebsocket()
    await ws.prepare(request)
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    request.app[SOCKETS].add(ws)
    code, reason = 1000, ""
    try:
        with WEBSOCKETS_OPEN.track_inprogress():
            await _session(request, ws)
    except Closing as closing:
        code, reason = closing.code, closing.reason
    except Exception:
        log.exception("websocket session failed")
        code, reason = CLOSE_INTERNAL, "internal error"
    if code != 1000:
        WEBSOCKET_CLOSES_TOTAL.labels(str(code)).inc()
        log.info("websocket_closed", code=code, reason=reason)
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        # A close reason holds at most 123 bytes.
        await asyncio.wait_for(ws.close(code=code, message=reason.encode()[:123]), CLOSE_SECONDS)
    return ws


async def _authenticate(request: web.Request, ws: web.WebSocketResponse) -> tuple[Principal, Auth]:
    try:
        msg = await ws.receive(timeout=AUTH_DEADLINE_SECONDS)
    except TimeoutError:
        raise Closing(CLOSE_AUTH_TIMEOUT, "no auth frame in time") from None
    if msg.type == WSMsgType.BINARY:
        raise Closing(CLOSE_BAD_FIRST_FRAME, "frames are JSON text")
    if msg.type != WSMsgType.TEXT:
        raise Closing(1000, "")  # the client left, or aiohttp closed already (1009)
    try:
        frame = decode_frame.decode(msg.data)
    except msgspec.DecodeError:
        frame = None
    if not isinstance(frame, Auth):
        raise Closing(CLOSE_BAD_FIRST_FRAME, 'the first frame must be {"type": "auth", ...}')
    try:
        who = await verify_access_token(request.app, frame.token)
    except QuarkError as exc:
        if exc.status == 401:
            raise Closing(CLOSE_UNAUTHORIZED, exc.detail or exc.title) from None
        raise Closing(CLOSE_TRY_AGAIN, exc.title) from None
    if who.restricted:
        raise Closing(CLOSE_SUSPENDED, "this account is suspended")
    return who, frame


async def _expired_up_to(js: nats.js.JetStreamContext, first_seq: int, cursor: int) -> int | None:
    """Where delivery continues if items after `cursor` may have been dropped, else None.

    Either the stream's front moved past the cursor (max_age), or the item the cursor names
    was deleted from inside the stream (a purge of the person's inbox): either way the
    client cannot trust what it holds. A cursor of 0 names no item: only the front counts.
    """
    if cursor + 1 < first_seq:
        return first_seq - 1
    if cursor == 0 or cursor < first_seq:
        return None
    try:
        await js.get_msg(inbox.STREAM, seq=cursor)
    except nats.js.errors.NotFoundError:
        return cursor
    return None


async def _channels(request: web.Request, user_id: str) -> list[str]:
    """The person's channels, as new as every chat event in the log when they connect: a
    channel joined a moment ago (its `conversation.joined` item already sent) is in."""
    i = infra(request)
    chat_head = (await i.nc.jetstream().stream_info("CHAT")).state.last_seq
    with contextlib.suppress(TimeoutWaitingError):
        await request.app[POSITIONS].wait(
            live_model.NAME, "CHAT", chat_head, MEMBERSHIP_WAIT_SECONDS
        )
    return await live_model.channels_of(i.pool, user_id)


async def _session(request: web.Request, ws: web.WebSocketResponse) -> None:
    who, auth = await _authenticate(request, ws)
    hub = request.app[HUB]
    js = infra(request).nc.jetstream()
    if not hub.available:
        raise Closing(CLOSE_INTERNAL, "live delivery is not set up")
    state = (await js.stream_info(inbox.STREAM)).state
    if auth.cursor is not None and auth.cursor > state.last_seq:
        raise Closing(CLOSE_BAD_CURSOR, "cursor is ahead of the inbox")
    reset = None if auth.cursor is None else await _expired_up_to(js, state.first_seq, auth.cursor)
    rooms = await _channels(request, who.user_id)
    # Without a cursor, delivery starts after what the hub has handed out when the session
    # joins it: a position, not "whatever comes next", so nothing falls in between.
    conn = Connection(request, ws, who, auth.token, 0)
    position = hub.attach(conn, rooms)
    start = position if auth.cursor is None else (reset if reset is not None else auth.cursor)
    conn.last_seq = conn.delivered = start
    tasks: list[asyncio.Task[Any]] = []
    try:
        await _presence(request, conn, online=True)
        conn.send(Ready(who.user_id, who.session_id, start), start)
        if reset is not None:
            conn.send(Reset("cursor-expired", reset), reset)
        catch_up = asyncio.create_task(_catch_up(hub, conn, position))
        closing = asyncio.ensure_future(conn.closing)
        tasks = [
            asyncio.create_task(conn.read()),
            catch_up,
            closing,
        ]
        # Whatever ends first is a close, a departure or an error — except the catch-up,
        # whose end is the session going live.
        pending: set[asyncio.Future[Any]] = set(tasks)
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if done != {catch_up} or catch_up.cancelled() or catch_up.exception():
                break
    finally:
        conn.ended = True
        hub.detach(conn)
        if conn.writer is not None:
            tasks.append(conn.writer)
        for task in tasks:
            task.cancel()
        # Bounded, and not a suppress(BaseException) per task: a task that missed its
        # cancellation (Python 3.11's wait_for can lose one) must not keep the session —
        # and the edge's shutdown — waiting; and this coroutine's own cancellation must
        # not be swallowed.
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_presence(request, conn, online=False), CLOSE_SECONDS)
    for task in done:
        if task.cancelled():
            continue
        if task is closing:
            raise task.result()
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _presence(request: web.Request, conn: Connection, *, online: bool) -> None:
    """Register the connection; when the person comes online (their first connection
    anywhere) or goes offline (their last), tell their contacts (`chat.watchers`)."""
    i = infra(request)
    if online:
        changed = await i.presence.connected(conn.user_id, conn.conn_id)
    else:
        changed = await i.presence.disconnected(conn.user_id, conn.conn_id)
    if not changed:
        return
    watchers = await chat_model.watchers(i.pool, conn.user_id)
    if watchers:
        seen = None if online else datetime.now(UTC)
        frame = encoder.encode(PresenceSignal(conn.user_id, online, seen))
        await request.app[HUB].signal(watchers, frame)


async def guard_sessions(app: web.Application) -> None:
    """Every SESSION_CHECK_SECONDS: close the sockets whose session ended or whose token
    expired (ticks of a second, so a shorter period set at run time applies at once)."""
    checked = time.monotonic()
    while True:
        await asyncio.sleep(min(SESSION_CHECK_SECONDS, 1.0))
        if time.monotonic() - checked < SESSION_CHECK_SECONDS:
            continue
        checked, now = time.monotonic(), time.time()
        for sessions in list(app[HUB].users.values()):
            for conn in list(sessions):
                conn.check(now)  # type: ignore[attr-defined]


async def refresh_presence(app: web.Application) -> None:
    """Every heartbeat: the connections of this edge still count (an edge that dies stops
    refreshing, and its connections expire by themselves)."""
    presence = app[INFRA].presence
    while True:
        await asyncio.sleep(presence.heartbeat)
        held = [(c.user_id, c.conn_id) for sessions in app[HUB].users.values() for c in sessions]
        if not held:
            continue
        try:
            lost = await presence.refresh(held)
            for user_id, conn_id in lost:  # expired meanwhile (Redis was away): count again
                await presence.connected(user_id, conn_id)
        except Exception as exc:
            log.warning("presence_refresh_failed", error=repr(exc))


async def _catch_up(hub: LiveHub, conn: Connection, position: int) -> None:
    """From the client's cursor to the hub's position, then from the stream again for as
    long as the buffer overflowed, then live."""
    until = position
    while True:
        until = await hub.catch_up(conn, conn.last_seq, until, conn.take_waiting)
        if not conn.overflowed:
            break
        conn.overflowed = False
        until = hub.position
    conn.go_live()


async def close_sockets(app: web.Application) -> None:
    """On shutdown: tell every client the server is going away (1001) so it reconnects
    elsewhere with its cursor."""
    for ws in set(app[SOCKETS]):
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"server shutdown")


async def hub_ctx(app: web.Application) -> Any:
    """One INBOX reader for the edge process, for as long as the app runs."""
    hub = app[HUB] = LiveHub(app[INFRA].nc)
    await hub.start()
    background = [
        asyncio.create_task(refresh_presence(app)),
        asyncio.create_task(guard_sessions(app)),
    ]
    yield
    for task in background:
        task.cancel()
    await asyncio.wait(background, timeout=CLOSE_SECONDS)
    await hub.stop()


ROUTES = [
    Route(
        "GET",
        "/v1/ws",
        live,
        "Live channel (websocket): authenticate with the first frame, then items with "
        "cursors, ephemeral signals, and messages sent and read markers set over it "
        "(docs/websocket.md)",
        "live",
        status=101,
        raises=(NotAWebsocket, NoQueryHere),
        name="live",
    ),
]
