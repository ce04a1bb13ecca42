"""The right to be forgotten, end to end: export, erase, replay every read model, then look
for the person's phone, name and handle in clear anywhere — the log, every read model,
Redis. Nothing may be found."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from core.settings import Settings
from handlers.media.events import MediaPurged
from handlers.profiles.events import HandleReleased
from tests.support.cli import run_quark, use_settings
from tests.support.identity import PASSWORD, IdentityClient, new_phone
from tests.support.log import head_position, next_event, stored_messages, stream_head
from tests.support.media import photo, ready, upload
from tests.support.platform import Platform

NAME = "Zebediah Quarkowski"
HANDLE = "zebediah_q"


async def _everything_in_the_log(platform: Platform) -> list[str]:
    blobs = []
    for info in await platform.infra.nc.jetstream().streams_info():
        name = info.config.name
        for msg in await stored_messages(platform.infra, name):
            blobs.append(
                f"{name} {msg.subject} {msg.headers} {(msg.data or b'').decode('latin-1')}"
            )
    # The person's own events are there to be searched (a scan of nothing proves nothing).
    for stream in ("ACCOUNTS", "PEOPLE", "CONTENT"):
        assert any(blob.startswith(f"{stream} ") for blob in blobs), stream
    return blobs


async def _everything_in_the_read_models(platform: Platform) -> list[str]:
    blobs = []
    async with platform.infra.pool.acquire() as conn:
        tables = await conn.fetch(
            """SELECT table_schema, table_name FROM information_schema.tables
               WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                 AND table_type = 'BASE TABLE'"""
        )
        for t in tables:
            rows = await conn.fetch(f'SELECT * FROM "{t[0]}"."{t[1]}"')
            blobs.append(
                f"{t[0]}.{t[1]} "
                + msgspec.json.encode([dict(r) for r in rows], enc_hook=str).decode()
            )
    redis = platform.infra.redis
    async for key in redis.scan_iter(match=f"{platform.infra.settings.redis_prefix}*"):
        kind = (await redis.type(key)).decode()
        value: Any = None
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        blobs.append(f"redis {key!r} {value!r}")
    return blobs


async def test_an_erased_person_is_found_nowhere_even_after_a_replay(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    phone = new_phone()
    person = await client.sign_up(phone, name=NAME)
    token = person["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with client.http.patch(
        "/v1/me", json={"handle": HANDLE, "bio": f"I am {NAME}."}, headers=headers
    ) as resp:
        assert resp.status == 200
    status, post, _ = await client.post("/v1/posts", {"title": "hello", "body": "world"}, token)
    assert status == 201
    await platform.wait("posts", post["position"])
    status, media, _ = await upload(client.http, token, photo(300, 200, gps=True))
    assert status == 202, media
    await ready(client.http, platform.infra, token, media["id"])
    blobs = await platform.infra.blobstore()
    assert [key async for key in blobs.keys("")]  # the premise: their bytes are stored

    # Export first: everything, the phone included.
    await platform.wait("profiles", await head_position(platform.infra, "ACCOUNTS"))
    async with client.http.get("/v1/me/export", headers=headers) as resp:
        assert resp.status == 200
        assert "attachment" in resp.headers["Content-Disposition"]
        export = await resp.json()
    assert export["account"]["phone"] == phone
    assert export["profile"]["display_name"] == NAME and export["profile"]["handle"] == HANDLE
    assert [p["id"] for p in export["posts"]] == [post["id"]]
    assert export["sessions"] and export["security_log"]

    # Erase: the password is required.
    async with client.http.delete(
        "/v1/me", json={"password": "not my password"}, headers=headers
    ) as resp:
        assert resp.status == 403
    before_erasure = await stream_head(platform.infra, "PEOPLE")
    async with client.http.delete("/v1/me", json={"password": PASSWORD}, headers=headers) as resp:
        assert resp.status == 204
    status, _ = await client.get("/v1/me", token)
    assert status == 401  # the session ended with the account
    status, _ = await client.log_in(phone)
    assert status == 401
    status, _ = await client.get(f"/v1/users/{HANDLE}")
    assert status == 404
    # Their media goes with them, bytes and all (a reaction of the media context).
    await next_event(platform.infra, "MEDIA", f"ev.media.upload.{media['id']}", MediaPurged)
    assert [key async for key in blobs.keys("")] == []

    # Every read model rebuilt from the log: still nothing.
    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "--all") == 0
    digits = phone.lstrip("+")
    needles = (digits, NAME, "Zebediah", "Quarkowski", HANDLE)
    for blob in await _everything_in_the_log(platform) + await _everything_in_the_read_models(
        platform
    ):
        for needle in needles:
            assert needle not in blob, (needle, blob[:300])

    # The profile reads "deleted account"; the post stays, its author is an id.
    async with platform.infra.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT display_name, handle FROM profiles.profiles WHERE user_id = $1::uuid",
            person["user_id"],
        )
    assert (row["display_name"], row["handle"]) == ("deleted account", None)
    status, still = await client.get(f"/v1/posts/{post['id']}")
    assert status == 200 and still["author_id"] == person["user_id"]

    # The number is free again: a new person can sign up with it.
    again = await client.sign_up(phone, name="Someone New")
    assert again["user_id"] != person["user_id"]
    # The handle is released too (a reaction of the profiles context, moments later): like
    # any released handle it cools off first, instead of staying taken by nobody.
    await next_event(
        platform.infra, "PEOPLE", "ev.profiles.handle.>", HandleReleased, after=before_erasure
    )
    headers = {"Authorization": f"Bearer {again['access_token']}"}
    async with client.http.patch("/v1/me", json={"handle": HANDLE}, headers=headers) as resp:
        assert (await resp.json())["type"] == "quark:handle-cooling-off"


async def test_erasure_with_two_factor_needs_a_code(client: IdentityClient) -> None:
    import pyotp

    person = await client.sign_up()
    token = person["access_token"]
    status, setup, _ = await client.post("/v1/auth/2fa/setup", token=token)
    totp = pyotp.TOTP(setup["secret"])
    status, enabled, _ = await client.post("/v1/auth/2fa/enable", {"code": totp.now()}, token)
    assert status == 200
    headers = {"Authorization": f"Bearer {token}"}
    async with client.http.delete("/v1/me", json={"password": PASSWORD}, headers=headers) as resp:
        assert resp.status == 401 and (await resp.json())["type"] == "quark:invalid-code"
    body = {"password": PASSWORD, "code": enabled["recovery_codes"][0]}
    async with client.http.delete("/v1/me", json=body, headers=headers) as resp:
        assert resp.status == 204
