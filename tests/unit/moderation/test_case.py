"""The moderation context's pure decisions: one case per target, one open report per
person, nobody reports their own, and only moderators assign."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest

from core.commands import CommandMeta
from core.moderation import account_effect, content_state, reporter_weight, state_after
from core.permissions import PermissionDenied
from handlers.moderation.commands import (
    AssignCase,
    DecideAppeal,
    DecideCase,
    FileAppeal,
    FileReport,
    Snapshot,
)
from handlers.moderation.decide import (
    CaseState,
    case_id,
    check_actions,
    decide_appeal,
    decide_appeal_filing,
    decide_assign,
    decide_decision,
    decide_report,
    evolve,
)
from handlers.moderation.errors import (
    AppealDecidedAlready,
    AppealRefused,
    BadDecision,
    CaseNotFound,
    DecisionNotFound,
    OwnContent,
)
from handlers.moderation.events import (
    AppealDecided,
    CaseAssigned,
    CaseAutoHidden,
    DecisionTaken,
    ReportFiled,
    ReportUpdated,
)

POST = "0190e4c2-0000-7000-8000-000000000001"
AUTHOR = "0190e4c2-0000-7000-8000-0000000000a1"


def meta(actor: str, *roles: str) -> CommandMeta:
    return CommandMeta(
        "c", actor, frozenset(roles or ("user",)), "c", datetime(2026, 12, 2, tzinfo=UTC)
    )


def filing(
    category: str = "spam",
    target_type: str = "post",
    target_id: str = POST,
    weight: float = 1.0,
    auto_hide_at: float | None = None,
) -> FileReport:
    return FileReport(
        weight=weight,
        auto_hide_at=auto_hide_at,
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
    assert set(reduce(evolve, [first, other], CaseState()).reporters) == {"r1", "r2"}


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
        ("media", ["limit", "restore"]),
        ("user", ["restore", "suspend"]),
        ("post", ["limit", "dismiss"]),
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
    assert evolve(state, decided).reporters == {}
    check_actions("user", ["warn"])
    check_actions("comment", ["remove", "warn"])
    check_actions("message", ["hide"])
    check_actions("post", ["remove", "limit", "suspend", "warn"])


def test_suspend_until_goes_with_suspend_and_lies_ahead() -> None:
    later = datetime(2026, 12, 9, tzinfo=UTC)
    check_actions("user", ["suspend"], later, meta("m1", "moderator"))
    with pytest.raises(BadDecision):
        check_actions("user", ["warn"], later, meta("m1", "moderator"))
    with pytest.raises(BadDecision):
        check_actions("user", ["suspend"], datetime(2026, 12, 1, tzinfo=UTC), meta("m1"))


def reported(*weights: float, threshold: float = 3.0) -> tuple[CaseState, list[object]]:
    """The case after one report per weight (distinct reporters), and every event."""
    state, events = CaseState(), []
    for n, w in enumerate(weights):
        produced = decide_report(state, filing(weight=w, auto_hide_at=threshold), meta(f"r{n}"))
        events += produced
        state = reduce(evolve, produced, state)
    return state, events


def test_the_target_is_hidden_once_distinct_reporters_weigh_enough() -> None:
    state, events = reported(1.0, 1.0, 1.0, 1.0)
    hidden = [e for e in events if isinstance(e, CaseAutoHidden)]
    assert len(hidden) == 1 and hidden[0].score == 3.0 and state.auto_hidden
    # A repeat by the same person is an update and adds nothing.
    state, events = reported(1.0, 1.0)
    again = decide_report(state, filing(weight=1.0, auto_hide_at=3.0), meta("r0"))
    assert [type(e) for e in again] == [ReportUpdated]


def test_a_ring_of_new_accounts_does_not_reach_the_threshold() -> None:
    state, events = reported(*[0.1] * 20)
    assert not state.auto_hidden and not any(isinstance(e, CaseAutoHidden) for e in events)


def test_a_decision_without_a_content_action_shows_an_auto_hidden_target_again() -> None:
    state, _ = reported(2.0, 2.0)
    command = DecideCase(
        case_id=case_id("post", POST),
        decision_id="0190e4c2-0000-7000-8000-0000000000d2",
        actions=["dismiss"],
        reason="fine",
    )
    (decided,) = decide_decision(state, command, meta("m1", "moderator"))
    assert decided.auto_hidden and state_after(decided.actions, auto_hidden=True) == "visible"
    assert decide_decision(evolve(state, decided), command, meta("m1", "moderator")) == []


def decided_case(actions: list[str]) -> tuple[CaseState, str]:
    state, _ = reported(1.0)
    decision = "0190e4c2-0000-7000-8000-0000000000d3"
    command = DecideCase(
        case_id=case_id("post", POST), decision_id=decision, actions=actions, reason="why"
    )
    return reduce(evolve, decide_decision(state, command, meta("m1", "moderator")), state), decision


def appeal(decision: str, appeal_id: str = "0190e4c2-0000-7000-8000-0000000000e1") -> FileAppeal:
    return FileAppeal(
        case_id=case_id("post", POST), decision_id=decision, appeal_id=appeal_id, text="mistake"
    )


def test_only_the_author_appeals_once_within_twenty_days() -> None:
    state, decision = decided_case(["hide", "limit"])
    with pytest.raises(DecisionNotFound):
        decide_appeal_filing(state, appeal(decision), meta("r0"))
    late = dataclasses.replace(meta(AUTHOR), received_at=datetime(2026, 12, 23, tzinfo=UTC))
    with pytest.raises(AppealRefused):
        decide_appeal_filing(state, appeal(decision), late)
    (filed,) = decide_appeal_filing(state, appeal(decision), meta(AUTHOR))
    state = evolve(state, filed)
    assert decide_appeal_filing(state, appeal(decision), meta(AUTHOR)) == []  # a retry
    other = "0190e4c2-0000-7000-8000-0000000000e2"
    with pytest.raises(AppealRefused):
        decide_appeal_filing(state, appeal(decision, other), meta(AUTHOR))
    ruling = DecideAppeal(
        case_id=case_id("post", POST), appeal_id=filed.appeal_id, approve=True, reason="ok"
    )
    with pytest.raises(PermissionDenied):
        decide_appeal(state, ruling, meta(AUTHOR))
    (approved,) = decide_appeal(state, ruling, meta("m1", "moderator"))
    assert isinstance(approved, AppealDecided) and approved.actions == ["hide", "limit"]
    assert content_state(approved) == "visible"
    assert account_effect(approved).limited is False and account_effect(approved).suspended is None
    with pytest.raises(AppealDecidedAlready):
        decide_appeal(evolve(state, approved), ruling, meta("m1", "moderator"))


def test_a_dismissal_leaves_nothing_to_appeal() -> None:
    state, decision = decided_case(["dismiss"])
    with pytest.raises(DecisionNotFound):
        decide_appeal_filing(state, appeal(decision), meta(AUTHOR))


def test_reporter_weight_grows_with_age_and_accuracy() -> None:
    new, month = timedelta(0), timedelta(days=30)
    assert reporter_weight(new, 0, 0) == 0.1
    assert reporter_weight(month, 0, 0) == 1.0
    assert reporter_weight(month * 3, 0, 0) == 1.0
    assert reporter_weight(month, 8, 0) > 1.7
    assert reporter_weight(month, 0, 8) < 0.25
    assert reporter_weight(timedelta(days=15), 0, 0) == pytest.approx(0.55)
