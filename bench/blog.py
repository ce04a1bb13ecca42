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
   server's empty page (`bench.ceilings.aiohttp_hello_get`).
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
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import ceilings
from bench.blog_search import search_figures
from bench.cpu import metered_loop
from bench.environment import LIFTED, BenchSetupError, Platform, access_tokens, set_up
from bench.fanout import fanout
from bench.kernel_commands import HTTP_BODY, commands_figure, wait_platform
from bench.loadgen import (
    LoopResult,
    bearer_headers,
    http_sender,
    percentile,
    rounded,
    server_errors,
)
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
from core.bootstrap import Infra
from core.commands import CommandMeta, parse_position
from core.envelope import utc_now
from core.ids import new_id
from core.permissions import USER
from core.projection_worker import checkpoint_lookups
from edge.positions import PositionWatcher
from edge.routes.timelines import SOURCE_HEADER
from handlers.profiles.commands import Follow
from handlers.profiles.procedures import follow
from projections import comments as comments_model
from projections import projections

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
#: Clients of figures 2 and 4 (and of the kernel's command rate beside figure 4).
CLIENTS = 64
SEARCH_CLIENTS = 16
#: Authors whose posts fill each reader's home to the cap (400, `QUARK_TIMELINE_CAP`).
FEED_AUTHORS = 8
HOME_CAP = 400
FEW_FOLLOWERS = 10
HOME = "/v1/timelines/home"
COMMENT_BODY = json.dumps(
    {"body": "Fan-out on write pays at publish time so that every read is one sorted set."}
).encode()


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


@dataclass(frozen=True)
class People:
    """Who is who: the two authors of figure 1, the feed authors, the 64 readers (each
    follows every feed author and both figure-1 authors; the first 10 are the small
    author's whole audience) and the rest of the large author's audience."""

    big: str
    small: str
    feed: list[str]
    readers: list[str]
    others: list[str]

    @classmethod
    def make(cls, followers: int) -> People:
        def ids(n: int) -> list[str]:
            return [str(uuid.uuid4()) for _ in range(n)]

        return cls(ids(1)[0], ids(1)[0], ids(FEED_AUTHORS), ids(CLIENTS), ids(followers - CLIENTS))

    def follows(self) -> list[tuple[str, str]]:
        """(follower, followee) of every follow the run makes."""
        pairs = [(r, a) for r in self.readers for a in self.feed]
        pairs += [(f, self.big) for f in self.readers + self.others]
        pairs += [(r, self.small) for r in self.readers[:FEW_FOLLOWERS]]
        return pairs


# --- setting up ---------------------------------------------------------------------------


async def follow_all(
    infra: Infra, pairs: Sequence[tuple[str, str]], concurrency: int
) -> dict[str, float]:
    """Every (follower, followee) as a `Follow` command carried out by the profiles handler's
    procedure in this process, `concurrency` at once: the commits a handler worker appends,
    without the HTTP and NATS request hops that the figures do not measure."""
    todo = iter(pairs)
    started = time.perf_counter()

    async def worker() -> None:
        for follower, followee in todo:
            meta = CommandMeta(
                command_id=new_id(),
                actor=follower,
                roles=frozenset({USER}),
                correlation_id=new_id(),
                received_at=utc_now(),
            )
            await follow(infra, Follow(target_id=followee), meta)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {
        "follows": len(pairs),
        "seconds": round(seconds, 2),
        "per_s": round(len(pairs) / seconds),
    }


async def caught_up(
    watcher: PositionWatcher, infra: Infra, stream: str, names: Sequence[str], timeout: float
) -> int:
    """Until every projection in `names` has applied `stream` up to its last commit; that
    sequence."""
    head = (await infra.nc.jetstream().stream_info(stream)).state.last_seq
    for name in names:
        await watcher.wait(name, stream, head, timeout)
    return head


async def publish(
    session: aiohttp.ClientSession, base_url: str, headers: dict[str, str], body: bytes
) -> tuple[str, int]:
    """`POST /v1/posts`; the new post's id and its commit's CONTENT sequence."""
    async with session.post(f"{base_url}/v1/posts", data=body, headers=headers) as resp:
        text = await resp.text()
        if resp.status != 201:
            raise BenchSetupError(f"POST /v1/posts answered {resp.status}: {text[:200]}")
        _, seq = parse_position(resp.headers["Quark-Position"])
        return json.loads(text)["id"], seq


async def fill_homes(
    platform: Platform, people: People, tokens: dict[str, str], say: Callable[[str], None]
) -> str:
    """Each feed author publishes `HOME_CAP / FEED_AUTHORS` posts through the edge (so every
    reader's home holds the cap), then the large author the hot post of figure 4; its id."""
    per_author = HOME_CAP // FEED_AUTHORS
    say(f"publishing {per_author * FEED_AUTHORS} posts of {FEED_AUTHORS} authors (the homes)")
    async with aiohttp.ClientSession() as session:

        async def author(user: str) -> None:
            headers = bearer_headers([tokens[user]])[0]
            for n in range(per_author):
                body = json.dumps({"title": f"Post {n}", "body": f"Feed post {n} by {user}."})
                await publish(session, platform.base_url, headers, body.encode())

        await asyncio.gather(*(author(a) for a in people.feed))
        hot, _ = await publish(
            session, platform.base_url, bearer_headers([tokens[people.big]])[0], HTTP_BODY
        )
    return hot


# --- figure 1: publish -> visible ---------------------------------------------------------


async def visibility_figure(
    platform: Platform,
    watcher: PositionWatcher,
    author_token: str,
    follower_token: str,
    count: int,
) -> dict[str, Any]:
    """`count` posts by the author, one at a time, each timed from its POST until the
    follower's first home page shows it on top from Redis (see the module docstring)."""
    author = bearer_headers([author_token])[0]
    reader = bearer_headers([follower_token])[0]
    url = f"{platform.base_url}{HOME}?limit=1"
    visible: list[float] = []
    acked: list[float] = []
    reads: list[int] = []
    sources: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            body = json.dumps({"body": f"Visible to my followers, number {n}."}).encode()
            t0 = time.perf_counter()
            post_id, seq = await publish(session, platform.base_url, author, body)
            acked.append((time.perf_counter() - t0) * 1000)
            await watcher.wait("timelines", "CONTENT", seq, 30)
            await watcher.wait("posts", "CONTENT", seq, 30)
            attempts = 0
            while True:
                attempts += 1
                async with session.get(url, headers=reader) as resp:
                    page = await resp.json()
                    source = resp.headers.get(SOURCE_HEADER, "")
                if page["items"] and page["items"][0]["id"] == post_id and "redis" in source:
                    break
                if attempts == 1000:
                    raise BenchSetupError(f"post {post_id} never reached the follower's home")
                sources[f"not yet ({source})"] += 1
                await asyncio.sleep(0.001)
            visible.append((time.perf_counter() - t0) * 1000)
            reads.append(attempts)
            sources[source] += 1
    return {
        "posts": count,
        "visible_p50_ms": rounded(percentile(visible, 50)),
        "visible_p99_ms": rounded(percentile(visible, 99)),
        "visible_max_ms": rounded(max(visible)),
        "post_201_p50_ms": rounded(percentile(acked, 50)),
        "post_201_p99_ms": rounded(percentile(acked, 99)),
        "reads_per_post_max": max(reads),
        "sources": dict(sources),
    }


# --- figures 2 and 4: 64 clients ----------------------------------------------------------


async def _metered(
    platform: Platform,
    sizes: Sizes,
    method: str,
    url: str,
    headers: list[dict[str, str]],
    **sender: Any,
) -> tuple[LoopResult, dict[str, float]]:
    """`CLIENTS` clients in a closed loop (`http_sender` with `sender`'s options), one
    connection each, and the cores every process used meanwhile."""
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await metered_loop(
            http_sender(session, method, url, headers, **sender),
            platform.pids(),
            clients=CLIENTS,
            seconds=sizes.http_seconds,
            max_requests=sizes.http_max_requests,
            warmup_seconds=sizes.warmup_seconds,
        )


async def home_figure(
    platform: Platform, tokens: list[str], sizes: Sizes, say: Callable[[str], None]
) -> tuple[LoopResult, dict[str, float], dict[str, int]]:
    """Home pages at `CLIENTS` clients, each reader with a token of their own; the answers
    by `Quark-Timeline-Source`."""
    url = f"{platform.base_url}{HOME}"
    headers = bearer_headers(tokens)
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers[0]) as resp:
            items = len((await resp.json())["items"])
            if items != 20 or resp.headers.get(SOURCE_HEADER) != "redis":
                raise BenchSetupError(
                    f"a reader's first page has {items} posts from "
                    f"{resp.headers.get(SOURCE_HEADER)!r}; expected 20 from redis"
                )
    sources: Counter[str] = Counter()
    say(f"figure 2: GET {HOME}, {CLIENTS} clients (distinct readers)")
    result, cores = await _metered(
        platform,
        sizes,
        "GET",
        url,
        headers,
        seen=lambda resp: sources.update([resp.headers.get(SOURCE_HEADER, "")]),
    )
    return result, cores, dict(sources)


async def comments_figure(
    platform: Platform,
    infra: Infra,
    watcher: PositionWatcher,
    post_id: str,
    tokens: list[str],
    sizes: Sizes,
    say: Callable[[str], None],
) -> tuple[LoopResult, dict[str, float], dict[str, int]]:
    """Comments on one post at `CLIENTS` clients, each a commenter of their own; then the
    comments read model is checked to hold every acknowledged one (warm-up included)."""
    say(f"figure 4: POST /v1/posts/{{id}}/comments on one post, {CLIENTS} commenters")
    url = f"{platform.base_url}/v1/posts/{post_id}/comments"
    acked = [0]

    def count(_resp: aiohttp.ClientResponse) -> None:
        acked[0] += 1

    headers = bearer_headers(tokens)
    result, cores = await _metered(
        platform, sizes, "POST", url, headers, body=COMMENT_BODY, status=201, seen=count
    )
    await caught_up(watcher, infra, "CONTENT", ["comments"], 120)
    stored = (await comments_model.counts_for(infra.pool, [post_id])).get(post_id, 0)
    return result, cores, {"acknowledged": acked[0], "in_read_model": stored}


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

            watcher = PositionWatcher(infra.nc, infra.pool)
            await watcher.start()
            stack.push_async_callback(watcher.stop)
            for name, lookup in checkpoint_lookups(infra, projections()).items():
                watcher.checkpoint_source(name, lookup)

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
            "search": search,
            "comments_64": comments.summary()
            | {"first_error": comments.first_error, "error_kinds": dict(comments.error_kinds)},
            "comments_check": comments_check,
            "cpu_ms_per_comment_64": cpu_ms_per_request(comments_cores, comments.per_s),
            "http_5xx_other_than_503": {
                "home_pages": server_errors(pages.error_kinds)["http_5xx_other_than_503"],
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
