"""The OpenAPI document derives every status an operation can answer from the route tables:
what the edge does to a route of its kind, and the error classes the route declares."""

from __future__ import annotations

import inspect
import types
from typing import Any

import pytest

from edge.app import VERSION, all_routes
from edge.openapi import build_openapi
from edge.routing import Route

SPEC = build_openapi(all_routes(), version=VERSION)
OPERATIONS = [
    (f"{method.upper()} {path}", op)
    for path, operations in SPEC["paths"].items()
    for method, op in operations.items()
]


def problem_types(op: dict[str, Any], status: int) -> list[str]:
    schema = op["responses"][str(status)]["content"]["application/problem+json"]["schema"]
    return schema["allOf"][1]["properties"]["type"]["enum"]


@pytest.mark.parametrize(("name", "op"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
def test_every_operation_documents_503_with_retry_after(name: str, op: dict[str, Any]) -> None:
    answer = op["responses"]["503"]
    assert answer["headers"]["Retry-After"]["required"] is True


def test_every_operation_with_a_body_documents_what_reading_a_body_can_answer() -> None:
    with_body = [(n, op) for n, op in OPERATIONS if "requestBody" in op]
    assert len(with_body) > 20
    for name, op in with_body:
        assert {"400", "413", "415", "422"} <= set(op["responses"]), name
        if "application/json" in op["requestBody"]["content"]:
            assert "quark:unsupported-media-type" in problem_types(op, 415), name
        else:  # an upload: any type, decided from its bytes
            assert "quark:unsupported-content" in problem_types(op, 415), name


def test_sign_up_and_sign_in_document_415_and_422_and_their_rate_limit() -> None:
    for name, op in OPERATIONS:
        if name.startswith("POST /v1/auth/") and "requestBody" in op and "security" not in op:
            assert {"415", "422", "429"} <= set(op["responses"]), name
            assert "RateLimit-Remaining" in op["responses"]["429"]["headers"], name


def test_a_token_is_optional_on_public_post_reads_but_a_bad_one_is_401() -> None:
    listing = SPEC["paths"]["/v1/posts"]["get"]
    assert listing["security"] == [{}, {"bearer": []}]
    assert set(problem_types(listing, 401)) == {"quark:invalid-token", "quark:unauthenticated"}


def test_problem_types_are_the_codes_of_the_declared_error_classes() -> None:
    read = SPEC["paths"]["/v1/posts/{post_id}"]["get"]
    assert problem_types(read, 404) == ["quark:post-not-found"]
    assert "quark:position-not-reached" in problem_types(read, 503)
    handle = SPEC["paths"]["/v1/me"]["patch"]
    assert set(problem_types(handle, 409)) == {
        "quark:conflict",
        "quark:handle-cooling-off",
        "quark:handle-taken",
        "quark:media-not-ready",  # the avatar
    }


def test_commands_document_their_position_and_creations_their_location() -> None:
    publish = SPEC["paths"]["/v1/posts"]["post"]["responses"]["201"]["headers"]
    assert publish["Location"]["required"] is True
    assert "Quark-Position" in publish
    assert "Quark-Position" not in SPEC["paths"]["/v1/posts"]["get"]["responses"]["200"]["headers"]


def test_reads_that_wait_for_a_position_document_quark_after() -> None:
    params = {p["name"] for p in SPEC["paths"]["/v1/me"]["get"]["parameters"]}
    assert {"Quark-After", "after"} <= params


def test_every_route_that_hands_out_a_refresh_token_offers_the_browser_cookie() -> None:
    """Browser clients (`edge.session_cookies`): each answer that can carry a refresh token
    can carry it in the HttpOnly cookie instead, and says so."""
    schemas = SPEC["components"]["schemas"]
    for name, op in OPERATIONS:
        answer = op["responses"][min(op["responses"])]
        ref = answer.get("content", {}).get("application/json", {}).get("schema", {})
        kind = schemas.get(ref.get("$ref", "").rsplit("/", 1)[-1], {})
        if "refresh_token" in kind.get("properties", {}):
            params = {p["name"] for p in op["parameters"]}
            assert "Quark-Session" in params, name
            assert "Set-Cookie" in answer["headers"], name
            # Null (or absent) when the token went into the cookie.
            assert {"type": "null"} in kind["properties"]["refresh_token"]["anyOf"], name


def test_a_refresh_documents_the_cookie_the_csrf_header_and_an_optional_body() -> None:
    refresh = SPEC["paths"]["/v1/auth/refresh"]["post"]
    where = {(p["name"], p["in"]) for p in refresh["parameters"]}
    assert {
        ("Quark-Session", "header"),
        ("Quark-CSRF", "header"),
        ("quark_refresh", "cookie"),
        ("quark_csrf", "cookie"),
    } <= where
    assert refresh["requestBody"]["required"] is False
    assert problem_types(refresh, 403) == ["quark:csrf-failed"]
    assert refresh["responses"]["200"]["headers"]["Set-Cookie"]["required"] is False
    logout = SPEC["paths"]["/v1/auth/logout"]["post"]
    assert logout["security"] == [{}, {"bearer": []}]  # or the refresh cookie
    assert "quark:csrf-failed" in problem_types(logout, 403)
    assert "Set-Cookie" in logout["responses"]["204"]["headers"]


def test_readiness_documents_its_own_503_body_not_a_problem() -> None:
    answer = SPEC["paths"]["/readyz"]["get"]["responses"]["503"]
    assert list(answer["content"]) == ["application/json"]


def test_the_problem_schema_is_the_shape_of_real_problems() -> None:
    problem = SPEC["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status"]
    assert problem["properties"]["detail"] == {"type": "string"}  # absent, never null
    field = SPEC["components"]["schemas"]["FieldError"]
    assert set(field["required"]) == {"field", "message"}


def test_a_restricted_session_reaches_only_what_a_suspended_person_may_still_do() -> None:
    """The allowlist of a suspended account's session; every other token route documents
    403 `account-suspended`."""
    open_to_suspended = {(r.method, r.path) for r in all_routes() if r.while_suspended}
    assert open_to_suspended == {
        ("GET", "/v1/me"),
        ("GET", "/v1/me/moderation"),
        ("POST", "/v1/moderation/appeals"),
        ("GET", "/v1/moderation/appeals/{appeal_id}"),
        ("GET", "/v1/me/export"),
        ("DELETE", "/v1/me"),
        ("GET", "/v1/auth/sessions"),
        ("DELETE", "/v1/auth/sessions/{session_id}"),
        ("POST", "/v1/auth/logout"),
    }
    for name, op in OPERATIONS:
        method, path = name.split(" ", 1)
        if "security" not in op:
            continue
        refused = "403" in op["responses"] and "quark:account-suspended" in problem_types(op, 403)
        assert refused == ((method, path) not in open_to_suspended), name
        assert op.get("x-while-suspended", False) == ((method, path) in open_to_suspended), name


#: Reached, but not followed: an optional token is checked by `principal` only when sent.
LEAVES = {"edge.auth.optional_principal"}


def reached(function: Any) -> set[str]:
    """The edge functions `function` calls, directly or through other edge functions (by
    the names its code and its nested functions' code look up in their module)."""
    found: set[str] = set()
    pending = [function]
    while pending:
        fn = pending.pop()
        codes = [fn.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            for name in code.co_names:
                target = fn.__globals__.get(name)
                if not inspect.isfunction(target) or not target.__module__.startswith("edge."):
                    continue
                qualified = f"{target.__module__}.{target.__qualname__}"
                if qualified not in found:
                    found.add(qualified)
                    if qualified not in LEAVES:
                        pending.append(target)
    return found


@pytest.mark.parametrize("route", all_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_what_a_route_declares_is_what_its_handler_does(route: Route) -> None:
    """The declarations the document is derived from cannot drift from the handlers."""
    calls = reached(route.handler)
    assert route.after == ("edge.context.wait_for_position" in calls)
    assert route.limited == ("edge.context.limit" in calls)
    assert (route.request is not None) == ("edge.bodies.read_json" in calls)
    # A permission is checked by `edge.auth.guarded` around the handler, with the token.
    token = {"edge.auth.principal", "edge.auth.acting_user"} & calls or route.permission
    optional = "edge.auth.optional_principal" in calls
    assert route.auth == ("bearer" if token else "optional" if optional else "none")
    assert route.optional_body == ("edge.bodies.read_optional_json" in calls)
    sets = "edge.session_cookies.cookie_delivery" in calls
    reads = "edge.session_cookies.refresh_cookie" in calls
    assert route.session_cookies == ("reads" if reads else "sets" if sets else "none")
