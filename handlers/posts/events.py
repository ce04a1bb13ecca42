"""Events of the posts context (past tense; schema 1 unless an upcaster says otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class PostPublished(Event, frozen=True):
    name: ClassVar[str] = "posts.PostPublished"
    post_id: str
    author_id: str
    title: str
    body: str
    published_at: datetime


class PostEdited(Event, frozen=True):
    name: ClassVar[str] = "posts.PostEdited"
    post_id: str
    title: str | None
    body: str | None
    edited_at: datetime
    edited_by: str


class PostDeleted(Event, frozen=True):
    name: ClassVar[str] = "posts.PostDeleted"
    post_id: str
    deleted_at: datetime
    deleted_by: str


EVENTS = (PostPublished, PostEdited, PostDeleted)
