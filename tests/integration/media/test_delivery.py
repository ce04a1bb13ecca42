"""Media delivery as a browser, a CDN and a video player see it: through real HTTP, from both
blob store backends (a local directory and S3 against moto's server), with the edge's own
`problems` middleware turning errors into problem documents."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from core.blobstore import CHUNK, Blob, BlobStore, LocalBlobStore
from edge.app import problems
from edge.delivery import (
    PUBLIC_CACHE,
    SignatureCheck,
    check_signature,
    etag_of,
    require_signature,
    serve_blob,
    signed_query,
)
from edge.problems import PROBLEM_TYPE

SECRET = b"delivery-test-secret"
#: More than two read chunks, so a full answer is streamed in several writes.
#: Arbitrary bytes, the same in every process: test ids name their keys, and parallel
#: workers must collect the same tests.
_BYTES = random.Random(20261202)
IMAGE = _BYTES.randbytes(2 * CHUNK + 1234)
PDF = b"%PDF-1.7\n" + _BYTES.randbytes(5000)
SHA = hashlib.sha256(IMAGE).hexdigest()
IMAGE_KEY = f"{SHA}/original.jpg"
VARIANT_KEY = f"{SHA}/320.webp"
PDF_KEY = f"{hashlib.sha256(PDF).hexdigest()}/original.pdf"
SIZE = len(IMAGE)


@dataclass
class Recording(BlobStore):
    """The store under test, with every read it is asked for written down (which bytes the
    edge fetched) and, on demand, a read that breaks after its first chunk or a stat that
    finds what is not there."""

    inner: BlobStore
    reads: list[tuple[str, int, int | None]] = field(default_factory=list)
    break_after_first_chunk: bool = False
    stat_finds_anything: bool = False

    async def put_file(self, key, path, content_type=None):  # type: ignore[no-untyped-def]
        return await self.inner.put_file(key, path, content_type)

    async def stat(self, key: str) -> Blob | None:
        if self.stat_finds_anything:
            return Blob(key, 10, "image/jpeg")
        return await self.inner.stat(key)

    async def read(self, key: str, start: int = 0, end: int | None = None):  # type: ignore[override]
        self.reads.append((key, start, end))
        async for n, chunk in _enumerate(self.inner.read(key, start, end)):
            if n == 1 and self.break_after_first_chunk:
                raise OSError("the object store went away")
            yield chunk

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    def keys(self, prefix: str = ""):  # type: ignore[no-untyped-def]
        return self.inner.keys(prefix)

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        return self.inner.presigned_get(key, expires)


async def _enumerate(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    n = 0
    async for chunk in chunks:
        yield n, chunk
        n += 1


@dataclass
class Edge:
    client: TestClient
    store: Recording


@pytest.fixture
async def edge(store: BlobStore) -> AsyncIterator[Edge]:
    """A tiny edge over `store`: public media, private media behind signed links, and public
    media redirected to the store when it can sign URLs."""
    await store.put_bytes(IMAGE_KEY, IMAGE)
    await store.put_bytes(VARIANT_KEY, IMAGE[:4000])
    await store.put_bytes(PDF_KEY, PDF)
    recording = Recording(store)

    async def public(request: web.Request) -> web.StreamResponse:
        return await serve_blob(request, recording, request.match_info["key"], public=True)

    async def private(request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        require_signature(SECRET, key, request.query, time.time())
        return await serve_blob(request, recording, key, public=False)

    async def redirected(request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        return await serve_blob(request, recording, key, public=True, redirect_to_store=True)

    app = web.Application(middlewares=[problems])
    app.router.add_get("/media/{key:.+}", public)
    app.router.add_get("/private/{key:.+}", private)
    app.router.add_get("/redirect/{key:.+}", redirected)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Edge(client, recording)
    finally:
        await client.close()


async def test_an_image_is_served_whole_with_every_delivery_header(edge: Edge) -> None:
    resp = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"Accept-Encoding": "gzip, br"})
    assert resp.status == 200
    assert await resp.read() == IMAGE
    h = resp.headers
    assert h["Content-Type"] == "image/jpeg"
    assert h["Content-Length"] == str(SIZE)
    assert h["ETag"] == etag_of(IMAGE_KEY) and h["ETag"].startswith('"')
    assert h["Cache-Control"] == "public, max-age=31536000, immutable"
    assert h["Accept-Ranges"] == "bytes"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert h["Content-Disposition"] == 'inline; filename="original.jpg"'
    assert h["Cross-Origin-Resource-Policy"] == "cross-origin"
    # Framed by its length, never re-encoded: a cache stores exactly the object's bytes.
    assert "Transfer-Encoding" not in h and "Content-Encoding" not in h
    assert edge.store.reads == [(IMAGE_KEY, 0, SIZE)]


async def test_the_etag_names_the_key_the_same_on_every_backend() -> None:
    assert etag_of(IMAGE_KEY) == etag_of(IMAGE_KEY) != etag_of(VARIANT_KEY)


async def test_head_answers_the_headers_without_the_bytes_or_a_read(edge: Edge) -> None:
    resp = await edge.client.head(f"/media/{IMAGE_KEY}")
    assert resp.status == 200
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.headers["ETag"] == etag_of(IMAGE_KEY)
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert await resp.read() == b""
    assert edge.store.reads == []


async def test_head_ignores_a_range(edge: Edge) -> None:
    resp = await edge.client.head(f"/media/{IMAGE_KEY}", headers={"Range": "bytes=0-9"})
    assert resp.status == 200 and resp.headers["Content-Length"] == str(SIZE)


@pytest.mark.parametrize(
    "if_none_match",
    [
        etag_of(IMAGE_KEY),
        f"W/{etag_of(IMAGE_KEY)}",  # weak comparison (RFC 9110 §13.1.2)
        f'"other", {etag_of(IMAGE_KEY)}',
        "*",
    ],
    # The image is random: ids that do not name its tag keep collection the same everywhere.
    ids=["strong", "weak", "list", "any"],
)
async def test_a_matching_if_none_match_is_not_modified(edge: Edge, if_none_match: str) -> None:
    resp = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"If-None-Match": if_none_match})
    assert resp.status == 304
    assert resp.headers["ETag"] == etag_of(IMAGE_KEY)
    assert resp.headers["Cache-Control"] == PUBLIC_CACHE
    assert await resp.read() == b""
    assert edge.store.reads == []


async def test_a_head_with_a_matching_if_none_match_is_not_modified(edge: Edge) -> None:
    resp = await edge.client.head(
        f"/media/{IMAGE_KEY}", headers={"If-None-Match": etag_of(IMAGE_KEY)}
    )
    assert resp.status == 304


async def test_another_if_none_match_gets_the_object(edge: Edge) -> None:
    resp = await edge.client.get(
        f"/media/{IMAGE_KEY}", headers={"If-None-Match": f'"nope", {etag_of(VARIANT_KEY)}'}
    )
    assert resp.status == 200 and await resp.read() == IMAGE


async def test_an_if_match_that_fails_is_a_failed_precondition(edge: Edge) -> None:
    resp = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"If-Match": '"other"'})
    assert resp.status == 412
    assert resp.content_type == PROBLEM_TYPE
    ok = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"If-Match": etag_of(IMAGE_KEY)})
    assert ok.status == 200 and await ok.read() == IMAGE


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=10-", 10, SIZE),
        ("bytes=-5", SIZE - 5, SIZE),
        (f"bytes={CHUNK - 3}-{CHUNK + 3}", CHUNK - 3, CHUNK + 4),  # across a chunk boundary
        (f"bytes=100-{SIZE + 1000}", 100, SIZE),  # last-pos past the end: to the end
        (f"bytes=-{SIZE * 2}", 0, SIZE),  # a suffix longer than the object: all of it
        ("Bytes=0-0", 0, 1),  # the unit is case-insensitive
        ("bytes=5-5, ", 5, 6),  # an empty list element is no second range
    ],
)
async def test_a_range_gets_exactly_those_bytes(
    edge: Edge, range_header: str, start: int, end: int
) -> None:
    resp = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"Range": range_header})
    assert resp.status == 206
    assert await resp.read() == IMAGE[start:end]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert resp.headers["Content-Length"] == str(end - start)
    assert resp.headers["ETag"] == etag_of(IMAGE_KEY)
    assert resp.headers["Content-Type"] == "image/jpeg"
    # Only the range is fetched from the store, not the object then sliced.
    assert edge.store.reads == [(IMAGE_KEY, start, end)]


@pytest.mark.parametrize(
    "range_header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0"]
)
async def test_a_range_past_the_end_is_not_satisfiable(edge: Edge, range_header: str) -> None:
    resp = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"Range": range_header})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == f"bytes */{SIZE}"
    assert resp.content_type == PROBLEM_TYPE
    assert (await resp.json())["type"] == "quark:range-not-satisfiable"


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=9-0",  # last before first: invalid, so ignored (RFC 9110 §14.1.1)
        "bytes=abc",
        "bytes=",
        "bytes 0-9",
        "bytes = 0-9",  # no whitespace around "=" in the grammar
        "bytes=\u0663-",  # a digit, but not an ASCII one
        "items=0-9",  # a unit we do not know
        "bytes=0-1,5-6",  # several ranges: answered whole (allowed, and documented)
        f"bytes=0-1,{SIZE}-",
    ],
)
async def test_a_range_that_is_invalid_or_multiple_gets_the_whole_object(
    edge: Edge, range_header: str
) -> None:
    resp = await edge.client.get(f"/media/{IMAGE_KEY}", headers={"Range": range_header})
    assert resp.status == 200
    assert "Content-Range" not in resp.headers
    assert await resp.read() == IMAGE


async def test_several_ranges_none_satisfiable_are_not_satisfiable(edge: Edge) -> None:
    resp = await edge.client.get(
        f"/media/{IMAGE_KEY}", headers={"Range": f"bytes={SIZE}-,{SIZE + 1}-"}
    )
    assert resp.status == 416 and resp.headers["Content-Range"] == f"bytes */{SIZE}"


async def test_if_range_with_our_etag_keeps_the_range(edge: Edge) -> None:
    resp = await edge.client.get(
        f"/media/{IMAGE_KEY}", headers={"Range": "bytes=0-9", "If-Range": etag_of(IMAGE_KEY)}
    )
    assert resp.status == 206 and await resp.read() == IMAGE[:10]


@pytest.mark.parametrize(
    "if_range",
    [
        '"something-else"',
        f"W/{etag_of(IMAGE_KEY)}",  # If-Range compares strongly: a weak tag never matches
        "Wed, 21 Oct 2015 07:28:00 GMT",  # a date: we send no Last-Modified to match it
    ],
    ids=["other-tag", "weak-tag", "date"],
)
async def test_an_if_range_that_does_not_match_gets_the_whole_object(
    edge: Edge, if_range: str
) -> None:
    resp = await edge.client.get(
        f"/media/{IMAGE_KEY}", headers={"Range": "bytes=0-9", "If-Range": if_range}
    )
    assert resp.status == 200
    assert "Content-Range" not in resp.headers
    assert await resp.read() == IMAGE


async def test_a_missing_object_is_a_not_found_problem(edge: Edge) -> None:
    resp = await edge.client.get(f"/media/{'0' * 64}/original.jpg")
    assert resp.status == 404
    assert resp.content_type == PROBLEM_TYPE
    assert (await resp.json())["type"] == "quark:media-not-found"


@pytest.mark.parametrize(
    "raw_path",
    [
        "/media/..%2Fetc%2Fpasswd",
        "/media/%2E%2E/%2E%2E/etc/passwd",
        f"/media/{SHA}%2F..%2F..%2Fsecret.jpg",
        f"/media/{SHA}//original.jpg",
        f"/media/{SHA.upper()}/original.jpg",
    ],
)
async def test_a_path_that_is_not_a_key_is_not_found(edge: Edge, raw_path: str) -> None:
    resp = await edge.client.get(URL(raw_path, encoded=True))
    assert resp.status == 404
    # Refused by serve_blob itself (a route miss would be `quark:not-found`).
    assert (await resp.json())["type"] == "quark:media-not-found"
    assert edge.store.reads == []


async def test_an_object_gone_between_stat_and_read_is_still_a_clean_not_found(
    edge: Edge,
) -> None:
    edge.store.stat_finds_anything = True  # as if it had existed a moment ago
    resp = await edge.client.get(f"/media/{'1' * 64}/original.jpg")
    assert resp.status == 404
    assert (await resp.json())["type"] == "quark:media-not-found"


async def test_a_store_failing_mid_body_cuts_the_connection_rather_than_lying(
    edge: Edge,
) -> None:
    edge.store.break_after_first_chunk = True
    resp = await edge.client.get(f"/media/{IMAGE_KEY}")
    assert resp.status == 200 and resp.headers["Content-Length"] == str(SIZE)
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
    edge.store.break_after_first_chunk = False
    # The edge keeps serving on new connections.
    again = await edge.client.get(f"/media/{VARIANT_KEY}")
    assert again.status == 200 and await again.read() == IMAGE[:4000]


async def test_images_are_inline_and_everything_else_an_attachment(edge: Edge) -> None:
    variant = await edge.client.get(f"/media/{VARIANT_KEY}")
    assert variant.headers["Content-Type"] == "image/webp"
    assert variant.headers["Content-Disposition"] == 'inline; filename="320.webp"'
    pdf = await edge.client.get(f"/media/{PDF_KEY}")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="original.pdf"'
    assert await pdf.read() == PDF


async def test_svg_and_unknown_types_are_attachments(edge: Edge) -> None:
    await edge.store.put_bytes("aa/drawing.svg", b"<svg/>", "image/svg+xml")
    await edge.store.put_bytes("aa/blob.bin", b"\x00\x01", "application/octet-stream")
    svg = await edge.client.get("/media/aa/drawing.svg")
    assert svg.headers["Content-Disposition"] == 'attachment; filename="drawing.svg"'
    other = await edge.client.get("/media/aa/blob.bin")
    assert other.headers["Content-Type"] == "application/octet-stream"
    assert other.headers["Content-Disposition"] == 'attachment; filename="blob.bin"'


async def test_an_empty_object_is_served_empty(edge: Edge) -> None:
    await edge.store.put_bytes("aa/empty.webp", b"", "image/webp")
    resp = await edge.client.get("/media/aa/empty.webp")
    assert resp.status == 200 and resp.headers["Content-Length"] == "0"
    assert await resp.read() == b""
    suffix = await edge.client.get("/media/aa/empty.webp", headers={"Range": "bytes=-5"})
    assert suffix.status == 200 and await suffix.read() == b""
    start = await edge.client.get("/media/aa/empty.webp", headers={"Range": "bytes=0-"})
    assert start.status == 416 and start.headers["Content-Range"] == "bytes */0"


def private_url(key: str, expires_at: int, secret: bytes = SECRET) -> str:
    return f"/private/{key}?{signed_query(secret, key, expires_at)}"


async def test_a_valid_signed_link_serves_private_media_to_this_browser_only(
    edge: Edge,
) -> None:
    resp = await edge.client.get(private_url(IMAGE_KEY, int(time.time()) + 60))
    assert resp.status == 200 and await resp.read() == IMAGE
    cache = resp.headers["Cache-Control"]
    assert cache.startswith("private, max-age=")
    assert "public" not in cache and "immutable" not in cache
    assert int(cache.rsplit("=", 1)[1]) <= 300
    assert resp.headers["Cross-Origin-Resource-Policy"] == "same-site"
    ranged = await edge.client.get(
        private_url(IMAGE_KEY, int(time.time()) + 60), headers={"Range": "bytes=-5"}
    )
    assert ranged.status == 206 and await ranged.read() == IMAGE[-5:]
    assert "immutable" not in ranged.headers["Cache-Control"]


async def test_a_signed_link_is_short(edge: Edge) -> None:
    query = signed_query(SECRET, IMAGE_KEY, 1_900_000_000)
    assert query.startswith("exp=1900000000&sig=") and len(query) <= 45


async def test_private_media_without_a_signature_is_not_found(edge: Edge) -> None:
    resp = await edge.client.get(f"/private/{IMAGE_KEY}")
    assert resp.status == 404 and (await resp.json())["type"] == "quark:media-not-found"


async def test_a_tampered_signature_is_not_found_not_forbidden(edge: Edge) -> None:
    exp = int(time.time()) + 60
    query = signed_query(SECRET, IMAGE_KEY, exp)
    sig = query.split("sig=")[1]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for url in (
        f"/private/{IMAGE_KEY}?exp={exp}&sig={flipped}",
        f"/private/{IMAGE_KEY}?exp={exp + 3600}&sig={sig}",  # a longer life, same MAC
        f"/private/{IMAGE_KEY}?exp=0{exp}&sig={sig}",  # another spelling of the expiry
        f"/private/{IMAGE_KEY}?sig={sig}",
        private_url(IMAGE_KEY, exp, secret=b"someone-else"),
    ):
        resp = await edge.client.get(url)
        assert resp.status == 404, url
        assert (await resp.json())["type"] == "quark:media-not-found"
    assert edge.store.reads == []


async def test_another_objects_signature_is_not_found(edge: Edge) -> None:
    exp = int(time.time()) + 60
    resp = await edge.client.get(f"/private/{IMAGE_KEY}?{signed_query(SECRET, PDF_KEY, exp)}")
    assert resp.status == 404


async def test_an_expired_link_is_forbidden_with_a_problem(edge: Edge) -> None:
    resp = await edge.client.get(private_url(IMAGE_KEY, int(time.time()) - 1))
    assert resp.status == 403
    assert resp.content_type == PROBLEM_TYPE
    problem = await resp.json()
    assert problem["type"] == "quark:media-link-expired" and problem["status"] == 403
    # An expired link to nothing that exists is forged or ours: either way nothing leaks.
    forged = await edge.client.get(private_url(IMAGE_KEY, int(time.time()) - 1, b"x"))
    assert forged.status == 404


async def test_signature_checks_tell_the_four_cases_apart() -> None:
    exp = 1_900_000_000
    valid = dict(kv.split("=") for kv in signed_query(SECRET, IMAGE_KEY, exp).split("&"))
    assert check_signature(SECRET, IMAGE_KEY, valid, now=exp - 1) is SignatureCheck.VALID
    assert check_signature(SECRET, IMAGE_KEY, valid, now=exp) is SignatureCheck.EXPIRED
    assert check_signature(SECRET, IMAGE_KEY, {}, now=0) is SignatureCheck.MISSING
    assert check_signature(SECRET, VARIANT_KEY, valid, now=0) is SignatureCheck.BAD
    assert check_signature(SECRET, IMAGE_KEY, {**valid, "exp": "x"}, now=0) is SignatureCheck.BAD
    assert (
        check_signature(SECRET, IMAGE_KEY, {**valid, "sig": valid["sig"] + "é"}, now=0)
        is SignatureCheck.BAD
    )


async def test_redirect_mode_sends_s3_deployments_to_the_store(edge: Edge) -> None:
    resp = await edge.client.get(f"/redirect/{IMAGE_KEY}", allow_redirects=False)
    if edge.store.presigned_get(IMAGE_KEY, timedelta(minutes=1)) is None:
        # The local backend cannot sign URLs: the edge streams the bytes itself.
        assert isinstance(edge.store.inner, LocalBlobStore)
        assert resp.status == 200 and await resp.read() == IMAGE
        assert resp.headers["Cache-Control"] == PUBLIC_CACHE
        return
    assert resp.status == 302
    cache = resp.headers["Cache-Control"]
    assert "immutable" not in cache and "public" not in cache
    assert cache == "no-store" or int(cache.rsplit("=", 1)[1]) < 300
    assert edge.store.reads == []  # no byte went through the edge
    async with aiohttp.ClientSession() as http:
        async with http.get(resp.headers["Location"]) as direct:
            assert direct.status == 200 and await direct.read() == IMAGE


async def test_redirect_mode_still_answers_head_and_revalidation_itself(edge: Edge) -> None:
    head = await edge.client.head(f"/redirect/{IMAGE_KEY}", allow_redirects=False)
    assert head.status == 200 and head.headers["Content-Length"] == str(SIZE)
    cached = await edge.client.get(
        f"/redirect/{IMAGE_KEY}",
        headers={"If-None-Match": etag_of(IMAGE_KEY)},
        allow_redirects=False,
    )
    assert cached.status == 304
    missing = await edge.client.get(f"/redirect/{'2' * 64}/x.jpg", allow_redirects=False)
    assert missing.status == 404
