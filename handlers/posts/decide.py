"""The post aggregate: pure `evolve` and `decide` functions, no I/O and no clock."""

from __future__ import annotations

import msgspec

from core.commands import CommandMeta
from core.errors import FieldError
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.posts.commands import DeletePost, EditPost, PublishPost
from handlers.posts.errors import EmptyPost, NotPostAuthor, PostAlreadyExists, PostNotFound
from handlers.posts.events import PostDeleted, PostEdited, PostPublished
from handlers.posts.markdown import extract_tags

#: Hashtags a post keeps (the first ones of its body).
MAX_TAGS = 10

#: Roles that may change any post (moderation).
MODERATING_ROLES = frozenset({"moderator", "admin"})


class PostState(msgspec.Struct, frozen=True):
    exists: bool = False
    deleted: bool = False
    author_id: str = ""
    title: str | None = None
    body: str = ""
    visibility: str = "public"


def evolve(state: PostState, event: Event) -> PostState:
    match event:
        case PostPublished():
            return PostState(
                True, False, event.author_id, event.title, event.body, event.visibility
            )
        case PostEdited():
            title = None if event.title_cleared else event.title or state.title
            return msgspec.structs.replace(
                state,
                title=title,
                body=event.body if event.body is not None else state.body,
                visibility=event.visibility or state.visibility,
            )
        case PostDeleted():
            return msgspec.structs.replace(state, deleted=True)
        case _:
            return state


POST = AggregateKind(
    type="posts.post",
    initial=PostState,
    evolve=evolve,
    state_type=PostState,
    snapshot_every=100,
    # 2: the title became optional and posts gained a visibility (issue 10).
    state_version=2,
)


def _blank_check(title: str | None, body: str | None) -> None:
    errors = [
        FieldError(name, "must not be blank")
        for name, value in (("title", title), ("body", body))
        if value is not None and not value.strip()
    ]
    if errors:
        raise EmptyPost(errors=errors)


def _may_change(state: PostState, meta: CommandMeta) -> None:
    if not state.exists or state.deleted:
        raise PostNotFound()
    if meta.actor != state.author_id and not (meta.roles & MODERATING_ROLES):
        raise NotPostAuthor()


def decide_publish(state: PostState, command: PublishPost, meta: CommandMeta) -> list[Event]:
    if state.exists:
        raise PostAlreadyExists()
    if not meta.actor:
        raise NotPostAuthor("a post needs an author")
    _blank_check(command.title, command.body)
    if len(set(command.media_ids)) != len(command.media_ids):
        raise EmptyPost(errors=[FieldError("media_ids", "each media at most once")])
    return [
        PostPublished(
            post_id=command.post_id,
            author_id=meta.actor,
            title=command.title,
            body=command.body,
            published_at=meta.received_at,
            visibility=command.visibility,
            category=command.category,
            media_ids=list(command.media_ids),
            tags=extract_tags(command.body, MAX_TAGS),
            mentions=command.mentions,
            held=command.held,
        )
    ]


def decide_edit(state: PostState, command: EditPost, meta: CommandMeta) -> list[Event]:
    _may_change(state, meta)
    _blank_check(command.title, command.body)
    title = command.title if command.title != state.title else None
    cleared = command.clear_title and state.title is not None
    body = command.body if command.body != state.body else None
    visibility = command.visibility if command.visibility != state.visibility else None
    if title is None and body is None and visibility is None and not cleared:
        return []  # nothing changes: no event, the reply carries the current position
    return [
        PostEdited(
            post_id=command.post_id,
            title=title,
            body=body,
            edited_at=meta.received_at,
            edited_by=meta.actor or "",
            title_cleared=cleared,
            visibility=visibility,
            tags=extract_tags(body, MAX_TAGS) if body is not None else None,
            mentions=command.mentions if body is not None else None,
            held=command.held,
        )
    ]


def decide_delete(state: PostState, command: DeletePost, meta: CommandMeta) -> list[Event]:
    _may_change(state, meta)
    return [
        PostDeleted(
            post_id=command.post_id, deleted_at=meta.received_at, deleted_by=meta.actor or ""
        )
    ]
