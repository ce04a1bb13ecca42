"""The case aggregate: pure `evolve` and `decide` functions, no I/O and no clock.

Identity: one case per target, its id `case_id(target_type, target_id)` — a UUIDv5 of the
target in a fixed namespace, so every report of a target lands on the same aggregate from
any sender. Target ids are public (they are in URLs), so the derived id leaks nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from core.commands import CommandMeta
from core.errors import FieldError
from core.eventstore import AggregateKind
from core.moderation import APPEAL_WINDOW, SYSTEM
from core.permissions import PermissionDenied, require
from core.registry import Event
from handlers.moderation.commands import (
    ACCOUNT_ACTIONS,
    CONTENT_TARGETS,
    AssignCase,
    DecideAppeal,
    DecideCase,
    FileAppeal,
    FileReport,
)
from handlers.moderation.errors import (
    AppealDecidedAlready,
    AppealNotFound,
    AppealRefused,
    BadDecision,
    CaseNotFound,
    DecisionNotFound,
    OwnContent,
)
from handlers.moderation.events import (
    AppealDecided,
    AppealFiled,
    CaseAssigned,
    CaseAutoHidden,
    DecisionTaken,
    ReportFiled,
    ReportUpdated,
)

#: Fixed for ever: changing it would give every target a new, empty case.
CASE_NAMESPACE = uuid.UUID("5f0f3c2e-6a4b-4c4e-9d0e-3b7f8a1c2d4e")
#: Who may work the queue (`core.permissions`).
MODERATE = "moderation.act"
#: Who may report: anyone signed in.
REPORT = "account.manage_own"


def case_id(target_type: str, target_id: str) -> str:
    return str(uuid.uuid5(CASE_NAMESPACE, f"{target_type}:{target_id}"))


class DecisionMark(msgspec.Struct, frozen=True):
    """What the case remembers of each decision: enough to take and decide its appeal."""

    at: datetime
    actions: tuple[str, ...]
    moderator: str = ""
    #: The appeal's id once appealed, and whether it was decided.
    appeal_id: str | None = None
    appeal_decided: bool = False


class CaseState(msgspec.Struct, frozen=True):
    exists: bool = False
    target_type: str = ""
    target_id: str = ""
    author_id: str = ""
    #: People whose report is open, with the weight each report was filed with.
    reporters: dict[str, float] = {}
    assignee: str | None = None
    #: Hidden pending review since the last decision.
    auto_hidden: bool = False
    #: Held by the word filter since the last decision (shown again by the next one, like
    #: hiding pending review).
    held: bool = False
    decisions: dict[str, DecisionMark] = {}


def evolve(state: CaseState, event: Event) -> CaseState:
    replace = msgspec.structs.replace
    match event:
        case ReportFiled():
            return replace(
                state,
                exists=True,
                target_type=event.target_type,
                target_id=event.target_id,
                author_id=event.author_id,
                reporters={**state.reporters, event.reporter_id: event.weight},
                held=state.held or event.held,
            )
        case ReportUpdated() if event.held:
            return replace(state, held=True)
        case CaseAssigned():
            return replace(state, assignee=event.assignee)
        case CaseAutoHidden():
            return replace(state, auto_hidden=True)
        case DecisionTaken():
            mark = DecisionMark(event.at, tuple(event.actions), event.moderator_id)
            return replace(
                state,
                reporters={},
                auto_hidden=False,
                held=False,
                decisions={**state.decisions, event.decision_id: mark},
            )
        case AppealFiled():
            mark = replace(state.decisions[event.decision_id], appeal_id=event.appeal_id)
            return replace(state, decisions={**state.decisions, event.decision_id: mark})
        case AppealDecided():
            mark = replace(state.decisions[event.decision_id], appeal_decided=True)
            return replace(state, decisions={**state.decisions, event.decision_id: mark})
        case _:
            return state


CASE = AggregateKind(
    type="moderation.case",
    initial=CaseState,
    evolve=evolve,
    state_type=CaseState,
    snapshot_every=100,
)


def _check_reporter(command: FileReport, meta: CommandMeta) -> bool:
    """Whether the word filter (the system) files this report. The system files its own
    kind only (naming the rules that matched), with no role; a person needs `REPORT` and
    never files that kind."""
    by_filter = bool(command.word_filter_rules)
    if meta.actor == SYSTEM:
        if not by_filter:
            raise PermissionDenied("the system files word filter reports only")
        return True
    require(meta.roles, REPORT)
    if by_filter or command.held:
        raise PermissionDenied("only the word filter files word filter reports")
    return False


def decide_report(state: CaseState, command: FileReport, meta: CommandMeta) -> list[Event]:
    """A person's report, or the word filter's: the system's weighs nothing (a filter's
    match is no reporter's judgement, so it never adds to hiding pending review) and may
    hold the content until the next decision."""
    system = _check_reporter(command, meta)
    reporter = meta.actor or ""
    if reporter in (command.author_id, command.target_id if command.target_type == "user" else ""):
        raise OwnContent()
    cid = case_id(command.target_type, command.target_id)
    if reporter in state.reporters:
        return [
            ReportUpdated(
                case_id=cid,
                reporter_id=reporter,
                category=command.category,
                comment=command.comment,
                at=meta.received_at,
                held=command.held,
            )
        ]
    weight = 0.0 if system else command.weight
    events: list[Event] = [
        ReportFiled(
            case_id=cid,
            target_type=command.target_type,
            target_id=command.target_id,
            author_id=command.author_id,
            reporter_id=reporter,
            category=command.category,
            comment=command.comment,
            snapshot=command.snapshot,
            at=meta.received_at,
            weight=weight,
            word_filter_rules=list(command.word_filter_rules),
            held=command.held,
        )
    ]
    # Distinct reporters only: a person's repeat is `ReportUpdated` above and weighs nothing.
    score = round(sum(state.reporters.values()) + weight, 4)
    threshold = None if system else command.auto_hide_at
    hideable = command.target_type in CONTENT_TARGETS
    if hideable and threshold is not None and not state.auto_hidden and score >= threshold:
        events.append(
            CaseAutoHidden(
                case_id=cid,
                target_type=command.target_type,
                target_id=command.target_id,
                author_id=command.author_id,
                score=score,
                threshold=threshold,
                at=meta.received_at,
            )
        )
    return events


def decide_assign(state: CaseState, command: AssignCase, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MODERATE)
    if not state.exists:
        raise CaseNotFound()
    if state.assignee == command.assignee:
        return []
    return [
        CaseAssigned(
            case_id=command.case_id,
            assignee=command.assignee,
            by=meta.actor or "",
            at=meta.received_at,
        )
    ]


#: Actions that cannot stand in one decision.
_CLASHES = ({"hide", "restore"}, {"remove", "restore"}, {"hide", "remove"})


def check_actions(
    target_type: str,
    actions: list[str],
    suspend_until: datetime | None = None,
    meta: CommandMeta | None = None,
) -> None:
    """Refuse what cannot be carried out as one decision (422 `bad-decision`)."""
    chosen = set(actions)
    problem, field = "", "actions"
    if len(chosen) != len(actions):
        problem = "each action once"
    elif "dismiss" in chosen and len(chosen) > 1:
        problem = "dismiss stands alone"
    elif any(pair <= chosen for pair in _CLASHES):
        problem = "hide, remove and restore exclude each other"
    elif chosen & {"hide", "remove"} and target_type not in CONTENT_TARGETS:
        problem = f"hide and remove act on {', '.join(CONTENT_TARGETS)}"
    elif "restore" in chosen and chosen & set(ACCOUNT_ACTIONS):
        problem = "restore lifts a limit or a suspension: it cannot impose one"
    elif suspend_until is not None and "suspend" not in chosen:
        problem, field = "suspend_until goes with suspend", "suspend_until"
    elif suspend_until is not None and meta is not None and suspend_until <= meta.received_at:
        problem, field = "suspend_until must be in the future", "suspend_until"
    if problem:
        raise BadDecision(problem, errors=[FieldError(field, problem)])


def decide_decision(state: CaseState, command: DecideCase, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MODERATE)
    if not state.exists:
        raise CaseNotFound()
    check_actions(state.target_type, list(command.actions), command.suspend_until, meta)
    if command.decision_id in state.decisions:
        return []  # the same decision again (a retried request): nothing new
    suspending = "suspend" in command.actions
    return [
        DecisionTaken(
            case_id=command.case_id,
            decision_id=command.decision_id,
            target_type=state.target_type,
            target_id=state.target_id,
            author_id=state.author_id,
            moderator_id=meta.actor or "",
            actions=list(command.actions),
            reason=command.reason,
            rule=command.rule,
            reporters=sorted(state.reporters),
            at=meta.received_at,
            suspend_until=command.suspend_until if suspending else None,
            # Held by the word filter is hidden pending review too: the decision ends it.
            auto_hidden=state.auto_hidden or state.held,
        )
    ]


def decide_appeal_filing(state: CaseState, command: FileAppeal, meta: CommandMeta) -> list[Event]:
    """Only the author, once per decision, within `APPEAL_WINDOW` of it; a dismissal leaves
    nothing to appeal."""
    require(meta.roles, REPORT)
    mark = state.decisions.get(command.decision_id)
    if mark is None or meta.actor != state.author_id or mark.actions == ("dismiss",):
        raise DecisionNotFound()
    if mark.appeal_id == command.appeal_id:
        return []  # a retried request
    if mark.appeal_id is not None:
        raise AppealRefused("this decision has been appealed already")
    if meta.received_at > mark.at + APPEAL_WINDOW:
        raise AppealRefused(f"appeals are taken within {APPEAL_WINDOW.days} days of a decision")
    return [
        AppealFiled(
            case_id=command.case_id,
            appeal_id=command.appeal_id,
            decision_id=command.decision_id,
            author_id=state.author_id,
            text=command.text,
            at=meta.received_at,
            decided_by=mark.moderator,
        )
    ]


def decide_appeal(state: CaseState, command: DecideAppeal, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MODERATE)
    found = [(d, m) for d, m in state.decisions.items() if m.appeal_id == command.appeal_id]
    if not found:
        raise AppealNotFound()
    decision_id, mark = found[0]
    if mark.appeal_decided:
        raise AppealDecidedAlready()
    return [
        AppealDecided(
            case_id=command.case_id,
            appeal_id=command.appeal_id,
            decision_id=decision_id,
            approved=command.approve,
            moderator_id=meta.actor or "",
            reason=command.reason,
            target_type=state.target_type,
            target_id=state.target_id,
            author_id=state.author_id,
            actions=list(mark.actions),
            at=meta.received_at,
            decided_by=mark.moderator,
        )
    ]
