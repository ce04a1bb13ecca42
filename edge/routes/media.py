"""Media: streamed uploads, direct (presigned) uploads, the media view, alt text, deletion,
and delivery of the stored objects (`/media/{key}`).

An upload's bytes never pass through NATS or the log: the edge spools the body to a
temporary file while hashing it, checks its content, puts it in the object store under
`uploads/<id>/<sha256>` and only then sends `ReceiveUpload`; the media worker derives the
variants. Limits come from the perks table (VIP larger): bytes per file (413), uploads per
hour (429), storage per person (413).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from core.errors import FieldError, QuarkError, RemoteError, ValidationError
from core.metrics import UPLOAD_BYTES_TOTAL, UPLOADS_TOTAL
from core.ratelimit import RateLimited, Rule
from edge import delivery
from edge.auth import PRINCIPAL, Principal, optional_principal, principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, limit, path_id, wait_for_position
from edge.perks import perks_of
from edge.routing import Param, Route
from edge.uploads import Spooled, body_chunks, check_content, declared_type, discard, spool
from handlers.media.commands import (
    DeleteMedia,
    DescribeMedia,
    Description,
    MediaType,
    ReceiveUpload,
    RefuseUpload,
    ReserveUpload,
)
from handlers.media.content import KINDS
from handlers.media.errors import (
    DamagedMedia,
    ImageTooLarge,
    MediaExists,
    MediaNotFound,
    MediaTooLarge,
    NotMediaOwner,
    StorageFull,
    TypeMismatch,
    UnsupportedContent,
    UploadNotReserved,
)
from projections import media as model

PROJECTION = "media"
MIB = 1024 * 1024
#: Room for the multipart envelope around the file (boundaries, part headers, the alt text).
MULTIPART_SLACK = 64 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")
_encoder = msgspec.json.Encoder()
#: Types a direct upload may declare: exactly the kinds we take.
ACCEPTED_TYPES = sorted({k.media_type for k in KINDS})


class MediaStatus(msgspec.Struct):
    id: str
    status: str
    position: str


class VariantView(msgspec.Struct):
    url: str
    width: int | None
    height: int | None
    type: str
    size: int


class MediaView(msgspec.Struct, omit_defaults=True):
    id: str
    #: `uploading` (a direct upload not completed yet), `processing`, `ready` or `failed`.
    status: str
    type: str | None
    width: int | None
    height: int | None
    size: int | None
    blurhash: str | None
    description: str | None
    variants: dict[str, VariantView]
    #: Why a failed upload was refused, for the person.
    reason: str | None = None
    #: The refusal as a problem type (`quark:damaged-media`, `quark:image-too-large`, …),
    #: the same a synchronous refusal would have answered with.
    problem: str | None = None


class DescribeBody(msgspec.Struct, forbid_unknown_fields=True):
    description: Description


class ReserveBody(msgspec.Struct, forbid_unknown_fields=True):
    size: int = msgspec.field()
    type: MediaType = msgspec.field()


class Reservation(msgspec.Struct):
    id: str
    #: Where to send the file, with `method` and `headers`, before `expires_at`.
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime
    position: str


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


# -- limits ------------------------------------------------------------------------------


class Allowance(msgspec.Struct, frozen=True):
    #: Bytes this upload may have: the smaller of the per-file limit and the storage left.
    max_bytes: int
    #: Which limit `max_bytes` is.
    by_storage: bool


async def _allowance(request: web.Request, user_id: str, declared: int | None) -> Allowance:
    """Check the person's upload limits (perks: VIP larger) before reading any body."""
    i = infra(request)
    p = await perks_of(request, user_id)
    per_file = int(p["upload_limit_mb"]) * MIB
    quota = max(1, int(int(p["uploads_per_hour"]) * i.settings.perks_quota_scale))
    await limit(request, Rule("media_uploads", quota, 3600), user_id)
    # The storage in use as of the person's own latest writes (a deletion just made counts).
    await wait_for_position(request, PROJECTION)
    left = int(p["storage_mb"]) * MIB - await model.storage_used(i.pool, user_id)
    if left <= 0:
        raise StorageFull()
    allowance = Allowance(min(per_file, left), by_storage=left < per_file)
    if declared is not None and declared > allowance.max_bytes:
        raise _too_large(allowance)
    return allowance


def _too_large(allowance: Allowance) -> QuarkError:
    if allowance.by_storage:
        return StorageFull(f"{allowance.max_bytes} bytes of storage are left")
    return MediaTooLarge(f"the limit is {allowance.max_bytes // MIB} MiB per file")


# -- streamed upload ---------------------------------------------------------------------


async def upload_media(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    length = request.content_length
    multipart = request.content_type == "multipart/form-data"
    allowance = await _allowance(
        request,
        who.user_id,
        None if length is None else length - (MULTIPART_SLACK if multipart else 0),
    )
    media_id = created_id(request, "media")
    description: str | None = None
    spooled: Spooled | None = None
    declared = ""
    try:
        if multipart:
            try:
                declared, spooled, description = await _read_form(request, allowance)
            except (ValueError, LookupError, TypeError, HttpProcessingError) as exc:
                # aiohttp's multipart parser speaks in ValueErrors and HTTP errors.
                raise MalformedUpload(
                    f"not a multipart/form-data body ({type(exc).__name__})"
                ) from None
        else:
            declared = declared_type(request.headers.get("Content-Type"))
            spooled = await spool(
                body_chunks(request.content.read),
                allowance.max_bytes,
                lambda: _too_large(allowance),
                i.settings.media_spool_dir,
            )
        kind = await check_content(spooled, declared)
        key = f"uploads/{media_id}/{spooled.sha256}"
        blobs = await i.blobstore()
        await blobs.put_file(key, spooled.path, kind.media_type)
    finally:
        if spooled is not None:
            await discard(spooled.path)
    command = ReceiveUpload(
        media_id=media_id,
        sha256=spooled.sha256,
        size=spooled.size,
        media_type=kind.media_type,
        upload_key=key,
        description=description,
    )
    reply = await _send_or_drop(request, command, who, blobs, key)
    UPLOADS_TOTAL.labels(kind.media_type.split("/", 1)[0]).inc()
    UPLOAD_BYTES_TOTAL.inc(spooled.size)
    headers = {**command_headers(reply), "Location": f"/v1/media/{media_id}"}
    return _json(202, MediaStatus(media_id, "processing", reply.position or ""), headers)


class MalformedUpload(QuarkError):
    code = "malformed-upload"
    status = 400
    title = "The upload's body cannot be read"


async def _read_form(request: web.Request, allowance: Allowance) -> tuple[str, Spooled, str | None]:
    """The `file` part, spooled, with its declared type; the `description` part."""
    reader = await request.multipart()
    description: str | None = None
    declared = ""
    spooled: Spooled | None = None
    try:
        while (part := await reader.next()) is not None:
            name = getattr(part, "name", None)
            if name == "file" and spooled is None:
                declared = declared_type(part.headers.get("Content-Type"))
                spooled = await spool(
                    body_chunks(part.read_chunk),  # type: ignore[union-attr]
                    allowance.max_bytes,
                    lambda: _too_large(allowance),
                    infra(request).settings.media_spool_dir,
                )
            elif name == "description" and description is None:
                description = await _text_part(part)
            else:
                # The name is not echoed: it is the client's bytes, in any encoding.
                raise ValidationError(
                    "unexpected form field",
                    errors=[FieldError("$", "one `file` and at most one `description`")],
                )
    except BaseException:
        if spooled is not None:
            await discard(spooled.path)
        raise
    if spooled is None:
        raise ValidationError(
            "no file", errors=[FieldError("file", "a multipart field named file")]
        )
    return declared, spooled, description


async def _send_or_drop(request: web.Request, command: Any, who: Any, blobs: Any, key: str):
    """Send the command; when it is refused (not merely unanswered), the object it would
    have used is deleted — nothing of a refused upload stays."""
    try:
        return await send_as(request, command, who)
    except RemoteError as exc:
        if exc.status < 500:
            await blobs.delete(key)
        raise


async def _text_part(part: Any) -> str:
    data = b""
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > 4 * 1500 + 16:
            raise ValidationError(
                "description too long",
                errors=[FieldError("description", "at most 1500 characters")],
            )
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ValidationError(
            "description is not UTF-8", errors=[FieldError("description", "UTF-8 text")]
        ) from None
    try:
        return msgspec.convert({"description": text}, DescribeBody).description
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc), errors=[FieldError("description", str(exc))]) from None


# -- the media view, alt text, deletion --------------------------------------------------


def _link_expiry(now: float, seconds: int) -> int:
    """Signed links expire on a coarse boundary (a tenth of their life), so the same
    media viewed twice gets the same URL and the browser's cache keeps working."""
    step = max(1, seconds // 10)
    return (int(now) + seconds) // step * step + step


def _url(request: web.Request, row: model.MediaRow, key: str) -> str:
    path = f"/media/{key}"
    if row.public:
        return path
    i = infra(request)
    expires = _link_expiry(time.time(), i.settings.media_link_seconds)
    return f"{path}?{delivery.signed_query(i.secret_key, key, expires)}"


def _view(request: web.Request, row: model.MediaRow) -> MediaView:
    status = "uploading" if row.status == "reserved" else row.status
    return MediaView(
        id=row.id,
        status=status,
        type=row.media_type if row.status != "reserved" else None,
        width=row.width,
        height=row.height,
        size=row.size if row.status != "reserved" else None,
        blurhash=row.blurhash,
        description=row.description,
        variants={
            name: VariantView(_url(request, row, v.key), v.width, v.height, v.type, v.size)
            for name, v in sorted(row.variants.items())
        },
        reason=row.reason,
        problem=f"quark:{row.reason_code}" if row.reason_code else None,
    )


async def media_views(request: web.Request, media_ids: list[str]) -> dict[str, MediaView]:
    """The views of ready media by id, in one query (what a page of posts shows). The
    caller has decided the reader may see what they are attached to; private media gets
    signed links."""
    rows = await model.get_many(infra(request).pool, media_ids)
    return {
        row.id: _view(request, row)
        for row in rows
        if row.status == "ready" and (row.moderation == "visible" or _owns(request, row))
    }


def _owns(request: web.Request, row: model.MediaRow) -> bool:
    """The caller (if the route identified them) uploaded it: moderators' hiding spares them."""
    who = request.get(PRINCIPAL)
    return isinstance(who, Principal) and who.user_id == row.owner_id


async def visible_media(request: web.Request, media_id: str) -> model.MediaRow:
    """The media row if the caller may see it: its owner always, others once it is attached
    to something public. Anything else does not exist for them (404, no enumeration)."""
    viewer = await optional_principal(request)
    await wait_for_position(request, PROJECTION)
    row = await model.get_media(infra(request).pool, media_id)
    if row is None or row.status == "deleted":
        raise MediaNotFound()
    if not row.public and (viewer is None or viewer.user_id != row.owner_id):
        raise MediaNotFound()  # hidden by moderators: `public` is false too
    return row


async def read_media(request: web.Request) -> web.Response:
    media_id = path_id(request, "media_id", MediaNotFound)
    return _json(200, _view(request, await visible_media(request, media_id)))


async def describe_media(request: web.Request) -> web.Response:
    who = await principal(request)
    media_id = path_id(request, "media_id", MediaNotFound)
    body = await read_json(request, DescribeBody, max_bytes=infra(request).settings.max_body_bytes)
    reply = await send_as(
        request, DescribeMedia(media_id=media_id, description=body.description), who
    )
    return _json(
        200, MediaStatus(media_id, "described", reply.position or ""), command_headers(reply)
    )


async def delete_media(request: web.Request) -> web.Response:
    who = await principal(request)
    media_id = path_id(request, "media_id", MediaNotFound)
    reply = await send_as(request, DeleteMedia(media_id=media_id), who)
    return _json(
        200, MediaStatus(media_id, "deleted", reply.position or ""), command_headers(reply)
    )


# -- direct uploads ----------------------------------------------------------------------

DIRECT_SCOPE = "media-direct-upload"


def _direct_key(media_id: str) -> str:
    return f"uploads/{media_id}/direct"


async def reserve_upload(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, ReserveBody, max_bytes=i.settings.max_body_bytes)
    if body.size < 1:
        raise ValidationError("size must be positive", errors=[FieldError("size", "at least 1")])
    declared = declared_type(body.type)
    if declared not in ACCEPTED_TYPES:
        raise UnsupportedContent(
            f"{body.type!r} is not a type we take ({', '.join(ACCEPTED_TYPES)})"
        )
    await _allowance(request, who.user_id, body.size)
    media_id = created_id(request, "media")
    now = time.time()
    expires = int(now) + i.settings.media_upload_link_seconds
    reply = await send_as(
        request,
        ReserveUpload(
            media_id=media_id, size=body.size, declared_type=declared, expires_at=expires
        ),
        who,
    )
    blobs = await i.blobstore()
    key = _direct_key(media_id)
    url = blobs.presigned_put(key, timedelta(seconds=expires - int(now)))
    if url is None:
        # The local store has no URLs of its own: the edge takes the bytes, authorised by a
        # signed link exactly as the object store would authorise a presigned one.
        token = delivery_token(i.secret_key, media_id, body.size, declared, expires)
        url = str(
            request.url.with_path(f"/v1/media/uploads/{media_id}/data").with_query(token=token)
        )
    headers = {"Content-Type": declared}
    location = {**command_headers(reply), "Location": f"/v1/media/{media_id}"}
    return _json(
        201,
        Reservation(
            media_id,
            url,
            "PUT",
            headers,
            datetime.fromtimestamp(expires, UTC),
            reply.position or "",
        ),
        location,
    )


def delivery_token(secret: bytes, media_id: str, size: int, media_type: str, expires: int) -> str:
    from core.signing import sign

    return sign(
        secret, DIRECT_SCOPE, {"m": media_id, "n": size, "t": media_type}, expires_at=expires
    )


async def put_direct_upload(request: web.Request) -> web.Response:
    """The target of a direct upload when the store is a local directory (an S3 store takes
    the bytes itself, through its presigned URL)."""
    from core.signing import unsign

    i = infra(request)
    media_id = path_id(request, "media_id", MediaNotFound)
    try:
        grant = unsign(i.secret_key, DIRECT_SCOPE, request.query.get("token", ""), now=time.time())
    except ValueError:
        raise MediaNotFound() from None
    if grant.get("m") != media_id:
        raise MediaNotFound()
    size = int(grant["n"])
    if request.content_length is not None and request.content_length > size:
        raise MediaTooLarge(f"this upload was reserved for {size} bytes")
    spooled = await spool(
        body_chunks(request.content.read),
        size,
        lambda: MediaTooLarge(f"this upload was reserved for {size} bytes"),
        i.settings.media_spool_dir,
    )
    try:
        blobs = await i.blobstore()
        await blobs.put_file(_direct_key(media_id), spooled.path, str(grant["t"]))
    finally:
        await discard(spooled.path)
    return web.Response(status=204)


async def complete_upload(request: web.Request) -> web.Response:
    """Check the directly uploaded object exactly like a streamed upload, then hand it to
    the worker. Completing twice answers like the first time."""
    who = await principal(request)
    i = infra(request)
    media_id = path_id(request, "media_id", MediaNotFound)
    await wait_for_position(request, PROJECTION)
    row = await model.get_media(i.pool, media_id)
    if row is None or row.owner_id != who.user_id or row.status == "deleted":
        raise MediaNotFound()
    if row.status != "reserved":
        if row.status == "failed":
            raise UploadNotReserved(f"this upload was refused: {row.reason}")
        return _json(202, MediaStatus(media_id, row.status, ""))
    blobs = await i.blobstore()
    key = _direct_key(media_id)
    stored = await blobs.stat(key)
    if stored is None:
        raise UploadNotReserved("nothing has been uploaded to this upload's URL yet")
    reserved = row.size or 0
    try:
        if stored.size > reserved:
            raise MediaTooLarge(f"this upload was reserved for {reserved} bytes")
        spooled = await spool(
            blobs.read(key),
            reserved,
            lambda: MediaTooLarge(f"this upload was reserved for {reserved} bytes"),
            i.settings.media_spool_dir,
        )
        try:
            kind = await check_content(spooled, row.media_type or "")
        finally:
            await discard(spooled.path)
    except QuarkError as refused:
        # Refused: its bytes go, and the refusal is recorded (the reservation is over).
        await blobs.delete(key)
        await send_as(
            request,
            RefuseUpload(media_id=media_id, reason=refused.detail[:500], code=refused.code),
            who,
            step="refuse",
        )
        raise
    command = ReceiveUpload(
        media_id=media_id,
        sha256=spooled.sha256,
        size=spooled.size,
        media_type=kind.media_type,
        upload_key=key,
    )
    reply = await send_as(request, command, who, step="receive")
    return _json(
        202, MediaStatus(media_id, "processing", reply.position or ""), command_headers(reply)
    )


# -- delivery ----------------------------------------------------------------------------


#: How long an edge process keeps believing that content is public without asking the media
#: read model again (seconds). Within this bound after a deletion, or a detachment that makes
#: the content private, the edge may still serve it (as `public, immutable`, which every
#: browser and CDN that fetched it keeps for a year anyway); erased bytes stop at once,
#: because `serve_blob` always stats the object. Without it, each GET of a public thumbnail
#: paid a read-model query and asyncpg's connection reset on release, two PostgreSQL round
#: trips: `python -m bench media --quick` measured 0.21 of the edge's static-asset GETs/s
#: (485/s), 0.49 with this and the single-hop local read (`core/blobstore.py`).
PUBLIC_CONTENT_SECONDS = 5.0
#: Content hashes remembered at most (about 100 bytes each); the oldest go first.
PUBLIC_CONTENT_ENTRIES = 20_000


class PublicContent:
    """Content hashes (`sha256`) the media read model said are public, each for `seconds`
    from that answer. Only public answers are kept: private media is checked on every
    request (its owners, its signed links) and unknown content is never remembered, so an
    upload is served the moment it is ready. One per edge app (`PUBLIC_CONTENT`): an app
    answers for one database."""

    def __init__(
        self, seconds: float = PUBLIC_CONTENT_SECONDS, entries: int = PUBLIC_CONTENT_ENTRIES
    ) -> None:
        self.seconds = seconds
        self.entries = entries
        # Insertion order is expiry order: every entry lives `seconds`, and an entry is only
        # added again after it expired and was removed.
        self._until: dict[str, float] = {}

    def is_public(self, sha: str, now: float) -> bool:
        until = self._until.get(sha)
        if until is None:
            return False
        if until <= now:
            del self._until[sha]
            return False
        return True

    def remember(self, sha: str, now: float) -> None:
        self._until.pop(sha, None)
        while self._until:
            oldest, until = next(iter(self._until.items()))
            if until > now and len(self._until) < self.entries:
                break
            del self._until[oldest]
        self._until[sha] = now + self.seconds


PUBLIC_CONTENT = web.AppKey("public_content", PublicContent)
#: Small objects served lately, in memory (`edge.delivery.SmallObjects`).
SMALL_OBJECTS = web.AppKey("small_objects", delivery.SmallObjects)


async def serve_media(request: web.Request) -> web.StreamResponse:
    """`/media/<sha256>/<variant>.<ext>`: public media for anyone (cached for a year: the
    bytes under a key never change); private media for its owner, or with a signed link."""
    i = infra(request)
    sha = request.match_info["sha"]
    key = f"{sha}/{request.match_info['name']}"
    if not _SHA.match(sha):
        raise delivery.MediaNotFound()
    known = request.app[PUBLIC_CONTENT]
    now = time.monotonic()
    public = known.is_public(sha, now)
    if not public:
        access = await model.content_access(i.pool, sha)
        if not access.exists:
            raise delivery.MediaNotFound()
        public = access.public
        if public:
            known.remember(sha, now)
        else:
            check = delivery.check_signature(i.secret_key, key, request.query, time.time())
            if check is delivery.SignatureCheck.EXPIRED:
                raise delivery.MediaLinkExpired()
            if check is not delivery.SignatureCheck.VALID:
                viewer = await optional_principal(request)
                if viewer is None or viewer.user_id not in access.owners:
                    raise delivery.MediaNotFound()
    blobs = await i.blobstore()
    redirect = i.settings.media_delivery == "redirect"
    if not redirect:
        blobs = delivery.CachedStore(blobs, request.app[SMALL_OBJECTS])
    return await delivery.serve_blob(request, blobs, key, public=public, redirect_to_store=redirect)


# -- routes ------------------------------------------------------------------------------

_MEDIA_ID = Param("media_id", "path", "Media id", {"type": "string", "format": "uuid"})
_UPLOAD_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "description": {"type": "string", "maxLength": 1500},
            },
        }
    },
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "image/*": {"schema": {"type": "string", "format": "binary"}},
}
_CONTENT_ERRORS = (UnsupportedContent, TypeMismatch, DamagedMedia, ImageTooLarge)
_LIMIT_ERRORS = (MediaTooLarge, StorageFull, RateLimited)

ROUTES = [
    Route(
        "POST",
        "/v1/media",
        upload_media,
        "Upload a file (raw body or multipart `file`), streamed; processed in the background",
        "media",
        response=MediaStatus,
        status=202,
        upload=_UPLOAD_BODY,
        raises=(*_CONTENT_ERRORS, *_LIMIT_ERRORS, MediaExists, ValidationError, MalformedUpload),
        auth="bearer",
        limited=True,
        idempotent_create=True,
        after=True,
        name="upload_media",
    ),
    Route(
        "GET",
        "/v1/media/{media_id}",
        read_media,
        "An upload's status, size, blurhash, alt text and variants",
        "media",
        response=MediaView,
        params=(_MEDIA_ID,),
        raises=(MediaNotFound,),
        auth="optional",
        after=True,
        name="read_media",
    ),
    Route(
        "PATCH",
        "/v1/media/{media_id}",
        describe_media,
        "Set an upload's alt text",
        "media",
        request=DescribeBody,
        response=MediaStatus,
        params=(_MEDIA_ID,),
        raises=(MediaNotFound, NotMediaOwner),
        auth="bearer",
        name="describe_media",
    ),
    Route(
        "DELETE",
        "/v1/media/{media_id}",
        delete_media,
        "Delete an upload (its bytes go once nothing shares them)",
        "media",
        response=MediaStatus,
        params=(_MEDIA_ID,),
        raises=(MediaNotFound, NotMediaOwner),
        auth="bearer",
        name="delete_media",
    ),
    Route(
        "POST",
        "/v1/media/uploads",
        reserve_upload,
        "Reserve a direct upload: a URL to PUT the file to, then complete it",
        "media",
        request=ReserveBody,
        response=Reservation,
        status=201,
        raises=(UnsupportedContent, *_LIMIT_ERRORS, MediaExists),
        auth="bearer",
        limited=True,
        idempotent_create=True,
        after=True,
        name="reserve_upload",
    ),
    Route(
        "PUT",
        "/v1/media/uploads/{media_id}/data",
        put_direct_upload,
        "Receive a direct upload's bytes (local storage; signed link)",
        "media",
        params=(_MEDIA_ID,),
        status=204,
        raises=(MediaNotFound, MediaTooLarge),
        in_openapi=False,
        name="put_direct_upload",
    ),
    Route(
        "POST",
        "/v1/media/uploads/{media_id}/complete",
        complete_upload,
        "Check a direct upload like a streamed one and process it",
        "media",
        response=MediaStatus,
        status=202,
        params=(_MEDIA_ID,),
        raises=(MediaNotFound, UploadNotReserved, *_CONTENT_ERRORS, MediaTooLarge),
        auth="bearer",
        after=True,
        name="complete_upload",
    ),
    *(
        Route(
            method,
            "/media/{sha}/{name}",
            serve_media,
            "A stored media object (Range, ETag; private media needs a signed link)",
            "media",
            auth="optional",
            in_openapi=False,
            name=f"serve_media_{method.lower()}",
        )
        for method in ("GET", "HEAD")
    ),
]
