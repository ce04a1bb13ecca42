"""Commands of the profiles context; limits live here so the edge, the OpenAPI document and
the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from core.commands import Command
from core.text import HANDLE_MAX, HANDLE_MIN

DISPLAY_NAME_MAX = 64
BIO_MAX = 500
HANDLE_PATTERN = r"^[A-Za-z0-9_]+$"
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"

Handle = Annotated[
    str, msgspec.Meta(min_length=HANDLE_MIN, max_length=HANDLE_MAX, pattern=HANDLE_PATTERN)
]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=DISPLAY_NAME_MAX)]
Bio = Annotated[str, msgspec.Meta(max_length=BIO_MAX)]
Locale = Annotated[str, msgspec.Meta(pattern=LOCALE_PATTERN, max_length=6)]


class UpdateProfile(Command, frozen=True):
    """Fields left out (None) stay as they are; `clear_avatar` removes the avatar."""

    context: ClassVar[str] = "profiles"
    display_name: DisplayName | None = None
    bio: Bio | None = None
    handle: Handle | None = None
    locale: Locale | None = None
    avatar_media_id: str | None = None
    clear_avatar: bool = False


class ChangePrivacy(Command, frozen=True):
    """What the person lets others see of them; each setting is given in full."""

    context: ClassVar[str] = "profiles"
    #: Online and last seen, for everyone else: hidden, they see neither.
    show_presence: bool


class _Relation(Command, frozen=True):
    context: ClassVar[str] = "profiles"
    #: The other person (the actor is the one following or blocking).
    target_id: str


class Follow(_Relation, frozen=True):
    pass


class Unfollow(_Relation, frozen=True):
    pass


class Block(_Relation, frozen=True):
    pass


class Unblock(_Relation, frozen=True):
    pass
