"""The read marker aggregate (`chat.readmarker`, one per person and conversation, its id
derived from both): how far the person has read, and whether they muted the conversation.
Kept apart from the conversation so that reading and muting never contend with membership
changes, and apart from other readers."""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.commands import CommandMeta
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.chat.commands import MarkRead, MuteConversation, UnmuteConversation
from handlers.chat.errors import NotAllowed
from handlers.chat.events import ConversationMuted, ConversationRead, ConversationUnmuted


class MarkerState(msgspec.Struct, frozen=True):
    seq: int = 0
    muted: bool = False
    #: With `muted`: when the mute ends (None: when unmuted).
    muted_until: datetime | None = None


def evolve(state: MarkerState, event: Event) -> MarkerState:
    match event:
        case ConversationRead():
            return msgspec.structs.replace(state, seq=max(state.seq, event.seq))
        case ConversationMuted():
            return msgspec.structs.replace(state, muted=True, muted_until=event.until)
        case ConversationUnmuted():
            return msgspec.structs.replace(state, muted=False, muted_until=None)
        case _:
            return state


MARKER = AggregateKind(type="chat.readmarker", initial=MarkerState, evolve=evolve)


def muted_now(muted: bool, until: datetime | None, now: datetime) -> bool:
    """Whether a mute holds at `now`: an expired one simply stops counting (like VIP in
    `core.perks`), so nothing has to be written when it ends."""
    return muted and (until is None or now < until)


def _reader(meta: CommandMeta) -> str:
    if not meta.actor:
        raise NotAllowed("a read marker needs a reader")
    return meta.actor


def decide_mark(state: MarkerState, command: MarkRead, meta: CommandMeta) -> list[Event]:
    reader = _reader(meta)
    if command.seq <= state.seq:
        return []
    return [
        ConversationRead(
            conversation_id=command.conversation_id,
            user_id=reader,
            message_id=command.message_id,
            seq=command.seq,
            at=meta.received_at,
        )
    ]


def decide_mute(state: MarkerState, command: MuteConversation, meta: CommandMeta) -> list[Event]:
    reader = _reader(meta)
    if state.muted and state.muted_until == command.until:
        return []
    return [
        ConversationMuted(
            conversation_id=command.conversation_id,
            user_id=reader,
            until=command.until,
            at=meta.received_at,
        )
    ]


def decide_unmute(
    state: MarkerState, command: UnmuteConversation, meta: CommandMeta
) -> list[Event]:
    reader = _reader(meta)
    if not state.muted:
        return []
    return [
        ConversationUnmuted(
            conversation_id=command.conversation_id, user_id=reader, at=meta.received_at
        )
    ]
