"""The upload aggregate (`media.upload`, one per media id): pure `evolve` and `decide`
functions, no I/O and no clock.

Life of an upload: (reserved →) processing → ready | failed, then possibly deleted →
purged. Attachments are a set of references (`avatar:<user>`, later `post:<id>`…); media
attached to anything public is public, everything else is readable only by its owner or
through a short-lived signed link.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.commands import CommandMeta
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.media.commands import (
    AttachMedia,
    DeleteMedia,
    DescribeMedia,
    ReceiveUpload,
    RefuseUpload,
    ReserveUpload,
)
from handlers.media.errors import (
    MediaExists,
    MediaNotFound,
    MediaNotReady,
    NotAnImage,
    NotMediaOwner,
    UploadNotReserved,
)
from handlers.media.events import (
    MediaAttached,
    MediaDeleted,
    MediaDescribed,
    MediaDetached,
    MediaModerated,
    MediaProcessed,
    MediaPurged,
    MediaReceived,
    MediaRejected,
    UploadReserved,
    Variant,
)

RESERVED, PROCESSING, READY, FAILED, DELETED = (
    "reserved",
    "processing",
    "ready",
    "failed",
    "deleted",
)
#: Roles that may delete anybody's media (moderation).
MODERATING_ROLES = frozenset({"moderator", "admin"})


class MediaState(msgspec.Struct, frozen=True):
    status: str = ""
    owner_id: str = ""
    sha256: str = ""
    size: int = 0
    media_type: str = ""
    reserved_size: int = 0
    declared_type: str = ""
    expires_at: datetime | None = None
    upload_key: str = ""
    description: str | None = None
    attachments: frozenset[str] = frozenset()
    #: The attachments that make the media public (an avatar, a public post).
    public_refs: frozenset[str] = frozenset()
    variants: dict[str, Variant] = {}
    purged: bool = False
    #: `visible`, or what moderators made of it (`hidden`, `removed`).
    moderation: str = "visible"


def evolve(state: MediaState, event: Event) -> MediaState:
    replace = msgspec.structs.replace
    match event:
        case UploadReserved():
            return MediaState(
                status=RESERVED,
                owner_id=event.owner_id,
                reserved_size=event.size,
                declared_type=event.declared_type,
                expires_at=event.expires_at,
            )
        case MediaReceived():
            return replace(
                state,
                status=PROCESSING,
                owner_id=event.owner_id,
                sha256=event.sha256,
                size=event.size,
                media_type=event.media_type,
                upload_key=event.upload_key,
                description=event.description,
            )
        case MediaProcessed():
            return replace(
                state, status=READY, media_type=event.media_type, variants=event.variants
            )
        case MediaRejected():
            return replace(state, status=FAILED)
        case MediaDescribed():
            return replace(state, description=event.description)
        case MediaAttached():
            public = state.public_refs - {event.ref} | ({event.ref} if event.public else set())
            return replace(state, attachments=state.attachments | {event.ref}, public_refs=public)
        case MediaDetached():
            return replace(
                state,
                attachments=state.attachments - {event.ref},
                public_refs=state.public_refs - {event.ref},
            )
        case MediaDeleted():
            return replace(state, status=DELETED, attachments=frozenset(), public_refs=frozenset())
        case MediaModerated():
            return replace(state, moderation=event.state)
        case MediaPurged():
            return replace(state, purged=True)
        case _:
            return state


UPLOAD = AggregateKind(type="media.upload", initial=MediaState, evolve=evolve)


def _owner(meta: CommandMeta) -> str:
    if not meta.actor:
        raise NotMediaOwner("media needs an owner")
    return meta.actor


def _live(state: MediaState) -> MediaState:
    if state.status in ("", DELETED):
        raise MediaNotFound()
    return state


def _own(state: MediaState, meta: CommandMeta) -> MediaState:
    _live(state)
    if meta.actor != state.owner_id:
        # Somebody else's private upload does not exist for them (no enumeration).
        raise MediaNotFound()
    return state


def decide_reserve(state: MediaState, command: ReserveUpload, meta: CommandMeta) -> list[Event]:
    owner = _owner(meta)
    if state.status:
        if (state.status, state.owner_id, state.reserved_size, state.declared_type) == (
            RESERVED,
            owner,
            command.size,
            command.declared_type,
        ):
            return []  # a retry of the same reservation
        raise MediaExists()
    return [
        UploadReserved(
            media_id=command.media_id,
            owner_id=owner,
            size=command.size,
            declared_type=command.declared_type,
            expires_at=datetime.fromtimestamp(command.expires_at, meta.received_at.tzinfo),
            reserved_at=meta.received_at,
        )
    ]


def decide_receive(state: MediaState, command: ReceiveUpload, meta: CommandMeta) -> list[Event]:
    owner = _owner(meta)
    if state.status == RESERVED:
        if owner != state.owner_id:
            raise MediaNotFound()
        if state.expires_at is not None and meta.received_at > state.expires_at:
            raise UploadNotReserved("the upload link has expired")
        if command.size > state.reserved_size:
            raise UploadNotReserved("the object is larger than the reserved size")
    elif state.status:
        if (state.owner_id, state.sha256, state.upload_key) == (
            owner,
            command.sha256,
            command.upload_key,
        ):
            return []  # the same upload again (an Idempotency-Key retry)
        raise MediaExists()
    if not command.upload_key.startswith(upload_prefix(command.media_id)):
        raise MediaNotFound("the bytes are not this upload's")
    return [
        MediaReceived(
            media_id=command.media_id,
            owner_id=owner,
            sha256=command.sha256,
            size=command.size,
            media_type=command.media_type,
            upload_key=command.upload_key,
            received_at=meta.received_at,
            description=command.description,
        )
    ]


def decide_refuse(state: MediaState, command: RefuseUpload, meta: CommandMeta) -> list[Event]:
    _own(state, meta)
    if state.status == FAILED:
        return []
    if state.status != RESERVED:
        raise UploadNotReserved()
    return [
        MediaRejected(
            media_id=command.media_id,
            reason=command.reason,
            rejected_at=meta.received_at,
            code=command.code,
        )
    ]


def decide_describe(state: MediaState, command: DescribeMedia, meta: CommandMeta) -> list[Event]:
    _own(state, meta)
    if command.description == (state.description or ""):
        return []
    return [
        MediaDescribed(
            media_id=command.media_id,
            description=command.description,
            described_at=meta.received_at,
        )
    ]


def decide_attach(state: MediaState, command: AttachMedia, meta: CommandMeta) -> list[Event]:
    _own(state, meta)
    if state.status != READY:
        raise MediaNotReady()
    if command.image_only and not state.media_type.startswith("image/"):
        raise NotAnImage()
    if command.ref in state.attachments and (command.ref in state.public_refs) == command.public:
        return []  # attached already, as public (or not) as asked
    return [
        MediaAttached(
            media_id=command.media_id,
            ref=command.ref,
            public=command.public,
            attached_at=meta.received_at,
        )
    ]


def decide_delete(state: MediaState, command: DeleteMedia, meta: CommandMeta) -> list[Event]:
    if state.status == DELETED:
        return []
    _live(state)
    if meta.actor != state.owner_id and not (meta.roles & MODERATING_ROLES):
        raise MediaNotFound() if meta.actor else NotMediaOwner()
    reason = "owner" if meta.actor == state.owner_id else "moderator"
    return [deleted(command.media_id, reason, meta)]


# What the worker and the sweeper decide (not reachable from clients).


def deleted(media_id: str, reason: str, meta: CommandMeta) -> MediaDeleted:
    return MediaDeleted(
        media_id=media_id, reason=reason, deleted_at=meta.received_at, deleted_by=meta.actor or ""
    )


def decide_processed(state: MediaState, processed: MediaProcessed) -> list[Event]:
    return [processed] if state.status == PROCESSING else []


def decide_rejected(state: MediaState, rejected: MediaRejected) -> list[Event]:
    return [rejected] if state.status in (PROCESSING, RESERVED) else []


def decide_detach(state: MediaState, media_id: str, ref: str, meta: CommandMeta) -> list[Event]:
    if ref not in state.attachments:
        return []
    return [MediaDetached(media_id=media_id, ref=ref, detached_at=meta.received_at)]


def decide_sweep(state: MediaState, media_id: str, reason: str, meta: CommandMeta) -> list[Event]:
    """Deletion by the platform (unattached for too long, an expired reservation, the
    owner's erasure). An attachment made meanwhile wins over the sweep, except erasure."""
    if state.status in ("", DELETED) or (state.attachments and reason != "erased"):
        return []
    return [deleted(media_id, reason, meta)]


def decide_purge(
    state: MediaState, media_id: str, keys: list[str], meta: CommandMeta
) -> list[Event]:
    if state.status != DELETED or state.purged:
        return []
    return [MediaPurged(media_id=media_id, purged_at=meta.received_at, keys=keys)]


def upload_prefix(media_id: str) -> str:
    """Where the edge puts an upload's bytes until the worker has processed them: under
    this prefix, named by their hash (or `direct` for a direct upload), so a retry with other
    bytes never overwrites the first attempt's."""
    return f"uploads/{media_id}/"


def content_prefix(sha256: str) -> str:
    """Every object derived from one upload's bytes lives under this prefix."""
    return f"{sha256}/"
