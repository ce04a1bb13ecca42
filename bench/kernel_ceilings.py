"""The kernel bench's ceilings and floors measured before the platform starts, so nothing
else competes for the cores: the aiohttp hello-world server at 1 and 64 clients, durable
JetStream publishes of a commit the size of a handler's at 1 and 64 publishers (figure 1's
bounds), and one-row PostgreSQL commits (the floor of figure 2's lag). The ceilings of
figures 3 and 4 need the log those figures fill and are measured beside them
(`bench.kernel_replay`); what each ceiling is, is said in `bench.ceilings`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import ceilings
from bench.environment import Backends
from bench.kernel_commands import BODY, HTTP_BODY, TITLE
from core.envelope import AggregateRef, Commit, Envelope, encode_commit, utc_now
from core.ids import new_id
from core.registry import EventRegistry
from handlers import all_events
from handlers.posts.decide import POST
from handlers.posts.events import PostPublished

if TYPE_CHECKING:
    from bench.kernel import Sizes


async def measure_ceilings(
    backends: Backends,
    tmp: Path,
    sizes: Sizes,
    tokens: list[str],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The HTTP, JetStream and PostgreSQL-commit ceilings, before the platform starts (so
    nothing else competes for the cores). The hello-world server gets the same bearer
    headers as the edge, so both read requests of the same size."""
    out: dict[str, Any] = {}
    hello = ceilings.HelloServer(tmp)
    try:
        for clients in (1, 64):
            say(f"ceiling: aiohttp hello-world, {clients} client(s)")
            r = await ceilings.aiohttp_hello(
                hello.url,
                HTTP_BODY,
                tokens,
                clients=clients,
                seconds=sizes.http_seconds,
                max_requests=sizes.http_max_requests,
                warmup_seconds=sizes.warmup_seconds,
            )
            out[f"aiohttp_hello_{clients}"] = r
    finally:
        hello.stop()
    payload = _sample_commit()
    for publishers in (1, 64):
        say(f"ceiling: JetStream publish (durable), {publishers} publisher(s)")
        out[f"jetstream_{publishers}"] = await ceilings.jetstream_publish(
            backends.nats_url,
            payload,
            publishers=publishers,
            seconds=sizes.http_seconds,
            max_requests=sizes.http_max_requests,
            warmup_seconds=sizes.warmup_seconds,
        )
    say(f"floor: PostgreSQL one-row commits x {sizes.pg_commits}")
    out["pg_commit"] = await ceilings.pg_commit(backends.database_url, sizes.pg_commits)
    return out


def _sample_commit() -> bytes:
    """An encoded commit with one `PostPublished`, as a handler appends it (for payload size)."""
    registry = EventRegistry(all_events())
    post_id, author = new_id(), str(uuid.uuid4())
    event = PostPublished(
        post_id=post_id, author_id=author, title=TITLE, body=BODY, published_at=utc_now()
    )
    command_id = new_id()
    envelope = Envelope(
        id=new_id(),
        type=event.name,
        schema=event.schema,
        aggregate=AggregateRef(POST.type, post_id),
        occurred_at=utc_now(),
        actor=author,
        correlation_id=command_id,
        causation_id=command_id,
        payload=registry.encode_payload(event),
    )
    return encode_commit(Commit([envelope]))
