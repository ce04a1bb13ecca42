"""Conversations through HTTP: direct ones (one per pair, refused across a block), groups
(members, roles, renaming, leaving, ownership, the size limit) and channels."""

from __future__ import annotations

from core.settings import Settings
from tests.e2e.chat.support import Person, bodies, group, person
from tests.support.identity import IdentityClient


async def test_a_direct_conversation_is_one_per_pair_and_reads_both_ways(
    client: IdentityClient,
) -> None:
    ann, bob = await person(client), await person(client)
    status, first = await ann.start("direct", [bob])
    assert status == 201, first
    status, again = await bob.start("direct", [ann])
    assert status == 200 and again["id"] == first["id"]
    # Bob learns of it with its first message.
    status, mine = await bob.call("GET", "/v1/conversations")
    assert mine["items"] == []
    status, mine = await ann.call("GET", "/v1/conversations")
    assert [c["id"] for c in mine["items"]] == [first["id"]]
    status, sent = await ann.send(first["id"], "hello Bob")
    assert status == 201, sent
    status, mine = await bob.call("GET", "/v1/conversations")
    assert [c["id"] for c in mine["items"]] == [first["id"]]
    assert mine["items"][0]["unread_count"] == 1
    # A direct conversation has no name: each side is shown the other person.
    assert mine["items"][0]["peer"]["id"] == ann.id
    assert mine["items"][0]["peer"]["display_name"] == "Ada Lovelace"
    status, mine = await ann.call("GET", "/v1/conversations")
    assert mine["items"][0]["peer"]["id"] == bob.id
    status, sent = await bob.send(first["id"], "hi Ann")
    assert status == 201, sent
    for reader in (ann, bob):
        status, page = await reader.history(first["id"])
        assert status == 200, page
        assert bodies(page) == ["hi Ann", "hello Bob"]  # newest first
    stranger = await person(client)
    status, problem = await stranger.history(first["id"])
    assert status == 404 and problem["type"] == "quark:conversation-not-found"
    status, problem = await stranger.send(first["id"], "let me in")
    assert status == 404


async def test_a_direct_conversation_needs_exactly_one_other_person(
    client: IdentityClient,
) -> None:
    ann, bob, cy = await person(client), await person(client), await person(client)
    status, problem = await ann.start("direct", [bob, cy])
    assert status == 422 and problem["type"] == "quark:bad-membership"
    status, problem = await ann.start("direct", [ann])
    assert status == 422
    status, problem = await ann.call(
        "POST", "/v1/conversations", {"kind": "direct", "members": ["not-a-person"]}
    )
    assert status == 422


async def _handle(p: Person, handle: str) -> None:
    status, body = await p.call("PATCH", "/v1/me", {"handle": handle})
    assert status == 200, body


async def test_a_block_either_way_refuses_direct_messages(client: IdentityClient) -> None:
    ann, bob = await person(client), await person(client)
    await _handle(bob, f"b_{bob.id[:8]}")
    await _handle(ann, f"a_{ann.id[:8]}")
    status, conversation = await ann.start("direct", [bob])
    assert status == 201
    status, _ = await ann.send(conversation["id"], "before the block")
    assert status == 201
    status, block = await bob.call("POST", f"/v1/users/a_{ann.id[:8]}/block")
    assert status == 200
    # The blocked one may not write, nor may the one who blocked.
    for writer in (ann, bob):
        status, problem = await writer.call(
            "POST",
            f"/v1/conversations/{conversation['id']}/messages",
            {"body": "after the block"},
            after=block["position"],
        )
        assert status == 403 and problem["type"] == "quark:chat-blocked", problem
    cy = await person(client)
    await _handle(cy, f"c_{cy.id[:8]}")
    status, block = await cy.call("POST", f"/v1/users/b_{bob.id[:8]}/block")
    assert status == 200
    status, problem = await bob.call(
        "POST", "/v1/conversations", {"kind": "direct", "members": [cy.id]}, after=block["position"]
    )
    assert status == 403 and problem["type"] == "quark:chat-blocked"


async def test_a_group_is_managed_by_its_owner_and_admins(client: IdentityClient) -> None:
    owner, ann, bob, cy = [await person(client) for _ in range(4)]
    gid = await group(owner, [ann, bob])
    status, detail = await ann.call("GET", f"/v1/conversations/{gid}")
    assert status == 200, detail
    assert detail["members"] == {owner.id: "owner", ann.id: "member", bob.id: "member"}
    assert detail["conversation"]["name"] == "friends"
    # Members come with their names (to show who is typing, who read, whom to manage); a
    # group is named by its name, not by a peer.
    assert set(detail["people"]) == set(detail["members"])
    assert detail["people"][bob.id]["display_name"] == "Ada Lovelace"
    assert detail["conversation"]["peer"] is None
    # A member manages nothing.
    status, problem = await ann.call("PATCH", f"/v1/conversations/{gid}", {"name": "mine"})
    assert status == 403 and problem["type"] == "quark:chat-not-allowed"
    status, _ = await ann.call("POST", f"/v1/conversations/{gid}/members", {"members": [cy.id]})
    assert status == 403
    status, _ = await ann.call("DELETE", f"/v1/conversations/{gid}/members/{bob.id}")
    assert status == 403
    # The owner makes Ann an admin; an admin renames, invites and removes members.
    status, _ = await owner.call(
        "PUT", f"/v1/conversations/{gid}/members/{ann.id}/role", {"role": "admin"}
    )
    assert status == 200
    status, _ = await ann.call("PATCH", f"/v1/conversations/{gid}", {"name": "ours"})
    assert status == 200
    status, _ = await ann.call("POST", f"/v1/conversations/{gid}/members", {"members": [cy.id]})
    assert status == 200
    status, detail = await cy.call("GET", f"/v1/conversations/{gid}")
    assert status == 200 and detail["conversation"]["name"] == "ours"
    assert detail["conversation"]["member_count"] == 4
    # An admin may not remove the owner, nor give roles.
    status, _ = await ann.call("DELETE", f"/v1/conversations/{gid}/members/{owner.id}")
    assert status == 403
    status, _ = await ann.call(
        "PUT", f"/v1/conversations/{gid}/members/{bob.id}/role", {"role": "admin"}
    )
    assert status == 403


async def test_a_removed_member_reads_nothing_more(client: IdentityClient) -> None:
    owner, ann = await person(client), await person(client)
    gid = await group(owner, [ann])
    status, _ = await owner.send(gid, "before")
    assert status == 201
    status, _ = await owner.call("DELETE", f"/v1/conversations/{gid}/members/{ann.id}")
    assert status == 200
    status, _ = await owner.send(gid, "after the removal")
    assert status == 201
    status, problem = await ann.history(gid)
    assert status == 404 and problem["type"] == "quark:conversation-not-found"
    status, problem = await ann.send(gid, "still here?")
    assert status == 404
    status, mine = await ann.call("GET", "/v1/conversations")
    assert status == 200 and gid not in [c["id"] for c in mine["items"]]


async def test_leaving_and_handing_ownership_over(client: IdentityClient) -> None:
    owner, ann = await person(client), await person(client)
    gid = await group(owner, [ann])
    status, problem = await owner.call("DELETE", f"/v1/conversations/{gid}/members/{owner.id}")
    assert status == 422 and problem["type"] == "quark:bad-membership"
    status, _ = await owner.call(
        "PUT", f"/v1/conversations/{gid}/members/{ann.id}/role", {"role": "owner"}
    )
    assert status == 200
    status, detail = await ann.call("GET", f"/v1/conversations/{gid}")
    assert detail["members"] == {owner.id: "admin", ann.id: "owner"}
    status, _ = await owner.call("DELETE", f"/v1/conversations/{gid}/members/{owner.id}")
    assert status == 200
    status, _ = await owner.history(gid)
    assert status == 404
    status, detail = await ann.call("GET", f"/v1/conversations/{gid}")
    assert detail["members"] == {ann.id: "owner"}


async def test_a_group_has_a_size_limit(client: IdentityClient, settings: Settings) -> None:
    limit = settings.group_max_members
    assert limit == 5
    owner = await person(client)
    people = [await person(client) for _ in range(limit)]
    status, problem = await owner.start("group", people, name="crowd")
    assert status == 422 and problem["type"] == "quark:too-many-members"
    gid = await group(owner, people[: limit - 1])
    status, problem = await owner.call(
        "POST", f"/v1/conversations/{gid}/members", {"members": [people[-1].id]}
    )
    assert status == 409 and problem["type"] == "quark:conversation-full"


async def test_a_channel_is_open_to_read_and_join_and_its_admins_post(
    client: IdentityClient,
) -> None:
    owner, fan, passer = [await person(client) for _ in range(3)]
    status, created = await owner.start("channel", name="news")
    assert status == 201, created
    cid = created["id"]
    status, sent = await owner.send(cid, "first news")
    assert status == 201
    # Anyone reads, even without an account.
    status, page = await client.get(
        f"/v1/conversations/{cid}/messages", **{"Quark-After": sent["position"]}
    )
    assert status == 200 and bodies(page) == ["first news"]
    status, page = await passer.history(cid)
    assert status == 200 and bodies(page) == ["first news"]
    status, problem = await passer.send(cid, "not joined")
    assert status == 403
    status, _ = await fan.call("POST", f"/v1/conversations/{cid}/join")
    assert status == 200
    status, problem = await fan.send(cid, "me too")
    assert status == 403 and problem["type"] == "quark:channel-admins-post"
    status, _ = await owner.call("PATCH", f"/v1/conversations/{cid}", {"everyone_posts": True})
    assert status == 200
    status, _ = await fan.send(cid, "me too")
    assert status == 201
    status, mine = await fan.call("GET", "/v1/conversations")
    assert [c["id"] for c in mine["items"]] == [cid]
    status, _ = await fan.call("DELETE", f"/v1/conversations/{cid}/members/{fan.id}")
    assert status == 200
    status, mine = await fan.call("GET", "/v1/conversations")
    assert mine["items"] == []
    status, page = await fan.history(cid)
    assert status == 200 and bodies(page) == ["me too", "first news"]
    # A group is not a channel: nobody joins it.
    gid = await group(owner, [])
    status, _ = await passer.call("POST", f"/v1/conversations/{gid}/join")
    assert status == 404
