"""Direct uploads (`POST /v1/media/uploads` → PUT to the URL → complete) with the local
store, where the edge itself takes the bytes behind a signed link. The S3 flavour, with
the object store's presigned URL, is in test_s3.py."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.identity import IdentityClient
from tests.support.media import media_view, picture, ready
from tests.support.platform import Platform


async def reserve(
    client: IdentityClient, token: str, size: int, media_type: str, **headers: str
) -> tuple[int, Any]:
    async with client.http.post(
        "/v1/media/uploads",
        json={"size": size, "type": media_type},
        headers={"Authorization": f"Bearer {token}", **headers},
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def put(url: str, data: bytes, headers: dict[str, str]) -> int:
    # A client of its own: the URL may be another host (the object store).
    async with aiohttp.ClientSession() as http, http.put(url, data=data, headers=headers) as resp:
        return resp.status


async def _keys(platform: Platform) -> list[str]:
    blobs = await platform.infra.blobstore()
    return [key async for key in blobs.keys("")]


async def test_a_direct_upload_is_checked_like_a_streamed_one(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    data = picture("PNG", 640, 480)
    status, grant = await reserve(client, token, len(data), "image/png")
    assert status == 201, grant
    assert grant["method"] == "PUT" and grant["headers"] == {"Content-Type": "image/png"}
    status, view = await media_view(client.http, token, grant["id"], grant["position"])
    assert status == 200 and view["status"] == "uploading"

    async with client.http.post(
        f"/v1/media/uploads/{grant['id']}/complete", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 409  # nothing uploaded yet
    assert await put(grant["url"], data, grant["headers"]) == 204
    async with client.http.post(
        f"/v1/media/uploads/{grant['id']}/complete", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 202, await resp.text()
    view = await ready(client.http, platform.infra, token, grant["id"])
    assert view["status"] == "ready" and (view["width"], view["height"]) == (640, 480)
    assert not [k for k in await _keys(platform) if k.startswith("uploads/")]
    # Completing again answers like the first time.
    async with client.http.post(
        f"/v1/media/uploads/{grant['id']}/complete", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 202


async def test_a_direct_upload_of_the_wrong_type_is_refused_and_deleted(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    data = picture("PNG", 64, 64)
    status, grant = await reserve(client, token, len(data), "image/jpeg")
    assert status == 201, grant
    assert await put(grant["url"], data, grant["headers"]) == 204
    async with client.http.post(
        f"/v1/media/uploads/{grant['id']}/complete", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        problem = await resp.json()
        assert resp.status == 415 and problem["type"] == "quark:type-mismatch"
    assert await _keys(platform) == []
    status, view = await media_view(
        client.http, token, grant["id"], resp.headers.get("Quark-Position")
    )
    assert status == 200 and view["status"] == "failed" and "image/png" in view["reason"]
    assert view["problem"] == "quark:type-mismatch"


async def test_direct_upload_links_are_bounded_and_unforgeable(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    status, grant = await reserve(client, token, 100, "image/png")
    assert status == 201
    assert await put(grant["url"], b"x" * 101, grant["headers"]) == 413  # over the reserved size
    forged = grant["url"].replace("token=", "token=x")
    assert await put(forged, b"x" * 10, grant["headers"]) == 404
    status, other = await reserve(client, token, 100, "image/png")
    # One upload's link does not open another's.
    stolen = other["url"].split("?")[0] + "?" + grant["url"].split("?")[1]
    assert await put(stolen, b"x" * 10, grant["headers"]) == 404
    # A stranger cannot complete my upload, nor see it.
    stranger = (await client.sign_up())["access_token"]
    async with client.http.post(
        f"/v1/media/uploads/{grant['id']}/complete",
        headers={"Authorization": f"Bearer {stranger}"},
    ) as resp:
        assert resp.status == 404

    for body, expected in (
        ({"size": 10, "type": "image/svg+xml"}, 415),
        ({"size": 10, "type": "text/html"}, 415),
        ({"size": 300 * 1024 * 1024, "type": "image/png"}, 413),
        ({"size": 0, "type": "image/png"}, 422),
    ):
        async with client.http.post(
            "/v1/media/uploads", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == expected, (body, await resp.text())
    assert await _keys(platform) == []
