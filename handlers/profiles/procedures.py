"""Carrying out profile changes: sealing the personal fields, claiming a new handle before
the profile points at it, then releasing the old one (free for others after a cooling-off
period)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.bootstrap import Infra
from core.bus import transact
from core.commands import CommandMeta, CommandReply
from core.errors import FieldError
from core.ids import derived_id, is_uuid
from core.permissions import require
from handlers.profiles.commands import ChangePrivacy, UpdateProfile
from handlers.profiles.errors import InvalidProfile
from handlers.profiles.events import ProfileUpdated
from handlers.profiles.state import (
    HANDLE,
    PAIR,
    PROFILE,
    canonical_handle,
    check_handle,
    decide_block,
    decide_claim_handle,
    decide_follow,
    decide_privacy,
    decide_release_handle,
    decide_unblock,
    decide_unfollow,
    decide_update,
)


def handle_hash(infra: Infra, handle: str) -> str:
    return infra.vault.lookup_hash("handle", canonical_handle(handle))


def _handle_id(infra: Infra, hashed: str) -> str:
    return derived_id(infra.secret_key, "handle-claim", hashed)


def _clean_text(field: str, value: str | None, *, multiline: bool) -> str | None:
    """Plain text only: no control characters (newlines allowed in a bio), trimmed."""
    if value is None:
        return None
    allowed = {"\n"} if multiline else set()
    if any((ord(c) < 32 and c not in allowed) or ord(c) == 127 for c in value):
        raise InvalidProfile(
            f"{field} must be plain text", errors=[FieldError(field, "control characters")]
        )
    return value.strip()


async def update_profile(infra: Infra, command: UpdateProfile, meta: CommandMeta) -> CommandReply:
    user_id = meta.actor or ""
    if not is_uuid(user_id):
        raise InvalidProfile("sign in first")
    require(meta.roles, "account.manage_own")
    name = _clean_text("display_name", command.display_name, multiline=False)
    if name is not None and not name:
        raise InvalidProfile(errors=[FieldError("display_name", "must not be blank")])
    bio = _clean_text("bio", command.bio, multiline=True)
    if command.avatar_media_id is not None and not is_uuid(command.avatar_media_id):
        raise InvalidProfile(errors=[FieldError("avatar_media_id", "not a media id")])
    now = meta.received_at
    seal = infra.vault.seal
    new_hash = None
    sealed_handle = None
    if command.handle is not None:
        handle = canonical_handle(command.handle)
        check_handle(handle)
        new_hash = handle_hash(infra, handle)
        sealed_handle = await seal(user_id, "handle", handle)
    current = (await infra.store.load(PROFILE, user_id)).state
    changing_handle = new_hash is not None and new_hash != current.handle_hash
    if changing_handle:
        assert new_hash is not None
        await transact(
            infra.store,
            HANDLE,
            _handle_id(infra, new_hash),
            lambda state: decide_claim_handle(
                state, handle_hash=new_hash, user_id=user_id, now=now
            ),
            meta,
            creates=True,
            step="claim",
        )
    update = ProfileUpdated(
        user_id=user_id,
        display_name=await seal(user_id, "display_name", name) if name is not None else None,
        bio=await seal(user_id, "bio", bio) if bio is not None else None,
        handle=sealed_handle,
        handle_hash=new_hash,
        locale=command.locale,
        avatar_media_id=command.avatar_media_id,
        avatar_cleared=command.clear_avatar,
        updated_at=now,
    )
    outcome = await transact(
        infra.store,
        PROFILE,
        user_id,
        lambda state: decide_update(state, update, owns_new_handle=changing_handle),
        meta,
        step="profile",
    )
    if changing_handle and current.handle_hash:
        await _release(infra, user_id, current.handle_hash, meta)
    return CommandReply(
        ok=True, position=outcome.position, aggregate_id=user_id, duplicate=outcome.duplicate
    )


async def change_privacy(infra: Infra, command: ChangePrivacy, meta: CommandMeta) -> CommandReply:
    user_id = meta.actor or ""
    if not is_uuid(user_id):
        raise InvalidProfile("sign in first")
    require(meta.roles, "account.manage_own")
    outcome = await transact(
        infra.store,
        PROFILE,
        user_id,
        lambda state: decide_privacy(
            state, user_id=user_id, show_presence=command.show_presence, now=meta.received_at
        ),
        meta,
    )
    return CommandReply(
        ok=True, position=outcome.position, aggregate_id=user_id, duplicate=outcome.duplicate
    )


def pair_id(infra: Infra, a: str, b: str) -> str:
    low, high = sorted((a, b))
    return derived_id(infra.secret_key, "pair", low, high)


def _relation(decide: Any) -> Any:
    async def run(infra: Infra, command: Any, meta: CommandMeta) -> CommandReply:
        actor = meta.actor or ""
        if not is_uuid(actor) or not is_uuid(command.target_id):
            raise InvalidProfile("sign in first, and name a person")
        require(meta.roles, "account.manage_own")
        outcome = await transact(
            infra.store,
            PAIR,
            pair_id(infra, actor, command.target_id),
            lambda state: decide(
                state, actor=actor, target=command.target_id, now=meta.received_at
            ),
            meta,
        )
        return CommandReply(
            ok=True,
            position=outcome.position,
            aggregate_id=command.target_id,
            duplicate=outcome.duplicate,
        )

    return run


follow = _relation(decide_follow)
unfollow = _relation(decide_unfollow)
block = _relation(decide_block)
unblock = _relation(decide_unblock)


async def release_handle_of_erased(infra: Infra, recorded: Any) -> None:
    """React to `accounts.AccountErased`: the person's handle is released like a rename's
    (cooling off first), so it does not stay taken by nobody forever. Idempotent: the command
    id is the erasure's position."""
    user_id = recorded.event.user_id
    meta = CommandMeta(
        command_id=f"erased-{recorded.stream}-{recorded.seq}-{recorded.index}",
        actor=None,
        roles=frozenset(),
        correlation_id=recorded.envelope.correlation_id,
        received_at=recorded.event.erased_at,
    )
    current = (await infra.store.load(PROFILE, user_id)).state
    if current.handle_hash:
        await _release(infra, user_id, current.handle_hash, meta)


async def _release(infra: Infra, user_id: str, handle_hash: str, meta: CommandMeta) -> None:
    """Give a handle up: free for others once its cooling-off period has passed."""
    cooling = timedelta(seconds=infra.settings.handle_cooling_off_seconds)
    await transact(
        infra.store,
        HANDLE,
        _handle_id(infra, handle_hash),
        lambda state: decide_release_handle(
            state,
            handle_hash=handle_hash,
            user_id=user_id,
            cooling_off=cooling,
            now=meta.received_at,
        ),
        meta,
        step="release",
    )
