"""Notifications pushed to the devices of people who are not connected: encrypted for the
device, signed with the installation's key, naming the actor in the person's language; none
while the app is open; a subscription the push service calls gone is removed; an outage is
retried without pushing twice to a device that already got it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from handlers.accounts.push_sender import PushSender
from tests.support.fake_push import Device, FakePushService, pushes_settled
from tests.support.identity import IdentityClient
from tests.support.live import LiveClient
from tests.support.log import head_position
from tests.support.platform import Platform
from tests.support.timelines import person, publish, relate


async def subscribe(client: IdentityClient, who: dict[str, Any], device: Device) -> None:
    status, body = await client.call(
        "PUT", f"/v1/me/devices/{who['session_id']}/push", who["token"], device.subscription()
    )
    assert status == 200, body
    # My own read waits for my write: the sessions read model has the subscription now.
    status, listed = await client.get("/v1/me/devices", who["token"])
    assert status == 200 and any(d["push_subscription"] for d in listed["items"]), listed


async def elsewhere(client: IdentityClient, who: dict[str, Any]) -> dict[str, Any]:
    """The same person signed in on another device: a session of its own."""
    status, signed_in = await client.log_in(who["phone"])
    assert status == 200, signed_in
    return {**signed_in, "token": signed_in["access_token"]}


async def offline(platform: Platform, user_id: str, timeout: float = 5.0) -> None:
    """Until the gateway has counted a closed connection out (it does so after the close)."""
    deadline = time.monotonic() + timeout
    while (await platform.infra.presence.states([user_id]))[user_id].online:
        assert time.monotonic() < deadline, "still online"
        await asyncio.sleep(0.02)


def sender(platform: Platform) -> PushSender:
    return next(b for b in platform.workers.background if isinstance(b, PushSender))


async def test_a_person_who_is_not_connected_gets_an_encrypted_push_naming_the_actor(
    client: IdentityClient, platform: Platform, push_service: FakePushService
) -> None:
    ada, bob = await person(client, "p_ada"), await person(client, "p_bob")
    device = push_service.device()
    await subscribe(client, ada, device)
    await relate(client, bob, "POST follow", ada)

    (push,) = await push_service.pushed(device)
    assert push.payload == {
        "title": "New follower",
        "body": "P_Bob started following you",
        "url": "/people/p_bob",
        "tag": f"follow:{bob['user_id']}:{ada['user_id']}",
        "kind": "follow",
        "lang": "en",
    }
    assert int(push.headers["TTL"]) == platform.infra.settings.push_ttl_seconds
    assert push.headers["Urgency"] == "low"
    assert push.claims["aud"] == push_service.url
    assert push.claims["sub"] == platform.infra.settings.push_contact
    assert push_service.refused == []


async def test_a_reply_is_pushed_in_the_persons_language_with_the_post_to_open(
    client: IdentityClient, platform: Platform, push_service: FakePushService
) -> None:
    ada, bob = await person(client, "r_ada"), await person(client, "r_bob")
    status, body = await client.call("PATCH", "/v1/me", ada["token"], {"locale": "ru"})
    assert status == 200, body
    device = push_service.device()
    await subscribe(client, ada, device)
    post = await publish(client, ada, "Hello")
    await platform.wait("posts", post["position"])  # others read it now
    status, made, _ = await client.post(
        f"/v1/posts/{post['id']}/comments", {"body": "Nice"}, bob["token"]
    )
    assert status == 201, made

    (push,) = await push_service.pushed(device)
    assert (push.payload["title"], push.payload["body"]) == ("Новый ответ", "Ответ от R_Bob")
    assert push.payload["url"] == f"/posts/{post['id']}#comment-{made['id']}"
    assert (push.payload["lang"], push.headers["Urgency"]) == ("ru", "normal")


async def test_nothing_is_pushed_while_the_person_has_the_app_open(
    client: IdentityClient,
    http: aiohttp.ClientSession,
    platform: Platform,
    push_service: FakePushService,
) -> None:
    ada, bob, cat = [await person(client, f"o_{name}") for name in ("ada", "bob", "cat")]
    device = push_service.device()
    await subscribe(client, ada, device)
    live = await LiveClient.open(http, ada["token"])
    await relate(client, bob, "POST follow", ada)
    item = await live.notification()
    assert item["notification"]["kind"] == "follow"
    await pushes_settled(platform.infra)
    assert device.answered == []
    assert sender(platform).counts["online"] >= 1

    # Gone from the app (once the edge has counted the connection out): pushed again.
    await live.close()
    await offline(platform, ada["user_id"])
    await relate(client, cat, "POST follow", ada)
    (push,) = await push_service.pushed(device)
    assert push.payload["body"] == "O_Cat started following you"


async def test_a_subscription_the_push_service_calls_gone_is_removed(
    client: IdentityClient, platform: Platform, push_service: FakePushService
) -> None:
    ada, bob = await person(client, "g_ada"), await person(client, "g_bob")
    device = push_service.device()
    device.answers = [410]
    await subscribe(client, ada, device)
    await relate(client, bob, "POST follow", ada)
    assert await push_service.answered(device) == [410]
    await pushes_settled(platform.infra)  # acknowledged once the removal was committed
    await platform.wait("sessions", await head_position(platform.infra, "ACCOUNTS"))
    status, listed = await client.get("/v1/me/devices", ada["token"])
    assert status == 200
    assert [d["push_subscription"] for d in listed["items"]] == [None]
    assert sender(platform).counts["expired"] == 1


async def test_an_outage_is_retried_without_pushing_twice_to_a_device_that_got_it(
    client: IdentityClient, platform: Platform, push_service: FakePushService
) -> None:
    ada, bob = await person(client, "t_ada"), await person(client, "t_bob")
    phone, laptop = push_service.device(), push_service.device()
    laptop.answers = [503]
    await subscribe(client, ada, phone)
    await subscribe(client, await elsewhere(client, ada), laptop)
    await relate(client, bob, "POST follow", ada)

    await push_service.pushed(laptop)  # after the outage, redelivered
    await pushes_settled(platform.infra)
    assert (phone.answered, laptop.answered) == ([201], [503, 201])
    assert [p.payload["tag"] for p in phone.pushes + laptop.pushes] == [
        f"follow:{bob['user_id']}:{ada['user_id']}"
    ] * 2


async def test_an_ended_session_is_not_pushed_to(
    client: IdentityClient, platform: Platform, push_service: FakePushService
) -> None:
    ada, bob = await person(client, "e_ada"), await person(client, "e_bob")
    other = await elsewhere(client, ada)
    kept, ended = push_service.device(), push_service.device()
    await subscribe(client, ada, kept)
    await subscribe(client, other, ended)
    status, _ = await client.call(
        "DELETE", f"/v1/auth/sessions/{other['session_id']}", ada["token"]
    )
    assert status == 204
    await relate(client, bob, "POST follow", ada)
    await push_service.pushed(kept)
    await pushes_settled(platform.infra)
    assert ended.answered == []
