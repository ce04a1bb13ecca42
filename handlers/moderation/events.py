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


class ReportUpdated(Event, frozen=True):
    """The same reporter reported the same target again while their report was open."""

    name: ClassVar[str] = "moderation.ReportUpdated"
    case_id: str
    reporter_id: str
    category: str
    comment: str | None
    at: datetime


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


EVENTS = (ReportFiled, ReportUpdated, CaseAssigned, DecisionTaken)
