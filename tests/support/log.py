"""Reading the log in tests: where a stream stands, and waiting for an event that is
appended out of a request's sight (after the answer, or by a reactor), so a test can then
wait for a read model at that event's position instead of polling the read model."""

from __future__ import annotations

import time

import nats.js.errors
from nats.js.api import ConsumerConfig, DeliverPolicy, RawStreamMsg
from nats.js.client import JetStreamContext

from core.bootstrap import Infra
from core.envelope import RecordedEvent
from core.registry import Event


async def stream_head(source: Infra | JetStreamContext, stream: str) -> int:
    """The sequence of the newest message in `stream` (0 while it is empty), through the
    platform's connection or any JetStream context (a test's own server)."""
    js = source.nc.jetstream() if isinstance(source, Infra) else source
    return (await js.stream_info(stream)).state.last_seq


async def head_position(infra: Infra, stream: str) -> str:
    """`<STREAM>:<seq>` of the newest commit in `stream`: for `Platform.wait` and
    `Quark-After` when the commits to wait for were not answered with their position."""
    return f"{stream}:{await stream_head(infra, stream)}"


async def stored_messages(infra: Infra, stream: str) -> list[RawStreamMsg]:
    """Every message `stream` holds, as stored (subject, headers, bytes).

    Only a message that is genuinely gone (acknowledged in a work queue, purged, aged out)
    is skipped; any other failure to read one fails the test, since a scan that cannot read
    a message proves nothing about it.
    """
    js = infra.nc.jetstream()
    state = (await js.stream_info(stream)).state
    found = []
    # An empty stream reports first_seq 0: there is no message 0 to ask for.
    for seq in range(max(state.first_seq, 1), state.last_seq + 1):
        try:
            found.append(await js.get_msg(stream, seq))
        except nats.js.errors.NotFoundError:
            continue
    return found


async def next_event(
    infra: Infra,
    stream: str,
    subjects: str,
    event_type: type[Event],
    *,
    after: int = 0,
    timeout: float = 10.0,
) -> RecordedEvent:
    """The first `event_type` event on `subjects` committed after sequence `after`, waiting
    for it to be appended (an ordered consumer delivers it the moment it is stored).

    Raises:
        AssertionError: no such event within `timeout` seconds.
    """
    js = infra.nc.jetstream()
    sub = await js.subscribe(
        subjects,
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1
        ),
    )
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except TimeoutError:
                break
            seq = msg.metadata.sequence.stream
            for recorded in infra.registry.recorded(msg.data, stream, seq, {event_type.name}):
                return recorded
    finally:
        await sub.unsubscribe()
    raise AssertionError(f"no {event_type.name} on {subjects} after {stream}:{after}")
