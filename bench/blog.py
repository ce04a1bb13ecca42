"""The blog benchmark (issue 10): `python -m bench blog [--quick]`.

Four figures, each printed beside a ceiling (or floor) measured in the same run, as a ratio
(throughput: value / ceiling; latency: value / floor). The platform runs as separate `quark
run` processes (`WORKERS`: the posts handler, the posts, author_stats and timelines
projections, the projections a post's view reads, the edge), with the post quota lifted as
in the kernel suite (`LIFTED`); the limiter still runs.

1. **Publish → visible in a follower's home timeline**, for an author with 10,000 followers
   and one with 10: the author posts (`POST /v1/posts`, one at a time), then a follower
   reads `GET /v1/timelines/home?limit=1` until the post is on top, served from Redis
   (`Quark-Timeline-Source`); the figure runs from sending the POST to that answer. The
   follower reads once both the `timelines` and `posts` projections have announced the
   commit's position (`edge.positions.PositionWatcher`, what the edge waits on for
   `Quark-After`) — the page needs both, Redis for the candidates and PostgreSQL for the
   rows — instead of polling the edge in a tight loop on a two-core machine; a page that
   does not show the post yet is read again. Which follower reads does not matter: the
   whole fan-out of a commit is one Lua script in one MULTI/EXEC, so every follower's home
   changes at the same instant. Floor: `POST /v1/posts` at one client (the command alone,
   `bench.kernel_commands.commands_figure`); beside it, the fan-out batch timed directly
   against Redis (`bench.fanout`), without the log, the runtime or the edge.
2. **Home timeline pages/s** at 64 clients, each a different follower whose home holds the
   cap (400 posts of 8 authors), `GET /v1/timelines/home` (20 posts a page), with the
   share answered from Redis. Ceiling: the same client and headers against the hello-world
   server's empty page (`bench.ceilings.aiohttp_hello_get`). Then the same readers shared
   out between two edge processes (a second one started beside the first), beside the one
   edge's figure: does the read path scale out (docs/capacity.md)?
3. **Search** over 1,000,000 posts, half Russian, half English, seeded by COPY into the
   posts read model's active build (`bench.blog_search`; the figure is about queries, not
   seeding): queries/s, p50, p99 of anonymous `GET /v1/search?q=` at 16 clients over a
   rotating set of one- and two-word queries of both languages. Ceiling: `SELECT 1` through
   asyncpg at the same concurrency.
4. **Comments/s on one hot post** at 64 clients, each a different commenter, every answer
   not 201 counted; afterwards the comments read model must hold every acknowledged comment.
   Ceiling: commands/s of `POST /v1/posts` at 64 clients, measured the kernel suite's way
   in the same run (`bench.kernel_commands.commands_figure`) with the same Python load
   generator and 64 distinct posters: wrk, which the kernel suite prefers, sends one token
   per thread, so it could not give 64 distinct commenters and would not compare like with
   like.

People are set up through the real log, as fast as it goes: the follows are `Follow`
commands carried out in this process by the profiles handler's own procedure (load the
pair, decide, append with expected sequence), 256 at a time, and every figure waits until
the follows and timelines projections have applied them; posts that fill the homes are
published through the edge. The runs of figures 2 and 4 also sample the CPU of every
process (`bench.cpu`).

This module holds the sizes, the run in its order and the report. The people and the posts
that fill their homes are set up in `bench/blog_people.py`; figure 1 is measured in
`bench/blog_visibility.py`, figures 2 and 4 in `bench/blog_throughput.py`, figure 3 in
`bench/blog_search.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import ceilings
from bench.blog_people import FEW_FOLLOWERS, People, fill_homes, follow_all
from bench.blog_search import search_figures
from bench.blog_throughput import CLIENTS, HOME, comments_figure, home_figure
from bench.blog_visibility import visibility_figure
from bench.environment import LIFTED, access_tokens, caught_up, set_up, watch_positions
from bench.fanout import fanout
from bench.kernel_commands import commands_figure, wait_platform
from bench.loadgen import LoopResult, rounded, server_errors
from bench.report import (
    cpu_ms_per_request,
    fmt,
    fmt_ratio,
    footer,
    machine,
    plus,
    ratio,
    render_table,
)

#: The processes the figures need, in start order, the edge last: the kernel suite's posts
#: slice plus the timelines projection in a process of its own (figure 1 times it).
WORKERS: tuple[tuple[str, ...], ...] = (
    ("handler", "posts"),
    ("projection", "posts"),
    ("projection", "author_stats"),
    ("projection", "timelines"),
    # The word filter's rules: posts and comments are screened with them.
    ("projection", "profiles,follows,media,reactions,comments,word_filters"),
    ("edge",),
)
#: The projections of `WORKERS` that read CONTENT: a figure starts once they are idle.
CONTENT_READERS = ("posts", "author_stats", "timelines", "comments", "reactions")
SEARCH_CLIENTS = 16


@dataclass(frozen=True)
class Sizes:
    #: The large audience of figure 1 (the issue's 10,000).
    followers: int
    #: Posts per author in figure 1.
    publishes: int
    #: Closed-loop runs (figures 2 and 4, their ceilings, the kernel's commands figure).
    warmup_seconds: float
    http_seconds: float
    http_max_requests: int
    #: Figure 3: posts seeded, and the seconds of each closed loop.
    search_posts: int
    search_seconds: float
    follow_concurrency: int
    overall_timeout: float


FULL = Sizes(
    followers=10_000,
    publishes=30,
    warmup_seconds=2.0,
    http_seconds=10.0,
    http_max_requests=200_000,
    search_posts=1_000_000,
    search_seconds=15.0,
    follow_concurrency=256,
    overall_timeout=1800.0,
)
QUICK = Sizes(
    followers=2_000,
    publishes=5,
    warmup_seconds=0.5,
    http_seconds=3.0,
    http_max_requests=50_000,
    search_posts=100_000,
    search_seconds=4.0,
    follow_concurrency=256,
    overall_timeout=400.0,
)


# --- the run ------------------------------------------------------------------------------


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            say(f"settings lifted for the run: {LIFTED}")
            setup = await set_up(tmp, stack, say, WORKERS, LIFTED)
            backends, platform, infra = setup.backends, setup.platform, setup.infra
            people = People.make(sizes.followers)
            named = [people.big, people.small, *people.feed, *people.readers]
            tokens = dict(zip(named, access_tokens(setup.tokens, len(named), named), strict=True))
            readers = [tokens[r] for r in people.readers]
            # The kernel figure's posters: people of their own, as in the kernel suite.
            posters = access_tokens(setup.tokens, CLIENTS)

            watcher = await watch_positions(infra, stack)

            say("starting the platform: " + " / ".join(" ".join(w) for w in WORKERS))
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            async with aiohttp.ClientSession() as session:
                await wait_platform(platform, session, infra.nc, posters[0])

            pairs = people.follows()
            say(f"following: {len(pairs):,} Follow commands, {sizes.follow_concurrency} at once")
            followed = await follow_all(infra, pairs, sizes.follow_concurrency)
            say(f"  {followed['per_s']:,.0f} follows/s; waiting for follows and timelines")
            await caught_up(watcher, infra, "PEOPLE", ["follows", "timelines"], 300)
            hot = await fill_homes(platform, people, tokens, say)
            await caught_up(watcher, infra, "CONTENT", CONTENT_READERS, 120)

            say(f"fan-out batch against Redis directly, {sizes.followers:,} and 10 followers")
            direct = {
                n: await fanout(backends.redis_url, n, prefix=f"{backends.redis_prefix}fanout:")
                for n in (sizes.followers, FEW_FOLLOWERS)
            }

            # The Python load generator, like figure 4's: wrk would send one token per thread,
            # and figure 4 needs 64 distinct commenters.
            commands, commands_cores = await commands_figure(
                platform, sizes, posters, platform.pids(), say, use_wrk=False
            )
            # The projections' backlog of those commands must not share the cores with figure 4.
            say("waiting for every projection to apply the commands")
            await caught_up(watcher, infra, "CONTENT", CONTENT_READERS, 300)
            comments, comments_cores, comments_check = await comments_figure(
                platform, infra, watcher, hot, readers, sizes, say
            )
            await caught_up(watcher, infra, "CONTENT", CONTENT_READERS, 300)

            visibility = {}
            for label, author, follower in (
                ("many", people.big, people.readers[-1]),
                ("few", people.small, people.readers[FEW_FOLLOWERS - 1]),
            ):
                say(f"figure 1: {sizes.publishes} posts, publish -> visible, {label} followers")
                visibility[label] = await visibility_figure(
                    platform, watcher, tokens[author], tokens[follower], sizes.publishes
                )

            say(f"ceiling: aiohttp hello-world GET, {CLIENTS} clients")
            hello = await ceilings.aiohttp_hello_get(
                tmp,
                HOME,
                readers,
                clients=CLIENTS,
                seconds=sizes.http_seconds,
                max_requests=sizes.http_max_requests,
                warmup_seconds=sizes.warmup_seconds,
            )
            pages, pages_cores, page_sources = await home_figure(platform, readers, sizes, say)
            # The same readers shared out between two edge processes: does the read path
            # scale out on this machine (the edge is the one process near a whole core)?
            second = await asyncio.to_thread(platform.start_extra_edge, "edge 2", {})
            pages2, pages2_cores, _ = await home_figure(
                platform, readers, sizes, say, edges=[platform.base_url, second]
            )

            search = await search_figures(
                platform.base_url,
                backends.database_url,
                infra.pool,
                sizes.search_posts,
                SEARCH_CLIENTS,
                sizes.search_seconds,
                warmup_seconds=sizes.warmup_seconds,
                say=lambda text: say(f"figure 3: {text}"),
            )
            platform.check_alive()
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)
            say("cleaning up")
    return assemble(
        sizes,
        quick,
        backends.origins,
        followed,
        direct,
        commands,
        commands_cores,
        visibility,
        hello,
        pages,
        pages_cores,
        page_sources,
        pages2,
        pages2_cores,
        search,
        comments,
        comments_cores,
        comments_check,
    )


def assemble(
    sizes: Sizes,
    quick: bool,
    origins: dict[str, str],
    followed: dict[str, float],
    direct: dict[int, dict[str, Any]],
    commands: dict[int, LoopResult],
    commands_cores: dict[str, float],
    visibility: dict[str, dict[str, Any]],
    hello: LoopResult,
    pages: LoopResult,
    pages_cores: dict[str, float],
    page_sources: dict[str, int],
    pages2: LoopResult,
    pages2_cores: dict[str, float],
    search: dict[str, Any],
    comments: LoopResult,
    comments_cores: dict[str, float],
    comments_check: dict[str, int],
) -> dict[str, Any]:
    c1, c64 = commands[1], commands[CLIENTS]
    many, few = visibility["many"], visibility["few"]
    fan_many, fan_few = direct[sizes.followers]["median_ms"], direct[FEW_FOLLOWERS]["median_ms"]
    s, s1 = search["search"], search["select_1"]
    answered = sum(page_sources.values())
    figures = {
        "visible_p50_ms_many": many["visible_p50_ms"],
        "visible_p99_ms_many": many["visible_p99_ms"],
        "visible_p50_ms_few": few["visible_p50_ms"],
        "visible_p99_ms_few": few["visible_p99_ms"],
        "home_pages_per_s_64": round(pages.per_s, 1),
        "home_p50_ms_64": rounded(pages.p50_ms),
        "home_p99_ms_64": rounded(pages.p99_ms),
        "home_redis_share": round(page_sources.get("redis", 0) / answered, 4) if answered else None,
        "home_pages_per_s_64_two_edges": round(pages2.per_s, 1),
        "search_per_s_16": s["per_s"],
        "search_p50_ms_16": s["p50_ms"],
        "search_p99_ms_16": s["p99_ms"],
        "comments_per_s_64": round(comments.per_s, 1),
        "comments_p50_ms_64": rounded(comments.p50_ms),
        "comments_p99_ms_64": rounded(comments.p99_ms),
        "comments_not_2xx": comments.errors,
    }
    bounds = {
        "post_p50_ms_1": rounded(c1.p50_ms),
        "post_p99_ms_1": rounded(c1.p99_ms),
        "fanout_batch_ms_many": fan_many,
        "fanout_batch_ms_few": fan_few,
        "post_p50_plus_fanout_ms_many": rounded(plus(c1.p50_ms, fan_many)),
        "post_p50_plus_fanout_ms_few": rounded(plus(c1.p50_ms, fan_few)),
        "aiohttp_hello_get_per_s_64": round(hello.per_s, 1),
        "aiohttp_hello_get_p50_ms_64": rounded(hello.p50_ms),
        "aiohttp_hello_get_p99_ms_64": rounded(hello.p99_ms),
        "select_1_per_s_16": s1["per_s"],
        "select_1_p50_ms_16": s1["p50_ms"],
        "select_1_p99_ms_16": s1["p99_ms"],
        "commands_per_s_64": round(c64.per_s, 1),
        "commands_p50_ms_64": rounded(c64.p50_ms),
        "commands_p99_ms_64": rounded(c64.p99_ms),
    }
    ratios = {
        "visible_p50_many_vs_post_p50": ratio(many["visible_p50_ms"], c1.p50_ms),
        "visible_p99_many_vs_post_p99": ratio(many["visible_p99_ms"], c1.p99_ms),
        "visible_p50_many_vs_post_plus_fanout": ratio(
            many["visible_p50_ms"], bounds["post_p50_plus_fanout_ms_many"]
        ),
        "visible_p50_few_vs_post_p50": ratio(few["visible_p50_ms"], c1.p50_ms),
        "visible_p99_few_vs_post_p99": ratio(few["visible_p99_ms"], c1.p99_ms),
        "visible_p50_few_vs_post_plus_fanout": ratio(
            few["visible_p50_ms"], bounds["post_p50_plus_fanout_ms_few"]
        ),
        "home_pages_vs_hello": ratio(pages.per_s, hello.per_s),
        "home_pages_two_edges_vs_one": ratio(pages2.per_s, pages.per_s),
        "home_pages_two_edges_vs_hello": ratio(pages2.per_s, hello.per_s),
        "home_p50_vs_hello": ratio(pages.p50_ms, hello.p50_ms),
        "home_p99_vs_hello": ratio(pages.p99_ms, hello.p99_ms),
        "search_vs_select_1": ratio(s["per_s"], s1["per_s"]),
        "search_p50_vs_select_1": ratio(s["p50_ms"], s1["p50_ms"]),
        "search_p99_vs_select_1": ratio(s["p99_ms"], s1["p99_ms"]),
        "comments_vs_commands": ratio(comments.per_s, c64.per_s),
        "comments_p50_vs_commands": ratio(comments.p50_ms, c64.p50_ms),
        "comments_p99_vs_commands": ratio(comments.p99_ms, c64.p99_ms),
    }
    return {
        **figures,
        "ceilings": bounds,
        "ratios": ratios,
        "details": {
            "follows": followed,
            "visibility_many": many,
            "visibility_few": few,
            "fanout_direct": {str(n): v for n, v in direct.items()},
            "commands_1": c1.summary() | {"first_error": c1.first_error},
            "commands_64": c64.summary() | {"first_error": c64.first_error},
            "cpu_ms_per_command_64": cpu_ms_per_request(commands_cores, c64.per_s),
            "aiohttp_hello_get_64": hello.summary(),
            "home_pages_64": pages.summary() | {"first_error": pages.first_error},
            "home_sources": page_sources,
            "cpu_ms_per_home_page_64": cpu_ms_per_request(pages_cores, pages.per_s),
            "home_pages_64_two_edges": pages2.summary() | {"first_error": pages2.first_error},
            "cpu_ms_per_home_page_64_two_edges": cpu_ms_per_request(pages2_cores, pages2.per_s),
            "search": search,
            "comments_64": comments.summary()
            | {"first_error": comments.first_error, "error_kinds": dict(comments.error_kinds)},
            "comments_check": comments_check,
            "cpu_ms_per_comment_64": cpu_ms_per_request(comments_cores, comments.per_s),
            "http_5xx_other_than_503": {
                "home_pages": server_errors(pages.error_kinds)["http_5xx_other_than_503"],
                "home_pages_two_edges": server_errors(pages2.error_kinds)[
                    "http_5xx_other_than_503"
                ],
                "comments": server_errors(comments.error_kinds)["http_5xx_other_than_503"],
                "commands_64": server_errors(c64.error_kinds)["http_5xx_other_than_503"],
                "search": s["http_5xx_other_than_503"],
            },
        },
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": origins,
        "load_generator": "python (aiohttp client)",
        **machine(),
    }


# --- the report ---------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    c, r, d = result["ceilings"], result["ratios"], result["details"]
    followers = f"{result['sizes']['followers']:,}"
    posts = f"{d['search']['posts_in_read_model']:,}"
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, value: float | None, unit: str, bound: str, b: Any, key: str) -> None:
        bound_text = f"{fmt(b, unit)} {bound}" if bound else ""
        rows.append((label, fmt(value, unit) if label else "", bound_text, fmt_ratio(r.get(key))))

    for label, n in (("many", followers), ("few", str(FEW_FOLLOWERS))):
        row(
            f"publish -> visible p50, {n} followers",
            result[f"visible_p50_ms_{label}"],
            "ms",
            "POST /v1/posts p50, 1 client",
            c["post_p50_ms_1"],
            f"visible_p50_{label}_vs_post_p50",
        )
        row(
            "",
            None,
            "ms",
            "that + fan-out batch in Redis",
            c[f"post_p50_plus_fanout_ms_{label}"],
            f"visible_p50_{label}_vs_post_plus_fanout",
        )
        row(
            f"publish -> visible p99, {n} followers",
            result[f"visible_p99_ms_{label}"],
            "ms",
            "POST /v1/posts p99, 1 client",
            c["post_p99_ms_1"],
            f"visible_p99_{label}_vs_post_p99",
        )
    row(
        "home pages/s, 64 clients",
        result["home_pages_per_s_64"],
        "/s",
        "aiohttp hello GET, 64",
        c["aiohttp_hello_get_per_s_64"],
        "home_pages_vs_hello",
    )
    row(
        "home pages/s, 64 clients, 2 edges",
        result["home_pages_per_s_64_two_edges"],
        "/s",
        "one edge (the row above)",
        result["home_pages_per_s_64"],
        "home_pages_two_edges_vs_one",
    )
    for q in ("p50", "p99"):
        row(
            f"home page {q}, 64 clients",
            result[f"home_{q}_ms_64"],
            "ms",
            f"hello GET {q}",
            c[f"aiohttp_hello_get_{q}_ms_64"],
            f"home_{q}_vs_hello",
        )
    row(
        f"search queries/s, {SEARCH_CLIENTS} clients, {posts} posts",
        result["search_per_s_16"],
        "/s",
        f"SELECT 1, {SEARCH_CLIENTS}",
        c["select_1_per_s_16"],
        "search_vs_select_1",
    )
    for q in ("p50", "p99"):
        row(
            f"search {q}, {SEARCH_CLIENTS} clients",
            result[f"search_{q}_ms_16"],
            "ms",
            f"SELECT 1 {q}",
            c[f"select_1_{q}_ms_16"],
            f"search_{q}_vs_select_1",
        )
    row(
        "comments/s on one post, 64 clients",
        result["comments_per_s_64"],
        "/s",
        "POST /v1/posts, 64",
        c["commands_per_s_64"],
        "comments_vs_commands",
    )
    for q in ("p50", "p99"):
        row(
            f"comment {q}, 64 clients",
            result[f"comments_{q}_ms_64"],
            "ms",
            f"POST /v1/posts {q}, 64",
            c[f"commands_{q}_ms_64"],
            f"comments_{q}_vs_commands",
        )
    headers = ("figure", "value", "ceiling / floor (same run)", "ratio")
    return render_table(headers, rows, right={1, 3})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    s = d["search"]
    many, few = d["visibility_many"], d["visibility_few"]
    sources = ", ".join(f"{k or '(none)'} {v:,}" for k, v in d["home_sources"].items())

    def top(cpu: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())

    lines = [
        "ratio: throughput = value / ceiling (1.00 = at the ceiling); "
        "latency = value / floor (1.00 = at the floor).",
        f"setup: {d['follows']['follows']:,} follows through the profiles procedure at "
        f"{d['follows']['per_s']:,.0f}/s",
        f"publish -> visible, {result['sizes']['followers']:,} followers: "
        f"{many['posts']} posts, max {many['visible_max_ms']} ms, the author's 201 p50 "
        f"{many['post_201_p50_ms']} ms; answers {many['sources']}",
        f"publish -> visible, {FEW_FOLLOWERS} followers: {few['posts']} posts, max "
        f"{few['visible_max_ms']} ms, the author's 201 p50 {few['post_201_p50_ms']} ms; "
        f"answers {few['sources']}",
        "fan-out batch against Redis directly (ms): "
        + "; ".join(f"{n} followers {v['batch_ms']}" for n, v in d["fanout_direct"].items()),
        f"home pages: {d['home_pages_64']['requests']:,} ({d['home_pages_64']['errors']} "
        f"errors); answered (warm-up included) by {sources}; Redis share {result['home_redis_share']}",
        "CPU ms per home page: " + top(d["cpu_ms_per_home_page_64"]),
        f"home pages, two edges: {d['home_pages_64_two_edges']['requests']:,} "
        f"({d['home_pages_64_two_edges']['errors']} errors); CPU ms per page: "
        + top(d["cpu_ms_per_home_page_64_two_edges"]),
        f"search: {s['posts_in_read_model']:,} posts, seeded at {s['seed_rows_per_s']:,.0f} "
        f"rows/s; {s['search']['requests']:,} queries ({s['search']['errors']} errors); "
        f"SELECT 1 {s['select_1']['requests']:,}",
        f"comments: {d['comments_64']['requests']:,} in the measured run, "
        f"{result['comments_not_2xx']} not 2xx {d['comments_64']['error_kinds']}; "
        f"{d['comments_check']['acknowledged']:,} acknowledged (warm-up included), "
        f"{d['comments_check']['in_read_model']:,} in the read model",
        "CPU ms per comment: " + top(d["cpu_ms_per_comment_64"]),
        "CPU ms per command (POST /v1/posts, 64): " + top(d["cpu_ms_per_command_64"]),
        "HTTP 5xx other than 503 (must all be 0): "
        + ", ".join(f"{k} {v}" for k, v in d["http_5xx_other_than_503"].items()),
        *footer(result),
    ]
    return "\n".join(lines)
