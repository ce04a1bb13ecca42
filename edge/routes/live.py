"""`GET /v1/ws`: the live channel (protocol in docs/websocket.md).

The handshake carries no credentials: the client's first frame is `auth` (a token in a URL
lands in proxy and access logs). The session then replays the person's inbox after the
client's cursor with an ordered consumer, which simply continues with live items: one
source, so there is no moment between "replayed" and "live" where an item could slip through.

Every frame the server sends goes through one bounded queue and one writer task: a client
that reads too slowly fills the queue and is closed with the cursor of the last item written
to it, instead of the edge buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Annotated

import msgspec
import nats.js.errors
from aiohttp import WSMsgType, web
from nats.js.api import ConsumerConfig, DeliverPolicy

from core import inbox
from core.errors import QuarkError
from core.logging import get_logger
from core.metrics import WEBSOCKET_CLOSES_TOTAL, WEBSOCKETS_OPEN
from edge.auth import ACCESS, Principal, verify_access_token
from edge.context import infra
from edge.params import INT64_MAX
from edge.routing import Route

log = get_logger("quark.edge.live")
SOCKETS = web.AppKey("websockets", weakref.WeakSet)

#: Largest frame a client may send; a larger one is closed with 1009 by aiohttp.
MAX_CLIENT_FRAME = 4096
#: Seconds a client has, after the handshake, to send its `auth` frame.
AUTH_DEADLINE_SECONDS = 10.0
#: How often an open websocket checks that its session still stands (seconds).
SESSION_CHECK_SECONDS = 10.0
#: Websocket pings every this many seconds; no pong within half of it drops the connection.
HEARTBEAT_SECONDS = 30.0
#: Client frames per second a connection may send, and the burst it may save up.
FRAMES_PER_SECOND = 20.0
FRAME_BURST = 40
#: Frames refused for the rate before the close: the first is answered with an error frame,
#: the others with nothing; the count restarts once the bucket has refilled to half.
FLOOD_STRIKES = 20
#: Frames (and bytes) waiting for a slow client before it is closed with CLOSE_TOO_SLOW.
MAX_QUEUED_FRAMES = 256
MAX_QUEUED_BYTES = 1 << 20
#: The kernel's send buffer per connection (bounded too, rather than autotuned to MiBs).
SEND_BUFFER_BYTES = 128 * 1024
#: How long a closing handshake may take before the connection is simply dropped.
CLOSE_SECONDS = 5.0

# Close codes (4000-4999 are the application's own; docs/websocket.md lists them all).
CLOSE_BAD_FIRST_FRAME = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_BAD_CURSOR = 4422
CLOSE_FLOOD = 4429
CLOSE_TOO_SLOW = 4008
CLOSE_TRY_AGAIN = 1013
CLOSE_INTERNAL = 1011

Cursor = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]


# --- client frames: one tagged union, decoded by one typed decoder ------------------------


class Auth(msgspec.Struct, tag="auth", forbid_unknown_fields=True, frozen=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CLIENT_FRAME)]
    cursor: Cursor | None = None


class Ping(msgspec.Struct, tag="ping", forbid_unknown_fields=True, frozen=True):
    pass


ClientFrame = Auth | Ping
_decode_frame = msgspec.json.Decoder(ClientFrame)


class _Envelope(msgspec.Struct):
    """Just enough of a frame to tell an unknown type from a malformed frame."""

    type: str


_decode_envelope = msgspec.json.Decoder(_Envelope)


# --- server frames ------------------------------------------------------------------------


class Ready(msgspec.Struct, tag="ready", frozen=True):
    user_id: str
    session_id: str
    cursor: int


class Item(msgspec.Struct, tag="item", frozen=True):
    cursor: int
    item: msgspec.Raw


class Reset(msgspec.Struct, tag="reset", frozen=True):
    reason: str
    cursor: int


class Pong(msgspec.Struct, tag="pong", frozen=True):
    pass


class Error(msgspec.Struct, tag="error", frozen=True):
    code: str
    detail: str


ServerFrame = Ready | Item | Reset | Pong | Error
_encoder = msgspec.json.Encoder()


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


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; one per client frame."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Closing(Exception):
    """A task of the connection ends it with this close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


class Connection:
    """One authenticated socket: the pump (inbox → queue), the writer (queue → socket), the
    guard (session still valid) and the reader (client frames → HANDLERS)."""

    def __init__(self, ws: web.WebSocketResponse, who: Principal, app: web.Application) -> None:
        self.ws, self.who, self.app = ws, who, app
        self.queue: asyncio.Queue[tuple[int | None, bytes]] = asyncio.Queue()
        self.queued_bytes = 0
        #: The cursor of the last frame written to the socket: what a client closed for
        #: being slow resumes after (every frame before the close frame reached it).
        self.delivered = 0
        self.bucket = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        self.strikes = 0

    def send(self, frame: ServerFrame, cursor: int | None = None) -> None:
        """Queue `frame` for the writer; a client that lets too much pile up is closed."""
        data = _encoder.encode(frame)
        full = self.queue.qsize() >= MAX_QUEUED_FRAMES
        if full or self.queued_bytes + len(data) > MAX_QUEUED_BYTES:
            reason = _encoder.encode({"reason": "too-slow", "cursor": self.delivered})
            raise Closing(CLOSE_TOO_SLOW, reason.decode())
        self.queued_bytes += len(data)
        self.queue.put_nowait((cursor, data))

    async def write(self) -> None:
        while True:
            cursor, data = await self.queue.get()
            self.queued_bytes -= len(data)
            if cursor is not None:
                # Uncompressed frames are written to the transport before send_frame first
                # yields: once it is called, this frame precedes any close frame.
                self.delivered = cursor
            try:
                await self.ws.send_frame(data, WSMsgType.TEXT)
            except ConnectionError:
                return  # the client is gone: nothing left to close

    async def pump(self, sub: nats.js.JetStreamContext.PushSubscription) -> None:
        async for msg in sub.messages:
            seq = msg.metadata.sequence.stream
            self.send(Item(seq, msgspec.Raw(msg.data)), seq)
        raise Closing(CLOSE_INTERNAL, "inbox subscription ended")

    async def guard(self) -> None:
        """A websocket outlives the request that opened it: it ends when its session is
        ended (next check) or its access token expires; the client reconnects with a new one."""
        access = self.app[ACCESS]
        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            if access.is_revoked(self.who.session_id):
                raise Closing(CLOSE_UNAUTHORIZED, "session ended")
            if self.who.expires_at and time.time() >= self.who.expires_at:
                raise Closing(CLOSE_UNAUTHORIZED, "access token expired")

    async def read(self) -> None:
        async for msg in self.ws:
            if not self.bucket.take():
                self.strikes += 1
                if self.strikes > FLOOD_STRIKES:
                    raise Closing(CLOSE_FLOOD, "too many frames")
                if self.strikes == 1:
                    self.send(Error("rate-limited", f"at most {FRAMES_PER_SECOND:g} frames/s"))
                continue
            if self.bucket.tokens >= FRAME_BURST / 2:
                # Calmed down: a later flood is answered with an error frame again. A
                # client that stays over the rate keeps its strikes, and is closed.
                self.strikes = 0
            if msg.type == WSMsgType.TEXT:
                await self.receive(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self.send(Error("bad-frame", "frames are JSON text"))
            else:  # an error: aiohttp has closed already (1009 for an oversized frame)
                return

    async def receive(self, data: str) -> None:
        """One client frame: answered with a frame; a bad one changes nothing."""
        try:
            kind = _decode_envelope.decode(data).type
        except msgspec.DecodeError as exc:
            self.send(Error("bad-frame", f"not a frame: {exc}"))
            return
        if kind not in FRAME_TYPES:
            self.send(Error("unknown-type", f"no frame type {kind[:64]!r}"))
            return
        try:
            frame = _decode_frame.decode(data)
        except msgspec.DecodeError as exc:
            self.send(Error("bad-frame", str(exc)))
            return
        await HANDLERS[type(frame)](self, frame)


FrameHandler = Callable[[Connection, ClientFrame], Awaitable[None]]


async def _ping(conn: Connection, frame: ClientFrame) -> None:
    conn.send(Pong())


async def _auth_again(conn: Connection, frame: ClientFrame) -> None:
    conn.send(Error("already-authenticated", "auth is the first frame only"))


#: What each client frame does once authenticated; messaging adds `send`, `typing`, `read`
#: (a Struct in ClientFrame and a handler here).
HANDLERS: dict[type, FrameHandler] = {Auth: _auth_again, Ping: _ping}
FRAME_TYPES = frozenset(cls.__struct_config__.tag for cls in HANDLERS)


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
        frame = _decode_frame.decode(msg.data)
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


async def _session(request: web.Request, ws: web.WebSocketResponse) -> None:
    who, auth = await _authenticate(request, ws)
    js = infra(request).nc.jetstream()
    try:
        state = (await js.stream_info(inbox.STREAM)).state
    except nats.js.errors.NotFoundError:
        raise Closing(CLOSE_INTERNAL, "live delivery is not set up") from None
    if auth.cursor is not None and auth.cursor > state.last_seq:
        raise Closing(CLOSE_BAD_CURSOR, "cursor is ahead of the inbox")
    # A client without a cursor starts after what the inbox held when it connected: a
    # sequence taken from the stream's state, not "new messages from whenever the consumer
    # gets created", which would drop an item delivered in between.
    start = state.last_seq if auth.cursor is None else auth.cursor
    reset = None if auth.cursor is None else await _expired_up_to(js, state.first_seq, start)
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start + 1)
    sub = await js.subscribe(
        inbox.subject(who.user_id),
        stream=inbox.STREAM,
        ordered_consumer=True,
        config=config,
        idle_heartbeat=5.0,
        flow_control=True,
    )
    conn = Connection(ws, who, request.app)
    conn.delivered = start
    conn.send(Ready(who.user_id, who.session_id, start), start)
    if reset is not None:
        conn.send(Reset("cursor-expired", reset), reset)
    tasks = [
        asyncio.create_task(conn.write()),
        asyncio.create_task(conn.pump(sub)),
        asyncio.create_task(conn.guard()),
        asyncio.create_task(conn.read()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


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
        "Live channel (websocket): authenticate with the first frame, then per-user items "
        "with cursors (docs/websocket.md)",
        "live",
        status=101,
        raises=(NotAWebsocket, NoQueryHere),
        name="live",
    ),
]
