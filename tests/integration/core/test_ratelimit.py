"""Rate limits against a real Redis: bursts, refill, atomicity under concurrency, and the
HTTP answer a limited client sees."""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec
import pytest
from aiohttp import web

from core.bootstrap import Infra
from core.ids import new_id
from core.ratelimit import Rule
from edge.app import create_app
from edge.context import limit
from edge.routing import Route


@pytest.mark.parametrize(
    ("text", "limit_", "period"),
    [("5/10min", 5, 600), ("30/h", 30, 3600), ("3/60s", 3, 60), ("1/day", 1, 86400)],
)
def test_rules_parse_from_their_written_form(text: str, limit_: int, period: float) -> None:
    rule = Rule.parse("r", text)
    assert (rule.limit, rule.period) == (limit_, period)


@pytest.mark.parametrize("text", ["5", "0/min", "5/fortnight", "x/min", ""])
def test_a_wrong_rate_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not a rate"):
        Rule.parse("r", text)


async def test_a_burst_up_to_the_limit_passes_then_the_subject_waits(infra: Infra) -> None:
    rule = Rule("burst", 5, 1.0)
    subject = new_id()
    decisions = [await infra.limiter.hit(rule, subject) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert 0.1 < decisions[5].retry_after <= 0.2  # one interval: 1 s / 5
    assert (await infra.limiter.hit(rule, new_id())).allowed  # another subject is unaffected
    await asyncio.sleep(decisions[5].retry_after + 0.02)  # time passing is what is tested
    assert (await infra.limiter.hit(rule, subject)).allowed
    assert not (await infra.limiter.hit(rule, subject)).allowed


async def test_concurrent_hits_never_exceed_the_limit(infra: Infra) -> None:
    rule = Rule("race", 10, 60)
    subject = new_id()
    decisions = await asyncio.gather(*(infra.limiter.hit(rule, subject) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10


async def test_a_limited_client_gets_429_with_retry_after_and_ratelimit_headers(
    infra: Infra,
) -> None:
    rule = Rule("test-route", 2, 60)

    async def limited(request: web.Request) -> web.Response:
        await limit(request, rule, request.headers["X-Who"])
        return web.Response(body=msgspec.json.encode({"ok": True}), content_type="application/json")

    app = create_app(infra, routes=[Route("POST", "/v1/limited", limited, "test", "test")])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", infra.settings.http_port)
    await site.start()
    try:
        base = f"http://127.0.0.1:{infra.settings.http_port}"
        async with aiohttp.ClientSession(base_url=base) as http:
            who = {"X-Who": new_id()}
            for remaining in ("1", "0"):
                async with http.post("/v1/limited", headers=who) as resp:
                    assert resp.status == 200
                    assert resp.headers["RateLimit-Limit"] == "2"
                    assert resp.headers["RateLimit-Remaining"] == remaining
            async with http.post("/v1/limited", headers=who) as resp:
                assert resp.status == 429
                assert resp.content_type == "application/problem+json"
                assert (await resp.json())["type"] == "quark:rate-limited"
                assert int(resp.headers["Retry-After"]) >= 1
                assert resp.headers["RateLimit-Remaining"] == "0"
                assert int(resp.headers["RateLimit-Reset"]) > 0
    finally:
        await runner.cleanup()
