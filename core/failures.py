"""Which exceptions mean "a dependency failed" rather than "this request is wrong".

One list for the whole kernel: the edge answers these with 503 and `Retry-After` (a client
may retry), and projection workers treat them as transient (their supervisor restarts them;
the event is not dead-lettered). A failure that is missing here reaches a client as a 500,
so every connection-level error of asyncpg, redis-py and nats-py belongs in it — for
instance asyncpg's `InternalClientError` ("cannot switch to state 12; another operation is
in progress"), which a pooled connection raises right after PostgreSQL terminated it, and
redis-py's `MaxConnectionsError` when its pool is exhausted.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions

from core.natsutil import NATS_UNAVAILABLE

DEPENDENCY_FAILURES: tuple[type[BaseException], ...] = (
    # PostgreSQL: the connection failed, was terminated (AdminShutdown and friends are
    # operator interventions), or the client lost track of its state.
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    # Redis: refused, closed, timed out, pool exhausted, still loading its data set.
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # Sockets in general (TimeoutError is an OSError too).
    ConnectionError,
    OSError,
    *NATS_UNAVAILABLE,
)
