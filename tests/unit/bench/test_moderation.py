"""The moderation suite's pure helpers: the rules it adds match nothing of the post it
sends, the matcher's posts have the asked size and some carry a rule, and its arithmetic."""

from __future__ import annotations

from bench.kernel_commands import BODY, TITLE
from bench.moderation import bench_rules, extra_ms_per_post, microseconds_per, sample_posts
from core.wordfilter import WordFilter


def test_the_rules_are_as_many_as_asked_of_every_action_and_miss_the_bench_post() -> None:
    rules = bench_rules(200, avoid=(TITLE, BODY))
    assert len(rules) == 200 and len({r.id for r in rules}) == 200
    assert {r.action for r in rules} == {"block", "hold", "flag", "censor"}
    assert {r.whole_word for r in rules} == {True, False}
    assert all(r.contexts == frozenset({"posts"}) for r in rules)
    assert WordFilter(rules).matches(f"{TITLE}\n{BODY}") == []
    assert bench_rules(50, avoid=(BODY,)) == bench_rules(50, avoid=(BODY,))  # reproducible


def test_the_matchers_posts_have_the_asked_size_and_every_tenth_carries_a_rule() -> None:
    rules = bench_rules(100)
    posts = sample_posts(40, 600, rules)
    assert len(posts) == 40 and all(len(p) == 600 for p in posts)
    compiled = WordFilter(rules)
    assert all(compiled.matches(p) for p in posts[::10])


def test_microseconds_per_item_and_what_rules_add_to_a_latency() -> None:
    assert microseconds_per(0.5, 1000) == 500.0
    assert microseconds_per(0.5, 0) is None
    assert extra_ms_per_post(2.0, 2.25) == 0.25
    assert extra_ms_per_post(None, 2.25) is None
