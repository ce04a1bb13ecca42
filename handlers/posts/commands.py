"""Commands of the posts context. Limits live here so the edge's validation, the OpenAPI
document and the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from core.commands import Command
from core.text import MULTILINE, ONE_LINE

TITLE_MAX = 200
BODY_MAX = 20_000
#: Attachments per post (the author's own ready media).
MEDIA_MAX = 10
VISIBILITIES = ("public", "followers")

#: Plain text (`core.text`): a NUL in a title was accepted and dead-lettered by the posts
#: projection; a body keeps tabs and newlines.
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=TITLE_MAX, pattern=ONE_LINE)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=BODY_MAX, pattern=MULTILINE)]
Visibility = Literal["public", "followers"]
MediaIds = Annotated[list[str], msgspec.Meta(max_length=MEDIA_MAX)]
CategorySlug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


#: At most this many mentions are linked (more handles than that in one body stay text).
MAX_MENTIONS = 50
#: Handle → user id of each mention that belongs to someone.
Mentions = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=64)]],
    msgspec.Meta(max_length=MAX_MENTIONS),
]


class PublishPost(Command, frozen=True):
    context: ClassVar[str] = "posts"
    post_id: str
    body: Body
    title: Title | None = None
    visibility: Visibility = "public"
    category: CategorySlug | None = None
    #: Checked by the edge with the media context (the author's own ready media) before
    #: the post names them.
    media_ids: MediaIds = []
    #: Filled in by the edge: the mentioned handles that belong to someone, with whose
    #: they are (only those become links; their owners are notified).
    mentions: Mentions | None = None
    #: Set by the edge when the word filter holds the text (`handlers.moderation.screening`):
    #: it is published for its author's eyes only until a moderator's decision.
    held: bool = False


class EditPost(Command, frozen=True):
    """Fields left out (None) stay as they are; `clear_title` removes the title."""

    context: ClassVar[str] = "posts"
    post_id: str
    title: Title | None = None
    body: Body | None = None
    clear_title: bool = False
    visibility: Visibility | None = None
    #: Filled in by the edge: the mentioned handles that belong to someone, with whose
    #: they are (only those become links; their owners are notified).
    mentions: Mentions | None = None
    #: Set by the edge when the word filter holds the text (`handlers.moderation.screening`):
    #: it is published for its author's eyes only until a moderator's decision.
    held: bool = False


class DeletePost(Command, frozen=True):
    context: ClassVar[str] = "posts"
    post_id: str


class AddComment(Command, frozen=True):
    """`post_author_id` is filled in by the edge from the post it checked the commenter may
    see (commands come only from the edge): the comment's aggregate keeps it, so the post's
    author may delete comments under their post without the comment reading the post."""

    context: ClassVar[str] = "posts"
    comment_id: str
    post_id: str
    post_author_id: str
    body: Body
    reply_to: str | None = None
    #: Filled in by the edge: the mentioned handles that belong to someone, with whose
    #: they are (only those become links; their owners are notified).
    mentions: Mentions | None = None
    #: Set by the edge when the word filter holds the text (`handlers.moderation.screening`):
    #: it is published for its author's eyes only until a moderator's decision.
    held: bool = False


class EditComment(Command, frozen=True):
    context: ClassVar[str] = "posts"
    comment_id: str
    body: Body
    #: Filled in by the edge: the mentioned handles that belong to someone, with whose
    #: they are (only those become links; their owners are notified).
    mentions: Mentions | None = None
    #: Set by the edge when the word filter holds the text (`handlers.moderation.screening`):
    #: it is published for its author's eyes only until a moderator's decision.
    held: bool = False


class DeleteComment(Command, frozen=True):
    context: ClassVar[str] = "posts"
    comment_id: str
