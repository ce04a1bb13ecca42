# ruff: noqa: RUF001 (look-alike letters are what these tests are about)
"""The word filter's rules and screening, pure: only admins manage rules, a rule's pattern
must keep a letter once folded, changes carry only what changed; a write's verdict takes
the strongest action (block > hold > flag > censor), censors what it stores, and does in
each context what that context can do."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

import msgspec
import pytest

from core.commands import CommandMeta
from core.moderation import SYSTEM, content_state
from core.permissions import PermissionDenied
from core.wordfilter import Rule, WordFilter
from handlers.moderation.commands import (
    REPORT_COMMENT_MAX,
    AddWordFilter,
    ChangeWordFilter,
    DecideCase,
    FileReport,
    RemoveWordFilter,
    Snapshot,
)
from handlers.moderation.decide import CaseState, case_id, decide_decision, decide_report
from handlers.moderation.decide import evolve as evolve_case
from handlers.moderation.errors import BadWordFilter, WordFilterExists, WordFilterNotFound
from handlers.moderation.events import (
    DecisionTaken,
    ReportFiled,
    WordFilterAdded,
    WordFilterChanged,
    WordFilterRemoved,
)
from handlers.moderation.screening import carried_out, screen
from handlers.moderation.wordfilters import (
    RuleState,
    decide_add,
    decide_change,
    decide_remove,
    evolve,
)

RULE = "0190e4c2-0000-7000-8000-0000000000f1"
ADMIN = "0190e4c2-0000-7000-8000-0000000000ad"


def meta(*roles: str) -> CommandMeta:
    return CommandMeta("c", ADMIN, frozenset(roles), "c", datetime(2026, 12, 3, tzinfo=UTC))


def add(**fields: object) -> AddWordFilter:
    values: dict[str, object] = {
        "rule_id": RULE,
        "pattern": "спам",
        "whole_word": True,
        "action": "block",
        "contexts": ["posts"],
        **fields,
    }
    return AddWordFilter(**values)  # type: ignore[arg-type]


def added(**fields: object) -> RuleState:
    return reduce(evolve, decide_add(RuleState(), add(**fields), meta("admin")), RuleState())


# -- rules ------------------------------------------------------------------------------------


def test_an_admin_adds_a_rule_and_the_event_names_them() -> None:
    (event,) = decide_add(RuleState(), add(note="spam wave"), meta("admin"))
    assert isinstance(event, WordFilterAdded)
    assert (event.pattern, event.action, event.contexts, event.by) == (
        "спам",
        "block",
        ["posts"],
        ADMIN,
    )
    assert event.note == "spam wave"


@pytest.mark.parametrize("roles", [("user",), ("moderator",), ()])
def test_only_admins_manage_rules(roles: tuple[str, ...]) -> None:
    with pytest.raises(PermissionDenied):
        decide_add(RuleState(), add(), meta(*roles))
    state = added()
    with pytest.raises(PermissionDenied):
        decide_change(state, ChangeWordFilter(rule_id=RULE, action="flag"), meta(*roles))
    with pytest.raises(PermissionDenied):
        decide_remove(state, RemoveWordFilter(rule_id=RULE), meta(*roles))


@pytest.mark.parametrize("pattern", ["...", " - ", "\u200b"])
def test_a_pattern_with_no_letter_once_folded_is_refused_naming_the_field(pattern: str) -> None:
    with pytest.raises(BadWordFilter) as refused:
        decide_add(RuleState(), add(pattern=pattern), meta("admin"))
    assert refused.value.errors[0].field == "pattern"


def test_a_context_named_twice_is_refused() -> None:
    with pytest.raises(BadWordFilter) as refused:
        decide_add(RuleState(), add(contexts=["posts", "posts"]), meta("admin"))
    assert refused.value.errors[0].field == "contexts"


def test_the_command_types_bound_the_pattern_the_action_and_the_contexts() -> None:
    decode = msgspec.json.Decoder(AddWordFilter).decode
    base = {"rule_id": RULE, "pattern": "x", "whole_word": False, "action": "block"}
    for bad in (
        {**base, "pattern": "a" * 201, "contexts": ["posts"]},
        {**base, "pattern": "", "contexts": ["posts"]},
        {**base, "pattern": "a\nb", "contexts": ["posts"]},
        {**base, "action": "delete", "contexts": ["posts"]},
        {**base, "contexts": []},
        {**base, "contexts": ["reactions"]},
    ):
        with pytest.raises(msgspec.ValidationError):
            decode(msgspec.json.encode(bad))


def test_adding_a_rule_id_that_exists_is_a_conflict() -> None:
    with pytest.raises(WordFilterExists):
        decide_add(added(), add(), meta("admin"))


def test_a_change_carries_only_what_changed_and_a_no_op_appends_nothing() -> None:
    state = added(note="n")
    (event,) = decide_change(
        state,
        ChangeWordFilter(rule_id=RULE, action="hold", whole_word=True, contexts=["posts"]),
        meta("admin"),
    )
    assert isinstance(event, WordFilterChanged)
    assert (event.action, event.whole_word, event.contexts, event.pattern) == (
        "hold",
        None,
        None,
        None,
    )
    later = evolve(state, event)
    assert (later.action, later.pattern, later.note) == ("hold", "спам", "n")
    assert decide_change(later, ChangeWordFilter(rule_id=RULE, action="hold"), meta("admin")) == []
    (cleared,) = decide_change(later, ChangeWordFilter(rule_id=RULE, note=""), meta("admin"))
    assert evolve(later, cleared).note is None


def test_a_removed_rule_cannot_be_changed_or_removed_again() -> None:
    state = added()
    (event,) = decide_remove(state, RemoveWordFilter(rule_id=RULE), meta("admin"))
    assert isinstance(event, WordFilterRemoved)
    gone = evolve(state, event)
    with pytest.raises(WordFilterNotFound):
        decide_change(gone, ChangeWordFilter(rule_id=RULE, action="flag"), meta("admin"))
    with pytest.raises(WordFilterNotFound):
        decide_remove(gone, RemoveWordFilter(rule_id=RULE), meta("admin"))
    with pytest.raises(WordFilterNotFound):
        decide_remove(RuleState(), RemoveWordFilter(rule_id=RULE), meta("admin"))


# -- screening --------------------------------------------------------------------------------


def rules(*specs: tuple[str, str, str]) -> WordFilter:
    """(id, pattern, action), substring rules."""
    return WordFilter(Rule(i, p, False, a) for i, p, a in specs)


def test_nothing_matched_leaves_the_texts_and_has_no_action() -> None:
    verdict = screen(rules(("r1", "спам", "block")), "posts", {"title": None, "body": "привет"})
    assert verdict.action is None and verdict.texts == {"title": None, "body": "привет"}
    assert screen(None, "posts", {"body": "спам"}).action is None
    assert screen(WordFilter([]), "posts", {"body": "спам"}).action is None


@pytest.mark.parametrize(
    ("actions", "strongest"),
    [
        (("censor", "flag", "hold", "block"), "block"),
        (("censor", "flag", "hold"), "hold"),
        (("censor", "flag"), "flag"),
        (("censor",), "censor"),
    ],
)
def test_the_strongest_action_wins(actions: tuple[str, ...], strongest: str) -> None:
    words = ("спам", "реклама", "казино", "ставки")
    compiled = rules(*((f"r-{a}", w, a) for a, w in zip(actions, words, strict=False)))
    verdict = screen(compiled, "posts", {"body": " ".join(words)})
    assert verdict.action == strongest
    assert verdict.hits[0].rule_id == f"r-{strongest}"


def test_a_block_names_the_rule_the_field_and_the_text_as_written() -> None:
    verdict = screen(
        rules(("r1", "спам", "block")), "posts", {"title": "ok", "body": "это С.П.А.М!"}
    )
    hit = verdict.blocked
    assert hit is not None
    assert (hit.rule_id, hit.field, hit.matched) == ("r1", "body", "С.П.А.М")
    assert verdict.reported == ()


def test_censored_spans_become_asterisks_in_what_is_written_even_when_held() -> None:
    compiled = rules(("c", "дурак", "censor"), ("h", "казино", "hold"))
    verdict = screen(compiled, "comments", {"body": "ты Дурaк, иди в казино"})
    assert verdict.held
    assert verdict.texts["body"] == "ты *****, иди в казино"
    assert [h.rule_id for h in verdict.reported] == ["h"]


def test_a_flag_beside_a_hold_is_reported_once_in_one_comment() -> None:
    compiled = rules(("h", "казино", "hold"), ("f", "ставки", "flag"))
    verdict = screen(compiled, "posts", {"body": "казино и ставки"})
    assert verdict.held
    comment = verdict.report_comment()
    assert "rule h (hold)" in comment and "rule f (flag)" in comment


def test_a_report_comment_stays_within_the_report_limit() -> None:
    compiled = rules(*((f"rule-{n:04}", "спам", "flag") for n in range(100)))
    verdict = screen(compiled, "posts", {"body": "спам"})
    assert len(verdict.report_comment()) <= REPORT_COMMENT_MAX


def test_a_message_is_never_held_but_flagged_and_a_profile_is_blocked() -> None:
    compiled = rules(("h", "казино", "hold"))
    assert screen(compiled, "messages", {"body": "казино"}).action == "flag"
    assert screen(compiled, "profiles", {"bio": "казино"}).action == "block"
    assert screen(compiled, "posts", {"body": "казино"}).action == "hold"
    assert screen(compiled, "comments", {"body": "казино"}).action == "hold"


def test_censoring_a_field_that_cannot_hold_an_asterisk_blocks_it() -> None:
    compiled = rules(("c", "spam", "censor"))
    verdict = screen(compiled, "profiles", {"handle": "spam_king", "bio": "spam"}, fixed={"handle"})
    assert verdict.action == "block" and verdict.blocked is not None
    assert verdict.blocked.field == "handle"
    assert carried_out("profiles", "censor", fixed=True) == "block"
    assert carried_out("profiles", "censor") == "censor"


# -- the system's reports -----------------------------------------------------------------------

POST = "0190e4c2-0000-7000-8000-000000000001"
AUTHOR = "0190e4c2-0000-7000-8000-0000000000a1"


def system_report(**fields: object) -> FileReport:
    values: dict[str, object] = {
        "target_type": "post",
        "target_id": POST,
        "category": "other",
        "author_id": AUTHOR,
        "snapshot": Snapshot(body="казино", stream="CONTENT", seq=7),
        "comment": "word filter: rule r (hold) matched 'казино' in body",
        "word_filter_rules": [RULE],
        "held": True,
        **fields,
    }
    return FileReport(**values)  # type: ignore[arg-type]


def as_system() -> CommandMeta:
    return CommandMeta("c", SYSTEM, frozenset(), "c", datetime(2026, 12, 3, tzinfo=UTC))


def test_the_system_files_a_word_filter_report_without_a_role_and_it_weighs_nothing() -> None:
    (filed,) = decide_report(CaseState(), system_report(weight=5.0, auto_hide_at=1.0), as_system())
    assert isinstance(filed, ReportFiled)
    assert (filed.reporter_id, filed.weight, filed.held) == (SYSTEM, 0.0, True)
    assert filed.word_filter_rules == [RULE]


def test_only_the_system_files_word_filter_reports_and_it_files_no_other_kind() -> None:
    person = CommandMeta("c", ADMIN, frozenset({"admin"}), "c", datetime(2026, 12, 3, tzinfo=UTC))
    with pytest.raises(PermissionDenied):
        decide_report(CaseState(), system_report(), person)
    with pytest.raises(PermissionDenied):
        decide_report(CaseState(), system_report(word_filter_rules=[], held=True), person)
    with pytest.raises(PermissionDenied):
        decide_report(CaseState(), system_report(word_filter_rules=[], held=False), as_system())


def test_the_next_decision_on_a_held_case_shows_the_content_again() -> None:
    case = reduce(
        evolve_case, decide_report(CaseState(), system_report(), as_system()), CaseState()
    )
    assert case.held
    moderator = CommandMeta(
        "c", ADMIN, frozenset({"moderator"}), "c", datetime(2026, 12, 3, tzinfo=UTC)
    )
    command = DecideCase(
        case_id=case_id("post", POST),
        decision_id="0190e4c2-0000-7000-8000-0000000000d1",
        actions=["dismiss"],
        reason="fine",
    )
    (decided,) = decide_decision(case, command, moderator)
    assert isinstance(decided, DecisionTaken) and decided.auto_hidden
    assert content_state(decided) == "visible"
    assert not evolve_case(case, decided).held
    flagged = reduce(
        evolve_case,
        decide_report(CaseState(), system_report(held=False), as_system()),
        CaseState(),
    )
    (plain,) = decide_decision(flagged, command, moderator)
    assert content_state(plain) is None
