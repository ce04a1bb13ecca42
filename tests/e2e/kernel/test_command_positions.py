"""Every command answers its commit's position in `Quark-Position` (API.md), sign-in and
refresh included. The test walks the route table: a command route added without being
exercised here fails the test, so none can slip through without its header."""

from __future__ import annotations

import secrets
import time
from typing import Any

import aiohttp
import pyotp
import pytest

from core.commands import parse_position
from core.settings import Settings
from edge.app import all_routes
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, lifted_limits, new_phone
from tests.support.link_preview import link_preview, local_pages
from tests.support.media import picture, ready
from tests.support.platform import Platform

COMMAND_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: Not commands: bytes into the object store (what S3's presigned PUT does for the S3
#: backend), nothing in the log until the upload is completed (exercised above, by URL).
BYTE_TRANSFERS = {("PUT", "/v1/media/uploads/{media_id}/data")}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, verification_resend_after_seconds=0)


class Recorder:
    """Sends requests and notes, per route of the table, the answers' positions."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.seen: dict[tuple[str, str], list[str | None]] = {}

    async def call(
        self,
        method: str,
        route: str,
        token: str | None = None,
        body: Any = None,
        data: bytes | None = None,
        **path: str,
    ) -> Any:
        url = route.format(**path)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        sent: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        async with self.http.request(method, url, headers=headers, **sent) as resp:
            answer = await resp.json(content_type=None) if resp.status != 204 else None
            assert resp.status < 300, (method, url, resp.status, answer)
            self.seen.setdefault((method, route), []).append(resp.headers.get("Quark-Position"))
            return answer


async def test_every_command_route_answers_its_position(
    http: aiohttp.ClientSession,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")
    r = Recorder(http)
    phone = new_phone()

    # Sign-up, with a resent code.
    started = await r.call("POST", "/v1/auth/phone/start", body={"phone": phone})
    vid = started["verification_id"]
    await r.call("POST", "/v1/auth/phone/resend", body={"verification_id": vid})
    code = await people.sms_code(phone, after=1)
    verified = await r.call(
        "POST", "/v1/auth/phone/verify", body={"verification_id": vid, "code": code}
    )
    me = await r.call(
        "POST",
        "/v1/auth/register",
        body={
            "registration_token": verified["registration_token"],
            "password": "correct horse battery staple",
            "display_name": "Ada",
        },
    )
    assert me["position"] == r.seen[("POST", "/v1/auth/register")][0]
    token = me["access_token"]

    # Sign-in, refresh, devices and sessions.
    signed_in = await r.call(
        "POST", "/v1/auth/login", body={"phone": phone, "password": "correct horse battery staple"}
    )
    assert signed_in["position"] == r.seen[("POST", "/v1/auth/login")][0]
    refreshed = await r.call(
        "POST", "/v1/auth/refresh", body={"refresh_token": signed_in["refresh_token"]}
    )
    await r.call(
        "PATCH",
        "/v1/me/devices/{device_id}",
        token,
        {"name": "laptop"},
        device_id=me["session_id"],
    )
    # A device takes Web Push, then no more (RFC 8291's example keys; nothing is pushed).
    subscription = {
        "endpoint": "https://push.example.com/wpush/v2/abc",
        "keys": {
            "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "auth": "BTBZMqHH6r4Tts7J_aSIgg",
        },
    }
    for method, body in (("PUT", subscription), ("DELETE", None)):
        await r.call(
            method, "/v1/me/devices/{device_id}/push", token, body, device_id=me["session_id"]
        )
    await r.call(
        "DELETE", "/v1/auth/sessions/{session_id}", token, session_id=refreshed["session_id"]
    )
    await r.call(
        "POST",
        "/v1/auth/password",
        token,
        {"old_password": "correct horse battery staple", "new_password": "another long secret"},
    )

    # Second factor: set up, enable, sign in with it, disable.
    setup = await r.call("POST", "/v1/auth/2fa/setup", token)
    totp = pyotp.TOTP(setup["secret"])
    enabled = await r.call("POST", "/v1/auth/2fa/enable", token, {"code": totp.now()})
    challenge = await r.call(
        "POST", "/v1/auth/login", body={"phone": phone, "password": "another long secret"}
    )
    assert challenge["mfa_required"] is True

    second = await r.call(
        "POST",
        "/v1/auth/login/2fa",
        body={"mfa_token": challenge["mfa_token"], "code": totp.at(time.time() + 30)},
    )
    await r.call(
        "POST",
        "/v1/auth/2fa/disable",
        second["access_token"],
        {"code": enabled["recovery_codes"][0]},
    )

    # Password reset by SMS.
    sms_before = people.sms_count(phone)
    reset = await r.call("POST", "/v1/auth/password/reset/start", body={"phone": phone})
    reset_code = await people.sms_code(phone, after=sms_before)
    await r.call(
        "POST",
        "/v1/auth/password/reset",
        body={
            "verification_id": reset["verification_id"],
            "code": reset_code,
            "new_password": "a third long secret",
        },
    )
    status, fresh = await people.log_in(phone, "a third long secret")
    assert status == 200
    token = fresh["access_token"]

    # Profiles, follows and blocks.
    handle = f"h_{secrets.token_hex(4)}"
    await r.call("PATCH", "/v1/me", token, {"handle": handle})
    other = await people.sign_up()
    other_handle = f"o_{secrets.token_hex(4)}"
    changed = await r.call("PATCH", "/v1/me", other["access_token"], {"handle": other_handle})
    async with http.get(
        f"/v1/users/{other_handle}", headers={"Quark-After": changed["position"]}
    ) as resp:
        assert resp.status == 200
    for method, route in (
        ("POST", "/v1/users/{handle}/follow"),
        ("DELETE", "/v1/users/{handle}/follow"),
        ("POST", "/v1/users/{handle}/block"),
        ("DELETE", "/v1/users/{handle}/block"),
    ):
        await r.call(method, route, token, handle=other_handle)
    # Privacy: a change, then the same again (nothing new to write, still a position).
    for show in (False, False, True):
        await r.call("PUT", "/v1/me/privacy", token, {"show_presence": show})

    # Posts.
    post = await r.call("POST", "/v1/posts", token, {"title": "t", "body": "b"})
    await r.call("PATCH", "/v1/posts/{post_id}", token, {"body": "c"}, post_id=post["id"])
    comment = await r.call(
        "POST", "/v1/posts/{post_id}/comments", token, {"body": "c"}, post_id=post["id"]
    )
    await r.call(
        "PATCH", "/v1/comments/{comment_id}", token, {"body": "d"}, comment_id=comment["id"]
    )
    for method in ("PUT", "PUT", "DELETE", "DELETE"):  # each twice: the second changes nothing
        await r.call(
            method, "/v1/posts/{post_id}/reactions/{kind}", token, post_id=post["id"], kind="wow"
        )
        await r.call(
            method,
            "/v1/comments/{comment_id}/reactions/{kind}",
            token,
            comment_id=comment["id"],
            kind="wow",
        )
    await r.call("DELETE", "/v1/comments/{comment_id}", token, comment_id=comment["id"])
    await r.call("DELETE", "/v1/posts/{post_id}", token, post_id=post["id"])

    # Chat: a direct conversation (asked for twice), a group's membership and roles, a
    # channel joined, a message sent, edited, read and deleted, a conversation muted and
    # unmuted.
    them = other["user_id"]
    for _ in range(2):
        dm = await r.call("POST", "/v1/conversations", token, {"kind": "direct", "members": [them]})
    group = await r.call(
        "POST", "/v1/conversations", token, {"kind": "group", "name": "g", "members": [them]}
    )
    in_group = {"conversation_id": group["id"]}
    await r.call("PATCH", "/v1/conversations/{conversation_id}", token, {"name": "h"}, **in_group)
    await r.call(
        "PUT",
        "/v1/conversations/{conversation_id}/members/{user_id}/role",
        token,
        {"role": "admin"},
        user_id=them,
        **in_group,
    )
    await r.call(
        "DELETE",
        "/v1/conversations/{conversation_id}/members/{user_id}",
        token,
        user_id=them,
        **in_group,
    )
    await r.call(
        "POST",
        "/v1/conversations/{conversation_id}/members",
        token,
        {"members": [them]},
        **in_group,
    )
    channel = await r.call("POST", "/v1/conversations", token, {"kind": "channel", "name": "c"})
    await r.call(
        "POST",
        "/v1/conversations/{conversation_id}/join",
        other["access_token"],
        conversation_id=channel["id"],
    )
    in_dm = {"conversation_id": dm["id"]}
    message = await r.call(
        "POST", "/v1/conversations/{conversation_id}/messages", token, {"body": "m"}, **in_dm
    )
    in_message = {**in_dm, "message_id": message["id"]}
    await r.call(
        "PATCH",
        "/v1/conversations/{conversation_id}/messages/{message_id}",
        token,
        {"body": "n"},
        **in_message,
    )
    await r.call(
        "POST",
        "/v1/conversations/{conversation_id}/read",
        other["access_token"],
        {"up_to": message["id"]},
        **in_dm,
    )
    await r.call(
        "DELETE", "/v1/conversations/{conversation_id}/messages/{message_id}", token, **in_message
    )
    for method, body in (("PUT", {"until": None}), ("PUT", {}), ("DELETE", None)):
        # The second mute changes nothing: still answered with its position.
        await r.call(method, "/v1/conversations/{conversation_id}/mute", token, body, **in_dm)

    # Media: a streamed upload, alt text, deletion; a direct upload and its completion.
    image = picture("PNG", 32, 32)
    media = await r.call("POST", "/v1/media", token, data=image)
    await ready(http, platform.infra, token, media["id"])
    await r.call("PATCH", "/v1/media/{media_id}", token, {"description": "d"}, media_id=media["id"])
    await r.call("DELETE", "/v1/media/{media_id}", token, media_id=media["id"])
    grant = await r.call(
        "POST", "/v1/media/uploads", token, {"size": len(image), "type": "image/png"}
    )
    async with http.put(grant["url"], data=image, headers=grant["headers"]) as resp:
        assert resp.status == 204
    await r.call("POST", "/v1/media/uploads/{media_id}/complete", token, media_id=grant["id"])

    # Administration.
    use_settings(monkeypatch, settings)
    assert await run_quark("admin", "grant", fresh["user_id"], "admin") == 0
    status, admin, _ = await people.post(
        "/v1/auth/refresh", {"refresh_token": fresh["refresh_token"]}
    )
    assert status == 200
    admin_token = admin["access_token"]
    target = other["user_id"]
    await r.call(
        "POST",
        "/v1/admin/users/{user_id}/roles",
        admin_token,
        {"role": "moderator", "reason": "r"},
        user_id=target,
    )
    await r.call(
        "DELETE",
        "/v1/admin/users/{user_id}/roles/{role}?reason=r",
        admin_token,
        user_id=target,
        role="moderator",
    )
    for action in ("suspend", "unsuspend"):
        await r.call(
            "POST",
            f"/v1/admin/users/{{user_id}}/{action}",
            admin_token,
            {"reason": "r"},
            user_id=target,
        )
    await r.call(
        "POST",
        "/v1/admin/users/{user_id}/vip",
        admin_token,
        {"until": "2099-01-01T00:00:00Z", "reason": "r"},
        user_id=target,
    )
    # Categories (admins).
    await r.call(
        "POST",
        "/v1/admin/categories",
        admin_token,
        {"slug": "travel", "name_ru": "Путешествия", "name_en": "Travel", "position": 1},
    )
    await r.call(
        "PATCH", "/v1/admin/categories/{slug}", admin_token, {"position": 2}, slug="travel"
    )
    await r.call("DELETE", "/v1/admin/categories/{slug}", admin_token, slug="travel")
    # The word filter's rules (admins).
    rule = await r.call(
        "POST",
        "/v1/admin/word-filters",
        admin_token,
        {"pattern": "spam", "action": "flag", "contexts": ["posts"]},
    )
    await r.call(
        "PATCH",
        "/v1/admin/word-filters/{rule_id}",
        admin_token,
        {"action": "censor"},
        rule_id=rule["id"],
    )
    await r.call("DELETE", "/v1/admin/word-filters/{rule_id}", admin_token, rule_id=rule["id"])

    # Moderation: a report of a person, and a moderator (here an admin) taking the case.
    reported = await people.sign_up()
    # Someone else's sign-up: the admin's reads do not wait for it by themselves.
    await platform.wait("profiles", reported["position"])
    filed = await r.call(
        "POST",
        "/v1/reports",
        admin_token,
        {"target_type": "user", "target_id": reported["user_id"], "category": "spam"},
    )
    await r.call(
        "POST",
        "/v1/moderation/cases/{case_id}/assign",
        admin_token,
        {"assignee": None},
        case_id=filed["case_id"],
    )
    first = await r.call(
        "POST",
        "/v1/moderation/cases/{case_id}/decisions",
        admin_token,
        {"actions": ["warn"], "reason": "r"},
        case_id=filed["case_id"],
    )
    bulk = await r.call(
        "POST",
        "/v1/moderation/decisions",
        admin_token,
        {"case_ids": [filed["case_id"]], "actions": ["warn"], "reason": "r"},
    )
    # The person appeals both decisions; one appeal is approved, the other rejected.
    for decision_id, ruling in (
        (first["decision_id"], "approve"),
        (bulk["results"][0]["decision_id"], "reject"),
    ):
        appeal = await r.call(
            "POST",
            "/v1/moderation/appeals",
            reported["access_token"],
            {"decision_id": decision_id, "text": "t"},
        )
        # The admin rules on what they read: once the read model has the appeal.
        await platform.wait("moderation", appeal["position"])
        await r.call(
            "POST",
            f"/v1/moderation/appeals/{{appeal_id}}/{ruling}",
            admin_token,
            {"reason": "r"},
            appeal_id=appeal["appeal_id"],
        )

    # Notifications.
    await r.call("PUT", "/v1/notifications/settings", token, {"disabled": ["reaction"]})
    await r.call("POST", "/v1/notifications/read", token, {})

    # A link preview, answered by the module in Node.js.
    async with local_pages() as pages, link_preview(platform):
        await r.call("POST", "/v1/link-previews", token, {"url": pages.url("/article")})

    # Erasure, last.
    await r.call("POST", "/v1/auth/logout", admin_token)
    status, last = await people.log_in(phone, "a third long secret")
    assert status == 200
    await r.call("DELETE", "/v1/me", last["access_token"], {"password": "a third long secret"})

    seen = {
        (method, route.split("?")[0]): positions for (method, route), positions in r.seen.items()
    }
    table = {
        (rt.method, rt.path)
        for rt in all_routes()
        if rt.method in COMMAND_METHODS and rt.writes and (rt.method, rt.path) not in BYTE_TRANSFERS
    }
    assert table - set(seen) == set(), "command routes this walk never exercised"
    for key, positions in seen.items():
        for position in positions:
            assert position, f"{key} answered without Quark-Position"
            parse_position(position)  # a real position, not an empty header
