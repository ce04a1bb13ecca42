"""One socket of the live channel once it is authenticated: how frames go out to it, how it
takes the hub's items, and what each client frame does. Apart from the route
(`edge.routes.live`), which authenticates a socket, catches it up and ends it.

Every frame the server sends goes through one bounded queue and one writer task: a client
that reads too slowly fills the queue and is closed with the cursor of the last item written
to it, instead of the edge buffering without bound. Request frames (`send`, `read`) go
through the very HTTP route they name, in-process, so their answers are the HTTP answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from core.ids import is_uuid
from edge.auth import ACCESS, Principal
from edge.context import infra
from edge.live_frames import (
    Auth,
    Error,
    Ping,
    Pong,
    Read,
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
from projections import live as live_model

HUB = web.AppKey("live_hub", LiveHub)

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
#: How long a `send` waits for its message's item to give its cursor; then the result
#: goes without one (the item still comes).
SEND_CURSOR_SECONDS = 5.0
#: How long after a `send` a connection keeps the cursors of its own messages it sees.
OWN_MESSAGES_SECONDS = 60.0
#: A person's `typing` in one conversation is passed on at most this often.
TYPING_EVERY_SECONDS = 3.0

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
