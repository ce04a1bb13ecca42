"""Events of the media context: facts about uploads, never their bytes (DESIGN §5a).

The bytes of an upload live under content-addressed keys derived from `sha256`; the events
say which keys exist, so the sweeper and erasure know what to delete.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec

from core.registry import Event


class Variant(msgspec.Struct, frozen=True):
    """One stored rendition: `original` (re-encoded) or a WebP at 64, 320 or 1080 px."""

    key: str
    width: int | None
    height: int | None
    type: str
    size: int


class UploadReserved(Event, frozen=True):
    name: ClassVar[str] = "media.UploadReserved"
    media_id: str
    owner_id: str
    size: int
    declared_type: str
    expires_at: datetime
    reserved_at: datetime


class MediaReceived(Event, frozen=True):
    """The bytes are in the store at `upload_key`, waiting for the worker."""

    name: ClassVar[str] = "media.MediaReceived"
    media_id: str
    owner_id: str
    sha256: str
    size: int
    media_type: str
    upload_key: str
    received_at: datetime
    description: str | None = None


class MediaProcessed(Event, frozen=True):
    name: ClassVar[str] = "media.MediaProcessed"
    media_id: str
    media_type: str
    width: int | None
    height: int | None
    blurhash: str | None
    variants: dict[str, Variant]
    processed_at: datetime


class MediaRejected(Event, frozen=True):
    """The content was refused after it was received; its bytes are already deleted."""

    name: ClassVar[str] = "media.MediaRejected"
    media_id: str
    reason: str
    rejected_at: datetime
    #: The problem type of the refusal (`damaged-media`, `image-too-large`, …): clients
    #: switch on it as on a synchronous refusal's `quark:<code>`.
    code: str = "damaged-media"


class MediaDescribed(Event, frozen=True):
    name: ClassVar[str] = "media.MediaDescribed"
    media_id: str
    description: str
    described_at: datetime


class MediaAttached(Event, frozen=True):
    name: ClassVar[str] = "media.MediaAttached"
    media_id: str
    ref: str
    public: bool
    attached_at: datetime


class MediaDetached(Event, frozen=True):
    name: ClassVar[str] = "media.MediaDetached"
    media_id: str
    ref: str
    detached_at: datetime


class MediaDeleted(Event, frozen=True):
    """`reason`: `owner`, `unattached` (the sweeper), `expired` (a direct upload that never
    arrived) or `erased` (the owner's erasure). Bytes go later, by `MediaPurged`, once no
    other upload shares them."""

    name: ClassVar[str] = "media.MediaDeleted"
    media_id: str
    reason: str
    deleted_at: datetime
    deleted_by: str


class MediaModerated(Event, frozen=True):
    """A moderator's decision (or hiding pending review) carried out on an upload: `hidden`
    and `removed` keep its bytes (an appeal may restore it) but show it to its owner only;
    `visible` shows it again."""

    name: ClassVar[str] = "media.MediaModerated"
    media_id: str
    state: str
    by: str
    reason: str
    at: datetime


class MediaPurged(Event, frozen=True):
    """Every object of this upload that nothing else shares is gone from the store."""

    name: ClassVar[str] = "media.MediaPurged"
    media_id: str
    purged_at: datetime
    keys: list[str]


EVENTS = (
    UploadReserved,
    MediaReceived,
    MediaProcessed,
    MediaRejected,
    MediaDescribed,
    MediaAttached,
    MediaDetached,
    MediaDeleted,
    MediaPurged,
    MediaModerated,
)
