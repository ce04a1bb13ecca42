"""An account's standing: suspended (until a time, or indefinitely) and limited. Pure, like
the aggregates (`account.py`): `now` comes in as an argument.

A suspension with an end is over when the end passes, with no job and no event: like VIP's
expiry (`core.perks`), it is read from the stored end at the moment of asking —
`suspended_now` — by sign-in, refresh and every read model that shows it. While suspended,
signing in gives a restricted session (the person can still appeal, export and erase); a
suspension ends every session in its own commit, so no unrestricted session outlives it.

Admins suspend and lift suspensions (`admin.py`); moderators' decisions limit and suspend,
and approved appeals or `restore` on the person lift both (`moderation.py`, through
`decide_standing`).
"""

from __future__ import annotations

from datetime import datetime

from core.errors import FieldError, ValidationError
from core.moderation import AccountEffect
from core.registry import Event
from handlers.accounts.account import AccountState
from handlers.accounts.errors import AccountNotFound
from handlers.accounts.events import (
    AccountLimited,
    AccountSuspended,
    AccountUnlimited,
    AccountUnsuspended,
    SessionRevoked,
)


def suspended_now(state: AccountState, now: datetime) -> bool:
    """Whether the account is suspended at `now`: a suspension with an end lasts until it."""
    return state.suspended and (state.suspended_until is None or now < state.suspended_until)


def suspended_until(state: AccountState, now: datetime) -> datetime | None:
    """When the suspension in force at `now` ends (None: none in force, or indefinitely)."""
    return state.suspended_until if suspended_now(state, now) else None


def decide_suspension(
    state: AccountState,
    *,
    user_id: str,
    suspend: bool,
    by: str,
    reason: str,
    now: datetime,
    until: datetime | None = None,
) -> list[Event]:
    """Suspend (until `until`, or indefinitely) or lift a suspension. Suspending ends every
    session in the same commit: the person is out at once and back only in a restricted
    session. Suspending a suspended account with another end replaces the end; the same
    suspension again, or lifting one that is over, changes nothing."""
    if not state.exists:
        raise AccountNotFound()
    current = suspended_now(state, now)
    if not suspend:
        if not current:
            return []
        return [
            AccountUnsuspended(
                user_id=user_id, unsuspended_by=by, reason=reason, unsuspended_at=now
            )
        ]
    if until is not None and until <= now:
        raise ValidationError("until must be in the future", errors=[FieldError("until", "past")])
    if current and state.suspended_until == until:
        return []
    events: list[Event] = [
        AccountSuspended(
            user_id=user_id, suspended_by=by, reason=reason, suspended_at=now, until=until
        )
    ]
    events += [
        SessionRevoked(
            user_id=user_id, session_id=sid, reason="suspended", revoked_by=by, revoked_at=now
        )
        for sid in state.sessions
    ]
    return events


def decide_limit(
    state: AccountState, *, user_id: str, limit: bool, by: str, reason: str, now: datetime
) -> list[Event]:
    """Limit the account or lift the limit; setting what already holds changes nothing."""
    if not state.exists:
        raise AccountNotFound()
    if limit == state.limited:
        return []
    if limit:
        return [AccountLimited(user_id=user_id, limited_by=by, reason=reason, limited_at=now)]
    return [AccountUnlimited(user_id=user_id, unlimited_by=by, reason=reason, unlimited_at=now)]


def decide_standing(
    state: AccountState,
    effect: AccountEffect,
    *,
    user_id: str,
    by: str,
    reason: str,
    now: datetime,
) -> list[Event]:
    """What a moderation event's account effect (`core.moderation.account_effect`) changes.
    Nothing for an account that is gone (erased, or never was) or an effect that changes
    nothing; a suspension whose end is already past when it is carried out is over: it ends
    no session."""
    if not state.exists:
        return []
    events: list[Event] = []
    if effect.limited is not None:
        events += decide_limit(
            state, user_id=user_id, limit=effect.limited, by=by, reason=reason, now=now
        )
    over = effect.suspend_until is not None and effect.suspend_until <= now
    if effect.suspended is not None and not (effect.suspended and over):
        events += decide_suspension(
            state,
            user_id=user_id,
            suspend=effect.suspended,
            by=by,
            reason=reason,
            now=now,
            until=effect.suspend_until,
        )
    return events
