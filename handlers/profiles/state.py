"""The profile and handle-claim aggregates: pure `evolve` and `decide` (no I/O, no clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from core.errors import FieldError
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.profiles.errors import (
    BlockedError,
    HandleCoolingOff,
    HandleReserved,
    HandleTaken,
    SelfRelation,
)
from handlers.profiles.events import (
    Blocked,
    Followed,
    HandleClaimed,
    HandleReleased,
    PrivacyChanged,
    ProfileUpdated,
    Unblocked,
    Unfollowed,
)

#: Handles nobody may take: they would pass for the platform speaking.
RESERVED = frozenset(
    {
        "about", "abuse", "admin", "administrator", "api", "app", "billing", "everyone",
        "help", "here", "info", "login", "logout", "me", "mod", "moderator", "news", "null",
        "official", "quark", "register", "root", "security", "settings", "signup", "staff",
        "support", "system", "undefined", "user", "users", "www",
    }
)  # fmt: skip


def canonical_handle(handle: str) -> str:
    """Handles are case-insensitive: one spelling is stored and compared."""
    return handle.strip().lower()


def check_handle(handle: str) -> None:
    if handle in RESERVED or handle.startswith("quark_"):
        raise HandleReserved(errors=[FieldError("handle", "reserved")])


# -- handle claim ---------------------------------------------------------------------------


class HandleState(msgspec.Struct, frozen=True):
    owner: str = ""
    released_by: str = ""
    free_after: datetime | None = None


def evolve_handle(state: HandleState, event: Event) -> HandleState:
    match event:
        case HandleClaimed():
            return HandleState(owner=event.user_id)
        case HandleReleased():
            return HandleState(released_by=event.user_id, free_after=event.free_after)
        case _:
            return state


HANDLE = AggregateKind(type="profiles.handle", initial=HandleState, evolve=evolve_handle)


def decide_claim_handle(
    state: HandleState, *, handle_hash: str, user_id: str, now: datetime
) -> list[Event]:
    if state.owner == user_id:
        return []
    if state.owner:
        raise HandleTaken(errors=[FieldError("handle", "taken")])
    if state.free_after is not None and now < state.free_after and state.released_by != user_id:
        # Its former owner may take it back at once; everyone else waits.
        raise HandleCoolingOff(
            f"free again after {state.free_after.isoformat()}",
            errors=[FieldError("handle", "recently released")],
        )
    return [HandleClaimed(handle_hash=handle_hash, user_id=user_id, claimed_at=now)]


def decide_release_handle(
    state: HandleState, *, handle_hash: str, user_id: str, cooling_off: timedelta, now: datetime
) -> list[Event]:
    if state.owner != user_id:
        return []  # not ours (any more): nothing to release
    return [
        HandleReleased(
            handle_hash=handle_hash, user_id=user_id, released_at=now, free_after=now + cooling_off
        )
    ]


# -- profile --------------------------------------------------------------------------------


class ProfileState(msgspec.Struct, frozen=True):
    handle_hash: str = ""
    #: Snapshots taken before privacy settings existed decode with the default.
    show_presence: bool = True


def evolve_profile(state: ProfileState, event: Event) -> ProfileState:
    match event:
        case ProfileUpdated(handle_hash=str() as hashed):
            return msgspec.structs.replace(state, handle_hash=hashed)
        case PrivacyChanged():
            return msgspec.structs.replace(state, show_presence=event.show_presence)
        case _:
            return state


PROFILE = AggregateKind(
    type="profiles.profile",
    initial=ProfileState,
    evolve=evolve_profile,
    state_type=ProfileState,
    snapshot_every=100,
)


def decide_update(
    state: ProfileState, update: ProfileUpdated, *, owns_new_handle: bool
) -> list[Event]:
    """`update` holds only what changes; a handle change needs its claim first."""
    if update.handle_hash is not None and update.handle_hash != state.handle_hash:
        if not owns_new_handle:
            raise HandleTaken(errors=[FieldError("handle", "not claimed")])
    elif update.handle_hash is not None:
        update = msgspec.structs.replace(update, handle=None, handle_hash=None)
    changes = msgspec.structs.asdict(update)
    if not any(
        v not in (None, False) for k, v in changes.items() if k not in ("user_id", "updated_at")
    ):
        return []
    return [update]


def decide_privacy(
    state: ProfileState, *, user_id: str, show_presence: bool, now: datetime
) -> list[Event]:
    """Settings as they already are record nothing (a retried PUT is no new fact)."""
    if state.show_presence == show_presence:
        return []
    return [PrivacyChanged(user_id=user_id, show_presence=show_presence, changed_at=now)]


# -- relations between two people -----------------------------------------------------------


class PairState(msgspec.Struct, frozen=True):
    """Who follows and who blocks whom, for one pair of people: one aggregate, so a follow
    and a block racing each other are decided one after the other."""

    follows: frozenset[tuple[str, str]] = frozenset()
    blocks: frozenset[tuple[str, str]] = frozenset()


def evolve_pair(state: PairState, event: Event) -> PairState:
    replace = msgspec.structs.replace
    match event:
        case Followed():
            return replace(state, follows=state.follows | {(event.follower_id, event.followee_id)})
        case Unfollowed():
            return replace(state, follows=state.follows - {(event.follower_id, event.followee_id)})
        case Blocked():
            return replace(state, blocks=state.blocks | {(event.blocker_id, event.blocked_id)})
        case Unblocked():
            return replace(state, blocks=state.blocks - {(event.blocker_id, event.blocked_id)})
        case _:
            return state


PAIR = AggregateKind(type="profiles.pair", initial=PairState, evolve=evolve_pair)


def _two(actor: str, target: str) -> None:
    if actor == target:
        raise SelfRelation()


def decide_follow(state: PairState, *, actor: str, target: str, now: datetime) -> list[Event]:
    _two(actor, target)
    if (target, actor) in state.blocks or (actor, target) in state.blocks:
        raise BlockedError()
    if (actor, target) in state.follows:
        return []
    return [Followed(follower_id=actor, followee_id=target, followed_at=now)]


def decide_unfollow(state: PairState, *, actor: str, target: str, now: datetime) -> list[Event]:
    _two(actor, target)
    if (actor, target) not in state.follows:
        return []
    return [Unfollowed(follower_id=actor, followee_id=target, unfollowed_at=now)]


def decide_block(state: PairState, *, actor: str, target: str, now: datetime) -> list[Event]:
    _two(actor, target)
    if (actor, target) in state.blocks:
        return []
    ended = [
        Unfollowed(follower_id=a, followee_id=b, unfollowed_at=now)
        for a, b in sorted(state.follows)
    ]
    return [*ended, Blocked(blocker_id=actor, blocked_id=target, blocked_at=now)]


def decide_unblock(state: PairState, *, actor: str, target: str, now: datetime) -> list[Event]:
    _two(actor, target)
    if (actor, target) not in state.blocks:
        return []
    return [Unblocked(blocker_id=actor, blocked_id=target, unblocked_at=now)]
