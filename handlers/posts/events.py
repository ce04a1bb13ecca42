"""Events of the posts context (past tense; schema 1 unless an upcaster says otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class PostPublished(Event, frozen=True):
    """Fields after `published_at` came with the blog (issue 10); an event stored before
    them reads with their defaults (a public post without category, media or tags)."""

    name: ClassVar[str] = "posts.PostPublished"
    post_id: str
    author_id: str
    title: str | None
    body: str
    published_at: datetime
    visibility: str = "public"
    category: str | None = None
    media_ids: list[str] = []
    #: Normalised hashtags of the body (`handlers.posts.markdown.extract_tags`), at most 10.
    tags: list[str] = []
    #: The mentioned handles that belonged to someone when it was written, with their
    #: owners' ids (only those are links); None in events from before mentions were
    #: checked: every mention is a link.
    mentions: dict[str, str] | None = None
    #: The word filter held it: `held` (its author's eyes only) until a moderator decides.
    held: bool = False


class PostEdited(Event, frozen=True):
    """Only what changed: a None field stayed as it was (`title_cleared` removes the
    title); `tags` is the body's new tags whenever the body changed."""

    name: ClassVar[str] = "posts.PostEdited"
    post_id: str
    title: str | None
    body: str | None
    edited_at: datetime
    edited_by: str
    title_cleared: bool = False
    visibility: str | None = None
    tags: list[str] | None = None
    #: The mentioned handles that belonged to someone when it was written, with their
    #: owners' ids (only those are links); None in events from before mentions were
    #: checked: every mention is a link.
    mentions: dict[str, str] | None = None
    #: The word filter held the new text: a visible item becomes `held` until a moderator
    #: decides (hidden or removed stays so; a later edit the filter passes leaves it held).
    held: bool = False


class PostDeleted(Event, frozen=True):
    name: ClassVar[str] = "posts.PostDeleted"
    post_id: str
    deleted_at: datetime
    deleted_by: str


#: The moderation states of a post or comment: `hidden`, `held` and `removed` (hidden for
#: good, with a reason shown to the author) are seen by their author only (marked so), and
#: by nobody else anywhere: no listing, search, fetch or count.
MODERATION_STATES = ("visible", "hidden", "held", "removed")


class PostModerated(Event, frozen=True):
    """A moderator set the post's moderation state (the moderation context decides; the
    posts context records it, so every read model of posts sees it in log order)."""

    name: ClassVar[str] = "posts.PostModerated"
    post_id: str
    state: str
    at: datetime
    by: str
    reason: str | None = None


EVENTS = (PostPublished, PostEdited, PostDeleted, PostModerated)


class CommentAdded(Event, frozen=True):
    name: ClassVar[str] = "posts.CommentAdded"
    comment_id: str
    post_id: str
    post_author_id: str
    author_id: str
    body: str
    added_at: datetime
    reply_to: str | None = None
    #: The mentioned handles that belonged to someone when it was written, with their
    #: owners' ids (only those are links); None in events from before mentions were
    #: checked: every mention is a link.
    mentions: dict[str, str] | None = None
    #: The word filter held it: `held` (its author's eyes only) until a moderator decides.
    held: bool = False


class CommentEdited(Event, frozen=True):
    name: ClassVar[str] = "posts.CommentEdited"
    comment_id: str
    post_id: str
    body: str
    edited_at: datetime
    #: The mentioned handles that belonged to someone when it was written, with their
    #: owners' ids (only those are links); None in events from before mentions were
    #: checked: every mention is a link.
    mentions: dict[str, str] | None = None
    #: The word filter held the new text: a visible item becomes `held` until a moderator
    #: decides (hidden or removed stays so; a later edit the filter passes leaves it held).
    held: bool = False


class CommentDeleted(Event, frozen=True):
    """A tombstone: the comment's place in its thread stays, its text goes."""

    name: ClassVar[str] = "posts.CommentDeleted"
    comment_id: str
    post_id: str
    deleted_at: datetime
    deleted_by: str


class CommentModerated(Event, frozen=True):
    """A moderator set the comment's moderation state (see `PostModerated`)."""

    name: ClassVar[str] = "posts.CommentModerated"
    comment_id: str
    post_id: str
    state: str
    at: datetime
    by: str
    reason: str | None = None


EVENTS = (*EVENTS, CommentAdded, CommentEdited, CommentDeleted, CommentModerated)
