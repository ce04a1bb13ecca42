"""Storing a device's push subscription: the key browsers subscribe with, a subscription set
on my session and shown on my devices, removed again; bad subscriptions and other people's
sessions change nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from core.settings import Settings
from core.vapid import VapidKey
from tests.support.fake_push import FakePushService, b64url
from tests.support.identity import IdentityClient
from tests.support.platform import Platform

#: A device's keys from RFC 8291's example (appendix A).
GOOD_KEY = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
GOOD_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"


async def devices(client: IdentityClient, who: dict[str, Any]) -> dict[str, Any]:
    status, body = await client.get("/v1/me/devices", who["access_token"])
    assert status == 200, body
    return {d["id"]: d for d in body["items"]}


async def put(client: IdentityClient, who: dict[str, Any], device: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {who['access_token']}"}
    async with client.http.put(f"/v1/me/devices/{device}/push", json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def test_the_key_is_the_installations_uncompressed_p256_point(
    client: IdentityClient, platform: Platform
) -> None:
    status, body = await client.get("/v1/push/key")
    assert status == 200, body
    raw = base64.urlsafe_b64decode(body["public_key"] + "=")
    assert (len(raw), raw[0]) == (65, 4)
    assert body["public_key"] == VapidKey.from_secret(platform.infra.secret_key).public_key
    assert (await client.get("/v1/push/key"))[1] == body


async def test_a_subscription_is_kept_on_my_session_until_i_remove_it(
    client: IdentityClient, push_service: FakePushService
) -> None:
    ada = await client.sign_up()
    device = push_service.device()
    status, body, headers = await put(client, ada, ada["session_id"], device.subscription())
    assert status == 200, body
    assert body["position"] == headers["Quark-Position"]
    shown = (await devices(client, ada))[ada["session_id"]]
    assert shown["push_subscription"] == {"endpoint": device.endpoint, "expirationTime": None}

    # The same subscription again changes nothing; another one replaces it.
    again = await put(client, ada, ada["session_id"], device.subscription())
    assert again[0] == 200
    other = push_service.device()
    assert (await put(client, ada, ada["session_id"], other.subscription()))[0] == 200
    shown = (await devices(client, ada))[ada["session_id"]]
    assert shown["push_subscription"]["endpoint"] == other.endpoint

    status, body = await client.call(
        "DELETE", f"/v1/me/devices/{ada['session_id']}/push", ada["access_token"]
    )
    assert status == 200, body
    assert (await devices(client, ada))[ada["session_id"]]["push_subscription"] is None
    status, _ = await client.call(
        "DELETE", f"/v1/me/devices/{ada['session_id']}/push", ada["access_token"]
    )
    assert status == 200


def _with(subscription: dict[str, Any], **changes: Any) -> dict[str, Any]:
    keys = {**subscription["keys"], **changes.pop("keys", {})}
    return {**subscription, **changes, "keys": keys}


def _bad_bodies(good: dict[str, Any]) -> list[tuple[Any, str]]:
    off_curve = b64url(b"\x04" + b"\x00" * 64)
    return [
        (_with(good, endpoint="ftp://127.0.0.1/push/x"), "endpoint"),
        (_with(good, endpoint="not a url"), "endpoint"),
        (_with(good, endpoint="http://user:pw@127.0.0.1/push/x"), "endpoint"),
        (_with(good, endpoint="http://127.0.0.1/" + "x" * 2048), "endpoint"),
        (_with(good, keys={"p256dh": "c2hvcnQ"}), "keys.p256dh"),
        (_with(good, keys={"p256dh": off_curve}), "keys.p256dh"),
        # Standard base64's `+` is not base64url (a random key need not hold a `-` to swap).
        (_with(good, keys={"p256dh": "+" + good["keys"]["p256dh"][1:]}), "keys.p256dh"),
        (_with(good, keys={"auth": b64url(b"x" * 15)}), "keys.auth"),
        (_with(good, expirationTime=1000), "expirationTime"),
        (_with(good, expirationTime="soon"), "expirationTime"),
        ({**good, "extra": True}, "extra"),
        ({"endpoint": good["endpoint"]}, "keys"),
        (_with(good, keys={"p256dh": GOOD_KEY, "auth": GOOD_AUTH, "more": "x"}), "keys.more"),
    ]


async def test_a_bad_subscription_is_refused_by_field_and_changes_nothing(
    client: IdentityClient, push_service: FakePushService
) -> None:
    ada = await client.sign_up()
    good = push_service.device().subscription()
    for body, field in _bad_bodies(good):
        status, problem, headers = await put(client, ada, ada["session_id"], body)
        assert status == 422, (field, problem)
        assert headers["Content-Type"].startswith("application/problem+json")
        named = [e["field"] for e in problem.get("errors", [])] + [problem["detail"]]
        assert any(field in text for text in named), (field, problem)
    assert (await devices(client, ada))[ada["session_id"]]["push_subscription"] is None


async def test_another_person_cannot_touch_my_sessions_subscription(
    client: IdentityClient, push_service: FakePushService
) -> None:
    ada, bob = await client.sign_up(), await client.sign_up()
    mine = push_service.device()
    assert (await put(client, ada, ada["session_id"], mine.subscription()))[0] == 200
    theirs = push_service.device()
    status, problem, _ = await put(client, bob, ada["session_id"], theirs.subscription())
    assert (status, problem["type"]) == (404, "quark:session-not-found")
    status, problem = await client.call(
        "DELETE", f"/v1/me/devices/{ada['session_id']}/push", bob["access_token"]
    )
    assert (status, problem["type"]) == (404, "quark:session-not-found")
    shown = (await devices(client, ada))[ada["session_id"]]
    assert shown["push_subscription"]["endpoint"] == mine.endpoint
    assert (await put(client, ada, "not-a-session", mine.subscription()))[0] == 404


class TestWithoutLocalEndpoints:
    """As in production: an endpoint is an https URL of a push service's public name."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(push_allow_local_endpoints=False)

    @pytest.mark.parametrize(
        ("endpoint", "accepted"),
        [
            ("https://push.example.com/wpush/v2/abc", True),
            ("http://push.example.com/wpush/v2/abc", False),
            ("https://127.0.0.1/push/abc", False),
            ("https://[::1]/push/abc", False),
            ("https://localhost/push/abc", False),
            ("https://push.internal/abc", False),
        ],
    )
    async def test_only_https_to_a_public_name_is_accepted(
        self, client: IdentityClient, platform: Platform, endpoint: str, accepted: bool
    ) -> None:
        ada = await client.sign_up()
        body = {"endpoint": endpoint, "keys": {"p256dh": GOOD_KEY, "auth": GOOD_AUTH}}
        status, problem, _ = await put(client, ada, ada["session_id"], body)
        assert status == (200 if accepted else 422), problem
        if not accepted:
            assert problem["errors"][0]["field"] == "endpoint"
