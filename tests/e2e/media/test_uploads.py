"""Uploads through HTTP, processed by the real worker: variants with the right sizes, no
metadata left, upright images; refusals that store nothing."""

from __future__ import annotations

import asyncio
import io
import select
import socket
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from PIL import Image

from core.settings import Settings
from tests.support.identity import IdentityClient
from tests.support.media import (
    animated_gif,
    media_view,
    photo,
    picture,
    png_bomb,
    ready,
    upload,
)
from tests.support.platform import Platform

LONG_SIDES = {"64": 64, "320": 320, "1080": 1080}


async def _stored_keys(platform: Platform) -> list[str]:
    blobs = await platform.infra.blobstore()
    return [key async for key in blobs.keys("")]


async def _fetch(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, bytes, dict]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.read(), CIMultiDict(resp.headers)


def _check_variants(view: dict, width: int, height: int) -> None:
    """Every WebP variant fits its long side, keeps the aspect ratio, is never upscaled."""
    assert view["width"] == width and view["height"] == height
    for name, side in LONG_SIDES.items():
        variant = view["variants"][name]
        assert variant["type"] == "image/webp", variant
        expected_long = min(side, max(width, height))
        assert max(variant["width"], variant["height"]) == expected_long, (name, variant)
        assert abs(variant["width"] / variant["height"] - width / height) < 0.05, variant


async def test_a_photo_comes_out_upright_with_no_location_in_any_variant(
    client: IdentityClient, platform: Platform
) -> None:
    me = await client.sign_up()
    token = me["access_token"]
    source = photo(400, 200, orientation=6, gps=True)
    assert b"Exif" in source  # the test's own premise: the upload carries EXIF

    status, accepted, headers = await upload(client.http, token, source, content_type="image/jpeg")
    assert status == 202, accepted
    assert (
        accepted["status"] == "processing" and headers["Location"] == f"/v1/media/{accepted['id']}"
    )
    view = await ready(client.http, platform.infra, token, accepted["id"])
    assert view["status"] == "ready" and view["type"] == "image/jpeg"
    assert view["size"] == len(source) and view["blurhash"]
    # Orientation 6 is applied: 400x200 stored sideways is 200x400 upright.
    _check_variants(view, 200, 400)

    for name, variant in view["variants"].items():
        status, body, _ = await _fetch(client.http, variant["url"])
        assert status == 200, (name, body[:200])
        assert len(body) == variant["size"]
        image = Image.open(io.BytesIO(body))
        assert (image.width, image.height) == (variant["width"], variant["height"])
        assert not image.getexif(), (name, dict(image.getexif()))
        assert b"Exif" not in body and b"GPS" not in body and b"taken at home" not in body
        assert "xmp" not in image.info and "comment" not in image.info
        # Upright: the red quarter (top left as stored) is now at the top right.
        rgb = image.convert("RGB")
        top_right = rgb.getpixel((rgb.width * 3 // 4, rgb.height // 8))
        top_left = rgb.getpixel((rgb.width // 4, rgb.height // 8))
        assert top_right[0] > 200 and top_right[2] < 60, (name, top_right)
        assert top_left[2] > 200 and top_left[0] < 60, (name, top_left)


@pytest.mark.parametrize(
    ("fmt", "media_type", "size", "options"),
    [
        ("PNG", "image/png", (1600, 900), {}),
        ("WEBP", "image/webp", (700, 1400), {"quality": 80}),
        ("JPEG", "image/jpeg", (4000, 3000), {"quality": 85}),
    ],
)
async def test_pictures_get_their_variants(
    client: IdentityClient,
    platform: Platform,
    fmt: str,
    media_type: str,
    size: tuple[int, int],
    options: dict,
) -> None:
    token = (await client.sign_up())["access_token"]
    data = picture(fmt, *size, **options)
    status, accepted, _ = await upload(
        client.http, token, data, multipart=True, filename="whatever.bin", content_type=media_type
    )
    assert status == 202, accepted
    view = await ready(client.http, platform.infra, token, accepted["id"])
    assert view["type"] == media_type
    # The original is capped at 3840x2160 (4000x3000 fits as 2880x2160).
    width, height = size
    scale = min(1.0, 3840 / width, 2160 / height)
    _check_variants(view, round(width * scale), round(height * scale))
    original = view["variants"]["original"]
    assert (original["width"], original["height"]) == (view["width"], view["height"])
    status, body, _ = await _fetch(client.http, original["url"])
    assert status == 200 and Image.open(io.BytesIO(body)).format == fmt


async def test_an_animated_gif_and_a_pdf(client: IdentityClient, platform: Platform) -> None:
    token = (await client.sign_up())["access_token"]
    status, gif, _ = await upload(client.http, token, animated_gif(300, 150))
    assert status == 202, gif
    view = await ready(client.http, platform.infra, token, gif["id"])
    assert view["type"] == "image/png"  # an animation becomes a still of its first frame
    _check_variants(view, 300, 150)

    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    status, doc, _ = await upload(client.http, token, pdf, content_type="application/pdf")
    assert status == 202, doc
    view = await ready(client.http, platform.infra, token, doc["id"])
    assert view["type"] == "application/pdf" and list(view["variants"]) == ["original"]
    status, body, headers = await _fetch(client.http, view["variants"]["original"]["url"])
    assert status == 200 and body == pdf
    assert headers["Content-Disposition"].startswith("attachment")


async def test_alt_text_from_the_form_and_by_patch(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    status, accepted, _ = await upload(
        client.http, token, picture("PNG", 50, 40), multipart=True, description="A green field"
    )
    assert status == 202, accepted
    view = await ready(client.http, platform.infra, token, accepted["id"])
    assert view["description"] == "A green field"
    status, changed = await client.call(
        "PATCH", f"/v1/media/{accepted['id']}", token, {"description": "A yellow square"}
    )
    assert status == 200, changed
    status, view = await media_view(client.http, token, accepted["id"], changed["position"])
    assert view["description"] == "A yellow square"
    # Nobody else may describe it (it does not exist for them).
    other = (await client.sign_up())["access_token"]
    status, problem = await client.call(
        "PATCH", f"/v1/media/{accepted['id']}", other, {"description": "mine now"}
    )
    assert status == 404 and problem["type"] == "quark:media-not-found"


async def test_the_same_idempotency_key_names_the_same_upload(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    data = picture("PNG", 64, 64)
    key = {"Idempotency-Key": "upload-1"}
    first = await upload(client.http, token, data, content_type="image/png", headers=key)
    second = await upload(client.http, token, data, content_type="image/png", headers=key)
    assert first[0] == second[0] == 202
    assert first[1]["id"] == second[1]["id"]
    assert second[2].get("Idempotent-Replayed") == "true"
    await ready(client.http, platform.infra, token, first[1]["id"])


# -- refusals: a problem document, and nothing stored ------------------------------------

EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(
    ("data", "content_type", "filename", "status", "problem"),
    [
        (EXECUTABLE, "image/png", "cat.png", 415, "unsupported-content"),
        (SVG, "image/svg+xml", "logo.svg", 415, "unsupported-content"),
        (HTML, "image/jpeg", "photo.jpg", 415, "unsupported-content"),
        (picture("PNG", 10, 10), "image/jpeg", "photo.jpg", 415, "type-mismatch"),
        (png_bomb, "image/png", "bomb.png", 422, "image-too-large"),
        (b"", "image/png", "empty.png", 415, "unsupported-content"),
    ],
    ids=[
        "renamed-executable",
        "svg-with-script",
        "html-as-jpg",
        "wrong-declared-type",
        "png-bomb",
        "empty",
    ],
)
async def test_refused_uploads_leave_nothing(
    client: IdentityClient,
    platform: Platform,
    data: Any,
    content_type: str,
    filename: str,
    status: int,
    problem: str,
) -> None:
    token = (await client.sign_up())["access_token"]
    if callable(data):
        data = data()  # built when the test runs, not when it is collected
    for multipart in (False, True):
        got, body, headers = await upload(
            client.http,
            token,
            data,
            content_type=content_type,
            multipart=multipart,
            filename=filename,
        )
        assert got == status, body
        assert headers["Content-Type"].startswith("application/problem+json")
        assert body["type"] == f"quark:{problem}"
        assert "<script>" not in str(body)  # the upload is never reflected back
    assert await _stored_keys(platform) == []


async def test_a_truncated_jpeg_fails_with_a_reason_and_its_bytes_go(
    client: IdentityClient, platform: Platform
) -> None:
    token = (await client.sign_up())["access_token"]
    whole = picture("JPEG", 800, 600, quality=90)
    status, accepted, _ = await upload(client.http, token, whole[: len(whole) // 2])
    assert status == 202, accepted  # its header is fine: only decoding finds the damage
    view = await ready(client.http, platform.infra, token, accepted["id"])
    assert view["status"] == "failed" and view["variants"] == {}
    assert view["problem"] == "quark:damaged-media"
    assert "truncated" in view["reason"] or "damaged" in view["reason"], view["reason"]
    assert await _stored_keys(platform) == []


def _answer_while_sending(port: int, head: bytes, chunks: int, chunk: bytes) -> tuple[bytes, int]:
    """Send `head`, then up to `chunks` chunked-encoding chunks, stopping as soon as the
    server answers: (the answer, bytes of body sent)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)
    sent = 0
    try:
        sock.sendall(head)
        for _ in range(chunks):
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break  # the server stopped reading: the limit was passed
            sent += len(chunk)
        return sock.recv(65536), sent
    finally:
        sock.close()


async def test_a_body_over_the_limit_is_refused_before_it_is_all_read(
    client: IdentityClient, platform: Platform, settings: Settings
) -> None:
    token = (await client.sign_up())["access_token"]
    limit = 20 * 1024 * 1024  # the standard perk
    auth = f"Authorization: Bearer {token}\r\nContent-Type: image/png\r\n"
    # Declared too large: refused from the headers alone, no byte of the body sent.
    head = f"POST /v1/media HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {limit + 1}\r\n\r\n"
    answer, _ = await asyncio.to_thread(
        _answer_while_sending, settings.http_port, head.encode(), 0, b""
    )
    assert answer.startswith(b"HTTP/1.1 413") and b"quark:media-too-large" in answer, answer

    # Streamed without a length: the answer comes while the client is still sending.
    head = f"POST /v1/media HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
    chunk = picture("PNG", 8, 8) + bytes(1024 * 1024)
    answer, sent = await asyncio.to_thread(
        _answer_while_sending, settings.http_port, head.encode(), 200, chunk
    )
    assert answer.startswith(b"HTTP/1.1 413") and b"quark:media-too-large" in answer, answer
    assert limit < sent < 200 * len(chunk)  # 200 MiB offered, refused after about 20
    assert await _stored_keys(platform) == []
