"""The post aggregate's rules, with plain values: no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.commands import CommandMeta
from core.ids import new_id
from handlers.posts.commands import DeletePost, EditPost, PublishPost
from handlers.posts.decide import PostState, decide_delete, decide_edit, decide_publish, evolve
from handlers.posts.errors import EmptyPost, NotPostAuthor, PostAlreadyExists, PostNotFound
from handlers.posts.events import PostDeleted, PostEdited, PostPublished

AUTHOR = new_id()
OTHER = new_id()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def meta(actor: str | None = AUTHOR, roles: frozenset[str] = frozenset()) -> CommandMeta:
    return CommandMeta(new_id(), actor, roles, "corr", NOW)


def published(post_id: str) -> PostState:
    [event] = decide_publish(PostState(), PublishPost(post_id=post_id, title="T", body="B"), meta())
    return evolve(PostState(), event)


def test_publishing_a_new_post_yields_post_published_by_the_actor() -> None:
    post_id = new_id()
    [event] = decide_publish(
        PostState(), PublishPost(post_id=post_id, title="Hi", body="there"), meta()
    )
    assert isinstance(event, PostPublished)
    assert (event.post_id, event.author_id, event.title, event.body) == (
        post_id,
        AUTHOR,
        "Hi",
        "there",
    )
    assert event.published_at == NOW


def test_publishing_an_existing_post_is_a_conflict() -> None:
    post_id = new_id()
    with pytest.raises(PostAlreadyExists):
        decide_publish(
            published(post_id), PublishPost(post_id=post_id, title="x", body="y"), meta()
        )


def test_blank_title_is_rejected_with_the_field_named() -> None:
    with pytest.raises(EmptyPost) as info:
        decide_publish(PostState(), PublishPost(post_id=new_id(), title="   ", body="ok"), meta())
    assert [e.field for e in info.value.errors] == ["title"]


def test_only_the_author_may_edit() -> None:
    post_id = new_id()
    with pytest.raises(NotPostAuthor):
        decide_edit(published(post_id), EditPost(post_id=post_id, title="new"), meta(OTHER))


def test_a_moderator_may_edit_and_delete_any_post() -> None:
    post_id = new_id()
    state = published(post_id)
    [edited] = decide_edit(
        state, EditPost(post_id=post_id, title="new"), meta(OTHER, frozenset({"moderator"}))
    )
    assert isinstance(edited, PostEdited) and edited.edited_by == OTHER
    [deleted] = decide_delete(
        state, DeletePost(post_id=post_id), meta(OTHER, frozenset({"moderator"}))
    )
    assert isinstance(deleted, PostDeleted)


def test_an_edit_that_changes_nothing_yields_no_event() -> None:
    post_id = new_id()
    assert (
        decide_edit(published(post_id), EditPost(post_id=post_id, title="T", body="B"), meta())
        == []
    )


def test_edit_keeps_fields_that_were_not_sent() -> None:
    post_id = new_id()
    [event] = decide_edit(published(post_id), EditPost(post_id=post_id, body="new body"), meta())
    state = evolve(published(post_id), event)
    assert (state.title, state.body) == ("T", "new body")


def test_a_deleted_post_is_not_found_for_edit_or_delete() -> None:
    post_id = new_id()
    state = published(post_id)
    [event] = decide_delete(state, DeletePost(post_id=post_id), meta())
    gone = evolve(state, event)
    with pytest.raises(PostNotFound):
        decide_edit(gone, EditPost(post_id=post_id, title="again"), meta())
    with pytest.raises(PostNotFound):
        decide_delete(gone, DeletePost(post_id=post_id), meta())


def test_editing_a_post_that_never_existed_is_not_found() -> None:
    with pytest.raises(PostNotFound):
        decide_edit(PostState(), EditPost(post_id=new_id(), title="x"), meta())


def test_a_post_held_by_the_word_filter_is_published_and_edited_held() -> None:
    post_id = new_id()
    [event] = decide_publish(PostState(), PublishPost(post_id=post_id, body="B", held=True), meta())
    assert isinstance(event, PostPublished) and event.held
    [edited] = decide_edit(
        published(post_id), EditPost(post_id=post_id, body="C", held=True), meta()
    )
    assert isinstance(edited, PostEdited) and edited.held
    [plain] = decide_edit(published(post_id), EditPost(post_id=post_id, body="D"), meta())
    assert isinstance(plain, PostEdited) and not plain.held
