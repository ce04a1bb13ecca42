"""A channel membership's pure decisions: joining, leaving, removal and coming back."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

import pytest

from handlers.chat import membership
from handlers.chat.errors import RemovedFromChannel
from handlers.chat.events import MemberRemoved, MembersAdded
from handlers.chat.membership import MembershipState, decide_join, decide_leave

CID = "0190e4c2-0000-7000-8000-000000000001"
AT = datetime(2026, 12, 2, tzinfo=UTC)


def after(state: MembershipState, events: list) -> MembershipState:  # type: ignore[type-arg]
    return reduce(membership.evolve, events, state)


def test_joining_twice_writes_nothing_the_second_time() -> None:
    events = decide_join(MembershipState(), CID, "a", "a", AT)
    assert events == [MembersAdded(conversation_id=CID, members=["a"], by="a", at=AT)]
    assert decide_join(after(MembershipState(), events), CID, "a", "a", AT) == []


def test_whoever_left_comes_back_and_leaving_twice_writes_nothing() -> None:
    joined = after(MembershipState(), decide_join(MembershipState(), CID, "a", "a", AT))
    left = after(joined, decide_leave(joined, CID, "a", "a", AT))
    assert left == MembershipState()
    assert decide_leave(left, CID, "a", "a", AT) == []
    assert len(decide_join(left, CID, "a", "a", AT)) == 1


def test_someone_removed_comes_back_only_when_invited() -> None:
    joined = after(MembershipState(), decide_join(MembershipState(), CID, "a", "a", AT))
    removed = after(joined, decide_leave(joined, CID, "a", "admin", AT))
    assert removed.removed_by == "admin" and not removed.joined
    with pytest.raises(RemovedFromChannel):
        decide_join(removed, CID, "a", "a", AT)
    invited = after(removed, decide_join(removed, CID, "a", "admin", AT))
    assert invited == MembershipState(joined=True)


def test_a_member_through_the_conversation_is_still_kept_out_when_removed() -> None:
    events = decide_leave(MembershipState(), CID, "a", "admin", AT, member_elsewhere=True)
    assert events == [MemberRemoved(conversation_id=CID, user_id="a", by="admin", at=AT)]
    removed = after(MembershipState(), events)
    assert decide_leave(removed, CID, "a", "admin", AT, member_elsewhere=True) == []
    # Leaving by oneself through the conversation leaves nothing here to record.
    assert decide_leave(MembershipState(), CID, "a", "a", AT, member_elsewhere=True) == []


def test_membership_ids_are_one_per_channel_and_person() -> None:
    key = b"k" * 32
    assert membership.membership_id(key, CID, "a") == membership.membership_id(key, CID, "a")
    assert membership.membership_id(key, CID, "a") != membership.membership_id(key, CID, "b")
