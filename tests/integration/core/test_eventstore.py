"""The event store against a real nats-server: commits, concurrency, idempotency, loading."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from core.bootstrap import Infra
from core.bus import Decider, execute
from core.commands import CommandMeta, parse_position
from core.envelope import AggregateRef
from core.errors import ConcurrencyError
from core.ids import new_id
from handlers.posts.commands import EditPost, PublishPost
from handlers.posts.decide import POST, decide_edit, decide_publish
from handlers.posts.events import PostEdited, PostPublished

AUTHOR = new_id()


def meta(command_id: str | None = None, actor: str = AUTHOR) -> CommandMeta:
    return CommandMeta(command_id or new_id(), actor, frozenset(), "corr", datetime.now(UTC))


async def publish(infra: Infra, post_id: str | None = None, title: str = "t") -> str:
    post_id = post_id or new_id()
    decider = Decider(POST, lambda c: c.post_id, decide_publish, creates=True)
    await execute(infra.store, decider, PublishPost(post_id=post_id, title=title, body="b"), meta())
    return post_id


async def test_a_command_with_several_events_is_one_commit(infra: Infra) -> None:
    post_id = new_id()
    agg = AggregateRef("posts.post", post_id)
    now = datetime.now(UTC)
    events = [
        PostPublished(post_id=post_id, author_id=AUTHOR, title="a", body="b", published_at=now),
        PostEdited(post_id=post_id, title="c", body=None, edited_at=now, edited_by=AUTHOR),
    ]
    result = await infra.store.append(agg, 0, events, command_id=new_id())
    info = await infra.nc.jetstream().stream_info("CONTENT")
    assert info.state.messages == 1 and info.state.last_seq == result.seq
    loaded = await infra.store.load(POST, post_id)
    assert (loaded.state.title, loaded.seq) == ("c", result.seq)


async def test_two_concurrent_decisions_one_wins_the_other_is_refused(infra: Infra) -> None:
    post_id = await publish(infra)
    a = await infra.store.load(POST, post_id)
    b = await infra.store.load(POST, post_id)
    edit_a = decide_edit(a.state, EditPost(post_id=post_id, title="A"), meta())
    edit_b = decide_edit(b.state, EditPost(post_id=post_id, title="B"), meta())
    results = await asyncio.gather(
        infra.store.append(a.ref, a.seq, edit_a, command_id=new_id()),
        infra.store.append(b.ref, b.seq, edit_b, command_id=new_id()),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ConcurrencyError) for r in results) == 1
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    history = await infra.store.read_subject("CONTENT", f"ev.posts.post.{post_id}")
    assert len(history) == 2  # published + exactly one edit


async def test_the_losing_decision_is_taken_again_on_the_new_state(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_id = await publish(infra)
    seen_titles: list[str] = []
    # Both commands load before either appends (on a busy machine one could otherwise run
    # to its end before the other starts, and there would be no conflict to retry).
    original_load = infra.store.load
    both_loaded = asyncio.Event()
    loads = 0

    async def load(kind, aggregate_id):  # type: ignore[no-untyped-def]
        nonlocal loads
        loaded = await original_load(kind, aggregate_id)
        loads += 1
        if loads == 2:
            both_loaded.set()
        if loads <= 2:
            await asyncio.wait_for(both_loaded.wait(), 10)
        return loaded

    monkeypatch.setattr(infra.store, "load", load)

    def counting_decide(state, command, m):
        seen_titles.append(state.title)
        return decide_edit(state, command, m)

    decider = Decider(POST, lambda c: c.post_id, counting_decide)
    replies = await asyncio.gather(
        execute(infra.store, decider, EditPost(post_id=post_id, title="A"), meta()),
        execute(infra.store, decider, EditPost(post_id=post_id, title="B"), meta()),
    )
    assert all(r.ok for r in replies)
    # Both decided on "t" first; one of them had to decide again, on the winner's title.
    assert len(seen_titles) == 3
    assert seen_titles[:2] == ["t", "t"] and seen_titles[2] in ("A", "B")
    seqs = sorted(parse_position(r.position or "")[1] for r in replies)
    assert seqs[0] < seqs[1]


async def test_the_same_command_id_twice_gives_one_commit_and_the_same_reply(infra: Infra) -> None:
    post_id = new_id()
    decider = Decider(POST, lambda c: c.post_id, decide_publish, creates=True)
    command = PublishPost(post_id=post_id, title="once", body="b")
    command_id = new_id()
    first = await execute(infra.store, decider, command, meta(command_id))
    again = await execute(infra.store, decider, command, meta(command_id))
    assert (again.position, again.aggregate_id) == (first.position, first.aggregate_id)
    history = await infra.store.read_subject("CONTENT", f"ev.posts.post.{post_id}")
    assert len(history) == 1

    edit = Decider(POST, lambda c: c.post_id, decide_edit)
    edit_id = new_id()
    r1 = await execute(infra.store, edit, EditPost(post_id=post_id, title="twice?"), meta(edit_id))
    r2 = await execute(infra.store, edit, EditPost(post_id=post_id, title="twice?"), meta(edit_id))
    assert r1.position == r2.position
    assert len(await infra.store.read_subject("CONTENT", f"ev.posts.post.{post_id}")) == 2


async def test_concurrent_retries_of_one_command_commit_once(infra: Infra) -> None:
    post_id = new_id()
    decider = Decider(POST, lambda c: c.post_id, decide_publish, creates=True)
    command = PublishPost(post_id=post_id, title="x", body="y")
    command_id = new_id()
    replies = await asyncio.gather(
        *(execute(infra.store, decider, command, meta(command_id)) for _ in range(10))
    )
    assert len({r.position for r in replies}) == 1
    assert len(await infra.store.read_subject("CONTENT", f"ev.posts.post.{post_id}")) == 1


async def test_a_long_history_loads_the_same_through_a_snapshot(infra: Infra) -> None:
    post_id = await publish(infra)
    edit = Decider(POST, lambda c: c.post_id, decide_edit)
    for i in range(POST.snapshot_every + 5):
        await execute(infra.store, edit, EditPost(post_id=post_id, title=f"title {i}"), meta())
    kv = await infra.nc.jetstream().key_value("snapshots")
    entry = await kv.get(f"posts.post.{post_id}")
    assert entry.value  # a snapshot was written
    with_snapshot = await infra.store.load(POST, post_id)
    no_snapshot = await infra.store.load(dataclasses.replace(POST, snapshot_every=0), post_id)
    assert with_snapshot.state == no_snapshot.state
    assert with_snapshot.seq == no_snapshot.seq
    assert with_snapshot.events_since_snapshot < no_snapshot.events_since_snapshot


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "a.b", "*", ">"])
async def test_ids_that_would_escape_the_subject_are_refused(infra: Infra, bad_id: str) -> None:
    from core.errors import ValidationError

    decider = Decider(POST, lambda c: c.post_id, decide_publish, creates=True)
    with pytest.raises(ValidationError):
        await execute(
            infra.store, decider, PublishPost(post_id=bad_id, title="x", body="y"), meta()
        )
    info = await infra.nc.jetstream().stream_info("CONTENT")
    assert info.state.messages == 0
