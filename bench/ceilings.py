"""Ceilings (and floors): what the pieces under Quark do on their own, on this machine, now.

Each kernel figure is printed beside the best the layer beneath it achieves in the same run,
so "1,000 commands/s" reads as "a third of what durable JetStream appends allow here" rather
than as a number from nowhere:

- `jetstream_publish`: 64 (or 1) concurrent nats-py publishers awaiting their acks on the
  same durable server, one connection like a handler worker. Every command is one such
  append, so this bounds commands/s and its latency is the floor of a command's latency.
  Plain publishes (no expected-sequence or dedupe headers): the raw cost of a synced write.
- `aiohttp_hello`: the same HTTP client against a hello-world aiohttp server in its own
  process (`bench/hello.py`): the HTTP layer's share of a command (and, with `GET` in
  `aiohttp_hello_get`, of an authenticated read: the identity and blog suites).
- `pg_commit`: one-row transactions, one after another. A projection applies each batch in
  one transaction that PostgreSQL must fsync before the position is announced, so this is
  the floor of the commit → read-model lag.
- `pg_copy`: `COPY` of rows shaped like the posts read model into a table with the same
  indexes, one statement: the fastest way PostgreSQL ingests rows, the ceiling of a replay.
- `stream_read`: the bulk stream reader a replay uses, without decoding: how fast the log
  can be read back.
- `direct_get`: one batch direct get of an aggregate's subject on a raw socket that only
  counts frames: the I/O floor of loading an aggregate (server plus loopback). The same
  request through nats-py and the event store's reply mux (`direct_get_nats_py`) shows what
  the client library adds before any commit is decoded or folded.
- `argon2_verify`: password checks with the accounts context's own hasher and cost, on one
  core (the ceiling of logins/s per core) and on every core.
- `ed25519_verify`: the bare signature check of an access token, the ceiling of token
  verifications/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import nats
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.js.api import StorageType, StreamConfig

from bench.environment import LOOPBACK, BenchServer
from bench.loadgen import (
    LoopResult,
    bearer_headers,
    closed_loop,
    http_closed_loop,
    median,
    percentile,
)
from bench.wrk import WrkResult, wrk_binary, wrk_loop
from core.ids import uuid7
from core.natsutil import ReplyMux, status_of
from core.streamreader import read_stream
from handlers.accounts.credentials import Passwords
from projections.posts import ROW_COLUMNS, PostsProjection, body_html, body_text

CEILING_STREAM = "BENCH_CEILING"


async def jetstream_publish(
    nats_url: str,
    payload: bytes,
    *,
    publishers: int,
    seconds: float,
    max_requests: int,
    warmup_seconds: float,
) -> LoopResult:
    """Acknowledged publishes/s to a file-backed stream of its own (deleted afterwards)."""
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream(timeout=10)
    try:
        await js.add_stream(
            StreamConfig(
                name=CEILING_STREAM,
                subjects=["bench.ceiling.>"],
                storage=StorageType.FILE,
                num_replicas=1,
            )
        )
        try:

            async def send(i: int) -> str | None:
                await js.publish(f"bench.ceiling.{i}", payload)
                return None

            return await closed_loop(
                send,
                clients=publishers,
                seconds=seconds,
                max_requests=max_requests,
                warmup_seconds=warmup_seconds,
            )
        finally:
            await js.delete_stream(CEILING_STREAM)
    finally:
        await nc.close()


class HelloServer(BenchServer):
    """`bench/hello.py` in a child process on a free port."""

    def __init__(self, tmp: Path) -> None:
        super().__init__("hello", "bench.hello", tmp)
        self.url = f"{self.base_url}/v1/posts"


async def aiohttp_hello(
    url: str,
    body: bytes,
    tokens: Sequence[str],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    warmup_seconds: float,
) -> LoopResult | WrkResult:
    """POSTs of `body`, each client (each wrk thread) with its own access token."""
    wrk = wrk_binary()
    if wrk:
        # The same load generator as figure 1, so the ratio compares like with like.
        await wrk_loop(wrk, url, body, tokens, clients=clients, seconds=warmup_seconds)
        return await wrk_loop(wrk, url, body, tokens, clients=clients, seconds=seconds)
    return await http_closed_loop(
        "POST",
        url,
        bearer_headers(tokens[:clients]),
        body=body,
        status=201,
        clients=clients,
        seconds=seconds,
        max_requests=max_requests,
        warmup_seconds=warmup_seconds,
    )


async def aiohttp_hello_get(
    tmp: Path,
    path: str,
    tokens: Sequence[str],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    warmup_seconds: float,
) -> LoopResult:
    """Authenticated GETs of `path` (an empty page) from a hello-world server started for the
    measurement, each client with its own bearer token: the HTTP layer's share of a read."""
    hello = HelloServer(tmp)
    try:
        return await http_closed_loop(
            "GET",
            f"{hello.base_url}{path}",
            bearer_headers(tokens[:clients]),
            clients=clients,
            seconds=seconds,
            max_requests=max_requests,
            warmup_seconds=warmup_seconds,
        )
    finally:
        hello.stop()


async def argon2_verify(
    memory_kib: int, iterations: int, *, threads: int, seconds: float
) -> LoopResult:
    """Password checks/s with `Passwords` (argon2id, the accounts handler's own class) at
    the given cost, `threads` at once. Each check runs in a thread, as in the handler, and
    argon2 releases the GIL, so `threads` checks use up to `threads` cores."""
    passwords = Passwords(memory_kib, iterations)
    password = "correct horse battery staple"
    stored = await passwords.hash(password)

    async def send(i: int) -> str | None:
        return None if await passwords.verify(stored, password) else "password did not verify"

    return await closed_loop(
        send, clients=threads, seconds=seconds, max_requests=1_000_000, warmup_seconds=0.5
    )


async def ed25519_verify(
    key: Ed25519PublicKey, message: bytes, signature: bytes, *, seconds: float
) -> LoopResult:
    """Bare Ed25519 checks/s of `signature` over `message` (a token's signing input), on
    one core, through the same loop as the token figure so both pay the same overhead."""

    async def send(i: int) -> str | None:
        key.verify(signature, message)
        return None

    return await closed_loop(
        send, clients=1, seconds=seconds, max_requests=10_000_000, warmup_seconds=0.5
    )


async def pg_commit(database_url: str, count: int) -> LoopResult:
    """`count` one-row transactions in sequence (each fsynced at commit)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE bench_commit (n bigint, at timestamptz)")
        for i in range(min(50, count)):  # warm-up: plan cache, WAL segment
            await conn.execute("INSERT INTO bench_commit VALUES ($1, now())", i)

        async def send(i: int) -> str | None:
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_commit VALUES ($1, now())", i)
            return None

        result = await closed_loop(send, clients=1, seconds=30, max_requests=count)
        await conn.execute("DROP TABLE bench_commit")
        return result
    finally:
        await conn.close()


#: The rest of a post row (visibility, category, media, tags), as `ROW_COLUMNS` orders them.
_REST = ("public", None, [], [])


async def pg_copy(database_url: str, rows: int, title: str, body: str) -> dict[str, float]:
    """Rows/s of one `COPY` of `rows` post-shaped rows (row building not timed)."""
    authors = [str(uuid.uuid4()) for _ in range(1000)]
    now = datetime.now(UTC)
    # UUIDv7 like real post ids: time-ordered keys append to the primary-key B-tree, random
    # ones (v4) would split pages all over it and understate the ceiling.
    html = body_html(body)  # rendered once: the ceiling is the table's write, not Markdown
    text = body_text(body)
    records = [
        (
            uuid7(),
            authors[i % len(authors)],
            title,
            body,
            html,
            now,
            None,
            i + 1,
            i + 1,
            *_REST,
            text,
        )
        for i in range(rows)
    ]
    conn = await asyncpg.connect(database_url)
    try:
        # The read model's own DDL, in a scratch schema: the ceiling is the real table.
        await conn.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE; CREATE SCHEMA bench_copy")
        await conn.execute("SET search_path TO bench_copy")
        await conn.execute(PostsProjection.ddl)
        await checkpoint(conn)
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "posts",
            records=records,
            columns=ROW_COLUMNS,
        )
        seconds = time.perf_counter() - started
        await conn.execute("DROP SCHEMA bench_copy CASCADE")
    finally:
        await conn.close()
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}


async def checkpoint(conn: asyncpg.Connection) -> None:
    """Flush PostgreSQL's dirty buffers now, so a bulk measurement does not pay for the
    checkpoint an earlier one left behind. Needs superuser (or pg_checkpoint); without it
    the measurement simply runs as is."""
    with contextlib.suppress(asyncpg.PostgresError):
        await conn.execute("CHECKPOINT")


async def stream_read(nats_url: str, stream: str, end: int) -> dict[str, float]:
    """Messages/s of the bulk reader over `stream` [1, end], not decoding them."""
    started = time.perf_counter()
    count = 0
    async for chunk in read_stream(nats_url, stream, 1, end):
        count += len(chunk)
    seconds = time.perf_counter() - started
    return {
        "messages": count,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(count / seconds, 1),
    }


async def direct_get(
    nats_url: str, stream: str, subject: str, *, repeat: int, expected: int
) -> dict[str, float | None]:
    """Milliseconds for one batch direct get of every message on `subject`, on a raw socket
    that only counts the frames: the server's and the loopback's share of a load, with no
    client library in the way."""
    parsed = urlparse(nats_url)
    reader, writer = await asyncio.open_connection(
        parsed.hostname or LOOPBACK, parsed.port or 4222, limit=1 << 22
    )
    try:
        await reader.readline()  # INFO
        options = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}
        writer.write(b"CONNECT " + json.dumps(options).encode() + b"\r\nPING\r\n")
        while not (await reader.readline()).startswith(b"PONG"):
            pass
        writer.write(b"SUB _BENCH.direct 1\r\n")
        body = json.dumps({"seq": 1, "next_by_subj": subject, "batch": 1000}).encode()
        request = b"PUB $JS.API.DIRECT.GET.%s _BENCH.direct %d\r\n%s\r\n" % (
            stream.encode(),
            len(body),
            body,
        )

        async def once() -> float:
            started = time.perf_counter()
            writer.write(request)
            received = await _count_until_status(reader)
            if received != expected:
                raise RuntimeError(f"direct get returned {received} messages, not {expected}")
            return (time.perf_counter() - started) * 1000

        for _ in range(min(20, repeat)):
            await once()
        samples = [await once() for _ in range(repeat)]
    finally:
        writer.close()
    return {"median_ms": median(samples), "p99_ms": percentile(samples, 99), "samples": repeat}


async def _count_until_status(reader: asyncio.StreamReader) -> int:
    """Data messages before the status message (204 end of batch) that ends a direct get."""
    count = 0
    while True:
        line = await reader.readline()
        if not line.startswith(b"HMSG"):
            continue  # PING is not expected within milliseconds; +OK is off
        header_len, total = (int(x) for x in line.split()[-2:])
        frame = await reader.readexactly(total + 2)
        if frame[:header_len].startswith(b"NATS/1.0 "):  # a status line, not NATS/1.0\r\n
            return count
        count += 1


async def direct_get_nats_py(
    nc: nats.NATS, stream: str, subject: str, *, repeat: int, expected: int
) -> dict[str, float | None]:
    """The same request through nats-py and the reply mux the event store uses, still without
    decoding commits: the client library's share of a load."""
    mux = ReplyMux(nc)
    await mux.start()
    request = json.dumps({"seq": 1, "next_by_subj": subject, "batch": 1000}).encode()

    async def once() -> float:
        started = time.perf_counter()
        received = 0
        async with mux.request(f"$JS.API.DIRECT.GET.{stream}", request) as queue:
            while True:
                msg = await asyncio.wait_for(queue.get(), 5)
                if status_of(msg) is not None:
                    break
                received += 1
        if received != expected:
            raise RuntimeError(f"direct get returned {received} messages, not {expected}")
        return (time.perf_counter() - started) * 1000

    try:
        for _ in range(min(20, repeat)):
            await once()
        samples = [await once() for _ in range(repeat)]
    finally:
        await mux.stop()
    return {"median_ms": median(samples), "p99_ms": percentile(samples, 99), "samples": repeat}
