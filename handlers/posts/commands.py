"""Commands of the posts context. Limits live here so the edge's validation, the OpenAPI
document and the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from core.commands import Command
from core.text import MULTILINE, ONE_LINE

TITLE_MAX = 200
BODY_MAX = 20_000

#: Plain text (`core.text`): a NUL in a title was accepted and dead-lettered by the posts
#: projection; a body keeps tabs and newlines.
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=TITLE_MAX, pattern=ONE_LINE)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=BODY_MAX, pattern=MULTILINE)]


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
