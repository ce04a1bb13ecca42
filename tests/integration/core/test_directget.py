"""Aggregate loads on the lean direct-get connection (`core.directget`) against a real
nats-server: the same messages as nats-py reads, many loads in flight on one connection,
batches, and nats-py answering whenever the lean path cannot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.bootstrap import Infra
from core.directget import DirectGets, DirectGetUnavailable
from core.envelope import AggregateRef
from core.eventstore import EventStore
from core.ids import new_id
from handlers.posts.decide import POST
from handlers.posts.events import PostEdited, PostPublished

AUTHOR = new_id()


async def post_with_edits(infra: Infra, edits: int) -> tuple[str, list[str]]:
    """A post and `edits` edits of it, one commit each; the command ids, in order."""
    post_id = new_id()
    ref = AggregateRef(POST.type, post_id)
    now = datetime.now(UTC)
    first = PostPublished(post_id=post_id, author_id=AUTHOR, title="0", body="b", published_at=now)
    commands = [new_id()]
    result = await infra.store.append(ref, 0, [first], command_id=commands[0])
    for n in range(edits):
        edit = PostEdited(
            post_id=post_id, title=str(n + 1), body=None, edited_at=now, edited_by=AUTHOR
        )
        commands.append(new_id())
        result = await infra.store.append(ref, result.seq, [edit], command_id=commands[-1])
    return post_id, commands


def subject(post_id: str) -> str:
    return f"ev.{POST.type}.{post_id}"


async def test_the_lean_path_reads_what_nats_py_reads(infra: Infra) -> None:
    post_id, commands = await post_with_edits(infra, 4)
    direct = DirectGets(infra.settings.nats_url)
    lean = EventStore(infra.nc, infra.registry, infra.store.streams, direct=direct)
    nats_py = EventStore(infra.nc, infra.registry, infra.store.streams)
    for store in (lean, nats_py):
        await store.start()
    try:
        items = await direct.subject("CONTENT", subject(post_id), 1, 1000)
        a, b = await lean.load(POST, post_id), await nats_py.load(POST, post_id)
        events = await nats_py.read_subject("CONTENT", subject(post_id))
    finally:
        for store in (lean, nats_py):
            await store.stop()
    assert [msg_id for _, msg_id, _ in items] == commands
    assert [seq for seq, _, _ in items] == [r.seq for r in events]
    decoded = [e for seq, _, data in items for e in infra.registry.recorded(data, "CONTENT", seq)]
    assert [r.event for r in decoded] == [r.event for r in events]
    assert (a.state, a.seq, a.events_since_snapshot, a.commands) == (
        b.state,
        b.seq,
        b.events_since_snapshot,
        b.commands,
    )
    assert list(a.commands) == commands and a.state.title == "4"


async def test_many_loads_in_flight_share_one_connection_and_batches_continue(
    infra: Infra,
) -> None:
    posts = [await post_with_edits(infra, n % 5) for n in range(30)]
    direct = DirectGets(infra.settings.nats_url)
    try:
        answers = await asyncio.gather(
            *(direct.subject("CONTENT", subject(p), 1, 1000) for p, _ in posts)
        )
        for (post_id, commands), items in zip(posts, answers, strict=True):
            assert [msg_id for _, msg_id, _ in items] == commands, post_id
        # A batch of 2 stops there; the next one starts after it.
        post_id, commands = posts[4]  # five commits
        first = await direct.subject("CONTENT", subject(post_id), 1, 2)
        rest = await direct.subject("CONTENT", subject(post_id), first[-1][0] + 1, 1000)
        assert [m for _, m, _ in first + rest] == commands and len(first) == 2
        # Nothing on a subject: an empty answer, not an error.
        assert await direct.subject("CONTENT", subject(new_id()), 1, 1000) == []
    finally:
        await direct.close()


async def test_a_lost_connection_is_opened_again_and_loads_never_fail_because_of_it(
    infra: Infra,
) -> None:
    post_id, commands = await post_with_edits(infra, 2)
    direct = DirectGets(infra.settings.nats_url)
    store = EventStore(infra.nc, infra.registry, infra.store.streams, direct=direct)
    await store.start()
    try:
        assert (await store.load(POST, post_id)).state.title == "2"
        assert direct._writer is not None
        direct._writer.transport.abort()  # the socket dies under the store
        await asyncio.sleep(0.05)
        loaded = await store.load(POST, post_id)
        assert loaded.state.title == "2" and list(loaded.commands) == commands
        assert direct._writer is not None and not direct._writer.is_closing()
    finally:
        await store.stop()


async def test_where_the_lean_path_cannot_go_nats_py_answers(infra: Infra) -> None:
    post_id, commands = await post_with_edits(infra, 1)
    # A TLS URL is not for the lean path: the store loads through nats-py.
    tls = DirectGets("tls://127.0.0.1:1")
    assert not tls.usable
    with pytest.raises(DirectGetUnavailable):
        await tls.subject("CONTENT", subject(post_id), 1, 10)
    # Nothing listens there either: the connection fails, the load does not; and the next
    # loads go straight to nats-py for a while instead of each paying a failed connect.
    refused = DirectGets("nats://127.0.0.1:1")
    store = EventStore(infra.nc, infra.registry, infra.store.streams, direct=refused)
    await store.start()
    try:
        for _ in range(3):
            loaded = await store.load(POST, post_id)
            assert loaded.state.title == "1" and list(loaded.commands) == commands
        with pytest.raises(DirectGetUnavailable, match="recent attempt failed"):
            await refused.subject("CONTENT", subject(post_id), 1, 10)
    finally:
        await store.stop()
    # A stream that does not exist is an error of the lean path, not a hang.
    direct = DirectGets(infra.settings.nats_url, timeout=2.0)
    try:
        with pytest.raises(DirectGetUnavailable):
            await direct.subject("NO_SUCH_STREAM", subject(post_id), 1, 10)
    finally:
        await direct.close()
