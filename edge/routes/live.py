"""`GET /v1/ws`: the live channel, the messenger's gateway (protocol in docs/websocket.md).

The handshake carries no credentials: the client's first frame is `auth` (a token in a URL
lands in proxy and access logs). The session then registers with the edge's `LiveHub`
(one reader of the INBOX stream for the whole process), catches up from the client's cursor
with a consumer of its own while the hub's items for it wait in a buffer, and goes live
where the two meet: no gap, no repeat, and no consumer per connection once it is live.

Every frame the server sends goes through one bounded queue and one writer task: a client
that reads too slowly fills the queue and is closed with the cursor of the last item written
to it, instead of the edge buffering without bound. Request frames (`send`, `read`) go
through the very HTTP route they name, in-process, so their answers are the HTTP answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats.js.errors
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from core import inbox
from core.errors import QuarkError, TimeoutWaitingError
from core.ids import is_uuid
from core.logging import get_logger
from core.metrics import WEBSOCKET_CLOSES_TOTAL, WEBSOCKETS_OPEN
from edge.auth import ACCESS, Principal, verify_access_token
from edge.context import INFRA, POSITIONS, infra
from edge.live_frames import (
    MAX_CLIENT_FRAME,
    Auth,
    Error,
    Ping,
    Pong,
    PresenceSignal,
    Read,
    Ready,
    Reset,
    Result,
    Send,
    ServerFrame,
    Typing,
    TypingSignal,
    decode_envelope,
    decode_frame,
    encoder,
)
from edge.live_hub import LiveHub, head_of, text_frame
from edge.routing import Route
from projections import chat as chat_model
from projections import live as live_model

log = get_logger("quark.edge.live")
SOCKETS = web.AppKey("websockets", weakref.WeakSet)
HUB = web.AppKey("live_hub", LiveHub)

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
#: Live items kept for a session while it catches up; beyond, it catches up once more.
MAX_BUFFERED_ITEMS = 4096
#: The kernel's send buffer per connection (bounded too, rather than autotuned to MiBs).
SEND_BUFFER_BYTES = 128 * 1024
#: How long a closing handshake may take before the connection is simply dropped.
CLOSE_SECONDS = 5.0
#: How long a `send` waits for its message's item to give its cursor; then the result
#: goes without one (the item still comes).
SEND_CURSOR_SECONDS = 5.0
#: How long after a `send` a connection keeps the cursors of its own messages it sees.
OWN_MESSAGES_SECONDS = 60.0
#: A person's `typing` in one conversation is passed on at most this often.
TYPING_EVERY_SECONDS = 3.0
#: How long a connecting session waits for the memberships of the live read model.
MEMBERSHIP_WAIT_SECONDS = 5.0

# Close codes (4000-4999 are the application's own; docs/websocket.md lists them all).
CLOSE_BAD_FIRST_FRAME = 4400
CLOSE_UNAUTHORIZED = 4401
#: A suspended account's restricted session: the live channel is not among what it may use.
CLOSE_SUSPENDED = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_BAD_CURSOR = 4422
CLOSE_FLOOD = 4429
CLOSE_TOO_SLOW = 4008
CLOSE_TRY_AGAIN = 1013
CLOSE_INTERNAL = 1011

_decode_frame = decode_frame  # the unit tests' name for it


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
    """One authenticated socket: the hub's subscriber (items → queue), the writer (queue →
    socket), the reader (client frames → HANDLERS) and `check`, which the edge's one sweep
    calls (session still valid)."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        who: Principal,
        token: str,
        start: int,
    ) -> None:
        self.request, self.ws, self.who, self.token = request, ws, who, token
        self.app = request.app
        self.user_id = who.user_id
        #: This connection in the presence registry (`core.presence`).
        self.conn_id = uuid.uuid4().hex
        self.rooms: set[str] = set()
        #: Frames waiting for the socket (its buffers were full), and the task writing them
        #: (only while there are some: an idle connection holds no writer task).
        self.queue: deque[tuple[int | None, bytes]] = deque()
        self.writer: asyncio.Task[None] | None = None
        self.transport = request.transport
        self.queued_bytes = 0
        self.room_left = asyncio.Event()
        self.room_left.set()
        #: The cursor of the last frame written to the socket: what a client closed for
        #: being slow resumes after (every frame before the close frame reached it).
        self.delivered = start
        #: The last item queued: anything the hub or a catch-up offers at or below it is
        #: a repeat.
        self.last_seq = start
        self.catching_up = True
        #: Set when the session ends (its tasks stop even if a cancellation went missing).
        self.ended = False
        self.buffer: list[tuple[int, str | None, bytes, bytes]] = []
        self.overflowed = False
        self.closing: asyncio.Future[Closing] = asyncio.get_running_loop().create_future()
        self.bucket = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        self.strikes = 0
        #: Sent messages waiting for their item's cursor: message id → (ref, status, body).
        self.awaiting: dict[str, tuple[str, int, bytes]] = {}
        #: The person's own latest messages seen here: message id → cursor.
        self.own: OrderedDict[str, int] = OrderedDict()
        self.typing_at: dict[str, float] = {}
        #: When this connection last sent a message (0: never).
        self.sent_lately = 0.0
        self.user_id_bytes = who.user_id.encode()

    # --- frames out -----------------------------------------------------------------------

    def send(self, frame: ServerFrame, cursor: int | None = None) -> None:
        self.send_bytes(encoder.encode(frame), cursor)

    def send_bytes(self, data: bytes, cursor: int | None = None, wire: bytes | None = None) -> None:
        """Write `data` as a text frame now if the socket takes it (nothing waiting, its
        buffers empty), else queue it for the writer; a client that lets too much pile up
        is closed. `wire` is the whole websocket frame when the caller built it already
        (an item going to many sockets is framed once)."""
        t = self.transport
        if (
            not self.queue
            and self.writer is None
            and t is not None
            and not t.is_closing()
            and not t.get_write_buffer_size()
        ):
            # Server frames are unmasked and written whole (no compression): a frame written
            # here never lands inside one aiohttp is writing, and precedes any close frame.
            t.write(wire if wire is not None else text_frame(data))
            if cursor is not None:
                self.delivered = cursor
            return
        full = len(self.queue) >= MAX_QUEUED_FRAMES
        if full or self.queued_bytes + len(data) > MAX_QUEUED_BYTES:
            reason = encoder.encode({"reason": "too-slow", "cursor": self.delivered})
            raise Closing(CLOSE_TOO_SLOW, reason.decode())
        self.queued_bytes += len(data)
        self.queue.append((cursor, data))
        if len(self.queue) >= MAX_QUEUED_FRAMES // 2:
            self.room_left.clear()
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self.write())

    async def write(self) -> None:
        """Until the queue is empty: frames in order, each awaiting the socket's room."""
        try:
            while self.queue:
                cursor, data = self.queue.popleft()
                self.queued_bytes -= len(data)
                if len(self.queue) < MAX_QUEUED_FRAMES // 2:
                    self.room_left.set()
                if cursor is not None:
                    # Uncompressed frames are written to the transport before send_frame
                    # first yields: once it is called, this frame precedes any close frame.
                    self.delivered = cursor
                await self.ws.send_frame(data, WSMsgType.TEXT)
        except ConnectionError:
            self.fail(Closing(1000, ""))  # the client is gone: nothing left to close
        finally:
            self.writer = None

    def fail(self, closing: Closing) -> None:
        if not self.closing.done():
            self.closing.set_result(closing)

    # --- the hub's subscriber -------------------------------------------------------------

    def offer(
        self, seq: int, room: str | None, data: bytes, frame: bytes, wire: bytes | None = None
    ) -> None:
        if seq <= self.last_seq:
            return
        if self.catching_up:
            if len(self.buffer) >= MAX_BUFFERED_ITEMS:
                self.overflowed = True  # caught up again from the stream instead
                self.buffer.clear()
            if not self.overflowed:
                self.buffer.append((seq, room, data, frame))
            return
        self.take(seq, data, frame, wire)

    def signal(self, frame: bytes) -> None:
        """Ephemeral frames are dropped rather than let a busy client grow its queue."""
        if len(self.queue) < MAX_QUEUED_FRAMES // 2:
            with contextlib.suppress(Closing):
                self.send_bytes(frame)

    def take(self, seq: int, data: bytes, frame: bytes, wire: bytes | None = None) -> None:
        self.last_seq = seq
        try:
            self.send_bytes(frame, seq, wire)
        except Closing as closing:
            self.fail(closing)
            return
        # Only a connection that sent a message lately looks for its own ones (the cursor
        # of a `send`'s result): readers of a busy channel scan nothing.
        recent = self.sent_lately and time.monotonic() - self.sent_lately < OWN_MESSAGES_SECONDS
        if recent and b'"message.new"' in data and self.user_id_bytes in data:
            self._own_message(seq, data)

    async def take_waiting(self, seq: int, room: str | None, data: bytes, frame: bytes) -> None:
        """An item caught up from the stream: waits for room in the queue (the client reads
        at its own pace) instead of closing it as too slow."""
        await self.room_left.wait()
        if self.ended:
            raise asyncio.CancelledError  # the session is over, whatever a lost cancel says
        if seq > self.last_seq:
            self.take(seq, data, frame)

    def go_live(self) -> None:
        """The buffered items after what the catch-up delivered, then live: no await, so no
        item of the hub can come in between."""
        for seq, _room, data, frame in self.buffer:
            if seq > self.last_seq:
                self.take(seq, data, frame)
        self.buffer.clear()
        self.catching_up = False

    def _own_message(self, seq: int, data: bytes) -> None:
        message = head_of(data).message or {}
        if message.get("sender_id") != self.user_id:
            return
        message_id = str(message.get("id"))
        # Kept also once answered: a resend with the same id is answered with it too.
        self.own[message_id] = seq
        while len(self.own) > 64:
            self.own.popitem(last=False)
        answer = self.awaiting.pop(message_id, None)
        if answer is not None:
            ref, status, body = answer
            self.signal_result(Result(ref, status, msgspec.Raw(body), seq))

    def signal_result(self, result: Result) -> None:
        try:
            self.send(result)
        except Closing as closing:
            self.fail(closing)

    # --- background tasks -----------------------------------------------------------------

    def check(self, now: float) -> None:
        """A websocket outlives the request that opened it: it ends when its session is
        ended or its access token expires; the client reconnects with a new one. (One
        sweep over every connection of the edge calls this: no timer per connection.)"""
        if self.app[ACCESS].is_revoked(self.who.session_id):
            self.fail(Closing(CLOSE_UNAUTHORIZED, "session ended"))
        elif self.who.expires_at and now >= self.who.expires_at:
            self.fail(Closing(CLOSE_UNAUTHORIZED, "access token expired"))

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
            kind = decode_envelope.decode(data).type
        except msgspec.DecodeError as exc:
            self.send(Error("bad-frame", f"not a frame: {exc}"))
            return
        if kind not in FRAME_TYPES:
            self.send(Error("unknown-type", f"no frame type {kind[:64]!r}"))
            return
        try:
            frame = decode_frame.decode(data)
        except msgspec.DecodeError as exc:
            self.send(Error("bad-frame", str(exc)))
            return
        await HANDLERS[type(frame)](self, frame)

    async def call_route(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        """The HTTP route at `path`, in-process, as this person: (status, JSON body)."""
        payload = encoder.encode(body)
        headers = CIMultiDict(
            {
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Content-Length": str(len(payload)),
            }
        )
        for name in ("X-Forwarded-For", "User-Agent"):
            if name in self.request.headers:
                headers[name] = self.request.headers[name]
        request = self.request.clone(method=method, rel_url=path, headers=headers)
        request._read_bytes = payload  # what request.read() returns
        response = await self.app._handle(request)
        data = response.body if isinstance(response, web.Response) else None
        return response.status, bytes(data) if isinstance(data, bytes | bytearray) else b"null"


FrameHandler = Callable[[Connection, Any], Awaitable[None]]


async def _ping(conn: Connection, frame: Ping) -> None:
    conn.send(Pong())


async def _auth_again(conn: Connection, frame: Auth) -> None:
    conn.send(Error("already-authenticated", "auth is the first frame only"))


def _conversation_path(conn: Connection, conversation_id: str, ref: str) -> str | None:
    if is_uuid(conversation_id):
        return f"/v1/conversations/{conversation_id}"
    problem = {
        "type": "quark:not-found",
        "title": "No such conversation",
        "status": 404,
        "code": "not-found",
    }
    conn.send(Result(ref, 404, msgspec.Raw(encoder.encode(problem))))
    return None


async def _send(conn: Connection, frame: Send) -> None:
    path = _conversation_path(conn, frame.conversation_id, frame.ref)
    if path is None:
        return
    conn.sent_lately = time.monotonic()
    body: dict[str, Any] = {"body": frame.body, "media_ids": frame.media_ids}
    if frame.id is not None:
        body["id"] = frame.id
    if frame.reply_to is not None:
        body["reply_to"] = frame.reply_to
    status, answer = await conn.call_route("POST", f"{path}/messages", body)
    message_id = None
    if status == 201:
        with contextlib.suppress(msgspec.DecodeError, KeyError, TypeError):
            message_id = str(msgspec.json.decode(answer)["id"])
    if message_id is None:
        conn.send(Result(frame.ref, status, msgspec.Raw(answer)))
        return
    cursor = conn.own.get(message_id)
    if cursor is not None:
        conn.send(Result(frame.ref, status, msgspec.Raw(answer), cursor))
        return
    # The message's item has not come round yet: the result follows it.
    conn.awaiting[message_id] = (frame.ref, status, answer)

    def give_up() -> None:
        late = conn.awaiting.pop(message_id, None)
        if late is not None:
            conn.signal_result(Result(late[0], late[1], msgspec.Raw(late[2])))

    asyncio.get_running_loop().call_later(SEND_CURSOR_SECONDS, give_up)


async def _read(conn: Connection, frame: Read) -> None:
    path = _conversation_path(conn, frame.conversation_id, frame.ref)
    if path is None:
        return
    status, answer = await conn.call_route("POST", f"{path}/read", {"up_to": frame.up_to})
    conn.send(Result(frame.ref, status, msgspec.Raw(answer)))


async def _typing(conn: Connection, frame: Typing) -> None:
    cid = frame.conversation_id
    now = time.monotonic()
    if not is_uuid(cid) or now - conn.typing_at.get(cid, -TYPING_EVERY_SECONDS) < (
        TYPING_EVERY_SECONDS
    ):
        return
    if len(conn.typing_at) > 256:
        conn.typing_at.clear()
    conn.typing_at[cid] = now
    members = await live_model.audience(infra(conn.request).pool, cid, conn.user_id)
    if members is None:
        conn.send(Error("not-found", "no such conversation of yours"))
        return
    signal = encoder.encode(TypingSignal(cid, conn.user_id))
    await conn.app[HUB].signal([m for m in members if m != conn.user_id], signal)


#: What each client frame does once authenticated (a Struct in ClientFrame and a handler).
HANDLERS: dict[type, FrameHandler] = {
    Auth: _auth_again,
    Ping: _ping,
    Send: _send,
    Read: _read,
    Typing: _typing,
}
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
