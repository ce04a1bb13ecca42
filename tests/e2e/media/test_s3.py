"""The platform with its media in S3 (a real S3-protocol server the tests start): uploads,
presigned direct uploads, redirect delivery, and erasure leaving no byte in the bucket."""

from __future__ import annotations

import secrets

import aiohttp
import pytest

from core.settings import Settings
from handlers.media.events import MediaPurged
from tests.e2e.media.test_direct_uploads import put, reserve
from tests.support.identity import PASSWORD, IdentityClient
from tests.support.log import next_event
from tests.support.media import photo, picture, ready, upload
from tests.support.platform import Platform


@pytest.fixture(params=["stream", "redirect"])
def settings(settings: Settings, s3_server: str, request: pytest.FixtureRequest) -> Settings:
    return settings.with_(
        s3_endpoint=s3_server,
        s3_access_key="test-access",
        s3_secret_key="test-secret",
        s3_bucket=f"quark-{secrets.token_hex(4)}",
        s3_region="us-east-1",
        s3_secure=False,
        media_delivery=request.param,
    )


async def _bucket(platform: Platform) -> list[str]:
    blobs = await platform.infra.blobstore()
    return [key async for key in blobs.keys("")]


async def test_media_in_s3_from_upload_to_erasure(
    client: IdentityClient, platform: Platform, settings: Settings
) -> None:
    me = await client.sign_up()
    token = me["access_token"]
    assert type(await platform.infra.blobstore()).__name__ == "S3BlobStore"
    status, accepted, _ = await upload(client.http, token, photo(800, 600, gps=True))
    assert status == 202, accepted
    view = await ready(client.http, platform.infra, token, accepted["id"])
    assert sorted(view["variants"]) == ["1080", "320", "64", "original"]
    stored = await _bucket(platform)
    assert len(stored) == 4 and all(
        k.startswith(view["variants"]["64"]["url"].split("/")[2]) for k in stored
    )

    # Delivery: through the edge, or a redirect to the store's own short-lived URL.
    url = view["variants"]["320"]["url"]
    async with client.http.get(url, allow_redirects=False) as resp:
        if settings.media_delivery == "redirect":
            assert resp.status == 302
            location = resp.headers["Location"]
            assert "X-Amz-Signature" in location and settings.s3_endpoint in location
        else:
            assert resp.status == 200
            location = None
            body = await resp.read()
    if location:
        async with aiohttp.ClientSession() as http, http.get(location) as resp:
            assert resp.status == 200
            body = await resp.read()
    assert len(body) == view["variants"]["320"]["size"]

    # A direct upload goes straight to the bucket through a presigned URL.
    data = picture("PNG", 300, 200)
    status, grant = await reserve(client, token, len(data), "image/png")
    assert status == 201, grant
    assert "X-Amz-Signature" in grant["url"]
    assert await put(grant["url"], data, grant["headers"]) == 200
    async with client.http.post(
        f"/v1/media/uploads/{grant['id']}/complete", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 202, await resp.text()
    direct = await ready(client.http, platform.infra, token, grant["id"])
    assert (direct["width"], direct["height"]) == (300, 200)

    # Erasure: no byte of this person's uploads remains in the bucket.
    async with client.http.delete(
        "/v1/me", json={"password": PASSWORD}, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 204
    for media_id in (accepted["id"], grant["id"]):
        await next_event(platform.infra, "MEDIA", f"ev.media.upload.{media_id}", MediaPurged)
    assert await _bucket(platform) == []
