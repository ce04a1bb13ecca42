"""The comment aggregate (`posts.comment`, one per comment): pure `evolve` and `decide`.

A comment is its own aggregate, created with expected sequence 0, never an append to its
post's subject: fifty people commenting on one post at the same moment are fifty
independent first appends, with no conflict and no retry. What a comment needs to know
about its post (its author, for deletion rights) it is told once, when it is added.
"""

from __future__ import annotations

import msgspec

from core.commands import CommandMeta
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.posts.commands import AddComment, DeleteComment, EditComment
from handlers.posts.decide import MODERATING_ROLES, _blank_check
from handlers.posts.errors import CommentNotFound, NotCommentAuthor, PostAlreadyExists
from handlers.posts.events import CommentAdded, CommentDeleted, CommentEdited


class CommentState(msgspec.Struct, frozen=True):
    exists: bool = False
    deleted: bool = False
    post_id: str = ""
    post_author_id: str = ""
    author_id: str = ""
    body: str = ""


def evolve(state: CommentState, event: Event) -> CommentState:
    match event:
        case CommentAdded():
            return CommentState(
                True, False, event.post_id, event.post_author_id, event.author_id, event.body
            )
        case CommentEdited():
            return msgspec.structs.replace(state, body=event.body)
        case CommentDeleted():
            return msgspec.structs.replace(state, deleted=True)
        case _:
            return state


COMMENT = AggregateKind(type="posts.comment", initial=CommentState, evolve=evolve)


def decide_add(state: CommentState, command: AddComment, meta: CommandMeta) -> list[Event]:
    if state.exists:
        if (state.author_id, state.post_id, state.body) == (
            meta.actor,
            command.post_id,
            command.body,
        ):
            return []
        raise PostAlreadyExists("a comment with this id already exists")
    if not meta.actor:
        raise NotCommentAuthor("a comment needs an author")
    _blank_check(None, command.body)
    return [
        CommentAdded(
            comment_id=command.comment_id,
            post_id=command.post_id,
            post_author_id=command.post_author_id,
            author_id=meta.actor,
            body=command.body,
            added_at=meta.received_at,
            reply_to=command.reply_to,
            mentions=command.mentions,
            held=command.held,
        )
    ]


def _live(state: CommentState) -> None:
    if not state.exists or state.deleted:
        raise CommentNotFound()


def decide_edit(state: CommentState, command: EditComment, meta: CommandMeta) -> list[Event]:
    _live(state)
    if meta.actor != state.author_id:
        raise NotCommentAuthor()
    _blank_check(None, command.body)
    if command.body == state.body:
        return []
    return [
        CommentEdited(
            comment_id=command.comment_id,
            post_id=state.post_id,
            body=command.body,
            edited_at=meta.received_at,
            mentions=command.mentions,
            held=command.held,
        )
    ]


def decide_delete(state: CommentState, command: DeleteComment, meta: CommandMeta) -> list[Event]:
    _live(state)
    allowed = meta.actor in (state.author_id, state.post_author_id) or bool(
        meta.roles & MODERATING_ROLES
    )
    if not allowed:
        raise NotCommentAuthor()
    return [
        CommentDeleted(
            comment_id=command.comment_id,
            post_id=state.post_id,
            deleted_at=meta.received_at,
            deleted_by=meta.actor or "",
        )
    ]
