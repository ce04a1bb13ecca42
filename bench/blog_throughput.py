"""Figures 2 and 4 of the blog bench: how much the platform serves at 64 clients.

Home timeline pages/s, each client a different reader whose home holds the cap
(`home_figure`, answers counted by `Quark-Timeline-Source`), and comments/s on one hot post,
each client a commenter of their own (`comments_figure`, then the comments read model
checked to hold every acknowledged comment). Both are the same closed loop of `CLIENTS`
keep-alive clients with the CPU of every process sampled meanwhile (`bench.cpu`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from bench.cpu import metered_loop
from bench.environment import BenchSetupError, Platform, caught_up
from bench.loadgen import LoopResult, bearer_headers, http_sender
from core.bootstrap import Infra
from edge.positions import PositionWatcher
from edge.routes.timelines import SOURCE_HEADER
from projections import comments as comments_model

if TYPE_CHECKING:
    from bench.blog import Sizes

#: Clients of figures 2 and 4 (and of the kernel's command rate beside figure 4).
CLIENTS = 64
HOME = "/v1/timelines/home"
COMMENT_BODY = json.dumps(
    {"body": "Fan-out on write pays at publish time so that every read is one sorted set."}
).encode()


async def _metered(
    platform: Platform,
    sizes: Sizes,
    method: str,
    url: str | list[str],
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
            label=f"{method} {urlsplit(url if isinstance(url, str) else url[0]).path}"
            + ("" if isinstance(url, str) else f" {len(url)} edges"),
        )


async def home_figure(
    platform: Platform,
    tokens: list[str],
    sizes: Sizes,
    say: Callable[[str], None],
    edges: list[str] | None = None,
) -> tuple[LoopResult, dict[str, float], dict[str, int]]:
    """Home pages at `CLIENTS` clients, each reader with a token of their own; the answers
    by `Quark-Timeline-Source`. With `edges` (base URLs of several edge processes), the
    clients are shared out among them: how reads scale out (docs/capacity.md)."""
    bases = edges or [platform.base_url]
    urls = [f"{base}{HOME}" for base in bases]
    headers = bearer_headers(tokens)
    async with aiohttp.ClientSession() as session:
        for url in urls:
            async with session.get(url, headers=headers[0]) as resp:
                items = len((await resp.json())["items"])
                if items != 20 or resp.headers.get(SOURCE_HEADER) != "redis":
                    raise BenchSetupError(
                        f"a reader's first page has {items} posts from "
                        f"{resp.headers.get(SOURCE_HEADER)!r}; expected 20 from redis"
                    )
    sources: Counter[str] = Counter()
    which = "figure 2" if len(bases) == 1 else f"figure 2, {len(bases)} edge processes"
    say(f"{which}: GET {HOME}, {CLIENTS} clients (distinct readers)")
    result, cores = await _metered(
        platform,
        sizes,
        "GET",
        urls[0] if len(urls) == 1 else urls,
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
