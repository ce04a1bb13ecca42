"""Dead letters as the dashboard shows them — the failing event, its error, where it came
from — and the operator's retry: the read model's writer applies that one event again
(`ProjectionWorker.retry_dead_letter`, its checkpoint unmoved), and on success the letter
leaves the DLQ stream. A retry that fails again leaves it there with the new error logged.
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS

from core.errors import ConflictError, NotFoundError
from core.projection_worker import DLQ_STREAM
from hub.registry import Instance, instance_status

SHOWN = 100


class DeadLetter(msgspec.Struct, kw_only=True):
    seq: int
    projection: str
    stream: str
    event_seq: int
    subject: str
    error: str
    at: str
    events: list[str]


def _events(data: bytes) -> list[str]:
    """The event names in a stored commit (a JSON list of envelopes)."""
    with contextlib.suppress(Exception):
        commit = msgspec.json.decode(data)
        items = commit if isinstance(commit, list) else commit.get("events", [])
        return [str(e.get("type") or e.get("name") or "?") for e in items if isinstance(e, dict)]
    return []


async def recent(nc: NATS, limit: int = SHOWN) -> list[DeadLetter]:
    """The newest `limit` dead letters, newest first."""
    js = nc.jetstream()
    try:
        state = (await js.stream_info(DLQ_STREAM)).state
    except nats.js.errors.NotFoundError:
        return []
    out: list[DeadLetter] = []
    seq = state.last_seq
    while seq >= max(1, state.first_seq) and len(out) < limit:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            msg = await js.get_msg(DLQ_STREAM, seq)
            h = msg.headers or {}
            out.append(
                DeadLetter(
                    seq=seq,
                    projection=h.get("Quark-Projection", ""),
                    stream=h.get("Quark-Stream", ""),
                    event_seq=int(h.get("Quark-Seq", "0") or 0),
                    subject=h.get("Quark-Subject", ""),
                    error=h.get("Quark-Error", ""),
                    at=msg.time.isoformat() if msg.time else "",
                    events=_events(msg.data or b""),
                )
            )
        seq -= 1
    return out


class RetryFailed(ConflictError):
    code = "retry-failed"
    title = "The event still cannot be applied"


async def retry(nc: NATS, seq: int, instances: list[Instance]) -> dict[str, Any]:
    js = nc.jetstream()
    try:
        msg = await js.get_msg(DLQ_STREAM, seq)
    except nats.js.errors.NotFoundError:
        raise NotFoundError(f"no dead letter {seq}") from None
    projection = (msg.headers or {}).get("Quark-Projection", "")
    writers = []
    for i in instances:
        if i.module == f"projection-{projection}":
            status = await instance_status(nc, i)
            if status and status.get("leading"):
                writers.append(i)
    if not writers:
        raise RetryFailed(f"no running writer of {projection} to apply it")
    writer = writers[0]
    try:
        answer = await nc.request(
            f"quark.retry.{writer.module}.{writer.id}",
            msgspec.json.encode({"dlq_seq": seq}),
            timeout=10,
        )
    except (TimeoutError, nats.errors.NoRespondersError) as exc:
        raise RetryFailed(f"{projection}'s writer did not answer ({type(exc).__name__})") from None
    if answer.headers and answer.headers.get("Nats-Service-Error-Code"):
        raise RetryFailed(answer.headers.get("Nats-Service-Error", "it failed again"))
    await js.delete_msg(DLQ_STREAM, seq)
    return {"retried": seq, "projection": projection, **msgspec.json.decode(answer.data)}
