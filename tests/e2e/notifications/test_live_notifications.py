"""Notifications pushed over the live channel as the list shows them: made, grouped, read on
another device; what the person's choices hide is not pushed."""

from __future__ import annotations

import aiohttp

from core import inbox
from core.ids import new_id
from tests.e2e.notifications.test_notifications_api import comment, react
from tests.support.identity import IdentityClient
from tests.support.live import LiveClient
from tests.support.platform import Platform
from tests.support.timelines import person, publish, relate


async def marker(platform: Platform, user_id: str) -> None:
    js = platform.infra.nc.jetstream()
    await inbox.deliver(js, user_id, {"type": "marker"}, item_id=new_id())


async def test_notifications_arrive_live_as_the_list_shows_them(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ada, bob, cat = [await person(client, f"l_{name}") for name in ("ada", "bob", "cat")]
    live = await LiveClient.open(http, ada["token"])
    await relate(client, bob, "POST follow", ada)
    follow = (await live.notification())["notification"]
    assert (follow["kind"], follow["actors"], follow["read"]) == ("follow", [bob["user_id"]], False)

    post = await publish(client, ada, "Hello")
    await platform.wait("posts", post["position"])  # others read it now
    made = await comment(client, cat, post["id"], "Nice one")
    reply = (await live.notification())["notification"]
    assert (reply["kind"], reply["target_id"], reply["post_id"]) == (
        "reply",
        made["id"],
        post["id"],
    )
    # A reaction group is pushed again as it grows.
    await react(client, bob, post["id"], "like")
    first = (await live.notification())["notification"]
    await react(client, cat, post["id"], "like")
    grown = (await live.notification())["notification"]
    assert first["id"] == grown["id"] and (first["count"], grown["count"]) == (1, 2)
    assert grown["actors"] == [cat["user_id"], bob["user_id"]]

    # Marked read elsewhere: the other devices are told.
    status, _ = await client.call(
        "POST", "/v1/notifications/read", ada["token"], {"ids": [grown["id"]]}
    )
    assert status == 200
    read = (await live.notification())["notification"]
    assert (read["id"], read["read"]) == (grown["id"], True)
    await live.close()


async def test_what_the_person_chose_not_to_get_is_not_pushed(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ada, bob, eve = [await person(client, f"m_{name}") for name in ("ada", "bob", "eve")]
    await relate(client, ada, "POST follow", bob)
    status, _ = await client.call(
        "PUT",
        "/v1/notifications/settings",
        ada["token"],
        {"disabled": ["reaction"], "only_following": True},
    )
    assert status == 200
    live = await LiveClient.open(http, ada["token"])
    post = await publish(client, ada, "Hello")
    await platform.wait("posts", post["position"])  # others read it now
    await react(client, bob, post["id"], "like")  # a kind turned off
    await comment(client, eve, post["id"], "from a stranger")  # not someone ada follows
    await comment(client, bob, post["id"], "from a friend")
    got = (await live.notification())["notification"]
    assert (got["kind"], got["actors"]) == ("reply", [bob["user_id"]])
    await marker(platform, ada["user_id"])
    assert (await live.item())["type"] == "marker"
    assert live.notifications == []
    await live.close()


async def test_a_message_notification_comes_and_goes_when_the_conversation_is_read(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ada, bob = [await person(client, f"r_{name}") for name in ("ada", "bob")]
    status, dm = await client.call(
        "POST", "/v1/conversations", bob["token"], {"kind": "direct", "members": [ada["user_id"]]}
    )
    assert status == 201, dm
    live = await LiveClient.open(http, ada["token"])
    status, sent = await client.call(
        "POST", f"/v1/conversations/{dm['id']}/messages", bob["token"], {"body": "hi"}
    )
    assert status == 201, sent
    made = (await live.notification())["notification"]
    assert (made["kind"], made["conversation_id"], made["count"]) == ("message", dm["id"], 1)
    read = await live.request({"type": "read", "conversation_id": dm["id"], "up_to": sent["id"]})
    assert read["status"] == 200, read
    gone = await live.notification()
    assert (gone["type"], gone["notification_id"]) == ("notification.removed", made["id"])
    await live.close()
