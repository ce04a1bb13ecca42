"""Batch direct gets on a lean NATS connection of our own: how the event store loads an
aggregate (`EventStore.load`).

Loading an aggregate of 100 events through nats-py took 3.1 to 4.6 ms where the same batch
direct get read on a raw socket takes 1.0 to 1.4 ms (`python -m bench kernel`, "100-event
aggregate load"): nats-py builds a `Msg`, parses its headers and hands it through a
subscription task and a queue, per message. The issue allows a lean protocol path where
nats-py is the cost, as the replay's reader (`core.streamreader`) already has. This one is
multiplexed: one connection and one wildcard subscription serve every load in flight; each
request has its own reply subject, and a reader task parses whole buffers of `HMSG` frames,
finding the two headers a load needs in place, and completes a request at its status frame
(204 end of batch, 404 nothing there).

It speaks plain TCP with the URL's user/password or token, like the replay reader. Anything
it cannot do — a `tls://` URL, a refused or lost connection, an answer it does not expect —
raises `DirectGetUnavailable`, and the event store answers that call through nats-py
instead, so availability is never worse than before. The connection is opened on first use
and again after it was lost; after a failed attempt, not for `RETRY_SECONDS` (meanwhile every
load goes straight to nats-py instead of paying a failed connect first), and each failure is
logged once, not once per load.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from urllib.parse import urlparse

from core.logging import get_logger
from core.streamreader import handshake

log = get_logger("quark.eventstore")

_CRLF = b"\r\n"
#: A load waits at most this long for its whole batch before nats-py is asked instead.
TIMEOUT_SECONDS = 5.0
#: After a failed connection attempt, how long loads go to nats-py before the next attempt.
RETRY_SECONDS = 5.0

#: (sequence, Nats-Msg-Id or None, the commit's bytes) of one message.
Item = tuple[int, str | None, bytes]


class DirectGetUnavailable(Exception):
    """This path cannot answer now; the caller falls back to nats-py."""


class _Request:
    __slots__ = ("done", "items")

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.done: asyncio.Future[list[Item]] = asyncio.get_running_loop().create_future()


class DirectGets:
    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.split(",")[0]
        self.timeout = timeout
        self.usable = urlparse(self.url).scheme in ("nats", "")
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._pending: dict[bytes, _Request] = {}
        self._prefix = b"_QUARK_LOAD." + secrets.token_hex(8).encode()
        self._counter = 0
        #: Until when (event-loop time) no connection is attempted, after a failed one.
        self._retry_at = 0.0

    async def _connection(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        loop = asyncio.get_running_loop()
        async with self._connecting:
            if self._writer is None:
                if loop.time() < self._retry_at:
                    raise DirectGetUnavailable("not connected (a recent attempt failed)")
                try:
                    reader, writer = await handshake(self.url, "quark-loads", limit=1 << 16)
                except Exception as exc:
                    self._retry_at = loop.time() + RETRY_SECONDS
                    log.warning("direct_get_unavailable", reason=repr(exc))
                    raise DirectGetUnavailable(f"cannot connect: {exc!r}") from None
                writer.write(b"SUB " + self._prefix + b".* 1\r\n")
                self._writer = writer
                self._reader_task = asyncio.create_task(self._read(reader, writer))
        assert self._writer is not None
        return self._writer

    async def subject(self, stream: str, subject: str, start: int, batch: int) -> list[Item]:
        """The messages on `subject` from sequence `start`, at most `batch` of them."""
        if not self.usable:
            raise DirectGetUnavailable("not a plain nats:// URL")
        writer = await self._connection()
        self._counter += 1
        reply = b"%s.%d" % (self._prefix, self._counter)
        payload = b'{"seq":%d,"next_by_subj":"%s","batch":%d}' % (start, subject.encode(), batch)
        request = _Request()
        self._pending[reply] = request
        try:
            if writer.is_closing():
                raise DirectGetUnavailable("the connection is closing")
            writer.write(
                b"PUB $JS.API.DIRECT.GET.%s %s %d\r\n%s\r\n"
                % (stream.encode(), reply, len(payload), payload)
            )
            # On timeout the future is cancelled: a late answer finds it done and is dropped.
            return await asyncio.wait_for(request.done, self.timeout)
        except TimeoutError:
            raise DirectGetUnavailable("no answer in time") from None
        finally:
            self._pending.pop(reply, None)

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        why = "NATS closed the connection"
        try:
            while chunk := await reader.read(1 << 16):
                buf += chunk
                del buf[: self._parse(buf, writer)]
        except Exception as exc:  # a lost socket, -ERR, a frame we cannot parse
            why = str(exc) or type(exc).__name__
        finally:
            self._lost(writer, why)

    def _parse(self, buf: bytearray, writer: asyncio.StreamWriter) -> int:
        """Handle every whole frame in `buf`; how many bytes were consumed."""
        pos = 0
        while (eol := buf.find(_CRLF, pos)) >= 0:
            if buf.startswith(b"HMSG", pos):
                parts = buf[pos:eol].split()
                hdr_len, total = int(parts[-2]), int(parts[-1])
                body = eol + 2
                if len(buf) < body + total + 2:
                    break  # the rest of this message has not arrived yet
                end = body + total
                self._message(bytes(parts[1]), buf, body, body + hdr_len, end)
                pos = end + 2
            elif buf.startswith(b"PING", pos):
                writer.write(b"PONG\r\n")
                pos = eol + 2
            elif buf.startswith(b"-ERR", pos):
                raise DirectGetUnavailable(buf[pos:eol].decode(errors="replace"))
            else:  # INFO (cluster changes), PONG, +OK; plain MSG never answers a direct get
                pos = eol + 2
        return pos

    def _message(self, reply: bytes, buf: bytearray, body: int, hdr_end: int, end: int) -> None:
        request = self._pending.get(reply)
        if request is None or request.done.done():
            return  # a request that timed out: its answer is dropped
        # "NATS/1.0\r\n" starts a message's headers; "NATS/1.0 204 EOB" is a status.
        if buf[body + 8] != 13:
            status = bytes(buf[body + 9 : body + 12])
            if status in (b"204", b"404"):
                request.done.set_result(request.items)
            else:
                line = bytes(buf[body : buf.find(_CRLF, body)]).decode(errors="replace")
                request.done.set_exception(DirectGetUnavailable(f"direct get: {line}"))
            return
        i = buf.find(b"Nats-Sequence: ", body, hdr_end) + 15
        seq = int(buf[i : buf.find(_CRLF, i)])
        msg_id = None
        j = buf.find(b"Nats-Msg-Id: ", body, hdr_end)
        if j >= 0:
            j += 13
            msg_id = bytes(buf[j : buf.find(_CRLF, j)]).decode()
        request.items.append((seq, msg_id, bytes(buf[hdr_end:end])))

    def _lost(self, writer: asyncio.StreamWriter, why: str) -> None:
        if self._writer is writer:
            self._writer = None
            log.warning("direct_get_connection_lost", reason=why)
        writer.close()
        for request in self._pending.values():
            if not request.done.done():
                request.done.set_exception(DirectGetUnavailable(why))

    async def close(self) -> None:
        task, self._reader_task = self._reader_task, None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
