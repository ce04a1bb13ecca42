"""Media uploads: streamed (`POST /v1/media`) and direct (presigned: reserve, PUT, complete),
each checked against the person's limits before any byte is read and by content after.

An upload's bytes never pass through NATS or the log: the edge spools the body to a
temporary file while hashing it, checks its content, puts it in the object store under
`uploads/<id>/<sha256>` and only then sends `ReceiveUpload`; the media worker derives the
variants. Limits come from the perks table (VIP larger): bytes per file (413), uploads per
hour (429), storage per person (413).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from core.commands import CommandReply
from core.errors import FieldError, QuarkError, RemoteError, ValidationError
from core.metrics import UPLOAD_BYTES_TOTAL, UPLOADS_TOTAL
from core.ratelimit import RateLimited, Rule
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, limit, path_id, wait_for_position
from edge.perks import perks_of
from edge.routes.media import MEDIA_ID, PROJECTION, DescribeBody, MediaStatus, json_response
from edge.routing import Route
from edge.uploads import Spooled, body_chunks, check_content, declared_type, discard, spool
from handlers.media.commands import MediaType, ReceiveUpload, RefuseUpload, ReserveUpload
from handlers.media.content import KINDS
from handlers.media.errors import (
    DamagedMedia,
    ImageTooLarge,
    MediaExists,
    MediaNotFound,
    MediaTooLarge,
    StorageFull,
    TypeMismatch,
    UnsupportedContent,
    UploadNotReserved,
)
from projections import media as model

MIB = 1024 * 1024
#: Room for the multipart envelope around the file (boundaries, part headers, the alt text).
MULTIPART_SLACK = 64 * 1024
#: Types a direct upload may declare: exactly the kinds we take.
ACCEPTED_TYPES = sorted({k.media_type for k in KINDS})


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
    return json_response(202, MediaStatus(media_id, "processing", reply.position or ""), headers)


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


async def _send_or_drop(
    request: web.Request, command: Any, who: Any, blobs: Any, key: str
) -> CommandReply:
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
    return json_response(
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
        return json_response(202, MediaStatus(media_id, row.status, ""))
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
    return json_response(
        202, MediaStatus(media_id, "processing", reply.position or ""), command_headers(reply)
    )


# -- routes ------------------------------------------------------------------------------

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
        params=(MEDIA_ID,),
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
        params=(MEDIA_ID,),
        raises=(MediaNotFound, UploadNotReserved, *_CONTENT_ERRORS, MediaTooLarge),
        auth="bearer",
        after=True,
        name="complete_upload",
    ),
]
