# ruff: noqa: RUF001, RUF003 (look-alike letters are what these tests are about)
"""The word filter's matching (`core.wordfilter`): the evasions it must see through, the
whole-word rule, spans in the original text, censoring, and speed with 1,000 rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.wordfilter import Rule, WordFilter, censor, skeleton


def f(*rules: tuple[str, bool]) -> WordFilter:
    return WordFilter(Rule(str(n), p, w) for n, (p, w) in enumerate(rules))


@pytest.mark.parametrize(
    "text",
    [
        "это дурак",  # as written
        "это ДУРАК",  # case
        "это Дурaк",  # a Latin a among Cyrillic letters
        "это дypak",  # Latin y, p, a, k
        "это д.у.р.а.к",  # separators inside the word
        "это д у р а к",
        "это ду-рак",
        "это ду_рак",
        "это ду\u200bрак",  # a zero-width space
    ],
)
def test_evasions_are_seen_through(text: str) -> None:
    (match,) = f(("дурак", True)).matches(text)
    # The span is the word as written, from its first letter to its last.
    assert (match.start, match.end) == (4, len(text))


def test_yo_and_ye_are_one_letter() -> None:
    assert f(("ёлка", False)).matches("на елка") and f(("елка", False)).matches("ЁЛКА")


def test_latin_rules_match_cyrillic_look_alikes_and_the_other_way() -> None:
    assert f(("spam", True)).matches("free ｓｐａｍ")  # fullwidth letters (NFKC)
    assert f(("cocaine", True)).matches("buy сосаine now")  # Cyrillic с, о
    assert f(("cocaine", True)).matches("buy c0caine now")  # a digit for a letter


def test_whole_word_rules_do_not_match_inside_words_and_substring_rules_do() -> None:
    whole, part = f(("ass", True)), f(("ass", False))
    assert whole.matches("class assignment") == []
    assert whole.matches("what an ass!")
    assert part.matches("class")


def test_spans_are_in_the_original_text_and_censoring_keeps_separators() -> None:
    text = "you are a d.u\u200bm.b person"
    (m,) = f(("dumb", True)).matches(text)
    assert text[m.start : m.end] == "d.u\u200bm.b"
    assert censor(text, [(m.start, m.end)]) == "you are a *.*\u200b*.* person"


def test_gaps_are_bounded_so_words_far_apart_do_not_match() -> None:
    assert f(("bad", False)).matches("b .... a d") == []


def test_several_rules_say_which_matched_left_to_right() -> None:
    wf = WordFilter(
        [
            Rule("r1", "spam", True, "block"),
            Rule("r2", "scam", True, "flag"),
            Rule("r3", "x", False),
        ]
    )
    found = wf.matches("scam or spam")
    assert [m.rule.id for m in found] == ["r2", "r1"]
    assert wf.first("scam or spam", ("block",)).rule.id == "r1"  # type: ignore[union-attr]
    assert WordFilter([]).matches("anything") == []


def test_a_rule_is_text_never_a_regular_expression() -> None:
    dotted = f(("a.b", False))
    # "." is a separator like any other, not "any character".
    assert dotted.matches("a.b") and dotted.matches("a-b") and not dotted.matches("axb")
    # Regular-expression syntax is inert: only its letters are the rule.
    assert f(("(x+)+$", False)).matches("x")
    assert not f(("(x+)+$", False)).matches("(+)+$")
    with pytest.raises(ValueError, match="at least one letter"):
        f(("   ", False))


@given(st.text(max_size=200))
def test_the_skeleton_keeps_the_length_so_spans_map_back(text: str) -> None:
    assert len(skeleton(text)) == len(text)


def test_a_thousand_rules_in_one_automaton_and_rules_sharing_letters() -> None:
    rules = [Rule(str(n), f"слово{n}", True) for n in range(1000)]
    wf = WordFilter(rules)
    assert wf.matches("обычный текст без плохих слов " * 20) == []
    assert [m.rule.id for m in wf.matches("тут слово999 и слово-0 есть")] == ["999", "0"]
    # слово1 is not a whole word inside слово10 (a digit follows).
    assert [m.rule.id for m in wf.matches("слово10")] == ["10"]
    both = WordFilter([Rule("whole", "spam", True), Rule("part", "spam", False)])
    assert sorted(m.rule.id for m in both.matches("spam")) == ["part", "whole"]
    assert [m.rule.id for m in both.matches("spammer")] == ["part"]
