"""Bulk, in-order reading of a stream range for replays (and benchmarks).

nats-py parses each message with per-message Python objects and reaches about 23,000
messages/s here, below what a replay must sustain (≥ 50,000 events/s). This reader speaks
the NATS client protocol on its own socket, asks for batch direct gets
(`$JS.API.DIRECT.GET.<stream>` with `batch`), and parses whole buffers of `HMSG` frames at
once. It needs only plain TCP: for `tls://` URLs or servers that require auth beyond
user/password/token in the URL, `read_stream` falls back to nats-py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

from nats.aio.client import Client as NATS

from core.errors import UnavailableError
from core.natsutil import ReplyMux, status_of

_CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class RawMessage:
    seq: int
    subject: str
    data: bytes


async def handshake(
    url: str, name: str, limit: int = 1 << 22
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain-TCP NATS client connection, CONNECTed (user/password or token from the URL)
    and checked with a PING: what our lean protocol readers start from."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    reader, writer = await asyncio.open_connection(host, port, limit=limit)
    try:
        line = await reader.readline()
        if not line.startswith(b"INFO"):
            raise UnavailableError("not a NATS server")
        opts: dict[str, object] = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "protocol": 1,
            "name": name,
        }
        if parsed.username and parsed.password:
            opts["user"], opts["pass"] = parsed.username, parsed.password
        elif parsed.username:
            opts["auth_token"] = parsed.username
        writer.write(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        await writer.drain()
        while True:
            line = await reader.readline()
            if line.startswith(b"PONG"):
                return reader, writer
            if line.startswith(b"-ERR") or not line:
                raise UnavailableError(
                    f"NATS refused the connection: {line.decode(errors='replace').strip()}"
                )
    except BaseException:
        writer.close()
        raise


class _RawConnection:
    def __init__(self, url: str) -> None:
        self.url = url
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buf = bytearray()

    async def connect(self) -> None:
        self.reader, self.writer = await handshake(self.url, "quark-replay")
        self.writer.write(b"SUB _QUARK_REPLAY.r 1\r\n")

    def request(self, subject: str, payload: bytes) -> None:
        assert self.writer is not None
        self.writer.write(
            b"PUB %s _QUARK_REPLAY.r %d\r\n%s\r\n" % (subject.encode(), len(payload), payload)
        )

    async def fill(self) -> bool:
        assert self.reader is not None
        chunk = await self.reader.read(1 << 20)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _read_raw(
    url: str, stream: str, start: int, end: int, subject: str | None, batch: int
) -> AsyncIterator[list[RawMessage]]:
    conn = _RawConnection(url)
    try:
        await conn.connect()
    except OSError as exc:
        raise UnavailableError(f"cannot reach NATS for replay: {exc}") from None
    try:
        seq = start
        api = f"$JS.API.DIRECT.GET.{stream}"
        while seq <= end:
            req: dict[str, object] = {"seq": seq, "batch": batch, "up_to_seq": end}
            if subject:
                req["next_by_subj"] = subject
            conn.request(api, json.dumps(req).encode())
            done = False
            got = 0
            while not done:
                out: list[RawMessage] = []
                buf = conn.buf
                pos = 0
                while True:
                    eol = buf.find(_CRLF, pos)
                    if eol < 0:
                        break
                    if buf.startswith(b"HMSG", pos):
                        parts = buf[pos:eol].split()
                        hdr_len, total = int(parts[-2]), int(parts[-1])
                        body_start = eol + 2
                        if len(buf) < body_start + total + 2:
                            break
                        hdr_end = body_start + hdr_len
                        pos = body_start + total + 2
                        # "NATS/1.0\r\n" starts a message's headers; "NATS/1.0 204 EOB" a status.
                        if buf[body_start + 8] != 13:
                            status = bytes(buf[body_start + 9 : body_start + 12])
                            if status in (b"204", b"404", b"408"):
                                done = True
                                break
                            line_end = buf.find(_CRLF, body_start)
                            raise UnavailableError(
                                f"direct get failed: {buf[body_start:line_end].decode()}"
                            )
                        # Headers are searched in place: no copy per message.
                        i = buf.find(b"Nats-Sequence: ", body_start, hdr_end) + 15
                        msg_seq = int(buf[i : buf.find(_CRLF, i)])
                        i = buf.find(b"Nats-Subject: ", body_start, hdr_end) + 14
                        subj = buf[i : buf.find(_CRLF, i)].decode()
                        out.append(RawMessage(msg_seq, subj, bytes(buf[hdr_end : pos - 2])))
                        seq = msg_seq + 1
                    elif buf.startswith(b"PING", pos):
                        assert conn.writer is not None
                        conn.writer.write(b"PONG\r\n")
                        pos = eol + 2
                    elif buf.startswith(b"-ERR", pos):
                        raise UnavailableError(f"NATS error during replay: {buf[pos:eol].decode()}")
                    else:  # MSG without headers never comes from direct get; +OK, PONG, INFO
                        pos = eol + 2
                del buf[:pos]
                if out:
                    got += len(out)
                    yield out
                if not done and not await conn.fill():
                    raise UnavailableError("NATS closed the connection during replay")
            if got < batch:
                return
    finally:
        conn.close()


async def _read_with_client(
    nc: NATS, stream: str, start: int, end: int, subject: str | None, batch: int
) -> AsyncIterator[list[RawMessage]]:
    mux = ReplyMux(nc)
    await mux.start()
    try:
        seq = start
        while seq <= end:
            req: dict[str, object] = {"seq": seq, "batch": batch, "up_to_seq": end}
            if subject:
                req["next_by_subj"] = subject
            got = 0
            out: list[RawMessage] = []
            async with mux.request(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(req).encode()
            ) as queue:
                while True:
                    msg = await asyncio.wait_for(queue.get(), 10)
                    if status_of(msg) is not None:
                        break
                    h = msg.headers or {}
                    seq = int(h["Nats-Sequence"]) + 1
                    out.append(RawMessage(seq - 1, h.get("Nats-Subject", ""), msg.data))
                    got += 1
                    if len(out) >= 1000:
                        yield out
                        out = []
            if out:
                yield out
            if got < batch:
                return
    finally:
        await mux.stop()


def read_stream(
    url: str,
    stream: str,
    start: int,
    end: int,
    *,
    subject: str | None = None,
    nc: NATS | None = None,
    batch: int = 10_000,
) -> AsyncIterator[list[RawMessage]]:
    """Yield the messages of `stream` with sequence in [start, end] (matching `subject`,
    wildcards allowed) in order, in chunks."""
    scheme = urlparse(url.split(",")[0]).scheme
    if scheme in ("nats", "") or nc is None:
        return _read_raw(url.split(",")[0], stream, start, end, subject, batch)
    return _read_with_client(nc, stream, start, end, subject, batch)
