"""A member's own state in a conversation through HTTP: muting (until a time or until
unmuted, members only) and the read receipts others see (`read_up_to`) in direct
conversations and small groups, never in large groups or channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.settings import Settings
from tests.e2e.chat.support import Person, group, person
from tests.support.identity import IdentityClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Read receipts up to three members: a group of four has none.
    return settings.with_(read_receipts_max_members=3)


async def _conversation(p: Person, conversation_id: str) -> dict[str, Any]:
    status, detail = await p.call("GET", f"/v1/conversations/{conversation_id}")
    assert status == 200, detail
    return dict(detail)


async def _listed(p: Person, conversation_id: str) -> dict[str, Any]:
    status, mine = await p.call("GET", "/v1/conversations")
    assert status == 200, mine
    return next(c for c in mine["items"] if c["id"] == conversation_id)


async def _mute(p: Person, conversation_id: str, body: Any) -> tuple[int, Any]:
    return await p.call("PUT", f"/v1/conversations/{conversation_id}/mute", body)


async def test_a_member_mutes_until_a_time_or_until_unmuted_and_unmutes(
    client: IdentityClient,
) -> None:
    ann, bob = await person(client), await person(client)
    room = await group(ann, [bob])
    assert (await _conversation(bob, room))["conversation"]["muted"] is False

    status, muted = await _mute(bob, room, {})
    assert status == 200 and muted["id"] == room and muted["position"].startswith("CHAT:")
    for view in ((await _conversation(bob, room))["conversation"], await _listed(bob, room)):
        assert view["muted"] is True and view["muted_until"] is None
    # Muting again the same way writes nothing (the answer is the mute's own position);
    # others do not see my mute.
    status, again = await _mute(bob, room, {"until": None})
    assert status == 200 and again["position"] == muted["position"]
    assert (await _conversation(ann, room))["conversation"]["muted"] is False

    until = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    status, _ = await _mute(bob, room, {"until": until.isoformat()})
    assert status == 200
    view = (await _conversation(bob, room))["conversation"]
    assert view["muted"] is True
    assert datetime.fromisoformat(view["muted_until"]) == until

    # A mute that has ended simply no longer counts.
    past = datetime.now(UTC) - timedelta(minutes=5)
    status, _ = await _mute(bob, room, {"until": past.isoformat()})
    assert status == 200
    view = await _listed(bob, room)
    assert view["muted"] is False and view["muted_until"] is None

    await _mute(bob, room, {})
    status, unmuted = await bob.call("DELETE", f"/v1/conversations/{room}/mute")
    assert status == 200 and unmuted["position"].startswith("CHAT:")
    assert (await _conversation(bob, room))["conversation"]["muted"] is False
    status, again = await bob.call("DELETE", f"/v1/conversations/{room}/mute")
    assert status == 200 and again["position"] == unmuted["position"]


async def test_only_members_mute_and_a_time_needs_its_offset(client: IdentityClient) -> None:
    ann, bob, stranger = await person(client), await person(client), await person(client)
    room = await group(ann, [bob])
    status, channel = await ann.start("channel", name="news")
    assert status == 201, channel
    for conversation_id in (room, channel["id"]):
        status, problem = await _mute(stranger, conversation_id, {})
        assert status == 404 and problem["type"] == "quark:conversation-not-found"
        status, problem = await stranger.call("DELETE", f"/v1/conversations/{conversation_id}/mute")
        assert status == 404
    status, problem = await _mute(bob, room, {"until": "2030-01-01T00:00:00"})
    assert status in (400, 422), problem
    status, problem = await _mute(bob, room, {"for": "ever"})
    assert status in (400, 422), problem
    assert (await _conversation(bob, room))["conversation"]["muted"] is False


async def test_read_up_to_shows_each_members_marker_in_a_direct_conversation_and_small_group(
    client: IdentityClient,
) -> None:
    ann, bob, cy = await person(client), await person(client), await person(client)
    status, dm = await ann.start("direct", [bob])
    assert status == 201, dm
    room = await group(ann, [bob, cy])
    for conversation_id in (dm["id"], room):
        _, first = await ann.send(conversation_id, "one")
        _, second = await ann.send(conversation_id, "two")
        status, _ = await bob.call(
            "POST", f"/v1/conversations/{conversation_id}/read", {"up_to": first["id"]}
        )
        assert status == 200
        seqs = {}
        status, page = await ann.history(conversation_id)
        for m in page["items"]:
            seqs[m["id"]] = m["seq"]
        # Another member sees Bob's marker (he read the first), the writer's own (she read
        # what she wrote); someone who read nothing is at 0.
        receipts = (await _conversation(ann, conversation_id))["read_up_to"]
        assert receipts[bob.id] == seqs[first["id"]]
        assert receipts[ann.id] == seqs[second["id"]]
        if conversation_id == room:
            assert receipts[cy.id] == 0
            assert set(receipts) == {ann.id, bob.id, cy.id}
        else:
            assert set(receipts) == {ann.id, bob.id}


async def test_read_up_to_is_null_in_a_group_over_the_setting_and_in_channels(
    client: IdentityClient,
) -> None:
    ann = await person(client)
    others = [await person(client) for _ in range(3)]
    room = await group(ann, others)  # four members, the setting says three
    await ann.send(room, "hello all")
    assert (await _conversation(ann, room))["read_up_to"] is None
    status, channel = await ann.start("channel", name="news")
    assert status == 201, channel
    status, _ = await others[0].call("POST", f"/v1/conversations/{channel['id']}/join")
    assert status == 200
    await ann.send(channel["id"], "first news")
    assert (await _conversation(ann, channel["id"]))["read_up_to"] is None
    assert (await _conversation(others[0], channel["id"]))["read_up_to"] is None
    # A group back under the setting shows them again.
    status, _ = await ann.call("DELETE", f"/v1/conversations/{room}/members/{others[2].id}")
    assert status == 200
    assert set((await _conversation(ann, room))["read_up_to"] or {}) == {
        ann.id,
        others[0].id,
        others[1].id,
    }
