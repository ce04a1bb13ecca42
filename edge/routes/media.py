"""Media: the media view (status, variants with their links, alt text), deletion, and
delivery of the stored objects (`/media/{key}`).

Apart from how bytes get in (`edge.routes.media_uploads`) because this is what every reader
of media meets: posts, messages and authors' avatars show attachments through `media_views`,
a report checks its target with `visible_media`, and `/media/{key}` serves the bytes.
"""

from __future__ import annotations

import re
import time

import msgspec
from aiohttp import web

from edge import delivery
from edge.auth import PRINCIPAL, Principal, optional_principal, principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, db, infra, path_id, wait_for_position
from edge.routing import Param, Route
from handlers.media.commands import DeleteMedia, DescribeMedia, Description
from handlers.media.errors import MediaNotFound, NotMediaOwner
from projections import media as model

PROJECTION = "media"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_encoder = msgspec.json.Encoder()


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


def json_response(
    status: int, value: object, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


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
    rows = await model.get_many(db(request), media_ids)
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
    return json_response(200, _view(request, await visible_media(request, media_id)))


async def describe_media(request: web.Request) -> web.Response:
    who = await principal(request)
    media_id = path_id(request, "media_id", MediaNotFound)
    body = await read_json(request, DescribeBody, max_bytes=infra(request).settings.max_body_bytes)
    reply = await send_as(
        request, DescribeMedia(media_id=media_id, description=body.description), who
    )
    return json_response(
        200, MediaStatus(media_id, "described", reply.position or ""), command_headers(reply)
    )


async def delete_media(request: web.Request) -> web.Response:
    who = await principal(request)
    media_id = path_id(request, "media_id", MediaNotFound)
    reply = await send_as(request, DeleteMedia(media_id=media_id), who)
    return json_response(
        200, MediaStatus(media_id, "deleted", reply.position or ""), command_headers(reply)
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

MEDIA_ID = Param("media_id", "path", "Media id", {"type": "string", "format": "uuid"})

ROUTES = [
    Route(
        "GET",
        "/v1/media/{media_id}",
        read_media,
        "An upload's status, size, blurhash, alt text and variants",
        "media",
        response=MediaView,
        params=(MEDIA_ID,),
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
        params=(MEDIA_ID,),
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
        params=(MEDIA_ID,),
        raises=(MediaNotFound, NotMediaOwner),
        auth="bearer",
        name="delete_media",
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
