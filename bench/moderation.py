"""The moderation benchmark: `python -m bench moderation [--quick]` — what the server-wide
word filter costs a write.

Two groups of figures, each printed beside a ceiling (or floor) measured in the same run:

1. **Post creation with 1,000 rules**: `POST /v1/posts` at 64 clients and at 1 client, the
   kernel suite's way (`bench.kernel_commands.commands_figure`, the Python load generator,
   each client a user of its own), with 1,000 word filter rules screening posts. Ceiling:
   the same figure with no rule, measured first in the same run on the same platform. The
   rules are added through `POST /v1/admin/word-filters` as an admin and none of them
   matches the bench's post (checked before they are added), so every post is published:
   the figure is what screening costs, not what a refusal saves. The platform is the kernel
   suite's posts slice (its `word_filters` projection included) plus the moderation
   handler, which takes the rules; the edge compiles them on the first post after they
   reach its read model (during the warm-up).
2. **The matcher**, in this process, one core: microseconds per post of
   `handlers.moderation.screening.screen` (folding, one Aho-Corasick pass, the gap checks,
   censoring) with the same 1,000 rules over 600-character posts of mixed Russian and
   English words, some of which the rules match. Floor: pyahocorasick's own pass over the
   same posts' letters, folded beforehand — what no matcher built on that automaton goes
   below; the rest is folding and the gap checks. Beside it: the matcher with no rule, and
   the milliseconds to compile 1,000 rules (what an edge pays once per change of rules).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick
import aiohttp

from bench.environment import LIFTED, BenchSetupError, access_tokens, set_up
from bench.environment import WORKERS as POSTS_SLICE
from bench.kernel_commands import BODY, TITLE, commands_figure, wait_platform
from bench.loadgen import LoopResult, rounded, server_errors
from bench.report import (
    cpu_ms_per_request,
    fmt,
    fmt_ratio,
    footer,
    machine,
    ratio,
    render_table,
)
from core.permissions import ADMIN
from core.projection import POSITIONS_SUBJECT
from core.wordfilter import Rule, WordFilter, letters_of, skeleton
from handlers.moderation.screening import screen

#: The kernel suite's posts slice, with the moderation handler that takes the rules.
WORKERS: tuple[tuple[str, ...], ...] = (("handler", "moderation"), *POSTS_SLICE)
RULES = 1_000
POST_CHARS = 600
ACTIONS = ("block", "hold", "flag", "censor")
#: Words the matcher's posts are made of: Russian and English, a few with look-alike
#: Latin letters among Cyrillic ones, as people write.
WORDS: tuple[str, ...] = (
    "привет", "как", "дела", "сегодня", "завтра", "погода", "новости", "город", "люди", "время",
    "работа", "дом", "друзья", "музыка", "фильм", "книга", "спасибо", "хорошо", "плохо",
    "очень", "можно", "нужно", "потому", "hello", "world", "today", "news", "people", "time",
    "work", "home", "friends", "music", "movie", "book", "thanks", "good", "bad", "very",
    "maybe", "because", "weekend", "coffee", "travel", "photo", "river", "mountain", "sea",
    "\u043f\u0440\u0438\u0432\u0065\u0442",  # with a Latin e
    "\u0078\u006f\u0440\u043e\u0448\u043e",  # with a Latin x and o
)  # fmt: skip
SEPARATORS = (" ", " ", " ", ", ", ". ", "! ", " - ", "\n")
_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыэюя"
_LATIN = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Sizes:
    warmup_seconds: float
    http_seconds: float
    http_max_requests: int
    #: Posts the matcher screens, and how many times over.
    matcher_posts: int
    matcher_rounds: int
    rule_concurrency: int
    overall_timeout: float


FULL = Sizes(
    warmup_seconds=2.0,
    http_seconds=10.0,
    http_max_requests=200_000,
    matcher_posts=2_000,
    matcher_rounds=5,
    rule_concurrency=16,
    overall_timeout=900.0,
)
QUICK = Sizes(
    warmup_seconds=0.5,
    http_seconds=3.0,
    http_max_requests=50_000,
    matcher_posts=300,
    matcher_rounds=2,
    rule_concurrency=16,
    overall_timeout=420.0,
)


# -- what is screened, and the arithmetic -------------------------------------------------------


def bench_rules(count: int, *, seed: int = 12, avoid: Sequence[str] = ()) -> list[Rule]:
    """`count` rules of 5 to 9 random letters (Cyrillic or Latin), whole-word or not, of
    every action, screening posts; none matches any of `avoid` (redrawn until so)."""
    rng = random.Random(seed)
    rules: list[Rule] = []
    while len(rules) < count:
        alphabet = _CYRILLIC if rng.random() < 0.5 else _LATIN
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 9)))
        rule = Rule(
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            pattern,
            rng.random() < 0.5,
            ACTIONS[len(rules) % len(ACTIONS)],
            frozenset({"posts"}),
        )
        if not WordFilter([rule]).matches("\n".join(avoid)):
            rules.append(rule)
    return rules


def sample_posts(count: int, chars: int, rules: Sequence[Rule], *, seed: int = 7) -> list[str]:
    """`count` posts of about `chars` characters of `WORDS`; every tenth carries one rule's
    pattern (so matches, censoring and sorting are in the figure too)."""
    rng = random.Random(seed)
    posts = []
    for n in range(count):
        parts: list[str] = []
        size = 0
        while size < chars:
            word = rng.choice(WORDS)
            if n % 10 == 0 and rules and not parts:
                word = rng.choice(rules).pattern
            parts.append(word + rng.choice(SEPARATORS))
            size += len(parts[-1])
        posts.append("".join(parts)[:chars])
    return posts


def microseconds_per(seconds: float, items: int) -> float | None:
    """Microseconds per item of a timed loop (None for an empty one)."""
    return round(seconds / items * 1e6, 2) if items and seconds >= 0 else None


def extra_ms_per_post(without: float | None, with_rules: float | None) -> float | None:
    """What the rules add to a post's latency (ms; negative within noise)."""
    return None if without is None or with_rules is None else round(with_rules - without, 3)


# -- figure 2: the matcher, in this process ----------------------------------------------------


def matcher_figure(sizes: Sizes, rules: list[Rule], say: Callable[[str], None]) -> dict[str, Any]:
    say(f"figure 2: the matcher, {len(rules):,} rules, {sizes.matcher_posts:,} posts")
    started = time.perf_counter()
    compiled = WordFilter(rules)
    build_ms = (time.perf_counter() - started) * 1000
    posts = sample_posts(sizes.matcher_posts, POST_CHARS, rules)
    empty = WordFilter([])

    def timed(fn: Callable[[str], object]) -> float:
        best = float("inf")
        for _ in range(sizes.matcher_rounds):
            t = time.perf_counter()
            for text in posts:
                fn(text)
            best = min(best, time.perf_counter() - t)
        return best

    with_rules = timed(lambda text: screen(compiled, "posts", {"body": text}))
    without = timed(lambda text: screen(empty, "posts", {"body": text}))
    # The floor: the automaton alone, over letters folded beforehand.
    automaton = ahocorasick.Automaton()
    for rule in rules:
        automaton.add_word(letters_of(rule.pattern), rule.id)
    automaton.make_automaton()
    folded = ["".join(ch for ch in skeleton(text) if ch.isalnum()) for text in posts]
    floor = float("inf")
    for _ in range(sizes.matcher_rounds):
        t = time.perf_counter()
        for letters in folded:
            for _hit in automaton.iter(letters):
                pass
        floor = min(floor, time.perf_counter() - t)
    matched = sum(1 for text in posts if compiled.matches(text))
    return {
        "screen_us_per_post": microseconds_per(with_rules, len(posts)),
        "screen_us_per_post_no_rules": microseconds_per(without, len(posts)),
        "automaton_us_per_post": microseconds_per(floor, len(posts)),
        "build_ms": round(build_ms, 2),
        "posts": len(posts),
        "posts_matched": matched,
        "post_chars": POST_CHARS,
    }


# -- figure 1: post creation through the edge -----------------------------------------------


async def add_rules(
    base_url: str, admin: str, rules: list[Rule], concurrency: int, say: Callable[[str], None]
) -> str:
    """The rules through `POST /v1/admin/word-filters`; the latest position answered."""
    say(f"adding {len(rules):,} rules as an admin, {concurrency} at a time")
    slots = asyncio.Semaphore(concurrency)
    positions: list[tuple[int, str]] = []
    headers = {"Authorization": f"Bearer {admin}"}

    async def one(session: aiohttp.ClientSession, rule: Rule) -> None:
        body = {
            "pattern": rule.pattern,
            "whole_word": rule.whole_word,
            "action": rule.action,
            "contexts": sorted(rule.contexts),
        }
        async with (
            slots,
            session.post(f"{base_url}/v1/admin/word-filters", json=body, headers=headers) as resp,
        ):
            answer = await resp.json(content_type=None)
            if resp.status != 201:
                raise BenchSetupError(f"a rule was refused: HTTP {resp.status} {answer}")
            positions.append((int(answer["position"].split(":")[1]), answer["position"]))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, rule) for rule in rules))
    return max(positions)[1]


async def rules_applied(base_url: str, admin: str, position: str, count: int) -> None:
    """Until the word_filters read model holds the rules (`Quark-After` the last one)."""
    headers = {"Authorization": f"Bearer {admin}", "Quark-After": position}
    async with aiohttp.ClientSession() as session:
        url = f"{base_url}/v1/admin/word-filters?limit=500"
        seen = 0
        while url:
            async with session.get(url, headers=headers) as resp:
                page = await resp.json(content_type=None)
                if resp.status != 200:
                    raise BenchSetupError(f"the rules did not arrive: HTTP {resp.status} {page}")
            seen += len(page["items"])
            cursor = page["next_cursor"]
            url = f"{base_url}/v1/admin/word-filters?limit=500&cursor={cursor}" if cursor else ""
    if seen != count:
        raise BenchSetupError(f"the read model holds {seen} rules, {count} were added")


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    rules = bench_rules(RULES, avoid=(TITLE, BODY))
    matcher = matcher_figure(sizes, rules, say)
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            say(f"settings lifted for the run: {LIFTED}")
            setup = await set_up(tmp, stack, say, workers=WORKERS, extra_env=LIFTED)
            backends, platform, infra = setup.backends, setup.platform, setup.infra
            tokens = access_tokens(setup.tokens, 64)
            now = int(time.time())
            admin = setup.tokens.issue(str(uuid.uuid4()), str(uuid.uuid4()), (ADMIN,), now)[0]
            say("starting the platform: " + " / ".join(" ".join(w) for w in WORKERS))
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            announced: set[str] = set()

            async def on_position(msg: Any) -> None:
                announced.add(msg.subject.rsplit(".", 1)[-1])

            await infra.nc.subscribe(f"{POSITIONS_SUBJECT}.*", cb=on_position)
            async with aiohttp.ClientSession() as session:
                await wait_platform(platform, session, infra.nc, tokens[0])
            say("figure 1: no rule (the ceiling)")
            without, cores_without = await commands_figure(
                platform, sizes, tokens, platform.pids(), say, use_wrk=False
            )
            last = await add_rules(platform.base_url, admin, rules, sizes.rule_concurrency, say)
            await rules_applied(platform.base_url, admin, last, len(rules))
            say(f"figure 1: {len(rules):,} rules")
            with_rules, cores_with = await commands_figure(
                platform, sizes, tokens, platform.pids(), say, use_wrk=False
            )
            platform.check_alive()
            if "word_filters" not in announced:
                raise BenchSetupError("the word_filters projection never announced a position")
            say("cleaning up")
    return assemble(
        sizes, quick, backends.origins, matcher, without, with_rules, cores_without, cores_with
    )


def assemble(
    sizes: Sizes,
    quick: bool,
    origins: dict[str, str],
    matcher: dict[str, Any],
    without: dict[int, LoopResult | Any],
    with_rules: dict[int, LoopResult | Any],
    cores_without: dict[str, float],
    cores_with: dict[str, float],
) -> dict[str, Any]:
    w1, w64, r1, r64 = without[1], without[64], with_rules[1], with_rules[64]
    figures = {
        "posts_per_s_64_rules": round(r64.per_s, 1),
        "p50_ms_64_rules": rounded(r64.p50_ms),
        "p99_ms_64_rules": rounded(r64.p99_ms),
        "posts_per_s_1_rules": round(r1.per_s, 1),
        "p50_ms_1_rules": rounded(r1.p50_ms),
        "screen_us_per_post": matcher["screen_us_per_post"],
        "screen_us_per_post_no_rules": matcher["screen_us_per_post_no_rules"],
        "build_ms": matcher["build_ms"],
    }
    bounds = {
        "posts_per_s_64_no_rules": round(w64.per_s, 1),
        "p50_ms_64_no_rules": rounded(w64.p50_ms),
        "p99_ms_64_no_rules": rounded(w64.p99_ms),
        "posts_per_s_1_no_rules": round(w1.per_s, 1),
        "p50_ms_1_no_rules": rounded(w1.p50_ms),
        "automaton_us_per_post": matcher["automaton_us_per_post"],
    }
    ratios = {
        "posts_64_vs_no_rules": ratio(r64.per_s, w64.per_s),
        "p50_64_vs_no_rules": ratio(r64.p50_ms, w64.p50_ms),
        "p99_64_vs_no_rules": ratio(r64.p99_ms, w64.p99_ms),
        "posts_1_vs_no_rules": ratio(r1.per_s, w1.per_s),
        "p50_1_vs_no_rules": ratio(r1.p50_ms, w1.p50_ms),
        "screen_vs_automaton": ratio(
            matcher["screen_us_per_post"], matcher["automaton_us_per_post"]
        ),
    }
    return {
        **figures,
        "ceilings": bounds,
        "ratios": ratios,
        "details": {
            "rules": RULES,
            "matcher": matcher,
            "extra_ms_per_post_1": extra_ms_per_post(w1.p50_ms, r1.p50_ms),
            "posts_1_no_rules": w1.summary() | {"first_error": w1.first_error},
            "posts_64_no_rules": w64.summary() | {"first_error": w64.first_error},
            "posts_1_rules": r1.summary() | {"first_error": r1.first_error},
            "posts_64_rules": r64.summary() | {"first_error": r64.first_error},
            "cpu_ms_per_post_64_no_rules": cpu_ms_per_request(cores_without, w64.per_s),
            "cpu_ms_per_post_64_rules": cpu_ms_per_request(cores_with, r64.per_s),
            "http_5xx_other_than_503": sum(
                server_errors(r.error_kinds)["http_5xx_other_than_503"] for r in (w1, w64, r1, r64)
            ),
        },
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": origins,
        "load_generator": "python (aiohttp client)",
        **machine(),
    }


# -- the report ------------------------------------------------------------------------------


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} µs"


def table(result: dict[str, Any]) -> str:
    c, r = result["ceilings"], result["ratios"]
    n = f"{result['details']['rules']:,}"
    rows: list[tuple[str, str, str, str]] = []
    for label, key, unit, bound, bkey, rkey in (
        ("posts/s, 64 clients", "posts_per_s_64_rules", "/s", "no rule", "posts_per_s_64_no_rules", "posts_64_vs_no_rules"),
        ("post p50, 64 clients", "p50_ms_64_rules", "ms", "no rule", "p50_ms_64_no_rules", "p50_64_vs_no_rules"),
        ("post p99, 64 clients", "p99_ms_64_rules", "ms", "no rule", "p99_ms_64_no_rules", "p99_64_vs_no_rules"),
        ("posts/s, 1 client", "posts_per_s_1_rules", "/s", "no rule", "posts_per_s_1_no_rules", "posts_1_vs_no_rules"),
        ("post p50, 1 client", "p50_ms_1_rules", "ms", "no rule", "p50_ms_1_no_rules", "p50_1_vs_no_rules"),
    ):  # fmt: skip
        rows.append(
            (f"{label}, {n} rules", fmt(result[key], unit), f"{fmt(c[bkey], unit)} {bound}", fmt_ratio(r[rkey]))
        )  # fmt: skip
    rows.append(
        (
            f"screen a {POST_CHARS}-char post, {n} rules",
            _us(result["screen_us_per_post"]),
            f"{_us(c['automaton_us_per_post'])} automaton pass",
            fmt_ratio(r["screen_vs_automaton"]),
        )
    )
    rows.append(("screen a post, no rule", _us(result["screen_us_per_post_no_rules"]), "", ""))
    rows.append((f"compile {n} rules", fmt(result["build_ms"], "ms"), "", ""))
    headers = ("figure", "value", "ceiling / floor (same run)", "ratio")
    return render_table(headers, rows, right={1, 3})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    m = d["matcher"]

    def top(cpu: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())

    lines = [
        "ratio: throughput = value / ceiling (1.00 = at the ceiling); "
        "latency = value / floor (1.00 = at the floor).",
        f"rules: {d['rules']:,} screening posts (block, hold, flag, censor in turn; none "
        "matches the bench's post)",
        f"a post's p50 at 1 client gains {d['extra_ms_per_post_1']} ms with the rules",
        f"matcher: {m['posts']:,} posts of {m['post_chars']} characters, {m['posts_matched']:,} "
        "of them matched",
        "posts (requests, errors): "
        + "; ".join(
            f"{k} {d[k]['requests']:,}/{d[k]['errors']}"
            for k in ("posts_1_no_rules", "posts_64_no_rules", "posts_1_rules", "posts_64_rules")
        ),
        "CPU ms per post, 64 clients, no rule: " + top(d["cpu_ms_per_post_64_no_rules"]),
        f"CPU ms per post, 64 clients, {d['rules']:,} rules: " + top(d["cpu_ms_per_post_64_rules"]),
        f"HTTP 5xx other than 503 (must be 0): {d['http_5xx_other_than_503']}",
        *footer(result),
    ]
    return "\n".join(lines)
