"""Events of the profiles context. Display name, bio and handle are personal: sealed under
the person's key (erasure makes them "[erased]" everywhere); handles are looked up by keyed
hash, never by their text."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.personal import Sealed
from core.registry import Event


class ProfileUpdated(Event, frozen=True):
    name: ClassVar[str] = "profiles.ProfileUpdated"
    user_id: str
    updated_at: datetime
    display_name: Sealed | None = None
    bio: Sealed | None = None
    handle: Sealed | None = None
    handle_hash: str | None = None
    locale: str | None = None
    avatar_media_id: str | None = None
    avatar_cleared: bool = False


class PrivacyChanged(Event, frozen=True):
    """The person's privacy settings, in full, from now on (the first one replaces the
    defaults: presence shown)."""

    name: ClassVar[str] = "profiles.PrivacyChanged"
    user_id: str
    show_presence: bool
    changed_at: datetime


class HandleClaimed(Event, frozen=True):
    name: ClassVar[str] = "profiles.HandleClaimed"
    handle_hash: str
    user_id: str
    claimed_at: datetime


class HandleReleased(Event, frozen=True):
    """The owner moved to another handle; anybody else may take this one from `free_after`
    (the cooling-off period keeps a renamed person from being impersonated at once)."""

    name: ClassVar[str] = "profiles.HandleReleased"
    handle_hash: str
    user_id: str
    released_at: datetime
    free_after: datetime


class Followed(Event, frozen=True):
    name: ClassVar[str] = "profiles.Followed"
    follower_id: str
    followee_id: str
    followed_at: datetime


class Unfollowed(Event, frozen=True):
    name: ClassVar[str] = "profiles.Unfollowed"
    follower_id: str
    followee_id: str
    unfollowed_at: datetime


class Blocked(Event, frozen=True):
    """Also ends follows both ways, in the same commit."""

    name: ClassVar[str] = "profiles.Blocked"
    blocker_id: str
    blocked_id: str
    blocked_at: datetime


class Unblocked(Event, frozen=True):
    name: ClassVar[str] = "profiles.Unblocked"
    blocker_id: str
    blocked_id: str
    unblocked_at: datetime


EVENTS = (
    ProfileUpdated,
    PrivacyChanged,
    HandleClaimed,
    HandleReleased,
    Followed,
    Unfollowed,
    Blocked,
    Unblocked,
)
