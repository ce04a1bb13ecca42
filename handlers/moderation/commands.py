"""Commands of the moderation context. Limits live here so the edge's validation, the
OpenAPI document and the handler agree on them."""

from __future__ import annotations

from datetime import datetime
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
    #: The reporter's weight (`core.moderation.reporter_weight`), computed by the edge from
    #: the read models, and the weighted count of distinct open reporters at which the
    #: target is hidden pending review (None: never).
    weight: float = 1.0
    auto_hide_at: float | None = None
    #: Filed by the word filter (the actor is `core.moderation.SYSTEM`): the rules that
    #: matched, and whether the content was held until a moderator releases it. Only the
    #: system files such reports, and the system files no other kind.
    word_filter_rules: Annotated[list[Uuid], msgspec.Meta(max_length=50)] = []
    held: bool = False


#: What a decision does. `hide` and `restore` act on content (posts, comments, messages),
#: `remove` hides it for good with a reason shown to its author, `warn` tells the author
#: only, `limit` takes the author's posts out of public timelines and search, `suspend`
#: suspends the author's account (until `suspend_until`, or indefinitely), and `dismiss`
#: closes the case with nothing done (it stands alone). On a person (`user`), `restore`
#: lifts their limit and suspension.
Action = Literal["hide", "restore", "remove", "warn", "limit", "suspend", "dismiss"]
ACTIONS: tuple[str, ...] = ("hide", "restore", "remove", "warn", "limit", "suspend", "dismiss")
#: What the content actions (hide, remove; restore) apply to.
CONTENT_TARGETS: tuple[str, ...] = ("post", "comment", "message", "media")
#: Actions on the author's account, whatever the target.
ACCOUNT_ACTIONS: tuple[str, ...] = ("limit", "suspend")
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
    #: With `suspend`: when the suspension ends by itself (None: indefinitely).
    suspend_until: datetime | None = None


class AssignCase(Command, frozen=True):
    """A moderator takes a case (or hands it to another moderator; None: nobody)."""

    context: ClassVar[str] = "moderation"
    case_id: Uuid
    assignee: Uuid | None = None


APPEAL_MAX = 2_000
AppealText = Annotated[str, msgspec.Meta(min_length=1, max_length=APPEAL_MAX, pattern=MULTILINE)]


class FileAppeal(Command, frozen=True):
    """The author of content under a decision appeals it: once, within the window."""

    context: ClassVar[str] = "moderation"
    case_id: Uuid
    decision_id: Uuid
    appeal_id: Uuid
    text: AppealText


class DecideAppeal(Command, frozen=True):
    """A moderator approves (the decision is reversed) or rejects an appeal, saying why."""

    context: ClassVar[str] = "moderation"
    case_id: Uuid
    appeal_id: Uuid
    approve: bool
    reason: Reason


# -- the word filter's rules (`handlers.moderation.wordfilters`) ------------------------------

#: What a rule does with a write that matches it: `block` refuses it (422), `hold` publishes
#: it for its author's eyes only until a moderator releases it, `flag` publishes it and
#: files a report by the system, `censor` stores it with the match replaced by `*`.
WordFilterAction = Literal["block", "hold", "flag", "censor"]
WORD_FILTER_ACTIONS: tuple[str, ...] = ("block", "hold", "flag", "censor")
#: The writes a rule screens: posts (title, body), comments, chat messages and profiles
#: (display name, bio, handle).
ScreenedContext = Literal["posts", "comments", "messages", "profiles"]
SCREENED_CONTEXTS: tuple[str, ...] = ("posts", "comments", "messages", "profiles")
PATTERN_MAX = 200
NOTE_MAX = 500
#: Plain text, matched as text (never a regular expression); it must keep a letter or a
#: digit once folded (`core.wordfilter.letters_of`), which the decision checks.
Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=PATTERN_MAX, pattern=ONE_LINE)]
ScreenedContexts = Annotated[
    list[ScreenedContext], msgspec.Meta(min_length=1, max_length=len(SCREENED_CONTEXTS))
]
#: Why the rule exists, for the admins who read the list ("" or absent: no note).
Note = Annotated[str, msgspec.Meta(max_length=NOTE_MAX, pattern=ONE_LINE)]


class AddWordFilter(Command, frozen=True):
    """An admin adds a rule to the server-wide word filter."""

    context: ClassVar[str] = "moderation"
    rule_id: Uuid
    pattern: Pattern
    whole_word: bool
    action: WordFilterAction
    contexts: ScreenedContexts
    note: Note | None = None


class ChangeWordFilter(Command, frozen=True):
    """None leaves a field as it is; a `note` of "" removes the note."""

    context: ClassVar[str] = "moderation"
    rule_id: Uuid
    pattern: Pattern | None = None
    whole_word: bool | None = None
    action: WordFilterAction | None = None
    contexts: ScreenedContexts | None = None
    note: Note | None = None


class RemoveWordFilter(Command, frozen=True):
    context: ClassVar[str] = "moderation"
    rule_id: Uuid
