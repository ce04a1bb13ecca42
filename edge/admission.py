"""Admission control: each edge process works on a bounded number of requests at once.

Without a bound, an edge under more load than the machine can take keeps accepting: every
request queues somewhere (the Redis and PostgreSQL pools, the NATS request inbox, the
handler), latencies grow until they all time out, and clients see timeouts instead of an
answer they can act on. With it, a request beyond the bound is answered at once with 503
and `Retry-After`, and the requests admitted keep their latency.

Commands (POST, PUT, PATCH, DELETE), reads (GET, HEAD) and transfers (media uploads and
downloads, which last as long as the bytes take to move) have separate bounds, so a flood of
one does not starve the others: slow video downloads never make API reads answer 503. Operations endpoints (health, readiness, metrics) and
open websockets are not counted: they must answer precisely when the edge is busy.
"""

from __future__ import annotations

from aiohttp import web

from core.errors import OverloadedError
from core.metrics import IN_FLIGHT, SHED_TOTAL

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Never refused: probes and scrapes must see a busy edge, and a websocket is long-lived.
UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/v1/ws"})


def kind_of(request: web.Request) -> str:
    path = request.path
    if path.startswith("/media/") or (
        request.method in ("POST", "PUT")
        and (
            path == "/v1/media"
            or (path.startswith("/v1/media/uploads/") and path.endswith("/data"))
        )
    ):
        return "transfer"
    return "read" if request.method in READ_METHODS else "command"


class Admission:
    """The in-flight counters of one edge process and the middleware that enforces them."""

    def __init__(self, max_commands: int, max_reads: int, max_transfers: int = 512) -> None:
        self.limits = {"command": max_commands, "read": max_reads, "transfer": max_transfers}
        self.in_flight = {"command": 0, "read": 0, "transfer": 0}

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: web.RequestHandler
    ) -> web.StreamResponse:
        if request.path in UNCOUNTED_PATHS:
            return await handler(request)
        kind = kind_of(request)
        if self.in_flight[kind] >= self.limits[kind]:
            SHED_TOTAL.labels("edge", kind).inc()
            raise OverloadedError(
                f"this edge process has {self.limits[kind]} {kind}s in flight", retry_after=1
            )
        self.in_flight[kind] += 1
        IN_FLIGHT.labels("edge", kind).set(self.in_flight[kind])
        try:
            return await handler(request)
        finally:
            self.in_flight[kind] -= 1
            IN_FLIGHT.labels("edge", kind).set(self.in_flight[kind])
