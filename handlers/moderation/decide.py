"""The case aggregate: pure `evolve` and `decide` functions, no I/O and no clock.

Identity: one case per target, its id `case_id(target_type, target_id)` — a UUIDv5 of the
target in a fixed namespace, so every report of a target lands on the same aggregate from
any sender. Target ids are public (they are in URLs), so the derived id leaks nothing.
"""

from __future__ import annotations

import uuid

import msgspec

from core.commands import CommandMeta
from core.errors import FieldError
from core.eventstore import AggregateKind
from core.permissions import require
from core.registry import Event
from handlers.moderation.commands import CONTENT_TARGETS, AssignCase, DecideCase, FileReport
from handlers.moderation.errors import BadDecision, CaseNotFound, OwnContent
from handlers.moderation.events import CaseAssigned, DecisionTaken, ReportFiled, ReportUpdated

#: Fixed for ever: changing it would give every target a new, empty case.
CASE_NAMESPACE = uuid.UUID("5f0f3c2e-6a4b-4c4e-9d0e-3b7f8a1c2d4e")
#: Who may work the queue (`core.permissions`).
MODERATE = "moderation.act"
#: Who may report: anyone signed in.
REPORT = "account.manage_own"


def case_id(target_type: str, target_id: str) -> str:
    return str(uuid.uuid5(CASE_NAMESPACE, f"{target_type}:{target_id}"))


class CaseState(msgspec.Struct, frozen=True):
    exists: bool = False
    target_type: str = ""
    target_id: str = ""
    author_id: str = ""
    #: People whose report is open.
    reporters: frozenset[str] = frozenset()
    assignee: str | None = None


def evolve(state: CaseState, event: Event) -> CaseState:
    match event:
        case ReportFiled():
            return msgspec.structs.replace(
                state,
                exists=True,
                target_type=event.target_type,
                target_id=event.target_id,
                author_id=event.author_id,
                reporters=state.reporters | {event.reporter_id},
            )
        case CaseAssigned():
            return msgspec.structs.replace(state, assignee=event.assignee)
        case DecisionTaken():
            return msgspec.structs.replace(state, reporters=frozenset())
        case _:
            return state


CASE = AggregateKind(
    type="moderation.case",
    initial=CaseState,
    evolve=evolve,
    state_type=CaseState,
    snapshot_every=100,
)


def decide_report(state: CaseState, command: FileReport, meta: CommandMeta) -> list[Event]:
    require(meta.roles, REPORT)
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
            )
        ]
    return [
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
        )
    ]


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


def check_actions(target_type: str, actions: list[str]) -> None:
    """Refuse what cannot be carried out as one decision (422 `bad-decision`)."""
    chosen = set(actions)
    problem = ""
    if len(chosen) != len(actions):
        problem = "each action once"
    elif "dismiss" in chosen and len(chosen) > 1:
        problem = "dismiss stands alone"
    elif any(pair <= chosen for pair in _CLASHES):
        problem = "hide, remove and restore exclude each other"
    elif chosen & {"hide", "restore", "remove"} and target_type not in CONTENT_TARGETS:
        problem = f"hide, remove and restore act on {' and '.join(CONTENT_TARGETS)}s"
    if problem:
        raise BadDecision(problem, errors=[FieldError("actions", problem)])


def decide_decision(state: CaseState, command: DecideCase, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MODERATE)
    if not state.exists:
        raise CaseNotFound()
    check_actions(state.target_type, list(command.actions))
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
        )
    ]
