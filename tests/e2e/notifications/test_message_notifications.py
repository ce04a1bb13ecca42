"""Notifications from conversations and moderators, through HTTP: new messages grouped per
conversation and recipient (none in channels, none while muted, none after removal, none
from strangers with "only from people I follow"), cleared by reading; mentions in messages
to the members named; moderators' decisions to the content's author."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.projection_worker import sink_for
from core.settings import Settings
from projections import projections
from tests.e2e.chat.support import Person, group, person
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform


async def named(client: IdentityClient, handle: str) -> Person:
    """A person with a handle (mentions and follows name people by handle)."""
    p = await person(client)
    status, body = await p.call("PATCH", "/v1/me", {"handle": handle})
    assert status == 200, body
    return p


async def known(platform: Platform) -> None:
    """Every handle claimed so far is known to others (mentions and follows by handle)."""
    await platform.wait("profiles", await head_position(platform.infra, "PEOPLE"))


async def settled(platform: Platform) -> None:
    """Every notification made from every stream written so far."""
    for stream in ("CHAT", "CONTENT", "PEOPLE", "NOTIFY"):
        await platform.wait("notifications", await head_position(platform.infra, stream))


async def notes(platform: Platform, p: Person, kind: str | None = None) -> list[dict[str, Any]]:
    await settled(platform)
    status, page = await p.call("GET", "/v1/notifications")
    assert status == 200, page
    return [n for n in page["items"] if kind is None or n["kind"] == kind]


def about(items: list[dict[str, Any]], conversation_id: str) -> list[tuple[int, list[str]]]:
    """(count, actor ids) of the message notifications of one conversation."""
    return [
        (n["count"], [a["id"] for a in n["actors"]])
        for n in items
        if n["kind"] == "message" and n["conversation_id"] == conversation_id
    ]


async def sent(p: Person, conversation_id: str, body: str) -> str:
    status, message = await p.send(conversation_id, body)
    assert status == 201, message
    return str(message["id"])


async def test_messages_notify_per_conversation_and_reading_clears_them(
    client: IdentityClient, platform: Platform
) -> None:
    ann, bob, cy = [await named(client, f"m_{n}") for n in ("ann", "bob", "cy")]
    status, dm = await ann.start("direct", [bob])
    assert status == 201, dm
    room = await group(ann, [bob, cy])
    await sent(ann, dm["id"], "one")
    await sent(ann, dm["id"], "two")
    first = await sent(cy, room, "hello")
    await sent(ann, room, "hi")
    status, channel = await ann.start("channel", name="news")
    status, _ = await bob.call("POST", f"/v1/conversations/{channel['id']}/join")
    assert status == 200
    await sent(ann, channel["id"], "news for everyone")

    mine = await notes(platform, bob)
    assert about(mine, dm["id"]) == [(2, [ann.id])]
    assert about(mine, room) == [(2, [ann.id, cy.id])]  # latest sender first
    assert about(mine, channel["id"]) == []  # a channel's messages notify nobody
    note = next(n for n in mine if n["conversation_id"] == room)
    assert note["id"] == f"message:{room}:{bob.id}" and note["target_type"] == "conversation"
    assert not note["read"]
    assert about(await notes(platform, ann), dm["id"]) == []  # never my own

    # Reading part of the group leaves what is unread; reading to the end clears it.
    status, _ = await bob.call("POST", f"/v1/conversations/{room}/read", {"up_to": first})
    assert status == 200
    assert about(await notes(platform, bob), room) == [(1, [ann.id])]
    status, page = await bob.history(dm["id"])
    status, _ = await bob.call(
        "POST", f"/v1/conversations/{dm['id']}/read", {"up_to": page["items"][0]["id"]}
    )
    assert status == 200
    assert about(await notes(platform, bob), dm["id"]) == []
    # Writing in a conversation reads it too.
    await sent(bob, room, "caught up")
    assert about(await notes(platform, bob), room) == []
    # A new message brings it back.
    await sent(cy, room, "again")
    assert about(await notes(platform, bob), room) == [(1, [cy.id])]


async def test_a_muted_conversation_notifies_nothing_and_an_ended_mute_again_does(
    client: IdentityClient, platform: Platform
) -> None:
    ann, bob = await named(client, "u_ann"), await named(client, "u_bob")
    status, dm = await ann.start("direct", [bob])
    assert status == 201, dm
    mute = f"/v1/conversations/{dm['id']}/mute"
    status, _ = await bob.call("PUT", mute, {})
    assert status == 200
    await sent(ann, dm["id"], "are you there?")
    assert about(await notes(platform, bob), dm["id"]) == []

    ended = datetime.now(UTC) - timedelta(seconds=1)
    status, _ = await bob.call("PUT", mute, {"until": ended.isoformat()})
    assert status == 200
    await sent(ann, dm["id"], "hello?")
    assert about(await notes(platform, bob), dm["id"]) == [(1, [ann.id])]

    later = datetime.now(UTC) + timedelta(hours=8)
    status, _ = await bob.call("PUT", mute, {"until": later.isoformat()})
    await sent(ann, dm["id"], "still muted")
    assert about(await notes(platform, bob), dm["id"]) == [(1, [ann.id])]

    status, _ = await bob.call("DELETE", mute)
    assert status == 200
    await sent(ann, dm["id"], "unmuted now")
    assert about(await notes(platform, bob), dm["id"]) == [(2, [ann.id])]


async def test_a_removed_member_gets_no_more_message_notifications(
    client: IdentityClient, platform: Platform
) -> None:
    ann, bob, cy = [await named(client, f"r_{n}") for n in ("ann", "bob", "cy")]
    room = await group(ann, [bob, cy])
    await sent(cy, room, "before")
    assert about(await notes(platform, bob), room) == [(1, [cy.id])]
    status, _ = await ann.call("DELETE", f"/v1/conversations/{room}/members/{bob.id}")
    assert status == 200
    await sent(ann, room, "after")
    await sent(cy, room, "after too")
    assert about(await notes(platform, bob), room) == []
    assert about(await notes(platform, ann), room) == [(1, [cy.id])]


async def test_only_from_people_i_follow_filters_message_notifications(
    client: IdentityClient, platform: Platform
) -> None:
    ann, bob, cy = [await named(client, f"f_{n}") for n in ("ann", "bob", "cy")]
    await known(platform)
    room = await group(ann, [bob, cy])
    status, _ = await bob.call("POST", "/v1/users/f_ann/follow")
    assert status == 200
    await sent(ann, room, "from a friend")
    await sent(cy, room, "from a stranger")
    await sent(cy, room, "and again")
    assert about(await notes(platform, bob), room) == [(3, [cy.id, ann.id])]

    status, _ = await bob.call("PUT", "/v1/notifications/settings", {"only_following": True})
    assert status == 200
    assert about(await notes(platform, bob), room) == [(1, [ann.id])]
    status, dm = await cy.start("direct", [bob])
    await sent(cy, dm["id"], "psst")
    assert about(await notes(platform, bob), dm["id"]) == []  # a stranger's DM: nothing

    status, _ = await bob.call("PUT", "/v1/notifications/settings", {"disabled": ["message"]})
    assert await notes(platform, bob, "message") == []
    status, _ = await bob.call(
        "PUT", "/v1/notifications/settings", {"disabled": [], "only_following": False}
    )
    assert about(await notes(platform, bob), room) == [(3, [cy.id, ann.id])]


async def test_a_mention_in_a_message_notifies_the_member_named(
    client: IdentityClient, platform: Platform
) -> None:
    ann, bob, cy, dan = [await named(client, f"x_{n}") for n in ("ann", "bob", "cy", "dan")]
    await known(platform)
    status, channel = await ann.start("channel", name="town square")
    assert status == 201, channel
    for p in (bob, cy):
        status, _ = await p.call("POST", f"/v1/conversations/{channel['id']}/join")
        assert status == 200
    message = await sent(ann, channel["id"], "Welcome @x_bob, @x_nobody and @x_dan")
    mentions = await notes(platform, bob, "mention")
    assert [(n["target_type"], n["target_id"], n["conversation_id"]) for n in mentions] == [
        ("message", message, channel["id"])
    ]
    assert [a["id"] for a in mentions[0]["actors"]] == [ann.id]
    assert await notes(platform, dan, "mention") == []  # not a member: cannot read it
    assert await notes(platform, cy) == []
    assert about(await notes(platform, bob), channel["id"]) == []  # no `message` in channels

    # An edit naming someone new notifies them; nobody is notified twice.
    status, _ = await ann.call(
        "PATCH",
        f"/v1/conversations/{channel['id']}/messages/{message}",
        {"body": "Welcome @x_bob and @x_cy"},
    )
    assert status == 200
    assert len(await notes(platform, bob, "mention")) == 1
    assert [n["target_id"] for n in await notes(platform, cy, "mention")] == [message]

    # In a muted group a mention still arrives (it is addressed to me), the message does not.
    room = await group(ann, [bob])
    status, _ = await bob.call("PUT", f"/v1/conversations/{room}/mute", {})
    second = await sent(ann, room, "@x_bob look")
    assert [n["target_id"] for n in await notes(platform, bob, "mention")] == [second, message]
    assert about(await notes(platform, bob), room) == []
    # A deleted message takes its mentions with it.
    status, _ = await ann.call("DELETE", f"/v1/conversations/{room}/messages/{second}")
    assert status == 200
    assert [n["target_id"] for n in await notes(platform, bob, "mention")] == [message]


async def test_a_moderators_decision_notifies_the_author_with_the_reason(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    ann, bob = await named(client, "d_ann"), await named(client, "d_bob")
    moderator = Person(client, await with_role("moderator"))
    status, post = await ann.call("POST", "/v1/posts", {"body": "a post"})
    assert status == 201, post
    # Bob comments once the post is readable by others.
    status, comment = await bob.call(
        "POST", f"/v1/posts/{post['id']}/comments", {"body": "hm"}, after=post["position"]
    )
    assert status == 201, comment
    await settled(platform)

    cases: dict[str, str] = {}

    async def decided(target_type: str, target_id: str, actions: list[str], why: str) -> None:
        if target_id not in cases:
            status, filed = await moderator.call(
                "POST", "/v1/reports",
                {"target_type": target_type, "target_id": target_id, "category": "spam"},
            )  # fmt: skip
            assert status == 201, filed
            cases[target_id] = filed["case_id"]
        status, decision = await moderator.call(
            "POST", f"/v1/moderation/cases/{cases[target_id]}/decisions",
            {"actions": actions, "reason": why},
        )  # fmt: skip
        assert status == 201, decision
        await platform.wait("notifications", decision["position"])

    await decided("comment", comment["id"], ["remove", "warn"], "rude")
    await decided("post", post["id"], ["hide"], "spam")
    seen = await notes(platform, ann, "moderation")
    assert [(n["target_type"], n["state"], n["reason"], n["actors"]) for n in seen] == [
        ("post", "hidden", "spam", [])
    ]
    assert seen[0]["post_id"] == post["id"] and not seen[0]["read"]
    seen = await notes(platform, bob, "moderation")
    assert [(n["target_type"], n["target_id"], n["state"], n["reason"]) for n in seen] == [
        ("comment", comment["id"], "removed", "rude")
    ]
    assert seen[0]["post_id"] == post["id"] and seen[0]["decision"]["actions"] == ["remove", "warn"]
    # Each decision is its own notification, newest first.
    status, _ = await ann.call("POST", "/v1/notifications/read", {})
    await decided("post", post["id"], ["restore"], "on second thought")
    seen = await notes(platform, ann, "moderation")
    assert [(n["state"], n["read"]) for n in seen] == [("visible", False), ("hidden", True)]
    # With only people I follow, a moderator's decision still arrives.
    status, _ = await ann.call("PUT", "/v1/notifications/settings", {"only_following": True})
    assert len(await notes(platform, ann, "moderation")) == 2


async def test_replaying_the_notifications_gives_the_same_ones_from_conversations(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ann, bob, cy = [await named(client, f"p_{n}") for n in ("ann", "bob", "cy")]
    await known(platform)
    status, dm = await ann.start("direct", [bob])
    assert status == 201, dm
    room = await group(ann, [bob, cy])
    status, _ = await cy.call("PUT", f"/v1/conversations/{room}/mute", {})
    assert status == 200
    first = await sent(ann, room, "hello @p_cy")
    await sent(bob, room, "hi")
    await sent(ann, dm["id"], "psst")
    status, _ = await cy.call("DELETE", f"/v1/conversations/{room}/mute")
    assert status == 200
    await sent(ann, room, "unmuted")
    status, _ = await bob.call("POST", f"/v1/conversations/{room}/read", {"up_to": first})
    assert status == 200
    status, _ = await ann.call("DELETE", f"/v1/conversations/{room}/members/{cy.id}")
    assert status == 200
    await sent(bob, room, "after cy left")
    before = json.dumps([await notes(platform, p) for p in (ann, bob, cy)], sort_keys=True)

    sink = sink_for(projections()["notifications"], platform.infra)
    old = await sink.active_build()
    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "notifications") == 0
    new = await sink.active_build()
    assert old is not None and new is not None and new[0] > old[0]
    after = json.dumps([await notes(platform, p) for p in (ann, bob, cy)], sort_keys=True)
    assert after == before
