"""`/media/{key}` through the edge: caching headers, ranges, conditional requests, and who
may read what (private media: the owner, or a signed link that expires)."""

from __future__ import annotations

import time

import aiohttp
from multidict import CIMultiDict

from edge import delivery
from tests.support.identity import IdentityClient
from tests.support.media import media_view, photo, picture, ready, upload
from tests.support.platform import Platform


async def _get(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, bytes, dict]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.read(), CIMultiDict(resp.headers)


async def _avatar(client: IdentityClient, token: str, media_id: str) -> str:
    status, changed = await client.call("PATCH", "/v1/me", token, {"avatar_media_id": media_id})
    assert status == 200, changed
    return changed["position"]


async def test_public_media_is_served_like_a_cdn(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    status, accepted, _ = await upload(client.http, token, photo(900, 600))
    assert status == 202, accepted
    await ready(client.http, platform.infra, token, accepted["id"])
    position = await _avatar(client, token, accepted["id"])  # avatars are public
    status, view = await media_view(client.http, None, accepted["id"], position)
    assert status == 200, view  # now anyone may see it
    variant = view["variants"]["320"]
    url = variant["url"]
    assert "sig=" not in url and url.startswith("/media/")

    status, body, headers = await _get(client.http, url)
    assert status == 200 and len(body) == variant["size"]
    assert headers["Content-Type"] == "image/webp"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["Content-Disposition"].startswith("inline")
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Request-Id"]  # on streamed answers too
    etag = headers["ETag"]

    status, again, headers = await _get(client.http, url, **{"If-None-Match": etag})
    assert status == 304 and again == b"" and headers["ETag"] == etag
    status, part, headers = await _get(client.http, url, Range="bytes=0-9")
    assert status == 206 and part == body[:10]
    assert headers["Content-Range"] == f"bytes 0-9/{len(body)}"
    status, tail, _ = await _get(client.http, url, Range="bytes=-5")
    assert status == 206 and tail == body[-5:]
    status, _, headers = await _get(client.http, url, Range=f"bytes={len(body)}-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(body)}"
    async with client.http.head(url) as resp:
        assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(body)
        assert await resp.read() == b""

    status, _, _ = await _get(client.http, url.replace("320.webp", "999.webp"))
    assert status == 404


async def test_private_media_needs_its_owner_or_a_signed_link(
    client: IdentityClient, platform: Platform
) -> None:
    owner = (await client.sign_up())["access_token"]
    stranger = (await client.sign_up())["access_token"]
    status, accepted, _ = await upload(client.http, owner, picture("PNG", 400, 300))
    assert status == 202, accepted
    view = await ready(client.http, platform.infra, owner, accepted["id"])
    signed = view["variants"]["320"]["url"]
    path, _, query = signed.partition("?")
    assert "sig=" in query

    # A stranger learns nothing: the media and its objects do not exist for them.
    status, _ = await media_view(client.http, stranger, accepted["id"])
    assert status == 404
    for headers in ({}, {"Authorization": f"Bearer {stranger}"}):
        status, _, _ = await _get(client.http, path, **headers)
        assert status == 404
    # The owner reads it with their token; anyone reads it with the signed link.
    status, _, _ = await _get(client.http, path, Authorization=f"Bearer {owner}")
    assert status == 200
    status, body, headers = await _get(client.http, signed)
    assert status == 200 and body
    assert "public" not in headers["Cache-Control"] and "immutable" not in headers["Cache-Control"]
    # A tampered or borrowed signature is no signature: 404.
    tampered = signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB")
    status, _, _ = await _get(client.http, tampered)
    assert status == 404
    other_key = path.replace("/320.webp", "/1080.webp")
    status, _, _ = await _get(client.http, f"{other_key}?{query}")
    assert status == 404
    # An expired link is refused as expired.
    key = path.removeprefix("/media/")
    expired = delivery.signed_query(platform.infra.secret_key, key, int(time.time()) - 1)
    status, body, headers = await _get(client.http, f"{path}?{expired}")
    assert status == 403, body
    assert headers["Content-Type"].startswith("application/problem+json")


async def test_an_avatar_must_be_my_own_ready_image(
    client: IdentityClient, platform: Platform
) -> None:
    me = (await client.sign_up())["access_token"]
    other = (await client.sign_up())["access_token"]
    status, theirs, _ = await upload(client.http, other, picture("PNG", 64, 64))
    await ready(client.http, platform.infra, other, theirs["id"])
    status, problem = await client.call("PATCH", "/v1/me", me, {"avatar_media_id": theirs["id"]})
    assert status == 404 and problem["type"] == "quark:media-not-found"

    pdf = b"%PDF-1.4\n%%EOF\n"
    status, doc, _ = await upload(client.http, me, pdf)
    await ready(client.http, platform.infra, me, doc["id"])
    status, problem = await client.call("PATCH", "/v1/me", me, {"avatar_media_id": doc["id"]})
    assert status == 422 and problem["type"] == "quark:not-an-image"

    status, mine, _ = await upload(client.http, me, picture("PNG", 64, 64))
    await ready(client.http, platform.infra, me, mine["id"])
    position = await _avatar(client, me, mine["id"])
    status, profile = await client.get("/v1/me", me, **{"Quark-After": position})
    assert profile["avatar_media_id"] == mine["id"]
