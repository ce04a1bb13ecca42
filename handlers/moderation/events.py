"""Events of the moderation context (past tense; schema 1 unless an upcaster says otherwise).

One case per reported target gathers its reports; a person has at most one open report per
target: reporting again while it is open updates it (`ReportUpdated`), so one person
counts once however often they report.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event
from handlers.moderation.commands import Snapshot


class ReportFiled(Event, frozen=True):
    name: ClassVar[str] = "moderation.ReportFiled"
    case_id: str
    target_type: str
    target_id: str
    author_id: str
    reporter_id: str
    category: str
    comment: str | None
    snapshot: Snapshot
    at: datetime
    #: The reporter's weight towards hiding the target pending review (`core.moderation`),
    #: fixed when they reported.
    weight: float = 1.0
    #: A report by the word filter (`core.moderation.SYSTEM`): the rules that matched, and
    #: whether the content is held until a moderator's next decision on the case.
    word_filter_rules: list[str] = []
    held: bool = False


class ReportUpdated(Event, frozen=True):
    """The same reporter reported the same target again while their report was open."""

    name: ClassVar[str] = "moderation.ReportUpdated"
    case_id: str
    reporter_id: str
    category: str
    comment: str | None
    at: datetime
    #: The word filter held the content again (an edit it held while its report was open).
    held: bool = False


class CaseAssigned(Event, frozen=True):
    name: ClassVar[str] = "moderation.CaseAssigned"
    case_id: str
    #: None: the case was handed back to the queue.
    assignee: str | None
    by: str
    at: datetime


class DecisionTaken(Event, frozen=True):
    """A moderator decided a case: the open reports are answered and the case resolved
    (a later report opens it again). The contexts that own the target carry the content
    actions out by reacting to this event (their published contract)."""

    name: ClassVar[str] = "moderation.DecisionTaken"
    case_id: str
    decision_id: str
    target_type: str
    target_id: str
    author_id: str
    moderator_id: str
    actions: list[str]
    reason: str
    rule: str | None
    #: The people whose reports the decision answered.
    reporters: list[str]
    at: datetime
    #: With `suspend`: when the suspension ends by itself (None: indefinitely).
    suspend_until: datetime | None = None
    #: The target was hidden pending review (`CaseAutoHidden`) when this was decided: a
    #: decision without a content action shows it again.
    auto_hidden: bool = False


class CaseAutoHidden(Event, frozen=True):
    """The weighted count of distinct open reporters reached the threshold: the target is
    hidden pending review (the contexts that own it carry this out, like a decision)."""

    name: ClassVar[str] = "moderation.CaseAutoHidden"
    case_id: str
    target_type: str
    target_id: str
    author_id: str
    #: The weighted count that reached `threshold`.
    score: float
    threshold: float
    at: datetime


class AppealFiled(Event, frozen=True):
    """The author appealed a decision about their content (once per decision)."""

    name: ClassVar[str] = "moderation.AppealFiled"
    case_id: str
    appeal_id: str
    decision_id: str
    author_id: str
    text: str
    at: datetime
    #: The moderator whose decision is appealed (told of the appeal).
    decided_by: str = ""


class AppealDecided(Event, frozen=True):
    """A moderator approved (the decision is reversed: content shown again, limit and
    suspension lifted) or rejected an appeal. Carries what the decision did, so the contexts
    that carried it out can undo it without reading the case."""

    name: ClassVar[str] = "moderation.AppealDecided"
    case_id: str
    appeal_id: str
    decision_id: str
    approved: bool
    moderator_id: str
    reason: str
    target_type: str
    target_id: str
    author_id: str
    #: The appealed decision's actions and its moderator.
    actions: list[str]
    at: datetime
    decided_by: str = ""


class WordFilterAdded(Event, frozen=True):
    """An admin added a rule to the server-wide word filter (`handlers.moderation.wordfilters`)."""

    name: ClassVar[str] = "moderation.WordFilterAdded"
    rule_id: str
    pattern: str
    whole_word: bool
    action: str
    contexts: list[str]
    note: str | None
    at: datetime
    by: str


class WordFilterChanged(Event, frozen=True):
    """Only what changed is set (None: as it was); a `note` of "" removed the note."""

    name: ClassVar[str] = "moderation.WordFilterChanged"
    rule_id: str
    at: datetime
    by: str
    pattern: str | None = None
    whole_word: bool | None = None
    action: str | None = None
    contexts: list[str] | None = None
    note: str | None = None


class WordFilterRemoved(Event, frozen=True):
    name: ClassVar[str] = "moderation.WordFilterRemoved"
    rule_id: str
    at: datetime
    by: str


EVENTS = (
    ReportFiled,
    ReportUpdated,
    CaseAssigned,
    DecisionTaken,
    CaseAutoHidden,
    AppealFiled,
    AppealDecided,
    WordFilterAdded,
    WordFilterChanged,
    WordFilterRemoved,
)
