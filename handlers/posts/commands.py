"""Commands of the posts context. Limits live here so the edge's validation, the OpenAPI
document and the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from core.commands import Command

TITLE_MAX = 200
BODY_MAX = 20_000

#: Plain text: PostgreSQL cannot store NUL in text (the posts projection dead-lettered such a
#: post), and no other control character belongs in a title; a body keeps tabs and newlines.
TITLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
BODY_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=TITLE_MAX, pattern=TITLE_PATTERN)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=BODY_MAX, pattern=BODY_PATTERN)]


class PublishPost(Command, frozen=True):
    context: ClassVar[str] = "posts"
    post_id: str
    title: Title
    body: Body


class EditPost(Command, frozen=True):
    context: ClassVar[str] = "posts"
    post_id: str
    title: Title | None = None
    body: Body | None = None


class DeletePost(Command, frozen=True):
    context: ClassVar[str] = "posts"
    post_id: str
