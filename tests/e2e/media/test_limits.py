"""Upload limits per person through the perks table: uploads per hour (429), bytes per file
and storage in use (413); VIP larger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import perks
from tests.support.identity import IdentityClient, WithRole
from tests.support.media import ready, upload
from tests.support.platform import Platform

MIB = 1024 * 1024


def _pdf(size: int) -> bytes:
    head = b"%PDF-1.4\n"
    return head + b"0" * (size - len(head))


async def test_uploads_per_hour_are_limited(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    allowed = perks.STANDARD["uploads_per_hour"]
    for _ in range(allowed):
        # Refused uploads count too: each cost a transfer and a check.
        status, _, headers = await upload(client.http, token, b"")
        assert status == 415 and "RateLimit-Remaining" in headers
    status, problem, headers = await upload(client.http, token, _pdf(1000))
    assert status == 429 and problem["type"] == "quark:rate-limited"
    assert int(headers["Retry-After"]) > 0


async def test_storage_in_use_is_limited(
    client: IdentityClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(perks.STANDARD, "storage_mb", 1)
    token = (await client.sign_up())["access_token"]
    status, first, _ = await upload(client.http, token, _pdf(700 * 1024))
    assert status == 202, first
    await ready(client.http, platform.infra, token, first["id"])
    status, problem, _ = await upload(client.http, token, _pdf(400 * 1024))
    assert status == 413 and problem["type"] == "quark:storage-quota-exceeded", problem
    # Deleting frees the room again.
    status, deleted = await client.call("DELETE", f"/v1/media/{first['id']}", token)
    assert status == 200
    async with client.http.post(
        "/v1/media",
        data=_pdf(400 * 1024),
        headers={"Authorization": f"Bearer {token}", "Quark-After": deleted["position"]},
    ) as resp:
        assert resp.status == 202, await resp.text()


async def test_vip_uploads_larger_files(
    client: IdentityClient, platform: Platform, with_role: WithRole
) -> None:
    admin = (await with_role("admin"))["access_token"]
    person = await client.sign_up()
    big = _pdf(perks.STANDARD["upload_limit_mb"] * MIB + 1)
    status, problem, _ = await upload(client.http, person["access_token"], big)
    assert status == 413 and problem["type"] == "quark:media-too-large"
    until = datetime.now(UTC) + timedelta(days=1)
    status, granted = await client.call(
        "POST",
        f"/v1/admin/users/{person['user_id']}/vip",
        admin,
        {"until": until.isoformat(), "reason": "test"},
    )
    assert status == 200, granted
    await platform.wait("profiles", granted["position"])
    status, accepted, _ = await upload(client.http, person["access_token"], big)
    assert status == 202, accepted
