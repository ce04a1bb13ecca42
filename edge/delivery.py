"""Media objects served from a `BlobStore` the way a CDN origin should serve them.

One function, `serve_blob`, answers GET and HEAD for one object key; a route decides who may
see the object (public, or private through a signed link checked with `check_signature`)
and which store holds it. Keys are content-addressed (`<sha256>/320.webp`): the bytes under
a key never change, so

- the ETag is derived from the key alone (the same on every backend and every edge, with no
  read of the bytes), and a public object may be cached by anyone for a year (`immutable`);
- a private object is only cached by the person's own browser, briefly
  (`private, max-age=PRIVATE_MAX_AGE`): its signed link expires, and access may be revoked.

Conditional and range requests follow RFC 9110 §13-§14:

- `If-Match` (strong comparison) → 412 when nothing matches; `If-None-Match` (weak
  comparison, lists and `*`) → 304 with the validators and Cache-Control;
- one `Range` (`bytes=a-b`, `a-`, `-n`) → 206 with those bytes; a valid but unsatisfiable
  range → 416 with `Content-Range: bytes */<size>`; a Range that does not parse (or names
  another unit) is ignored → 200; `If-Range` with our ETag keeps the range, anything else
  (another tag, a weak tag, a date: we send no Last-Modified) → the full 200;
- several ranges (`bytes=0-1,5-6`) are answered with the whole object (200), which the RFC
  allows: browsers and players ask for one range, and a multipart/byteranges body would
  be a second body format for nobody; when none of them is satisfiable → 416;
- Range is only honoured on GET (§14.2: HEAD ignores it).

Headers that keep an object from ever acting as a page of ours: `nosniff`, a CSP with
`default-src 'none'; sandbox` (a navigated-to object runs nothing), `Content-Disposition:
inline` only for raster images (SVG would be a document: attachment, like PDF and video —
the upload allow-list refuses SVG already; this is the second line).

`Cross-Origin-Resource-Policy`: `cross-origin` for public media, `same-site` for private.
Public media are public: a CDN on another site, link previews, other clients and a web app
with `Cross-Origin-Embedder-Policy: require-corp` must all be able to embed them, and there
is nothing to protect. Private media are embedded by our own web app (same site) and never
pass through a shared cache, so `same-site` stops another site from pulling a leaked signed
link into its own process.

Redirect mode (`redirect_to_store=True`, a store that signs URLs, i.e. S3): a GET is answered
with 302 to a presigned URL valid for `REDIRECT_EXPIRY`, so the object store moves the bytes.
The redirect is cacheable by the browser only, for less than the URL lives. HEAD and
conditional requests are still answered here (a presigned GET URL does not sign HEAD).

Errors are raised (`MediaNotFound`, `RangeNotSatisfiable`, `PreconditionFailed`,
`MediaLinkExpired`) and become problem documents in the edge's `problems` middleware.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import enum
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path

from aiohttp import hdrs, web

from core.blobstore import Blob, BlobNotFound, BlobStore, check_key
from core.errors import ForbiddenError, NotFoundError, QuarkError
from core.logging import get_logger

log = get_logger("quark.edge.delivery")

#: Public objects: a year, and `immutable` so browsers do not even revalidate on reload.
PUBLIC_CACHE = "public, max-age=31536000, immutable"
#: Private objects: the person's own browser only, for five minutes (their link may expire
#: sooner: the cached copy is theirs already; access revoked is honoured within this bound).
PRIVATE_MAX_AGE = 300
PRIVATE_CACHE = f"private, max-age={PRIVATE_MAX_AGE}"
#: How long a presigned store URL lives, and how long a browser may reuse the redirect to it
#: (well under the expiry, so a reused redirect never points at a dead URL).
REDIRECT_EXPIRY = timedelta(minutes=5)
REDIRECT_CACHE = "private, max-age=60"
CONTENT_POLICY = "default-src 'none'; sandbox"
#: Longest Range header parsed; longer ones are ignored (a full 200) before any work.
MAX_RANGE_HEADER = 1024
#: The MAC of a signed link: a label no other use of the platform secret MACs, truncated
#: to 128 bits (22 URL characters).
LINK_SCOPE = b"quark:media-link\x00"
LINK_MAC_BYTES = 16


class MediaNotFound(NotFoundError):
    code = "media-not-found"
    title = "No such media"


class MediaLinkExpired(ForbiddenError):
    code = "media-link-expired"
    title = "This media link has expired"


class RangeNotSatisfiable(QuarkError):
    code = "range-not-satisfiable"
    status = 416
    title = "The requested range is not satisfiable"


class PreconditionFailed(QuarkError):
    code = "precondition-failed"
    status = 412
    title = "The precondition given in the request failed"


def etag_of(key: str) -> str:
    """The strong ETag of the object under `key`: the key names the bytes, so its hash does."""
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:20] + '"'


def _tags(header: str) -> list[str]:
    """The entity-tags of an If-Match / If-None-Match list, weak ones with their `W/`."""
    return re.findall(r'(?:W/)?"[^"]*"', header)


def _weak_match(header: str, etag: str) -> bool:
    return header.strip() == "*" or any(tag.removeprefix("W/") == etag for tag in _tags(header))


def _strong_match(header: str, etag: str) -> bool:
    return header.strip() == "*" or etag in _tags(header)


#: One range-spec (RFC 9110 §14.1.1), ASCII digits only.
_RANGE_SPEC = re.compile(r"^(?:([0-9]+)-([0-9]*)|-([0-9]+))$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range `[start, end)` a `Range` header asks of `size` bytes, or None when
    the header is to be ignored (invalid, another unit, several ranges: the whole object).

    Raises:
        RangeNotSatisfiable: a valid range set of which no range overlaps the object.
    """
    if len(header) > MAX_RANGE_HEADER:
        return None
    unit, sep, range_set = header.partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []  # satisfiable ones, clamped, end exclusive
    specs = [spec.strip() for spec in range_set.split(",") if spec.strip()]
    if not specs:
        return None
    for spec in specs:
        match = _RANGE_SPEC.match(spec)
        if match is None:
            return None
        first, last, suffix = match.groups()
        if suffix is not None:
            length = int(suffix)
            if length > 0 and size > 0:
                ranges.append((max(0, size - length), size))
        else:
            start = int(first)
            if last and int(last) < start:
                return None  # last-pos before first-pos: the whole header is invalid
            if start < size:
                ranges.append((start, size if not last else min(int(last) + 1, size)))
    if not ranges:
        if size == 0 and all(spec.startswith("-") for spec in specs):
            return None  # an empty object has no suffix to send: the (empty) 200
        raise RangeNotSatisfiable(
            f"the object is {size} bytes long", headers={hdrs.CONTENT_RANGE: f"bytes */{size}"}
        )
    if len(specs) > 1:
        return None
    return ranges[0]


def _content_disposition(blob: Blob) -> str:
    filename = blob.key.rsplit("/", 1)[-1]  # [a-z0-9._-] (check_key): nothing to escape
    inline = blob.content_type.startswith("image/") and "svg" not in blob.content_type
    return f'{"inline" if inline else "attachment"}; filename="{filename}"'


async def serve_blob(
    request: web.Request,
    store: BlobStore,
    key: str,
    *,
    public: bool,
    redirect_to_store: bool = False,
) -> web.StreamResponse:
    """Answer a GET or HEAD for the object under `key`, streamed from `store`.

    Args:
        request: the GET or HEAD (conditional and range headers are honoured).
        store: where the bytes are.
        key: the object key, as taken from the URL (anything that is not a key is 404).
        public: whether anyone may have the object (shared caches keep it for a year) or only
            the person the route let through (their browser keeps it for minutes).
        redirect_to_store: answer a GET with a 302 to a short-lived URL of the store itself
            when it can issue one (S3); the local backend streams as usual.

    Raises:
        MediaNotFound: not a key, or no such object (also when it vanishes before the first
            byte is sent).
        RangeNotSatisfiable: a Range of which nothing lies within the object.
        PreconditionFailed: an If-Match that does not match.
    """
    try:
        check_key(key)
    except ValueError:
        raise MediaNotFound() from None
    # Always asked, even when a conditional request could be answered from the key alone: an
    # erased object must stop revalidating (304) in browsers and caches.
    blob = await store.stat(key)
    if blob is None:
        raise MediaNotFound()
    etag = etag_of(key)
    cache_control = PUBLIC_CACHE if public else PRIVATE_CACHE
    headers = request.headers

    if_match = headers.get(hdrs.IF_MATCH)
    if if_match is not None and not _strong_match(if_match, etag):
        raise PreconditionFailed(headers={hdrs.ETAG: etag})
    if_none_match = headers.get(hdrs.IF_NONE_MATCH)
    if if_none_match is not None and _weak_match(if_none_match, etag):
        return web.StreamResponse(
            status=304, headers={hdrs.ETAG: etag, hdrs.CACHE_CONTROL: cache_control}
        )

    if redirect_to_store and request.method == hdrs.METH_GET:
        # In a thread: the SDK may ask the service for the bucket's region the first time.
        url = await asyncio.to_thread(store.presigned_get, key, REDIRECT_EXPIRY)
        if url is not None:
            return web.StreamResponse(
                status=302, headers={hdrs.LOCATION: url, hdrs.CACHE_CONTROL: REDIRECT_CACHE}
            )

    selected: tuple[int, int] | None = None
    range_header = headers.get(hdrs.RANGE)
    if range_header is not None and request.method == hdrs.METH_GET:
        if_range = headers.get(hdrs.IF_RANGE)
        if if_range is None or if_range.strip() == etag:
            selected = parse_range(range_header, blob.size)

    response = web.StreamResponse(
        status=200 if selected is None else 206,
        headers={
            hdrs.CONTENT_TYPE: blob.content_type,
            hdrs.ETAG: etag,
            hdrs.CACHE_CONTROL: cache_control,
            hdrs.ACCEPT_RANGES: "bytes",
            hdrs.CONTENT_DISPOSITION: _content_disposition(blob),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CONTENT_POLICY,
            "Cross-Origin-Resource-Policy": "cross-origin" if public else "same-site",
        },
    )
    start, end = (0, blob.size) if selected is None else selected
    if selected is not None:
        response.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end - 1}/{blob.size}"
    # A known length: aiohttp frames the body with it (no chunked encoding), and nothing here
    # enables compression (media are compressed already; a range of gzip is another thing).
    response.content_length = end - start
    if request.method == hdrs.METH_HEAD:
        await response.prepare(request)
        return response
    return await _stream(request, response, store, key, start, end)


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    store: BlobStore,
    key: str,
    start: int,
    end: int,
) -> web.StreamResponse:
    async with contextlib.aclosing(store.read(key, start, end)) as chunks:
        # The first chunk is read before the headers go out, so an object deleted since
        # `stat` is still a clean 404 rather than a broken 200.
        try:
            first = await anext(chunks, b"")
        except BlobNotFound:
            raise MediaNotFound() from None
        await response.prepare(request)
        try:
            if first:
                await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
        except Exception as exc:
            # The status line is sent: no error document can follow. Close the connection
            # so the client sees a body shorter than Content-Length (and a cache keeps
            # nothing), instead of letting a middleware write a second response into it.
            if not isinstance(exc, ConnectionError):  # not just the client going away
                log.warning("media_stream_failed", key=key, error=repr(exc))
            if request.transport is not None:
                request.transport.close()
            return response
    await response.write_eof()
    return response


class SignatureCheck(enum.Enum):
    """What a media link's signature says; the route decides what each means to the caller."""

    #: Signed by us for this key, not expired.
    VALID = "valid"
    #: No `sig` at all: an unsigned link (404 for private media).
    MISSING = "missing"
    #: Malformed, tampered with, or made for another key: treat as MISSING, never reveal
    #: that the object exists.
    BAD = "bad"
    #: Signed by us for this key, but past its expiry (403 `media-link-expired`).
    EXPIRED = "expired"


def _link_sig(secret: bytes, key: str, exp: str) -> bytes:
    """The `sig` of a link to `key` expiring at `exp` (seconds, as written in the query)."""
    message = LINK_SCOPE + key.encode() + b"\x00" + exp.encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()[:LINK_MAC_BYTES]
    return base64.urlsafe_b64encode(mac).rstrip(b"=")


def signed_query(secret: bytes, key: str, expires_at: int) -> str:
    """The query string (`exp=<unix seconds>&sig=<mac>`) that lets anyone holding the link
    fetch the object under `key` until `expires_at`."""
    exp = str(expires_at)
    return f"exp={exp}&sig={_link_sig(secret, key, exp).decode()}"


def check_signature(
    secret: bytes, key: str, query: Mapping[str, str], now: float
) -> SignatureCheck:
    """Whether `query` (a request's query) carries a valid link signature for `key` at `now`.

    Expiry is only reported for a signature that holds: a forged or foreign one is BAD
    whatever its `exp`. The text of `sig` and `exp` is compared exactly as signed, so no
    other spelling of a link (padding, leading zeros) is accepted.
    """
    sig = query.get("sig")
    if sig is None:
        return SignatureCheck.MISSING
    exp = query.get("exp", "")
    if not (exp.isascii() and exp.isdigit() and len(exp) <= 12 and sig.isascii()):
        return SignatureCheck.BAD
    if not hmac.compare_digest(sig.encode(), _link_sig(secret, key, exp)):
        return SignatureCheck.BAD
    return SignatureCheck.EXPIRED if now >= int(exp) else SignatureCheck.VALID


def require_signature(secret: bytes, key: str, query: Mapping[str, str], now: float) -> None:
    """For private media: return when the link is valid, else raise what the caller may know.

    Raises:
        MediaNotFound: no signature, or one that does not hold (the object may not exist).
        MediaLinkExpired: a link we signed for this key, past its expiry.
    """
    match check_signature(secret, key, query, now):
        case SignatureCheck.VALID:
            return
        case SignatureCheck.EXPIRED:
            raise MediaLinkExpired()
        case _:
            raise MediaNotFound()


class SmallObjects:
    """The bytes of recently served small objects, in this edge's memory.

    Keys are content-addressed: the bytes under a key never change, so a copy can never be
    stale — only gone, and whether an object may still be served is decided before the
    store is asked (the media route's access check, which a deletion fails). Thumbnails and
    avatars are what most requests ask for; from memory they skip two thread hops (stat,
    read) or, with S3, two round trips. Least recently used entries go first.
    """

    def __init__(self, max_object: int = 256 * 1024, max_total: int = 64 * 1024 * 1024) -> None:
        self.max_object = max_object
        self.max_total = max_total
        self.total = 0
        self._items: collections.OrderedDict[str, tuple[Blob, bytes]] = collections.OrderedDict()

    def get(self, key: str) -> tuple[Blob, bytes] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, blob: Blob, data: bytes) -> None:
        if len(data) > self.max_object or blob.key in self._items:
            return
        self._items[blob.key] = (blob, data)
        self.total += len(data)
        while self.total > self.max_total:
            _, (_, dropped) = self._items.popitem(last=False)
            self.total -= len(dropped)


class CachedStore(BlobStore):
    """`store` for delivery, answering small objects from `cache` (`serve_blob` reads
    through it like through any store)."""

    def __init__(self, store: BlobStore, cache: SmallObjects) -> None:
        self.store = store
        self.cache = cache

    async def stat(self, key: str) -> Blob | None:
        item = self.cache.get(key)
        if item is not None:
            return item[0]
        blob = await self.store.stat(key)
        if blob is not None and blob.size <= self.cache.max_object:
            try:
                self.cache.put(blob, await self.store.read_all(key))
            except BlobNotFound:
                return None
        return blob

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        item = self.cache.get(key)
        if item is None:
            async for chunk in self.store.read(key, start, end):
                yield chunk
            return
        data = item[1][start:end]
        if data:
            yield data

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> Blob:
        return await self.store.put_file(key, path, content_type)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    def keys(self, prefix: str = "") -> AsyncIterator[str]:
        return self.store.keys(prefix)

    def presigned_put(self, key: str, expires: timedelta) -> str | None:
        return self.store.presigned_put(key, expires)

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        return self.store.presigned_get(key, expires)
