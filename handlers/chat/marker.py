"""The read marker aggregate (`chat.readmarker`, one per person and conversation, its id
derived from both): how far the person has read. Kept apart from the conversation so that
reading never contends with membership changes, and apart from other readers."""

from __future__ import annotations

import msgspec

from core.commands import CommandMeta
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.chat.commands import MarkRead
from handlers.chat.errors import NotAllowed
from handlers.chat.events import ConversationRead


class MarkerState(msgspec.Struct, frozen=True):
    seq: int = 0


def evolve(state: MarkerState, event: Event) -> MarkerState:
    match event:
        case ConversationRead():
            return MarkerState(max(state.seq, event.seq))
        case _:
            return state


MARKER = AggregateKind(type="chat.readmarker", initial=MarkerState, evolve=evolve)


def decide_mark(state: MarkerState, command: MarkRead, meta: CommandMeta) -> list[Event]:
    if not meta.actor:
        raise NotAllowed("a read marker needs a reader")
    if command.seq <= state.seq:
        return []
    return [
        ConversationRead(
            conversation_id=command.conversation_id,
            user_id=meta.actor,
            message_id=command.message_id,
            seq=command.seq,
            at=meta.received_at,
        )
    ]
