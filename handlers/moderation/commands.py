"""Commands of the moderation context. Limits live here so the edge's validation, the
OpenAPI document and the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from core.commands import Command
from core.text import MULTILINE

#: What can be reported: the content and the people of the other contexts.
TargetType = Literal["post", "comment", "message", "user", "media"]
TARGET_TYPES: tuple[str, ...] = ("post", "comment", "message", "user", "media")
Category = Literal["spam", "harassment", "illegal", "nsfw", "other"]
CATEGORIES: tuple[str, ...] = ("spam", "harassment", "illegal", "nsfw", "other")
REPORT_COMMENT_MAX = 1_000
#: Plain text (`core.text`): what the reporter wants the moderator to know.
ReportComment = Annotated[str, msgspec.Meta(max_length=REPORT_COMMENT_MAX, pattern=MULTILINE)]
Uuid = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The reported content as the log had it when the report was made: its text and where
    its last commit stands, so whatever the author does after the report (edit, delete)
    is the target's later events (`stream`, after `seq`) and hides nothing from the
    moderator."""

    title: str | None = None
    body: str = ""
    #: The log stream and sequence of the target's last commit at report time (0: none).
    stream: str = ""
    seq: int = 0


class FileReport(Command, frozen=True):
    """A person reports a target; the edge checks that they can see it and captures the
    snapshot and the author from the log."""

    context: ClassVar[str] = "moderation"
    target_type: TargetType
    target_id: Uuid
    category: Category
    author_id: str
    snapshot: Snapshot
    comment: ReportComment | None = None


class AssignCase(Command, frozen=True):
    """A moderator takes a case (or hands it to another moderator; None: nobody)."""

    context: ClassVar[str] = "moderation"
    case_id: Uuid
    assignee: Uuid | None = None
