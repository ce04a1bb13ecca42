"""Moderation states set the way the moderation context will set them: a `PostModerated`
(or `CommentModerated`) event appended to the post's (comment's) own subject at its current
sequence, so every read model applies it in log order — for tests of the read models'
side alone; the moderation context's decisions get there through the posts context's
reactor (`carried_out` waits for it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.bootstrap import Infra
from core.commands import format_position
from core.envelope import AggregateRef
from core.ids import new_id
from handlers.posts.comments import COMMENT
from handlers.posts.decide import POST
from handlers.posts.events import MODERATION_STATES, CommentModerated, PostModerated

#: Who moderated, in the tests' events (no person: a moderator's id is opaque here).
MODERATOR = "00000000-0000-7000-8000-00000000a0de"


async def moderate_post(
    infra: Infra, post_id: str, state: str, *, reason: str | None = None
) -> str:
    """Set `post_id`'s moderation state (`visible`, `hidden` or `held`); the commit's
    position, for `Quark-After` or `Platform.wait`."""
    if state not in MODERATION_STATES:
        raise ValueError(f"no moderation state {state!r}")
    loaded = await infra.store.load(POST, post_id)
    event = PostModerated(
        post_id=post_id, state=state, at=datetime.now(UTC), by=MODERATOR, reason=reason
    )
    result = await infra.store.append(
        AggregateRef(POST.type, post_id), loaded.seq, [event], command_id=new_id()
    )
    return format_position(result.stream, result.seq)


async def moderate_comment(
    infra: Infra, comment_id: str, state: str, *, reason: str | None = None
) -> str:
    """Set `comment_id`'s moderation state; the commit's position."""
    if state not in MODERATION_STATES:
        raise ValueError(f"no moderation state {state!r}")
    loaded = await infra.store.load(COMMENT, comment_id)
    event = CommentModerated(
        comment_id=comment_id,
        post_id=loaded.state.post_id,
        state=state,
        at=datetime.now(UTC),
        by=MODERATOR,
        reason=reason,
    )
    result = await infra.store.append(
        AggregateRef(COMMENT.type, comment_id), loaded.seq, [event], command_id=new_id()
    )
    return format_position(result.stream, result.seq)


#: The reactors that carry out moderation events, each in the context owning the targets.
REACTORS = (
    "posts_on_moderation",
    "chat_on_moderation",
    "media_on_moderation",
    "accounts_on_moderation",
)


async def carried_out(platform: Any, position: str, timeout: float = 15.0) -> str:
    """Wait until every context's reactor has carried out every moderation event up to
    `position` (their consumers' ack floors), then until the read models of posts, comments,
    messages, media, notifications and accounts (profiles, activity, security log) have
    applied what they wrote; the CONTENT head position, for `Quark-After`."""
    import asyncio
    import time

    from core.commands import parse_position
    from tests.support.log import head_position

    stream, seq = parse_position(position)
    js = platform.infra.nc.jetstream()
    deadline = time.monotonic() + timeout
    for reactor in REACTORS:
        while (await js.consumer_info(stream, reactor)).ack_floor.stream_seq < seq:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{reactor} did not carry out {position}")
            await asyncio.sleep(0.02)
    head = await head_position(platform.infra, "CONTENT")
    chat = await head_position(platform.infra, "CHAT")
    for projection in ("posts", "comments", "notifications"):
        await platform.wait(projection, head)
    for projection in ("chat", "live", "notifications"):
        await platform.wait(projection, chat)
    await platform.wait("media", await head_position(platform.infra, "MEDIA"))
    accounts = await head_position(platform.infra, "ACCOUNTS")
    for projection in ("profiles", "activity", "security_log"):
        await platform.wait(projection, accounts)
    await platform.wait("notifications", position)
    return head
