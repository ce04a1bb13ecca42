"""The moderation context's pure decisions: one case per target, one open report per
person, nobody reports their own, and only moderators assign."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

import pytest

from core.commands import CommandMeta
from core.permissions import PermissionDenied
from handlers.moderation.commands import AssignCase, DecideCase, FileReport, Snapshot
from handlers.moderation.decide import (
    CaseState,
    case_id,
    check_actions,
    decide_assign,
    decide_decision,
    decide_report,
    evolve,
)
from handlers.moderation.errors import BadDecision, CaseNotFound, OwnContent
from handlers.moderation.events import CaseAssigned, DecisionTaken, ReportFiled, ReportUpdated

POST = "0190e4c2-0000-7000-8000-000000000001"
AUTHOR = "0190e4c2-0000-7000-8000-0000000000a1"


def meta(actor: str, *roles: str) -> CommandMeta:
    return CommandMeta(
        "c", actor, frozenset(roles or ("user",)), "c", datetime(2026, 12, 2, tzinfo=UTC)
    )


def filing(category: str = "spam", target_type: str = "post", target_id: str = POST) -> FileReport:
    return FileReport(
        target_type=target_type,  # type: ignore[arg-type]
        target_id=target_id,
        category=category,  # type: ignore[arg-type]
        author_id=AUTHOR,
        snapshot=Snapshot(body="as reported", stream="CONTENT", seq=7),
    )


def test_a_case_is_one_per_target_and_the_same_from_every_sender() -> None:
    assert case_id("post", POST) == case_id("post", POST)
    assert case_id("post", POST) != case_id("comment", POST)


def test_a_first_report_files_and_a_repeat_updates() -> None:
    (first,) = decide_report(CaseState(), filing(), meta("r1"))
    assert isinstance(first, ReportFiled) and first.snapshot.seq == 7
    state = evolve(CaseState(), first)
    (again,) = decide_report(state, filing("harassment"), meta("r1"))
    assert isinstance(again, ReportUpdated) and again.category == "harassment"
    (other,) = decide_report(state, filing(), meta("r2"))
    assert isinstance(other, ReportFiled)
    assert reduce(evolve, [first, other], CaseState()).reporters == {"r1", "r2"}


def test_nobody_reports_their_own_content_or_themselves() -> None:
    with pytest.raises(OwnContent):
        decide_report(CaseState(), filing(), meta(AUTHOR))
    with pytest.raises(OwnContent):
        decide_report(CaseState(), filing(target_type="user", target_id="me"), meta("me"))


def test_only_moderators_assign_and_only_existing_cases() -> None:
    state = evolve(CaseState(), decide_report(CaseState(), filing(), meta("r1"))[0])
    command = AssignCase(case_id=case_id("post", POST), assignee="m1")
    with pytest.raises(PermissionDenied):
        decide_assign(state, command, meta("r1"))
    with pytest.raises(CaseNotFound):
        decide_assign(CaseState(), command, meta("m1", "moderator"))
    (assigned,) = decide_assign(state, command, meta("m1", "moderator"))
    assert isinstance(assigned, CaseAssigned) and assigned.assignee == "m1"
    assert decide_assign(evolve(state, assigned), command, meta("m1", "moderator")) == []


@pytest.mark.parametrize(
    ("target", "actions"),
    [
        ("post", ["dismiss", "warn"]),
        ("post", ["hide", "restore"]),
        ("post", ["remove", "hide"]),
        ("comment", ["warn", "warn"]),
        ("user", ["hide"]),
        ("media", ["remove"]),
    ],
)
def test_actions_that_cannot_be_carried_out_together_are_refused(
    target: str, actions: list[str]
) -> None:
    with pytest.raises(BadDecision):
        check_actions(target, actions)


def test_a_decision_answers_the_open_reports_and_names_the_moderator() -> None:
    state = reduce(
        evolve,
        [decide_report(CaseState(), filing(), meta(r))[0] for r in ("r2", "r1")],
        CaseState(),
    )
    command = DecideCase(
        case_id=case_id("post", POST),
        decision_id="0190e4c2-0000-7000-8000-0000000000d1",
        actions=["hide", "warn"],
        reason="adverts",
    )
    with pytest.raises(PermissionDenied):
        decide_decision(state, command, meta("r1"))
    (decided,) = decide_decision(state, command, meta("m1", "moderator"))
    assert isinstance(decided, DecisionTaken)
    assert (decided.moderator_id, decided.reporters, decided.author_id) == (
        "m1",
        ["r1", "r2"],
        AUTHOR,
    )
    assert evolve(state, decided).reporters == frozenset()
    check_actions("user", ["warn"])
    check_actions("comment", ["remove", "warn"])
