"""Messages through HTTP: idempotent sending, replies, edits with their history, tombstones,
who may delete, the length and rate limits, stable history cursors, read markers, unread
counts and the conversation list."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core import perks
from handlers.media.events import MediaDetached
from tests.e2e.chat.support import bodies, group, person
from tests.support.identity import IdentityClient
from tests.support.log import next_event
from tests.support.media import picture, ready, upload
from tests.support.platform import Platform


async def test_a_client_chosen_id_makes_sending_idempotent(client: IdentityClient) -> None:
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    mid = str(uuid.uuid4())
    status, first = await ann.send(gid, "once", id=mid)
    assert status == 201 and first["id"] == mid
    status, again = await ann.send(gid, "once", id=mid)
    assert status == 201 and again == first
    status, problem = await ann.send(gid, "something else", id=mid)
    assert status == 409 and problem["type"] == "quark:message-exists"
    # Someone else cannot take the id either.
    status, problem = await bob.send(gid, "once", id=mid)
    assert status == 409
    status, page = await bob.history(gid)
    assert bodies(page) == ["once"]
    status, problem = await ann.send(gid, "bad id", id="not-a-uuid")
    assert status == 422


async def test_a_reply_names_a_message_of_the_same_conversation(client: IdentityClient) -> None:
    ann, bob = await person(client), await person(client)
    here, there = await group(ann, [bob]), await group(ann, [bob], "other")
    status, parent = await bob.send(here, "question")
    assert status == 201
    status, elsewhere = await bob.send(there, "elsewhere")
    assert status == 201
    status, reply = await ann.send(here, "answer", reply_to=parent["id"])
    assert status == 201, reply
    status, problem = await ann.send(here, "wrong", reply_to=elsewhere["id"])
    assert status == 422 and problem["errors"][0]["field"] == "reply_to"
    status, page = await bob.history(here)
    assert page["items"][0]["reply_to"] == parent["id"]


async def test_an_edit_keeps_the_history_and_a_delete_leaves_a_tombstone(
    client: IdentityClient,
) -> None:
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    status, sent = await bob.send(gid, "first version")
    path = f"/v1/conversations/{gid}/messages/{sent['id']}"
    status, problem = await ann.call("PATCH", path, {"body": "not mine"})
    assert status == 403 and problem["type"] == "quark:not-message-sender"
    for text in ("second version", "third version"):
        status, edited = await bob.call("PATCH", path, {"body": text})
        assert status == 200, edited
    status, detail = await ann.call("GET", path)
    assert status == 200, detail
    assert detail["message"]["body"] == "third version" and detail["message"]["edited_at"]
    assert [e["body"] for e in detail["edits"]] == ["first version", "second version"]
    status, _ = await bob.call("DELETE", path)
    assert status == 200
    status, page = await ann.history(gid)
    [tombstone] = page["items"]
    assert tombstone["deleted"] is True and tombstone["body"] == "" and tombstone["sender_id"] == ""
    status, detail = await ann.call("GET", path)
    assert detail["edits"] == []
    status, _ = await bob.call("PATCH", path, {"body": "back again"})
    assert status == 404


async def test_an_admin_deletes_anyone_s_message_a_member_only_their_own(
    client: IdentityClient,
) -> None:
    owner, ann, bob = [await person(client) for _ in range(3)]
    gid = await group(owner, [ann, bob])
    status, sent = await ann.send(gid, "rude")
    path = f"/v1/conversations/{gid}/messages/{sent['id']}"
    status, _problem = await bob.call("DELETE", path)
    assert status == 403
    status, _ = await owner.call("DELETE", path)
    assert status == 200
    status, page = await bob.history(gid)
    assert page["items"][0]["deleted"] is True


async def test_the_length_limit_is_larger_for_vip(
    client: IdentityClient, with_role, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(perks.STANDARD, "message_max_chars", 10)
    monkeypatch.setitem(perks.VIP, "message_max_chars", 20)
    ann, vip = await person(client), await person(client)
    gid = await group(ann, [vip])
    status, problem = await ann.send(gid, "x" * 11)
    assert status == 422 and problem["errors"][0]["field"] == "body"
    admin = (await with_role("admin"))["access_token"]
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, granted = await client.call(
        "POST", f"/v1/admin/users/{vip.id}/vip", admin, {"until": until, "reason": "test"}
    )
    assert status == 200, granted
    status, sent = await vip.call(
        "POST",
        f"/v1/conversations/{gid}/messages",
        {"body": "x" * 20},
        after=granted["position"],
    )
    assert status == 201, sent
    status, _ = await vip.send(gid, "x" * 21)
    assert status == 422


async def test_sending_is_rate_limited_per_sender(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(perks.STANDARD, "messages_per_minute", 3)
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    for n in range(3):
        status, _ = await ann.send(gid, f"message {n}")
        assert status == 201
    async with client.http.post(
        f"/v1/conversations/{gid}/messages",
        json={"body": "one too many"},
        headers={"Authorization": f"Bearer {ann.token}"},
    ) as resp:
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    status, _ = await bob.send(gid, "someone else may")
    assert status == 201


async def test_history_cursors_neither_skip_nor_repeat_while_others_send(
    client: IdentityClient,
) -> None:
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    for n in range(7):
        status, _ = await ann.send(gid, f"old {n}")
        assert status == 201
    seen: list[str] = []
    status, page = await bob.history(gid, "?limit=3")
    seen += bodies(page)
    while page["next_cursor"]:
        # New messages arrive while Bob pages back.
        await asyncio.gather(ann.send(gid, "new a"), bob.send(gid, "new b"))
        status, page = await bob.history(gid, f"?limit=3&cursor={page['next_cursor']}")
        assert status == 200, page
        seen += bodies(page)
    assert seen == [f"old {n}" for n in reversed(range(7))]
    # Forward from a message: oldest first, exactly what came after it.
    status, _newest_old = await bob.history(gid, "?limit=1&cursor=")
    assert status in (400, 422)
    status, everything = await bob.history(gid, "?limit=100")
    first_old = everything["items"][-1]["id"]
    forward: list[str] = []
    status, page = await bob.history(gid, f"?since={first_old}&limit=4")
    forward += bodies(page)
    while page["next_cursor"]:
        status, page = await bob.history(gid, f"?limit=4&cursor={page['next_cursor']}")
        forward += bodies(page)
    assert forward == list(reversed(bodies(everything)))[1:]
    status, problem = await bob.history(gid, "?cursor=tampered")
    assert status == 400 and problem["type"] == "quark:bad-cursor"


async def test_read_markers_unread_counts_and_the_conversation_list(
    client: IdentityClient,
) -> None:
    ann, bob, cy = [await person(client) for _ in range(3)]
    quiet = await group(ann, [bob], "quiet")
    busy = await group(cy, [bob], "busy")
    status, _ = await ann.send(quiet, "hello")
    assert status == 201
    sent = []
    for n in range(3):
        status, message = await cy.send(busy, f"news {n}")
        sent.append(message)
    status, mine = await bob.call("GET", "/v1/conversations")
    assert status == 200, mine
    assert [c["id"] for c in mine["items"]] == [busy, quiet]  # latest activity first
    assert [c["unread_count"] for c in mine["items"]] == [3, 1]
    assert mine["items"][0]["last_message"]["body"] == "news 2"
    assert mine["items"][0]["name"] == "busy"
    status, marked = await bob.call(
        "POST", f"/v1/conversations/{busy}/read", {"up_to": sent[1]["id"]}
    )
    assert status == 200, marked
    status, mine = await bob.call("GET", "/v1/conversations")
    assert [c["unread_count"] for c in mine["items"]] == [1, 1]
    # A marker never moves back.
    status, _ = await bob.call("POST", f"/v1/conversations/{busy}/read", {"up_to": sent[0]["id"]})
    assert status == 200
    status, mine = await bob.call("GET", "/v1/conversations?limit=1")
    assert [c["unread_count"] for c in mine["items"]] == [1]
    status, rest = await bob.call("GET", f"/v1/conversations?limit=1&cursor={mine['next_cursor']}")
    assert [c["id"] for c in rest["items"]] == [quiet] and rest["next_cursor"] is None
    # Writing in the quiet one brings it to the top; one's own messages are never unread.
    status, _ = await bob.send(quiet, "back")
    status, mine = await bob.call("GET", "/v1/conversations")
    assert [c["id"] for c in mine["items"]] == [quiet, busy]
    assert [c["unread_count"] for c in mine["items"]] == [0, 1]
    status, _problem = await bob.call("POST", f"/v1/conversations/{busy}/read", {"up_to": "x"})
    assert status == 422


async def test_attachments_are_the_sender_s_own_ready_media(
    client: IdentityClient, platform: Platform
) -> None:
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    _, mine, _ = await upload(client.http, ann.token, picture("PNG", 64, 64))
    _, theirs, _ = await upload(client.http, bob.token, picture("PNG", 64, 64))
    await ready(client.http, platform.infra, ann.token, mine["id"])
    await ready(client.http, platform.infra, bob.token, theirs["id"])
    status, problem = await ann.send(gid, "look", media_ids=[theirs["id"]])
    assert status == 404 and problem["type"] == "quark:media-not-found"
    status, sent = await ann.send(gid, "look", media_ids=[mine["id"]])
    assert status == 201, sent
    status, page = await bob.history(gid)
    assert page["items"][0]["media_ids"] == [mine["id"]]
    # A group's media is for its members: behind a signed link they are given.
    [media] = page["items"][0]["media"]
    url = media["variants"]["320"]["url"]
    assert "sig=" in url
    async with client.http.get(url) as resp:
        assert resp.status == 200
    async with client.http.get(url.split("?")[0]) as resp:
        assert resp.status in (403, 404)
    status, problem = await ann.send(gid, "twice", media_ids=[mine["id"], mine["id"]])
    assert status == 422
    # Deleting the message detaches its media (the sweeper collects it later).
    status, _ = await ann.call("DELETE", f"/v1/conversations/{gid}/messages/{sent['id']}")
    assert status == 200
    detached = await next_event(
        platform.infra, "MEDIA", f"ev.media.upload.{mine['id']}", MediaDetached
    )
    assert detached.event.ref == f"message:{sent['id']}"


async def test_many_people_writing_in_one_channel_at_once_meet_no_conflict(
    client: IdentityClient,
) -> None:
    owner = await person(client)
    status, created = await owner.start("channel", name="busy", everyone_posts=True)
    assert status == 201
    cid = created["id"]
    crowd = [await person(client) for _ in range(12)]
    for p in crowd:
        status, _ = await p.call("POST", f"/v1/conversations/{cid}/join")
        assert status == 200
    answers = await asyncio.gather(*(p.send(cid, f"from {n}") for n, p in enumerate(crowd)))
    assert [status for status, _ in answers] == [201] * len(crowd), answers
    status, page = await owner.history(cid, "?limit=100")
    assert sorted(bodies(page)) == sorted(f"from {n}" for n in range(len(crowd)))
    seqs = [m["seq"] for m in page["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)


async def test_mentions_of_me_are_counted_among_the_unread(client: IdentityClient) -> None:
    ann, bob = await person(client), await person(client)
    handle = f"m_{bob.id[:8]}"
    status, _ = await bob.call("PATCH", "/v1/me", {"handle": handle})
    assert status == 200
    gid = await group(ann, [bob])
    for text in ("no mention", f"hey @{handle}", f"@{handle} again"):
        status, sent = await ann.send(gid, text)
        assert status == 201
    status, detail = await bob.call("GET", f"/v1/conversations/{gid}")
    assert status == 200, detail
    assert (detail["conversation"]["unread_count"], detail["conversation"]["mention_count"]) == (
        3,
        2,
    )
    status, mine = await bob.call("GET", "/v1/conversations")
    assert (mine["items"][0]["unread_count"], mine["items"][0]["mention_count"]) == (3, 2)
    status, _ = await bob.call("POST", f"/v1/conversations/{gid}/read", {"up_to": sent["id"]})
    status, detail = await bob.call("GET", f"/v1/conversations/{gid}")
    assert (detail["conversation"]["unread_count"], detail["conversation"]["mention_count"]) == (
        0,
        0,
    )
