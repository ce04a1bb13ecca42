"""Messaging over the live channel: real websocket clients beside HTTP, as the apps use them."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core import inbox
from core.ids import new_id
from tests.e2e.chat.support import Person, group, person
from tests.support.auth import Tokens
from tests.support.identity import IdentityClient
from tests.support.live import LiveClient
from tests.support.platform import Platform


async def marker(platform: Platform, user_id: str) -> int:
    """An item only `user_id` gets: the next item a client of theirs reads must be this one
    if nothing else was meant for them (a negative made positive, without sleeping)."""
    js = platform.infra.nc.jetstream()
    return await inbox.deliver(js, user_id, {"type": "marker"}, item_id=new_id())


async def connect(
    http: aiohttp.ClientSession, who: Person, cursor: int | None = None
) -> LiveClient:
    return await LiveClient.open(http, who.token, cursor)


async def test_a_direct_conversation_over_the_gateway(
    client: IdentityClient, http: aiohttp.ClientSession
) -> None:
    ann, bob = await person(client), await person(client)
    a, b = await connect(http, ann), await connect(http, bob)
    status, dm = await ann.start("direct", [bob])
    assert status == 201, dm
    joined = await a.item(type="conversation.joined")
    assert (joined["conversation_id"], joined["kind"]) == (dm["id"], "direct")

    sent = await a.request({"type": "send", "conversation_id": dm["id"], "body": "hi @bob"})
    assert sent["status"] == 201, sent
    assert sent["body"]["conversation_id"] == dm["id"] and sent["body"]["position"]
    mine = await a.item(type="message.new")
    # The result names the cursor of the message's item (the sender's other devices and
    # the history agree on the message).
    assert mine["cursor"] == sent["cursor"]
    theirs = await b.item(type="message.new")
    message = theirs["message"]
    assert (message["id"], message["body"], message["sender_id"]) == (
        sent["body"]["id"],
        "hi @bob",
        ann.id,
    )
    # History over HTTP holds the same message at the same place (read at the position of
    # Ann's send: the live item may come before the chat read model has applied it).
    status, page = await bob.history(dm["id"], f"?after={sent['body']['position']}")
    assert status == 200 and page["items"][0]["id"] == message["id"]
    assert page["items"][0]["seq"] == message["seq"]

    # Edits and deletes reach both sides.
    path = f"/v1/conversations/{dm['id']}/messages/{message['id']}"
    status, _ = await ann.call("PATCH", path, {"body": "hi Bob"})
    assert status == 200
    for side in (a, b):
        edited = await side.item(type="message.edited")
        assert (edited["message_id"], edited["body"]) == (message["id"], "hi Bob")

    # Bob reads over the websocket; Ann gets the read receipt, Bob's devices his marker.
    read = await b.request({"type": "read", "conversation_id": dm["id"], "up_to": message["id"]})
    assert read["status"] == 200, read
    for side in (a, b):
        receipt = await side.item(type="conversation.read")
        assert (receipt["user_id"], receipt["message_id"]) == (bob.id, message["id"])

    status, _ = await ann.call("DELETE", path)
    assert status == 200
    for side in (a, b):
        deleted = await side.item(type="message.deleted")
        assert (deleted["message_id"], deleted["deleted_by"]) == (message["id"], ann.id)
    await a.close()
    await b.close()


async def test_a_request_frame_gets_the_answer_of_its_http_route(
    client: IdentityClient, http: aiohttp.ClientSession
) -> None:
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    a = await connect(http, ann)
    too_long = "x" * 5000
    over_ws = await a.request({"type": "send", "conversation_id": gid, "body": too_long})
    status, over_http = await ann.send(gid, too_long)
    assert (over_ws["status"], over_ws["body"]) == (status, over_http) == (422, over_http)
    unknown = await a.request({"type": "send", "conversation_id": new_id(), "body": "hi"})
    status, answer = await ann.send(new_id(), "hi")
    assert unknown["status"] == status == 404
    assert unknown["body"]["type"] == answer["type"]
    bad_read = await a.request({"type": "read", "conversation_id": gid, "up_to": new_id()})
    assert bad_read["status"] == 422 and bad_read["body"]["errors"][0]["field"] == "up_to"
    # A client-chosen id makes a resend the same message, over the websocket too.
    chosen = new_id()
    first = await a.request({"type": "send", "conversation_id": gid, "body": "once", "id": chosen})
    again = await a.request({"type": "send", "conversation_id": gid, "body": "once", "id": chosen})
    assert first["status"] == 201 and again["status"] in (200, 201)
    assert first["body"]["id"] == again["body"]["id"] == chosen
    assert first["cursor"] == again["cursor"] is not None
    status, page = await bob.history(gid)
    assert [m["body"] for m in page["items"]] == ["once"]
    await a.close()


async def test_a_removed_member_stops_receiving_and_reads_nothing_later(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ann, bob, cy = await person(client), await person(client), await person(client)
    gid = await group(ann, [bob, cy])
    a, b, c = [await connect(http, p) for p in (ann, bob, cy)]
    await a.request({"type": "send", "conversation_id": gid, "body": "all three"})
    for side in (a, b, c):
        assert (await side.item(type="message.new"))["message"]["body"] == "all three"

    status, _ = await ann.call("DELETE", f"/v1/conversations/{gid}/members/{cy.id}")
    assert status == 200
    left = await c.item(type="conversation.left")
    assert (left["conversation_id"], left["by"]) == (gid, ann.id)
    for side in (a, b):
        removed = await side.item(type="conversation.member_removed")
        assert removed["user_id"] == cy.id

    await a.request({"type": "send", "conversation_id": gid, "body": "without cy"})
    for side in (a, b):
        assert (await side.item(type="message.new"))["message"]["body"] == "without cy"
    await marker(platform, cy.id)
    assert (await c.item())["type"] == "marker"  # nothing of the group came before it
    status, _ = await cy.history(gid)
    assert status == 404
    # Typing in a group one has left goes nowhere.
    await c.ws.send_json({"type": "typing", "conversation_id": gid})
    error = await c.signal()
    assert (error["type"], error["code"]) == ("error", "not-found"), error
    assert not c.items, c.items
    for side in (a, b, c):
        await side.close()


async def test_typing_reaches_the_other_members_and_is_never_stored(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ann, bob = await person(client), await person(client)
    gid = await group(ann, [bob])
    a, b = await connect(http, ann), await connect(http, bob)
    js = platform.infra.nc.jetstream()
    before = (await js.stream_info(inbox.STREAM)).state.last_seq
    await a.ws.send_json({"type": "typing", "conversation_id": gid})
    typing = await b.signal()
    assert typing == {"type": "typing", "conversation_id": gid, "user_id": ann.id}
    assert (await js.stream_info(inbox.STREAM)).state.last_seq == before
    # The typist is not told of their own typing, and a burst is passed on once.
    await a.ws.send_json({"type": "typing", "conversation_id": gid})
    await a.ws.send_json({"type": "ping"})
    assert (await a.signal())["type"] == "pong"
    await marker(platform, bob.id)
    assert (await b.frame())["type"] == "item"
    await a.close()
    await b.close()


async def test_a_stranger_receives_nothing_of_others_conversations(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ann, bob, eve = await person(client), await person(client), await person(client)
    gid = await group(ann, [bob])
    status, dm = await ann.start("direct", [bob])
    status, channel = await ann.start("channel", name="news")
    assert status == 201
    e = await connect(http, eve)
    for cid in (gid, dm["id"], channel["id"]):
        status, sent = await ann.send(cid, "not for eve")
        assert status == 201, sent
    await eve.call("GET", f"/v1/conversations/{channel['id']}")  # reading is not joining
    await marker(platform, eve.id)
    assert (await e.item())["type"] == "marker"
    status, _ = await eve.history(gid)
    assert status == 404
    status, _ = await eve.history(dm["id"])
    assert status == 404
    await e.close()


@pytest.mark.usefixtures("signed_in")
async def test_a_channel_post_reaches_each_of_200_connected_members_once(
    client: IdentityClient, http: aiohttp.ClientSession, tokens: Tokens, platform: Platform
) -> None:
    owner = await person(client)
    status, channel = await owner.start("channel", name="two hundred")
    assert status == 201, channel
    cid = channel["id"]
    members = [new_id() for _ in range(199)]

    async def join(user_id: str) -> None:
        headers = tokens.headers(user_id)
        async with http.post(f"/v1/conversations/{cid}/join", headers=headers) as resp:
            assert resp.status == 200, await resp.text()

    # Half join before connecting (their channels are read when they connect), half after
    # (the `conversation.joined` item subscribes their open socket).
    early, late = members[: len(members) // 2], members[len(members) // 2 :]
    for chunk in range(0, len(early), 25):
        await asyncio.gather(*(join(u) for u in early[chunk : chunk + 25]))
    # One connection each (a client session pools at most 100 by default).
    sockets = aiohttp.ClientSession(platform.base_url, connector=aiohttp.TCPConnector(limit=0))
    clients = [await LiveClient.open(sockets, tokens.token(u)) for u in members]
    for chunk in range(0, len(late), 25):
        await asyncio.gather(*(join(u) for u in late[chunk : chunk + 25]))
    for c in clients[len(early) :]:
        assert (await c.item(type="conversation.joined"))["conversation_id"] == cid
    mine = await LiveClient.open(http, owner.token)

    for text in ("first", "second"):
        status, _ = await owner.send(cid, text)
        assert status == 201
    for c in [*clients, mine]:
        got = [await c.item(type="message.new"), await c.item(type="message.new")]
        assert [g["message"]["body"] for g in got] == ["first", "second"]  # once each
    for c in [*clients, mine]:
        await c.close()
    await sockets.close()
