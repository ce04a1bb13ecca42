"""Search over many posts: seed the posts read model by COPY, then measure `GET /v1/search`
(queries/s, p50, p99) beside a bare `SELECT 1` through asyncpg with the same load generator
— the ceiling any read through the edge and PostgreSQL stays under.

Not a suite: `python -m bench blog` wires these pieces; `python -m bench.blog_search` runs
them alone (a platform slice of its own, `--posts` rows, the figures and an EXPLAIN ANALYZE
of a typical query as JSON).

The corpus is half Russian, half English: sentences of words drawn with Zipf weights from a
vocabulary of inflected forms (stems times endings: about 1,600 Russian and 700 English), so a query
word is as selective as a real one (frequent words match many posts, rare ones few) and
the stemmers have forms to fold (собака, собаки, собаку; run, runs, running). The words
themselves are in `bench/blog_search_words.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg

from bench.blog_search_words import SMALL_WORDS, vocabulary
from bench.loadgen import closed_loop, summary_of
from core.ids import uuid7
from projections.post_search import search_posts_query, search_terms
from projections.posts import ROW_COLUMNS


class Corpus:
    """Sentences of either language, words drawn with Zipf weights (1/rank), a function
    word every few words as in real prose."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.small = SMALL_WORDS
        self.cum = {
            lang: list(itertools.accumulate(1 / (r + 1) for r in range(len(words))))
            for lang, words in self.words.items()
        }

    def sentence(self, lang: str, length: int) -> str:
        words = self.rng.choices(self.words[lang], cum_weights=self.cum[lang], k=length)
        small = self.small[lang]
        for i in range(2, len(words), 4):
            words[i] = self.rng.choice(small)
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."


def _rows(corpus: Corpus, count: int, start_seq: int, now: datetime) -> list[tuple[Any, ...]]:
    rng = corpus.rng
    authors = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(1000)]
    rows = []
    for i in range(count):
        lang = "ru" if i % 2 == 0 else "en"
        body = " ".join(corpus.sentence(lang, rng.randint(6, 16)) for _ in range(rng.randint(1, 4)))
        title = corpus.sentence(lang, rng.randint(2, 6))[:-1] if rng.random() < 0.3 else None
        seq = start_seq + i
        tags = [rng.choice(corpus.words[lang][:200])] if rng.random() < 0.2 else []
        rows.append(
            (
                uuid7(),
                authors[rng.randrange(len(authors))],
                title,
                body,
                f"<p>{body}</p>\n",  # plain prose: what the renderer makes of it
                # A year of posts, oldest first, like the log's order.
                now - timedelta(seconds=(count - i) * 31_536_000 / max(count, 1)),
                None,
                seq,
                seq,
                "public" if rng.random() < 0.9 else "followers",
                None,
                [],
                tags,
                body,  # plain prose is its own text
            )
        )
    return rows


async def seed_posts(
    database_url: str, schema: str, count: int, *, table: str = "posts", seed: int = 1
) -> float:
    """COPY `count` generated posts into `schema`.`table` (the active posts build); rows/s,
    generation included (it runs between COPYs of 20,000 rows). Sequences continue after
    the table's largest, so a seeded build keeps working with live posts."""
    corpus = Corpus(seed)
    conn = await asyncpg.connect(database_url)
    try:
        # A GIN index takes new rows into its pending list and merges them in bulk; a
        # larger list means fewer, larger merges while seeding.
        await conn.execute("SET gin_pending_list_limit = '64MB'; SET work_mem = '256MB'")
        start = int(
            await conn.fetchval(f'SELECT coalesce(max(published_seq), 0) FROM "{schema}"."{table}"')
        )
        now = datetime.now(UTC)
        started = time.perf_counter()
        done = 0
        while done < count:
            n = min(20_000, count - done)
            rows = _rows(corpus, n, start + done + 1, now)
            await conn.copy_records_to_table(
                table, schema_name=schema, records=rows, columns=ROW_COLUMNS
            )
            done += n
        seconds = time.perf_counter() - started
        await conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')
        return count / seconds
    finally:
        await conn.close()


def sample_queries(count: int = 200, seed: int = 2) -> list[str]:
    """What people type: one or two words of either language (frequent and rare), in other
    forms than the corpus's, some cut short as while typing."""
    rng = random.Random(seed)
    words = vocabulary()
    out = []
    for i in range(count):
        lang = "ru" if i % 2 == 0 else "en"
        # Mostly the frequent end of the vocabulary, as real queries are.
        pick = [words[lang][min(int(rng.paretovariate(1.2)) * 3, len(words[lang]) - 1)]]
        if rng.random() < 0.4:
            pick.append(words[lang][rng.randrange(300)])
        q = " ".join(pick)
        if rng.random() < 0.3 and len(q) > 5:
            q = q[: -rng.randint(1, 2)]  # still typing
        out.append(q)
    return out


async def explain_search(database_url: str, q: str, viewer: str | None = None) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the search statement for `q` (first page of 20)."""
    sql, args = search_posts_query(search_terms(q), viewer=viewer, after=None, limit=21)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


async def search_load(
    base_url: str,
    queries: Sequence[str],
    clients: int,
    seconds: float,
    *,
    warmup_seconds: float = 2.0,
    max_requests: int = 10**9,
) -> dict[str, Any]:
    """Closed loop of anonymous `GET /v1/search?q=` over `queries` in turn: queries/s,
    p50, p99 (`bench.loadgen.summary_of`), each answer read whole and checked for 200."""
    urls = [f"{base_url}/v1/search?q={quote(q)}" for q in queries]
    counter = itertools.count()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(i: int) -> str | None:
            async with session.get(urls[next(counter) % len(urls)]) as resp:
                await resp.read()
                if resp.status != 200:
                    return f"HTTP {resp.status}: {(await resp.text())[:200]}"
            return None

        result = await closed_loop(
            send,
            clients=clients,
            seconds=seconds,
            max_requests=max_requests,
            warmup_seconds=warmup_seconds,
        )
    return summary_of(result)


async def select1_load(
    database_url: str, clients: int, seconds: float, *, warmup_seconds: float = 2.0
) -> dict[str, Any]:
    """The same closed loop running `SELECT 1` on a pool of `clients` connections: the
    round trip every search pays before doing any work."""
    pool = await asyncpg.create_pool(database_url, min_size=clients, max_size=clients)
    try:

        async def send(i: int) -> str | None:
            await pool.fetchval("SELECT 1")
            return None

        result = await closed_loop(
            send,
            clients=clients,
            seconds=seconds,
            max_requests=10**9,
            warmup_seconds=warmup_seconds,
        )
    finally:
        await pool.close()
    return summary_of(result)


# -- a standalone run ---------------------------------------------------------------------

WORKERS: tuple[tuple[str, ...], ...] = (
    ("projection", "posts"),
    ("projection", "profiles,follows,media,reactions,comments"),
    ("edge",),
)


async def active_posts_schema(pool: asyncpg.Pool, timeout: float = 30.0) -> str:
    """The schema of the posts read model's active build, once it and the blocks table exist
    (the search query reads both)."""
    deadline = time.monotonic() + timeout
    while True:
        with_build = await pool.fetchval(
            "SELECT active_build FROM quark.projections WHERE name = 'posts'"
        )
        ready = await pool.fetchval("SELECT to_regclass('follows.blocks') IS NOT NULL")
        if with_build and ready:
            return f"posts__b{with_build}"
        if time.monotonic() > deadline:
            raise RuntimeError("the posts projection made no build")
        await asyncio.sleep(0.2)


async def search_figures(
    base_url: str,
    database_url: str,
    pool: asyncpg.Pool,
    posts: int,
    clients: int,
    seconds: float,
    *,
    warmup_seconds: float = 2.0,
    say: Any = print,
) -> dict[str, Any]:
    """Seed `posts` posts into the active posts build, then the `SELECT 1` ceiling and the
    search load at `clients` clients for `seconds` each, then EXPLAIN ANALYZE of a few
    typical queries (after the loads, so their cache warming does not help the figure)."""
    schema = await active_posts_schema(pool)
    say(f"seeding {posts:,} posts (Russian and English) into {schema}")
    rows_per_s = await seed_posts(database_url, schema, posts)
    say(f"  seeded at {rows_per_s:,.0f} rows/s (COPY and generation; then VACUUM ANALYZE)")
    say(f"ceiling: SELECT 1 through asyncpg, {clients} clients")
    ceiling = await select1_load(database_url, clients, seconds, warmup_seconds=warmup_seconds)
    queries = sample_queries()
    say(f"GET /v1/search?q=, {clients} clients, {len(queries)} queries in turn")
    search = await search_load(base_url, queries, clients, seconds, warmup_seconds=warmup_seconds)
    return {
        "posts": posts,
        "posts_in_read_model": await pool.fetchval(f'SELECT count(*) FROM "{schema}".posts'),
        "seed_rows_per_s": round(rows_per_s, 1),
        "select_1": ceiling,
        "search": search,
        "queries": queries[:12],
        "explain": {q: await explain_search(database_url, q) for q in ("собаки", "running")},
    }


async def run(posts: int, clients: int, seconds: float, say: Any = print) -> dict[str, Any]:
    from bench.environment import set_up  # the platform slice, only for a standalone run

    with tempfile.TemporaryDirectory(prefix="quark-bench-search-") as tmp:
        async with AsyncExitStack() as stack:
            setup = await set_up(Path(tmp), stack, say, WORKERS)
            setup.platform.start()
            stack.callback(setup.platform.stop)
            async with aiohttp.ClientSession() as session:
                await setup.platform.wait_ready(session, 60)
            return await search_figures(
                setup.platform.base_url,
                setup.backends.database_url,
                setup.infra.pool,
                posts,
                clients,
                seconds,
                say=say,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.blog_search")
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    result = asyncio.run(
        run(args.posts, args.clients, args.seconds, lambda s: print(s, file=sys.stderr))
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
