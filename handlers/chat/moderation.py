"""Carrying out moderators' decisions on chat messages: the chat context reacts to the
moderation events (`core.moderation`: decisions, hiding pending review, approved appeals)
and records the message's new state on its own subject (`MessageModerated`), where the chat
and live read models apply it in log order. Idempotent like the posts context's reactor:
the command id is the moderation event's position, and a state set twice is not set again.
"""

from __future__ import annotations

from typing import Any

from core.bus import transact
from core.moderation import content_state, meta_of, moderator, reactor, reason
from core.registry import Event
from handlers.chat.events import MessageModerated
from handlers.chat.message import MESSAGE, MessageState


async def apply_decision(infra: Any, recorded: Any) -> None:
    event = recorded.event
    state = content_state(event)
    if state is None or event.target_type != "message":
        return

    def moderate(current: MessageState) -> list[Event]:
        if not current.exists or current.moderation == state:
            return []
        return [
            MessageModerated(
                message_id=event.target_id,
                conversation_id=current.conversation_id,
                state=state,
                by=moderator(event),
                reason=reason(event),
                at=event.at,
            )
        ]

    await transact(infra.store, MESSAGE, event.target_id, moderate, meta_of(recorded))


def background(infra: Any) -> list[Any]:
    async def react(recorded: Any) -> None:
        await apply_decision(infra, recorded)

    return [reactor(infra, "chat_on_moderation", react)]
