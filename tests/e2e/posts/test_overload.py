"""More load than the platform can take: every answer is one a client can act on (2xx, 429
or 503 with Retry-After), never a 500 or a timeout, and every 2xx is in the log.

The platform runs with small bounds (edge in-flight limits, handler concurrency, a Redis
pool of two connections) so that a burst of a few hundred requests on this machine is
already too much, and the test stays bounded in count and time.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core.bootstrap import Infra
from core.ids import new_id
from core.metrics import REGISTRY
from core.settings import Settings
from handlers.posts.decide import POST
from tests.support.auth import as_user
from tests.support.platform import Platform

pytestmark = pytest.mark.usefixtures("signed_in")

BURST = 400
AUTHORS = [new_id() for _ in range(4)]


def shed(worker: str, kind: str) -> float:
    return REGISTRY.get_sample_value("quark_shed_total", {"worker": worker, "kind": kind}) or 0.0


async def burst(platform: Platform, count: int = BURST) -> list[tuple[int, dict, dict]]:
    """`count` posts sent at once, each over its own connection."""
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(base_url=platform.base_url, connector=connector) as http:

        async def one(i: int) -> tuple[int, dict, dict]:
            async with http.post(
                "/v1/posts",
                json={"title": f"t{i}", "body": "b"},
                headers=as_user(AUTHORS[i % len(AUTHORS)]),
            ) as resp:
                return resp.status, await resp.json(content_type=None), dict(resp.headers)

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), 60)


async def assert_only_actionable_answers(
    answers: list[tuple[int, dict, dict]], infra: Infra
) -> None:
    statuses = {status for status, _, _ in answers}
    assert statuses <= {201, 429, 503}, statuses
    for status, body, headers in answers:
        if status in (429, 503):
            assert headers["Content-Type"].startswith("application/problem+json"), body
            assert int(headers["Retry-After"]) >= 1, headers
    created = [body["id"] for status, body, _ in answers if status == 201]
    assert created, "nothing got through at all"
    for post_id in created:
        assert (await infra.store.load(POST, post_id)).state.exists, post_id


class TestEdgeBound:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(max_commands_in_flight=8, redis_pool_size=2, command_timeout=3.0)

    async def test_a_burst_beyond_the_edge_bound_is_shed_with_503_and_nothing_acked_is_lost(
        self, infra: Infra, platform: Platform
    ) -> None:
        before = shed("edge", "command")
        answers = await burst(platform)
        await assert_only_actionable_answers(answers, infra)
        refused = [body for status, body, _ in answers if status == 503]
        assert refused, "the burst never exceeded the edge's bound"
        assert any(body["type"] == "quark:overloaded" for body in refused)
        assert shed("edge", "command") > before


class TestHandlerBound:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(max_commands_in_flight=10_000, handler_concurrency=2)

    async def test_a_handler_at_capacity_answers_503_at_once_instead_of_timing_out(
        self, infra: Infra, platform: Platform
    ) -> None:
        before = shed("handler-posts", "command")
        answers = await burst(platform)
        await assert_only_actionable_answers(answers, infra)
        assert shed("handler-posts", "command") > before
        refused = [body for status, body, _ in answers if status == 503]
        assert any("handler" in body.get("detail", "") for body in refused), refused[:3]


class TestReadBound:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(max_reads_in_flight=4)

    async def test_a_burst_of_reads_beyond_the_bound_is_shed_and_probes_still_answer(
        self, platform: Platform
    ) -> None:
        connector = aiohttp.TCPConnector(limit=BURST)
        async with aiohttp.ClientSession(base_url=platform.base_url, connector=connector) as http:

            async def read() -> int:
                async with http.get("/v1/posts") as resp:
                    await resp.read()
                    return resp.status

            async def probe() -> int:
                async with http.get("/healthz") as resp:
                    return resp.status

            statuses = await asyncio.gather(*(read() for _ in range(BURST)), probe())
        assert set(statuses[:-1]) <= {200, 503}
        assert 503 in statuses[:-1] and 200 in statuses[:-1]
        assert statuses[-1] == 200
