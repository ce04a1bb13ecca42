"""Carrying out moderators' decisions on posts and comments: the posts context reacts to
the moderation context's `moderation.DecisionTaken`, `CaseAutoHidden` and `AppealDecided`
(its published contract, read through `core.moderation`, never imported) and records the
new state on the target's own subject (`PostModerated` / `CommentModerated`), so every read model of posts applies it in log
order. Idempotent: the append's command id is the decision's position, and setting a state
twice changes nothing."""

from __future__ import annotations

from typing import Any

from core.bus import transact
from core.moderation import content_state, meta_of, moderator, reactor, reason
from core.registry import Event
from handlers.posts.comments import COMMENT, CommentState
from handlers.posts.decide import POST, PostState
from handlers.posts.events import CommentModerated, PostModerated


async def apply_decision(infra: Any, recorded: Any) -> None:
    decision = recorded.event
    state = content_state(decision)
    if state is None or decision.target_type not in ("post", "comment"):
        return
    meta = meta_of(recorded)
    why, by = reason(decision), moderator(decision)

    def moderate_post(current: PostState) -> list[Event]:
        if not current.exists:
            return []
        return [
            PostModerated(
                post_id=decision.target_id, state=state, at=decision.at, by=by, reason=why
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
                reason=why,
            )
        ]

    if decision.target_type == "post":
        await transact(infra.store, POST, decision.target_id, moderate_post, meta)
    else:
        await transact(infra.store, COMMENT, decision.target_id, moderate_comment, meta)


def background(infra: Any) -> list[Any]:
    async def react(recorded: Any) -> None:
        await apply_decision(infra, recorded)

    return [reactor(infra, "posts_on_moderation", react)]
