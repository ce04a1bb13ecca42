"""Security headers on every response the edge sends, HSTS in production only, and CORS for
the configured origins only (issue 8, 9c)."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from core import embedded
from core.bootstrap import Infra
from core.ids import new_id
from core.settings import Settings
from edge.app import create_app
from tests.support.auth import Tokens
from tests.support.platform import Platform

ALLOWED = "https://app.example.org"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(cors_origins=f"{ALLOWED}, http://localhost:5173")


async def asset_url(http: aiohttp.ClientSession) -> str:
    async with http.get("/docs") as resp:
        found = re.search(r'src="(/docs/assets/[^"]+\.js)"', await resp.text())
    assert found
    return found.group(1)


def assert_protected(headers: CIMultiDictProxy[str], what: str) -> None:
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), what


@contextlib.asynccontextmanager
async def edge_with(infra: Infra, **changes: object) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of an edge on this test's platform, with `changes` to its settings."""
    changed = dataclasses.replace(infra, settings=infra.settings.with_(**changes))
    runner = web.AppRunner(create_app(changed), access_log=None, handle_signals=False)
    await runner.setup()
    port = embedded.free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        await runner.cleanup()


async def test_every_kind_of_response_carries_the_security_headers(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens
) -> None:
    answers = [
        ("GET", "/healthz", {}, 200),
        ("GET", "/v1/posts", {}, 200),
        ("GET", "/v1/nowhere", {}, 404),
        ("GET", "/v1/me", {}, 401),
        ("PUT", "/v1/posts", {}, 405),
        ("POST", "/v1/posts", tokens.headers(new_id(), **{"Content-Type": "text/plain"}), 415),
        ("GET", await asset_url(http), {}, 200),
        ("GET", "/docs", {}, 200),
        ("GET", "/openapi.json", {}, 200),
    ]
    for method, path, headers, status in answers:
        async with http.request(method, path, headers=headers, allow_redirects=False) as resp:
            assert resp.status == status, path
            assert_protected(resp.headers, f"{method} {path}")
            assert "Strict-Transport-Security" not in resp.headers, path  # not production


async def test_the_docs_page_keeps_its_own_policy(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    async with http.get("/docs") as resp:
        policy = resp.headers.getall("Content-Security-Policy")
    assert len(policy) == 1 and "script-src 'self'" in policy[0]
    async with http.get("/v1/posts") as resp:
        assert (
            resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        )


async def test_hsts_is_sent_in_production_and_on_errors_too(infra: Infra) -> None:
    async with edge_with(infra, env="production") as http:
        for path, status in (("/healthz", 200), ("/v1/nowhere", 404), ("/v1/me", 401)):
            async with http.get(path) as resp:
                assert resp.status == status
                assert resp.headers["Strict-Transport-Security"].startswith("max-age=63072000")
                assert_protected(resp.headers, path)


async def test_a_preflight_from_an_allowed_origin_gets_what_a_browser_client_needs(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    preflight = {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    async with http.options("/v1/posts", headers=preflight) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        allowed = {
            h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
        assert "Access-Control-Allow-Credentials" not in resp.headers
    async with http.get("/v1/posts", headers={"Origin": ALLOWED}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"Quark-Position", "Location", "Retry-After", "X-Request-Id"} <= exposed
        assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= exposed


async def test_another_origin_gets_no_cors_allowance(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    async with http.options("/v1/posts", headers=preflight) as resp:
        assert resp.status == 403
        assert not [h for h in resp.headers if h.lower().startswith("access-control-allow")]
        assert resp.content_type == "application/problem+json"
    async with http.get("/v1/posts", headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 200
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]


async def test_without_configured_origins_no_response_has_cors_headers(infra: Infra) -> None:
    async with edge_with(infra, cors_origins="") as http:
        preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        async with http.options("/v1/posts", headers=preflight) as resp:
            assert resp.status == 405
            assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
        async with http.get("/healthz", headers={"Origin": ALLOWED}) as resp:
            assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
