"""An account's standing, decided and read with plain values: suspensions that end by
themselves, limits, and what a moderator's decision or an approved appeal changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from core.errors import ValidationError
from core.moderation import AccountEffect
from core.registry import Event
from handlers.accounts.account import ACCOUNT, AccountState, decide_open_session, decide_refresh
from handlers.accounts.errors import AccountNotFound
from handlers.accounts.events import (
    AccountErased,
    AccountLimited,
    AccountRegistered,
    AccountSuspended,
    AccountUnlimited,
    AccountUnsuspended,
    SessionOpened,
    SessionRevoked,
)
from handlers.accounts.standing import (
    decide_limit,
    decide_standing,
    decide_suspension,
    suspended_now,
    suspended_until,
)
from tests.unit.accounts.test_decide import SEALED, SID, USER

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ADMIN = "0192f0a0-0000-7000-8000-0000000000ad"


def _fold(state: AccountState, events: list[Event]) -> AccountState:
    for event in events:
        state = ACCOUNT.evolve(state, event)
    return state


def _account(*, sessions: int = 1) -> AccountState:
    registered = AccountRegistered(
        user_id=USER,
        phone_hash="p",
        phone=SEALED,
        display_name=SEALED,
        password_hash="h",
        roles=["user"],
        registered_at=NOW - timedelta(days=3),
    )
    opened = [
        SessionOpened(
            user_id=USER,
            session_id=f"{SID[:-1]}{n}",
            refresh_hash=f"r{n}",
            device="d",
            ip=None,
            method="password",
            opened_at=NOW - timedelta(hours=1),
        )
        for n in range(sessions)
    ]
    return _fold(ACCOUNT.initial(), [registered, *opened])


def _suspend(state: AccountState, until: datetime | None = None) -> list[Event]:
    return decide_suspension(
        state, user_id=USER, suspend=True, by=ADMIN, reason="spam", now=NOW, until=until
    )


def test_a_suspension_with_an_end_is_over_when_the_end_passes_with_no_event() -> None:
    later = NOW + timedelta(hours=2)
    state = _fold(_account(), _suspend(_account(), later))
    assert suspended_now(state, NOW)
    assert suspended_now(state, later - timedelta(microseconds=1))
    assert not suspended_now(state, later)
    assert suspended_until(state, NOW) == later
    assert suspended_until(state, later) is None


def test_an_indefinite_suspension_lasts_until_it_is_lifted() -> None:
    state = _fold(_account(), _suspend(_account()))
    assert suspended_now(state, NOW + timedelta(days=3650))
    assert suspended_until(state, NOW) is None
    lifted = decide_suspension(
        state, user_id=USER, suspend=False, by=ADMIN, reason="appeal", now=NOW
    )
    assert [type(e) for e in lifted] == [AccountUnsuspended]
    assert not suspended_now(_fold(state, lifted), NOW)


def test_suspending_ends_every_session_in_the_same_commit() -> None:
    events = _suspend(_account(sessions=3), NOW + timedelta(days=1))
    assert [type(e) for e in events] == [AccountSuspended, *[SessionRevoked] * 3]
    assert {e.reason for e in events if isinstance(e, SessionRevoked)} == {"suspended"}
    assert _fold(_account(sessions=3), events).sessions == {}


def test_the_same_suspension_again_changes_nothing_and_another_end_replaces_it() -> None:
    end = NOW + timedelta(days=1)
    state = _fold(_account(), _suspend(_account(), end))
    assert _suspend(state, end) == []
    longer = _suspend(state, end + timedelta(days=6))
    assert [type(e) for e in longer] == [AccountSuspended]
    assert suspended_until(_fold(state, longer), NOW) == end + timedelta(days=6)
    indefinitely = _suspend(state)
    assert suspended_until(_fold(state, indefinitely), NOW) is None
    assert suspended_now(_fold(state, indefinitely), end + timedelta(days=365))


def test_an_end_that_is_not_in_the_future_is_refused() -> None:
    with pytest.raises(ValidationError):
        _suspend(_account(), NOW)
    with pytest.raises(AccountNotFound):
        _suspend(ACCOUNT.initial())


def test_lifting_a_suspension_that_is_over_changes_nothing() -> None:
    state = _fold(_account(), _suspend(_account(), NOW + timedelta(minutes=1)))
    later = NOW + timedelta(minutes=2)
    assert (
        decide_suspension(state, user_id=USER, suspend=False, by=ADMIN, reason="r", now=later) == []
    )


def test_a_suspended_person_signs_in_and_refreshes_their_session() -> None:
    """The session is restricted by the procedure (`suspended_now`), not refused here."""
    state = _fold(_account(sessions=0), _suspend(_account(sessions=0)))
    session = SessionOpened(
        user_id=USER,
        session_id=SID,
        refresh_hash="r",
        device="d",
        ip=None,
        method="password",
        opened_at=NOW,
    )
    assert decide_open_session(state, session) == [session]
    state = _fold(state, [session])
    verdict = decide_refresh(
        state, user_id=USER, session_id=SID, presented_hash="r", new_hash="r2", now=NOW
    )
    assert verdict.error is None and len(verdict.events) == 1


def test_a_limit_is_set_and_lifted_once() -> None:
    state = _account()
    limited = decide_limit(state, user_id=USER, limit=True, by=ADMIN, reason="r", now=NOW)
    assert [type(e) for e in limited] == [AccountLimited]
    state = _fold(state, limited)
    assert state.limited
    assert decide_limit(state, user_id=USER, limit=True, by=ADMIN, reason="r", now=NOW) == []
    lifted = decide_limit(state, user_id=USER, limit=False, by=ADMIN, reason="r", now=NOW)
    assert [type(e) for e in lifted] == [AccountUnlimited]
    assert not _fold(state, lifted).limited


def _standing(state: AccountState, effect: AccountEffect) -> list[Event]:
    return decide_standing(state, effect, user_id=USER, by=ADMIN, reason="r", now=NOW)


def test_a_decision_limits_and_suspends_and_a_restore_lifts_both() -> None:
    end = NOW + timedelta(days=7)
    events = _standing(_account(), AccountEffect(limited=True, suspended=True, suspend_until=end))
    assert [type(e) for e in events] == [AccountLimited, AccountSuspended, SessionRevoked]
    state = _fold(_account(), events)
    assert state.limited and suspended_until(state, NOW) == end
    # Redelivered (or decided again): nothing new.
    assert _standing(state, AccountEffect(limited=True, suspended=True, suspend_until=end)) == []
    restored = _standing(state, AccountEffect(limited=False, suspended=False))
    assert [type(e) for e in restored] == [AccountUnlimited, AccountUnsuspended]
    state = _fold(state, restored)
    assert not state.limited and not suspended_now(state, NOW)


def test_no_effect_an_erased_account_or_a_suspension_already_over_change_nothing() -> None:
    assert _standing(_account(), AccountEffect()) == []
    erased = _fold(_account(), [AccountErased(user_id=USER, erased_at=NOW)])
    assert _standing(erased, AccountEffect(limited=True, suspended=True)) == []
    assert _standing(ACCOUNT.initial(), AccountEffect(limited=True)) == []
    over = AccountEffect(suspended=True, suspend_until=NOW - timedelta(seconds=1))
    assert _standing(_account(), over) == []


def test_a_suspension_recorded_before_ends_existed_reads_as_indefinite() -> None:
    old = msgspec.json.encode(
        {"user_id": USER, "suspended_by": ADMIN, "reason": "r", "suspended_at": NOW.isoformat()}
    )
    event = msgspec.json.decode(old, type=AccountSuspended)
    assert event.until is None
    state = _fold(_account(), [event])
    assert suspended_now(state, NOW + timedelta(days=10_000))
