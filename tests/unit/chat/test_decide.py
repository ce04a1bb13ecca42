"""The chat context's pure decisions: conversations, messages, read markers and mutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest

from core.commands import CommandMeta
from core.errors import ConflictError
from handlers.chat import conversation, marker, message
from handlers.chat.commands import (
    AddMembers,
    MarkRead,
    MuteConversation,
    RemoveMember,
    SendMessage,
    SetRole,
    StartConversation,
    UnmuteConversation,
)
from handlers.chat.errors import (
    BadMembership,
    ConversationFull,
    ConversationNotFound,
    MessageIdTaken,
    NotAllowed,
    TooManyMembers,
)

CID = "0190e4c2-0000-7000-8000-000000000001"
MID = "0190e4c2-0000-7000-8000-000000000002"


def meta(actor: str) -> CommandMeta:
    return CommandMeta("c", actor, frozenset(), "c", datetime(2026, 12, 2, tzinfo=UTC))


def started(owner: str, members: list[str], max_members: int = 3) -> conversation.ConversationState:
    command = StartConversation(
        conversation_id=CID, kind="group", members=members, max_members=max_members
    )
    events = conversation.decide_start(conversation.ConversationState(), command, meta(owner))
    return reduce(conversation.evolve, events, conversation.ConversationState())


def test_a_group_keeps_its_size_limit() -> None:
    with pytest.raises(TooManyMembers):
        started("o", ["a", "b", "c"])
    state = started("o", ["a", "b"])
    with pytest.raises(ConversationFull):
        conversation.decide_add(state, AddMembers(conversation_id=CID, members=["c"]), meta("o"))
    assert (
        conversation.decide_add(state, AddMembers(conversation_id=CID, members=["a"]), meta("o"))
        == []
    )


def test_strangers_learn_nothing_and_members_manage_nothing() -> None:
    state = started("o", ["a"])
    with pytest.raises(ConversationNotFound):
        conversation.decide_remove(state, RemoveMember(conversation_id=CID, user_id="a"), meta("x"))
    with pytest.raises(NotAllowed):
        conversation.decide_add(state, AddMembers(conversation_id=CID, members=["b"]), meta("a"))


def test_ownership_moves_and_the_old_owner_becomes_an_admin() -> None:
    state = started("o", ["a"])
    with pytest.raises(BadMembership):
        conversation.decide_remove(state, RemoveMember(conversation_id=CID, user_id="o"), meta("o"))
    events = conversation.decide_role(
        state, SetRole(conversation_id=CID, user_id="a", role="owner"), meta("o")
    )
    state = reduce(conversation.evolve, events, state)
    assert state.members == {"o": "admin", "a": "owner"}


def test_a_channel_gives_roles_to_people_who_joined_and_always_keeps_its_owner() -> None:
    start = StartConversation(conversation_id=CID, kind="channel")
    state = reduce(
        conversation.evolve,
        conversation.decide_start(conversation.ConversationState(), start, meta("o")),
        conversation.ConversationState(),
    )
    promote = SetRole(conversation_id=CID, user_id="j", role="admin")
    with pytest.raises(BadMembership):
        conversation.decide_role(state, promote, meta("o"))
    events = conversation.decide_role(state, promote, meta("o"), joined=True)
    assert reduce(conversation.evolve, events, state).members == {"o": "owner", "j": "admin"}
    with pytest.raises(BadMembership):
        conversation.decide_remove(state, RemoveMember(conversation_id=CID, user_id="o"), meta("o"))
    # Ownership goes to admins: someone who only joined may be leaving at this moment.
    with pytest.raises(BadMembership):
        conversation.decide_role(
            state, SetRole(conversation_id=CID, user_id="j", role="owner"), meta("o"), joined=True
        )


def test_a_role_given_while_its_channel_member_left_is_dropped_but_never_the_owner() -> None:
    start = StartConversation(conversation_id=CID, kind="channel")
    state = reduce(
        conversation.evolve,
        conversation.decide_start(conversation.ConversationState(), start, meta("o")),
        conversation.ConversationState(),
    )
    promote = SetRole(conversation_id=CID, user_id="j", role="admin")
    state = reduce(
        conversation.evolve, conversation.decide_role(state, promote, meta("o"), joined=True), state
    )
    at = meta("o").received_at
    events = conversation.decide_drop(state, CID, "j", "a", at)
    assert reduce(conversation.evolve, events, state).members == {"o": "owner"}
    assert conversation.decide_drop(state, CID, "o", "a", at) == []
    assert conversation.decide_drop(state, CID, "x", "a", at) == []


def test_a_direct_conversation_asked_for_again_writes_nothing() -> None:
    command = StartConversation(conversation_id=CID, kind="direct", members=["b"])
    events = conversation.decide_start(conversation.ConversationState(), command, meta("a"))
    state = reduce(conversation.evolve, events, conversation.ConversationState())
    again = StartConversation(conversation_id=CID, kind="direct", members=["a"])
    assert conversation.decide_start(state, again, meta("b")) == []
    with pytest.raises(ConflictError):
        conversation.decide_start(state, again, meta("c"))


def test_a_message_sent_twice_is_one_and_another_under_its_id_is_refused() -> None:
    send = SendMessage(message_id=MID, conversation_id=CID, body="hi")
    events = message.decide_send(message.MessageState(), send, meta("a"))
    state = reduce(message.evolve, events, message.MessageState())
    assert message.decide_send(state, send, meta("a")) == []
    with pytest.raises(MessageIdTaken):
        message.decide_send(
            state, SendMessage(message_id=MID, conversation_id=CID, body="ho"), meta("a")
        )
    with pytest.raises(MessageIdTaken):
        message.decide_send(state, send, meta("b"))


def test_a_read_marker_only_moves_forward() -> None:
    mark = MarkRead(marker_id=MID, conversation_id=CID, message_id=MID, seq=10)
    state = reduce(
        marker.evolve,
        marker.decide_mark(marker.MarkerState(), mark, meta("a")),
        marker.MarkerState(),
    )
    assert state.seq == 10
    back = MarkRead(marker_id=MID, conversation_id=CID, message_id=MID, seq=5)
    assert marker.decide_mark(state, back, meta("a")) == []


def test_a_mute_is_recorded_once_per_end_and_unmuting_needs_a_mute() -> None:
    until = datetime(2026, 12, 3, tzinfo=UTC)
    mute = MuteConversation(marker_id=MID, conversation_id=CID, until=until)
    events = marker.decide_mute(marker.MarkerState(seq=4), mute, meta("a"))
    state = reduce(marker.evolve, events, marker.MarkerState(seq=4))
    assert (state.seq, state.muted, state.muted_until) == (4, True, until)
    assert marker.decide_mute(state, mute, meta("a")) == []
    forever = MuteConversation(marker_id=MID, conversation_id=CID)
    assert len(marker.decide_mute(state, forever, meta("a"))) == 1
    unmute = UnmuteConversation(marker_id=MID, conversation_id=CID)
    state = reduce(marker.evolve, marker.decide_unmute(state, unmute, meta("a")), state)
    assert (state.muted, state.muted_until) == (False, None)
    assert marker.decide_unmute(state, unmute, meta("a")) == []


def test_a_mute_holds_until_its_end_and_then_simply_stops_counting() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert marker.muted_now(True, None, now)
    assert marker.muted_now(True, now + timedelta(seconds=1), now)
    assert not marker.muted_now(True, now, now)
    assert not marker.muted_now(False, None, now)
