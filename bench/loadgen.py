"""Load generation and statistics shared by the benchmark suites.

- **Closed loop** (`closed_loop`): N clients, each sends its next request only when the
  previous one has been answered. That is how a throughput ceiling is found: the offered
  load adapts to what the server sustains, and latency under that load is read off the same
  run. Each run is bounded both in time and in request count.
- **Open loop** (`open_loop`): requests leave on a fixed schedule whatever the server does,
  which is how a steady rate (the read-model lag figure) is offered without the
  coordinated-omission trap of a closed loop slowing down with the server.

Percentiles are nearest-rank over every sample (no histogram buckets): runs are small
enough to keep every sample, and nearest-rank never reports a latency nobody saw.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in 0-100); None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


@dataclass
class LoopResult:
    """One measured run: how many requests completed, how long it took, their latencies."""

    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    #: Errors by kind: the HTTP status ("503") or the exception's type.
    error_kinds: Counter[str] = field(default_factory=Counter)

    def failed(self, error: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or error
        self.error_kinds[error_kind(error)] += 1

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies_ms, 99)

    def summary(self) -> dict[str, float | int | None]:
        return summary_of(self)


def error_kind(error: str) -> str:
    """ "HTTP 503: ..." -> "503"; "ClientOSError: ..." -> "ClientOSError"."""
    if error.startswith("HTTP "):
        return error[5:8]
    return error.split(":", 1)[0]


def server_errors(kinds: Counter[str] | dict[str, int]) -> dict[str, int]:
    """Answers of class 5xx, split into 503 (overload or a dependency down: a client may
    retry) and every other 5xx (a bug: never acceptable)."""
    unavailable = sum(n for k, n in kinds.items() if k == "503")
    other = sum(n for k, n in kinds.items() if len(k) == 3 and k.startswith("5") and k != "503")
    return {"http_503": unavailable, "http_5xx_other_than_503": other}


def summary_of(result: LoopResult | Any) -> dict[str, float | int | None]:
    """The JSON form of a load run, for loadgen's and wrk's results alike."""
    return {
        "clients": result.clients,
        "requests": result.requests,
        "errors": result.errors,
        **server_errors(result.error_kinds),
        "seconds": round(result.seconds, 3),
        "per_s": round(result.per_s, 1),
        "p50_ms": rounded(result.p50_ms),
        "p99_ms": rounded(result.p99_ms),
    }


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


#: One request of client `i`; returns None when it succeeded, else a short error text.
Send = Callable[[int], Awaitable[str | None]]


async def closed_loop(
    send: Send, *, clients: int, seconds: float, max_requests: int, warmup_seconds: float = 0.0
) -> LoopResult:
    """Run `clients` sequential senders for `seconds` (or `max_requests` in all).

    A warm-up phase with the same clients runs first and is not recorded: it opens the
    keep-alive connections and lets every process reach its steady state (JIT-free Python
    still has caches, pools and TCP windows to fill).
    """
    if warmup_seconds > 0:
        await _run(send, clients, warmup_seconds, max_requests)
    return await _run(send, clients, seconds, max_requests)


async def _run(send: Send, clients: int, seconds: float, max_requests: int) -> LoopResult:
    result = LoopResult(clients=clients, seconds=0.0)
    started = time.perf_counter()
    deadline = started + seconds
    budget = [max_requests]

    async def client(i: int) -> None:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            t0 = time.perf_counter()
            try:
                error = await send(i)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                result.failed(error)
                await asyncio.sleep(0.01)  # a failing server must not turn into a busy loop

    await asyncio.gather(*(client(i) for i in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class OpenLoopResult:
    offered_per_s: float
    sent: int
    seconds: float
    errors: int = 0
    first_error: str = ""
    error_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def achieved_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


async def open_loop(
    send: Callable[[int], Awaitable[str | None]], *, rate: float, seconds: float
) -> OpenLoopResult:
    """Start request `i` at `start + i / rate` for `seconds`, each in its own task.

    A request that falls behind schedule (the loop was busy) leaves as soon as possible;
    the result reports the achieved rate so a machine that could not keep up is visible.
    """
    count = int(rate * seconds)
    result = OpenLoopResult(offered_per_s=rate, sent=count, seconds=0.0)
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int) -> None:
        try:
            error = await send(i)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            result.errors += 1
            result.first_error = result.first_error or error
            result.error_kinds[error_kind(error)] += 1

    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    result.seconds = time.perf_counter() - started
    await asyncio.gather(*tasks)
    return result


def bearer_headers(tokens: Sequence[str]) -> list[dict[str, str]]:
    """One client's headers per access token: `Authorization: Bearer …` and a JSON body."""
    return [
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} for token in tokens
    ]


#: A request body: the same for every request, or client `i`'s next one.
Body = bytes | Callable[[int], bytes] | None


def http_sender(
    session: aiohttp.ClientSession,
    method: str,
    url: str | Sequence[str],
    headers: Sequence[dict[str, str]],
    *,
    body: Body = None,
    status: int = 200,
    seen: Callable[[aiohttp.ClientResponse], None] | None = None,
) -> Send:
    """A `Send` that sends `method` to `url` with client `i`'s headers (and `body`) over
    `session`'s keep-alive connections and reads the whole answer; anything but `status`
    is an error. `seen`, if given, is shown every answer with `status` (to count a header).
    Several URLs (one per edge process) are shared out among the clients: client `i`
    always sends to `url[i % len(url)]`, as a load balancer keeping connections would.

    The same sender drives the edge and the hello-world ceilings, so both pay the same
    client-side cost (the client shares the machine's cores with the servers).
    """

    urls = [url] if isinstance(url, str) else list(url)

    async def send(i: int) -> str | None:
        data = body(i) if callable(body) else body
        target = urls[i % len(urls)]
        async with session.request(method, target, data=data, headers=headers[i]) as resp:
            await resp.read()
            if resp.status != status:
                return f"HTTP {resp.status}: {(await resp.text())[:200]}"
            if seen is not None:
                seen(resp)
        return None

    return send


def http_post_sender(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Sequence[dict[str, str]],
    status: int = 201,
) -> Send:
    """`http_sender` POSTing the same `body` each time, expecting 201 (a command)."""
    return http_sender(session, "POST", url, headers, body=body, status=status)


async def http_closed_loop(
    method: str,
    url: str,
    headers: Sequence[dict[str, str]],
    *,
    body: Body = None,
    status: int = 200,
    clients: int,
    seconds: float,
    max_requests: int,
    warmup_seconds: float,
) -> LoopResult:
    """`closed_loop` of `http_sender` over a session of its own, one connection per client."""
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await closed_loop(
            http_sender(session, method, url, headers, body=body, status=status),
            clients=clients,
            seconds=seconds,
            max_requests=max_requests,
            warmup_seconds=warmup_seconds,
        )
