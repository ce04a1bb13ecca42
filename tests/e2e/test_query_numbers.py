"""Numbers in query strings and positions: what is not a number within bounds is 422 naming
the parameter, never a 500 (issue 8, 9b: `?limit=²`, 5,000 digits, int64 overflow)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.ids import new_id
from tests.support.auth import Tokens
from tests.support.platform import Platform

#: Each of these once reached `int()` or PostgreSQL and came back as a 500 with a traceback.
NOT_NUMBERS = {
    "superscript": "²",
    "arabic-indic digits": "٣",
    "5,000 digits": "9" * 5000,
    "beyond int64": "99999999999999999999",
    "negative": "-1",
    "empty": "",
    "spaces": " 5",
    "trailing newline": "5\n",
    "decimal": "1.5",
}


def _path(template: str) -> str:
    """A concrete path for `template`: the checks under test come before any lookup."""
    values = {"handle": "nobody_here", "role": "user"}
    for part in template.split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            template = template.replace(part, values.get(name, new_id()))
    return template


async def numeric_query_parameters(http: aiohttp.ClientSession) -> list[tuple[str, str, Any]]:
    """(method, path template, parameter) for every integer query parameter documented."""
    async with http.get("/openapi.json") as resp:
        spec = await resp.json()
    found = []
    for template, operations in spec["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                if param["in"] == "query" and param["schema"].get("type") == "integer":
                    found.append((method.upper(), template, op))
    return found


@pytest.mark.parametrize("value", NOT_NUMBERS.values(), ids=NOT_NUMBERS.keys())
async def test_every_numeric_query_parameter_refuses_what_is_not_a_number_in_bounds(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens, value: str
) -> None:
    admin = tokens.headers(new_id(), roles=("admin",))
    checked = 0
    for method, template, op in await numeric_query_parameters(http):
        required = {
            p["name"]: "a" for p in op.get("parameters", []) if p["in"] == "query" and p["required"]
        }
        for param in op["parameters"]:
            if param["in"] != "query" or param["schema"].get("type") != "integer":
                continue
            query = {**required, param["name"]: value}
            async with http.request(method, _path(template), params=query, headers=admin) as resp:
                problem = await resp.json(content_type=None)
                where = f"{method} {template}?{param['name']}={value[:20]!r}"
                assert resp.status == 422, (where, problem)
                assert problem["errors"][0]["field"] == param["name"], where
                assert str(resp.status) in op["responses"], where
                checked += 1
    assert checked >= 7  # limits on every list, the security log's `before`


async def test_the_bounds_are_those_the_document_publishes(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    async with http.get("/openapi.json") as resp:
        params = (await resp.json())["paths"]["/v1/posts"]["get"]["parameters"]
    limit = next(p for p in params if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)
    for value, status in ((0, 422), (1, 200), (100, 200), (101, 422)):
        async with http.get("/v1/posts", params={"limit": str(value)}) as resp:
            assert resp.status == status, value


async def test_a_security_log_page_before_a_position_beyond_int64_is_422_not_an_overflow(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens
) -> None:
    me = tokens.headers(new_id())
    async with http.get(
        "/v1/me/security-log", params={"before": "99999999999999999999"}, headers=me
    ) as resp:
        assert resp.status == 422
        assert (await resp.json())["errors"][0]["field"] == "before"
    async with http.get(
        "/v1/me/security-log", params={"before": str(2**63 - 1)}, headers=me
    ) as resp:
        assert resp.status == 200  # the largest bigint is a position like any other


async def test_a_websocket_cursor_in_the_url_is_400_before_any_handshake(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens
) -> None:
    """The cursor travels in the `auth` frame (docs/websocket.md), as the token does."""
    async with http.get("/v1/ws", params={"cursor": "²"}, headers=tokens.headers(new_id())) as resp:
        assert resp.status == 400
        assert (await resp.json())["type"] == "quark:websocket-query"


@pytest.mark.parametrize("position", ["CONTENT:²", "CONTENT:٣", f"CONTENT:{'9' * 5000}", "ÄÖ:1"])
async def test_a_position_that_is_not_ascii_digits_is_422(
    http: aiohttp.ClientSession, platform: Platform, position: str
) -> None:
    async with http.get("/v1/posts", params={"after": position}) as resp:
        assert resp.status == 422
        assert (await resp.json())["type"] == "quark:validation"


async def test_a_plain_get_of_the_websocket_is_a_typed_problem_not_a_bare_400(
    http: aiohttp.ClientSession, platform: Platform, tokens: Tokens
) -> None:
    async with http.get("/v1/ws", headers=tokens.headers(new_id())) as resp:
        assert resp.status == 400
        assert (await resp.json())["type"] == "quark:websocket-required"
