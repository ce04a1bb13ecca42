"""Carrying out moderators' decisions on posts and comments: the posts context reacts to
the moderation context's `moderation.DecisionTaken`, `CaseAutoHidden` and `AppealDecided`
(its published contract, read through `core.moderation`, never imported) and records the new state on the target's own subject
(`PostModerated` / `CommentModerated`), so every read model of posts applies it in log
order. Idempotent: the append's command id is the decision's position, and setting a state
twice changes nothing."""

from __future__ import annotations

from typing import Any

from core.bus import transact
from core.commands import CommandMeta
from core.moderation import AUTO_HIDE_REASON, CARRIED_OUT, SYSTEM, content_state
from core.registry import Event
from handlers.posts.comments import COMMENT, CommentState
from handlers.posts.decide import POST, PostState
from handlers.posts.events import CommentModerated, PostModerated


async def apply_decision(infra: Any, recorded: Any) -> None:
    decision = recorded.event
    state = content_state(decision)
    if state is None or decision.target_type not in ("post", "comment"):
        return
    meta = CommandMeta(
        command_id=f"moderation-{recorded.stream}-{recorded.seq}-{recorded.index}",
        actor=_moderator(decision),
        roles=frozenset(),
        correlation_id=recorded.envelope.correlation_id,
        received_at=decision.at,
    )
    reason = getattr(decision, "reason", None) or AUTO_HIDE_REASON
    by = _moderator(decision)

    def moderate_post(current: PostState) -> list[Event]:
        if not current.exists:
            return []
        return [
            PostModerated(
                post_id=decision.target_id,
                state=state,
                at=decision.at,
                by=by,
                reason=reason,
            )
        ]

    def moderate_comment(current: CommentState) -> list[Event]:
        if not current.exists:
            return []
        return [
            CommentModerated(
                comment_id=decision.target_id,
                post_id=current.post_id,
                state=state,
                at=decision.at,
                by=by,
                reason=reason,
            )
        ]

    if decision.target_type == "post":
        await transact(infra.store, POST, decision.target_id, moderate_post, meta)
    else:
        await transact(infra.store, COMMENT, decision.target_id, moderate_comment, meta)


def background(infra: Any) -> list[Any]:
    from core.reactor import Reactor

    async def react(recorded: Any) -> None:
        await apply_decision(infra, recorded)

    return [
        Reactor(
            js=infra.nc.jetstream(),
            registry=infra.registry,
            name="posts_on_moderation",
            stream=infra.store.streams.stream_for("moderation"),
            filter_subject="ev.moderation.case.>",
            reacts_to=CARRIED_OUT,
            react=react,
        )
    ]


def _moderator(event: Any) -> str:
    """Who acted: the moderator, or the system for hiding pending review."""
    return getattr(event, "moderator_id", None) or SYSTEM
