"""The phone claim aggregate (`accounts.phone`, one per phone number, keyed by its hash):
which account holds the number, so that no two accounts ever share one. Pure `evolve` and
`decide`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.eventstore import AggregateKind
from core.registry import Event
from handlers.accounts.errors import PhoneTaken
from handlers.accounts.events import PhoneClaimed, PhoneReleased


class ClaimState(msgspec.Struct, frozen=True):
    user_id: str = ""


def evolve_claim(state: ClaimState, event: Event) -> ClaimState:
    if isinstance(event, PhoneClaimed):
        return ClaimState(event.user_id)
    if isinstance(event, PhoneReleased):
        return ClaimState()
    return state


PHONE_CLAIM = AggregateKind(type="accounts.phone", initial=ClaimState, evolve=evolve_claim)


def decide_claim(state: ClaimState, *, phone_hash: str, user_id: str, now: datetime) -> list[Event]:
    if state.user_id == user_id:
        return []
    if state.user_id:
        raise PhoneTaken()
    return [PhoneClaimed(phone_hash=phone_hash, user_id=user_id, claimed_at=now)]


def decide_release_phone(
    state: ClaimState, *, phone_hash: str, user_id: str, now: datetime
) -> list[Event]:
    if state.user_id != user_id:
        return []
    return [PhoneReleased(phone_hash=phone_hash, user_id=user_id, released_at=now)]
