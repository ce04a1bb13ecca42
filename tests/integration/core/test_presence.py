"""Presence against a real Redis: several connections of one person on several edges, a
dead edge's connections expiring on their own, and consistency under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.bootstrap import Infra
from core.ids import new_id
from core.presence import Presence, PresenceState


@pytest.fixture
def presence(infra: Infra) -> Presence:
    return infra.presence


def tiny(infra: Infra, ttl: float = 0.2) -> Presence:
    """A presence whose connections expire almost at once (a dead edge, fast-forwarded)."""
    return Presence(infra.redis, infra.settings.redis_prefix, ttl=ttl)


async def redis_now(infra: Infra) -> datetime:
    seconds, micros = await infra.redis.time()
    return datetime.fromtimestamp(seconds + micros / 1e6, UTC)


async def until_expired(infra: Infra, ttl: float) -> None:
    """Wait on Redis's own clock until a connection refreshed now would have expired (the
    expiry *is* a time: nothing else to wait on)."""
    end = await redis_now(infra) + timedelta(seconds=ttl)
    while await redis_now(infra) <= end:
        await asyncio.sleep(0.02)


async def test_someone_never_connected_is_offline_and_never_seen(presence: Presence) -> None:
    person = new_id()
    assert await presence.states([person]) == {person: PresenceState(False, None)}


async def test_a_person_stays_online_until_their_last_connection_closes(
    infra: Infra, presence: Presence
) -> None:
    person, other = new_id(), new_id()
    assert await presence.connected(person, "phone") is True
    assert await presence.connected(person, "laptop") is False  # already online
    assert (await presence.states([person]))[person] == PresenceState(True, None)
    assert await presence.disconnected(person, "phone") is False
    assert (await presence.states([person]))[person] == PresenceState(True, None)
    before = await redis_now(infra)
    assert await presence.disconnected(person, "laptop") is True
    after = await redis_now(infra)
    states = await presence.states([person, other])
    assert states[person].online is False
    assert states[person].last_seen is not None
    assert before - timedelta(milliseconds=1) <= states[person].last_seen <= after
    assert states[other] == PresenceState(False, None)  # another person is untouched
    # Closing a connection twice (or one never opened) changes nothing.
    assert await presence.disconnected(person, "laptop") is False
    assert (await presence.states([person]))[person] == states[person]
    # Back online: no last seen while online.
    assert await presence.connected(person, "phone") is True
    assert (await presence.states([person]))[person] == PresenceState(True, None)


async def test_a_connection_of_a_dead_edge_expires_and_its_expiry_is_the_last_seen(
    infra: Infra,
) -> None:
    ttl = 0.3
    presence = tiny(infra, ttl)
    person = new_id()
    start = await redis_now(infra)
    assert await presence.connected(person, "on-dead-edge") is True
    assert (await presence.states([person]))[person].online is True
    await until_expired(infra, ttl)
    state = (await presence.states([person]))[person]
    assert state.online is False
    assert state.last_seen is not None
    assert start + timedelta(seconds=ttl) - timedelta(milliseconds=5) <= state.last_seen
    assert state.last_seen <= start + timedelta(seconds=ttl + 0.1)
    # The expired connection does not keep the person online for a new one: it comes online.
    assert await presence.connected(person, "fresh") is True
    assert await presence.disconnected(person, "fresh") is True


async def test_a_refreshed_connection_outlives_its_first_ttl_and_a_lost_one_is_reported(
    infra: Infra,
) -> None:
    ttl = 0.3
    presence = tiny(infra, ttl)
    alive, dead, closed = new_id(), new_id(), new_id()
    assert await presence.connected(alive, "a")
    assert await presence.connected(dead, "d")
    assert await presence.connected(closed, "c")
    assert await presence.disconnected(closed, "c")
    # The live edge refreshes its connection every heartbeat; nobody refreshes `dead`'s.
    end = await redis_now(infra) + timedelta(seconds=ttl * 2)
    while await redis_now(infra) <= end:
        assert await presence.refresh([(alive, "a")]) == []
        await asyncio.sleep(presence.heartbeat / 3)
    states = await presence.states([alive, dead])
    assert states[alive].online is True
    assert states[dead].online is False and states[dead].last_seen is not None
    # Refreshing a closed connection does not bring it back; the edge is told.
    assert await presence.refresh([(alive, "a"), (closed, "c")]) == [(closed, "c")]
    assert (await presence.states([closed]))[closed].online is False
    # An expired one folded away by a later change is reported, and reconnecting it
    # brings its person back online.
    assert await presence.connected(dead, "d2") is True
    assert await presence.disconnected(dead, "d2") is True
    assert await presence.refresh([(dead, "d")]) == [(dead, "d")]
    assert await presence.connected(dead, "d") is True
    assert await presence.refresh([]) == []


async def test_closing_a_late_connection_still_says_offline_and_records_now(
    infra: Infra,
) -> None:
    """An edge whose heartbeat was late: the connection expired, but it was open until it
    closed, so the person is seen then, not at the expiry."""
    ttl = 0.2
    presence = tiny(infra, ttl)
    person = new_id()
    assert await presence.connected(person, "late")
    await until_expired(infra, ttl)
    expired = (await presence.states([person]))[person].last_seen
    assert expired is not None
    assert await presence.disconnected(person, "late") is True
    seen = (await presence.states([person]))[person].last_seen
    assert seen is not None and seen > expired


async def test_concurrent_connections_and_closes_of_one_person_agree(presence: Presence) -> None:
    person = new_id()
    conns = [f"conn-{i}" for i in range(40)]
    came = await asyncio.gather(*(presence.connected(person, c) for c in conns))
    assert came.count(True) == 1
    went = await asyncio.gather(*(presence.disconnected(person, c) for c in conns[:20]))
    assert went.count(True) == 0
    assert (await presence.states([person]))[person].online is True
    # Closes and new opens racing: the person is offline exactly when nothing is open.
    mixed = await asyncio.gather(
        *(presence.disconnected(person, c) for c in conns[20:]),
        *(presence.connected(person, f"new-{i}") for i in range(5)),
    )
    # Offline at most once (the last old close before any new open), back online once.
    assert mixed[:20].count(True) == mixed[20:].count(True) <= 1
    assert (await presence.states([person]))[person].online is True
    went = await asyncio.gather(*(presence.disconnected(person, f"new-{i}") for i in range(5)))
    assert went.count(True) == 1
    state = (await presence.states([person]))[person]
    assert state.online is False and state.last_seen is not None


async def test_states_of_many_people_come_in_one_answer(presence: Presence) -> None:
    people = [new_id() for _ in range(100)]
    for p in people[:50]:
        await presence.connected(p, "c")
    states = await presence.states([*people, people[0]])
    assert list(states) == people
    assert [s.online for s in states.values()] == [True] * 50 + [False] * 50
    assert await presence.states([]) == {}


def test_a_ttl_must_be_positive(infra: Infra) -> None:
    with pytest.raises(ValueError, match="positive"):
        tiny(infra, 0)
