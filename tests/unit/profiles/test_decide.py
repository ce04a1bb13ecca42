"""Handle claims and profile updates: the pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.profiles.errors import HandleCoolingOff, HandleReserved, HandleTaken
from handlers.profiles.events import PrivacyChanged, ProfileUpdated
from handlers.profiles.state import (
    HANDLE,
    PROFILE,
    ProfileState,
    canonical_handle,
    check_handle,
    decide_claim_handle,
    decide_privacy,
    decide_release_handle,
    decide_update,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
A, B = "0192f0a0-0000-7000-8000-00000000000a", "0192f0a0-0000-7000-8000-00000000000b"


def _after(*events: object):
    state = HANDLE.initial()
    for e in events:
        state = HANDLE.evolve(state, e)
    return state


def test_a_handle_has_one_owner_and_cools_off_after_release() -> None:
    claimed = decide_claim_handle(_after(), handle_hash="h", user_id=A, now=NOW)
    assert decide_claim_handle(_after(*claimed), handle_hash="h", user_id=A, now=NOW) == []
    with pytest.raises(HandleTaken):
        decide_claim_handle(_after(*claimed), handle_hash="h", user_id=B, now=NOW)
    released = decide_release_handle(
        _after(*claimed), handle_hash="h", user_id=A, cooling_off=timedelta(days=30), now=NOW
    )
    state = _after(*claimed, *released)
    with pytest.raises(HandleCoolingOff):
        decide_claim_handle(state, handle_hash="h", user_id=B, now=NOW + timedelta(days=29))
    assert decide_claim_handle(state, handle_hash="h", user_id=A, now=NOW)  # its owner, at once
    assert decide_claim_handle(state, handle_hash="h", user_id=B, now=NOW + timedelta(days=30))
    # Releasing someone else's handle changes nothing.
    assert (
        decide_release_handle(
            _after(*claimed), handle_hash="h", user_id=B, cooling_off=timedelta(0), now=NOW
        )
        == []
    )


@pytest.mark.parametrize("handle", ["admin", "support", "quark_team", "me"])
def test_reserved_handles_are_refused(handle: str) -> None:
    with pytest.raises(HandleReserved):
        check_handle(canonical_handle(handle))


def test_an_update_without_changes_writes_nothing() -> None:
    same_handle = ProfileUpdated(user_id=A, updated_at=NOW, handle_hash="h")
    assert decide_update(ProfileState("h"), same_handle, owns_new_handle=False) == []
    with pytest.raises(HandleTaken):
        decide_update(
            ProfileState("h"),
            ProfileUpdated(user_id=A, updated_at=NOW, handle_hash="other"),
            owns_new_handle=False,
        )
    assert decide_update(
        ProfileState(),
        ProfileUpdated(user_id=A, updated_at=NOW, locale="en"),
        owns_new_handle=False,
    )


def test_presence_is_shown_until_hidden_and_unchanged_settings_record_nothing() -> None:
    state = PROFILE.initial()
    assert state.show_presence is True
    assert decide_privacy(state, user_id=A, show_presence=True, now=NOW) == []
    hidden = decide_privacy(state, user_id=A, show_presence=False, now=NOW)
    assert hidden == [PrivacyChanged(user_id=A, show_presence=False, changed_at=NOW)]
    state = PROFILE.evolve(state, hidden[0])
    assert state.show_presence is False
    assert decide_privacy(state, user_id=A, show_presence=False, now=NOW) == []
    # A profile update leaves the setting as it is, and the setting leaves the handle.
    state = PROFILE.evolve(state, ProfileUpdated(user_id=A, updated_at=NOW, handle_hash="h"))
    assert (state.handle_hash, state.show_presence) == ("h", False)
    shown = decide_privacy(state, user_id=A, show_presence=True, now=NOW)
    assert PROFILE.evolve(state, shown[0]) == ProfileState(handle_hash="h", show_presence=True)
