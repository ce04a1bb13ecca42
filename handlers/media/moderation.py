"""Carrying out moderators' decisions on uploads: the media context reacts to the moderation
events (`core.moderation`) and records the upload's new state on its own subject
(`MediaModerated`). A hidden upload keeps its bytes, so an approved appeal can show it
again; the media read model stops counting it towards making its content public, so only
its owner (or a signed link) reaches the bytes. Idempotent like the posts context's reactor.
"""

from __future__ import annotations

from typing import Any

from core.bus import transact
from core.moderation import content_state, meta_of, moderator, reactor, reason
from core.registry import Event
from handlers.media.decide import UPLOAD, MediaState
from handlers.media.events import MediaModerated


async def apply_decision(infra: Any, recorded: Any) -> None:
    event = recorded.event
    state = content_state(event)
    if state is None or event.target_type != "media":
        return

    def moderate(current: MediaState) -> list[Event]:
        if not current.status or current.moderation == state:
            return []
        return [
            MediaModerated(
                media_id=event.target_id,
                state=state,
                by=moderator(event),
                reason=reason(event),
                at=event.at,
            )
        ]

    await transact(infra.store, UPLOAD, event.target_id, moderate, meta_of(recorded))


def services(infra: Any) -> list[Any]:
    async def react(recorded: Any) -> None:
        await apply_decision(infra, recorded)

    return [reactor(infra, "media_on_moderation", react)]
