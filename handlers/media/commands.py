"""Commands of the media context. Limits live here so the edge's validation, the OpenAPI
document and the handler agree on them.

The edge sends what a person asks for (receive an upload, describe, attach, delete). What
the processing worker concludes (processed, rejected) and what the sweeper decides (purge)
are not in the handler table: they run inside the media worker, which owns the bytes, and
no client can send them.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from core.commands import Command
from core.text import MULTILINE

#: Alt text; Mastodon allows 1,500 characters.
DESCRIPTION_MAX = 1_500
SHA256 = r"^[0-9a-f]{64}$"
#: What an attachment names: `<what>:<id>` (`avatar:<user>`, `post:<id>`, `message:<id>`).
UPLOAD_KEY = r"^uploads/[0-9a-f-]{36}/(direct|[0-9a-f]{64})$"
REF_PATTERN = r"^[a-z]{1,20}:[0-9a-f-]{36}$"

Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_MAX, pattern=MULTILINE)]
Sha256 = Annotated[str, msgspec.Meta(pattern=SHA256)]
Ref = Annotated[str, msgspec.Meta(pattern=REF_PATTERN)]
MediaType = Annotated[str, msgspec.Meta(max_length=100)]


class _MediaCommand(Command, frozen=True):
    context: ClassVar[str] = "media"
    media_id: str


class ReserveUpload(_MediaCommand, frozen=True):
    """A direct upload to the object store was granted: the object must arrive, of at most
    `size` bytes, before `expires_at` (unix seconds)."""

    size: Annotated[int, msgspec.Meta(ge=1)]
    declared_type: MediaType
    expires_at: int


class ReceiveUpload(_MediaCommand, frozen=True):
    """The edge has the bytes in the store (`uploads/<media_id>`), hashed and checked from
    their content; the worker takes it from here."""

    sha256: Sha256
    size: Annotated[int, msgspec.Meta(ge=1)]
    media_type: MediaType
    #: Where the bytes are: `uploads/<media_id>/<sha256>` (streamed) or
    #: `uploads/<media_id>/direct` (a direct upload).
    upload_key: Annotated[str, msgspec.Meta(pattern=UPLOAD_KEY)]
    description: Description | None = None


class RefuseUpload(_MediaCommand, frozen=True):
    """A reserved direct upload turned out to be something we do not take (its bytes are
    already deleted)."""

    reason: Annotated[str, msgspec.Meta(max_length=500)]
    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z-]{1,50}$")] = "damaged-media"


class DescribeMedia(_MediaCommand, frozen=True):
    description: Description


class AttachMedia(_MediaCommand, frozen=True):
    """`public` says whether what it is attached to is readable by anyone (an avatar, a
    public post); media attached only to private things stays behind signed links."""

    ref: Ref
    public: bool
    #: Avatars must be images.
    image_only: bool = False


class DetachMedia(_MediaCommand, frozen=True):
    ref: Ref


class DeleteMedia(_MediaCommand, frozen=True):
    pass
