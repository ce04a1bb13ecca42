"""Commands of the moderation context. Limits live here so the edge's validation, the
OpenAPI document and the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from core.commands import Command
from core.text import MULTILINE, ONE_LINE

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


#: What a decision does. `hide` and `restore` act on content (posts and comments), `remove`
#: hides it for good with a reason shown to its author, `warn` tells the author only, and
#: `dismiss` closes the case with nothing done (it stands alone).
Action = Literal["hide", "restore", "remove", "warn", "dismiss"]
ACTIONS: tuple[str, ...] = ("hide", "restore", "remove", "warn", "dismiss")
#: What the content actions apply to so far.
CONTENT_TARGETS: tuple[str, ...] = ("post", "comment")
REASON_MAX = 2_000
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=REASON_MAX, pattern=MULTILINE)]
Rule = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=ONE_LINE)]
Actions = Annotated[list[Action], msgspec.Meta(min_length=1, max_length=len(ACTIONS))]


class DecideCase(Command, frozen=True):
    """A moderator's decision on a case: several actions at once, with the reason the
    author is shown and the rule it applies."""

    context: ClassVar[str] = "moderation"
    case_id: Uuid
    decision_id: Uuid
    actions: Actions
    reason: Reason
    rule: Rule | None = None


class AssignCase(Command, frozen=True):
    """A moderator takes a case (or hands it to another moderator; None: nobody)."""

    context: ClassVar[str] = "moderation"
    case_id: Uuid
    assignee: Uuid | None = None
