"""OpenAPI 3.1 generated from the route tables and the msgspec Structs they name.

Every status an operation can answer is in its operation, with the problem types that come
with it, so a client generated from the document meets no undefined behaviour. Nothing is
listed by hand as a number: the errors come from two sources, both typed `QuarkError`
classes that carry their status and code.

- What the edge itself does to a route of a kind (`error_classes`): any route can be shed or
  lose a dependency (503); a route with a body runs `edge.bodies.read_json` (415, 413, 400,
  422); a bearer route checks the token (401); a permission is checked (403); an idempotent
  create checks its key (409, 422); a token route refuses a suspended account's restricted
  session (403 `account-suspended`) unless it is declared `while_suspended` (marked
  `x-while-suspended` in its operation); a route that honours `Quark-After` may wait for a
  position (422, 503); a limited route may refuse (429); a route that sends a command may
  meet a conflict that outlasted the handler's retries (409); query parameters are
  validated (422); a route of browser clients' session cookies refuses another
  `Quark-Session` than `cookie` (422) and, where it reads the refresh cookie, a missing or
  wrong `Quark-CSRF` (403 `csrf-failed`). These are derived from the route's declaration, the same declaration the
  router is built from (`edge.app.create_app` wraps `permission` and `idempotent_create`);
  `tests/unit/edge/test_openapi.py` follows each handler's calls to check that what a route
  declares (body, token, `Quark-After`, limit) is what its handler does.
- What the route's domain does (`Route.raises`): the domain error classes its handler or
  its command raises (`PostNotFound`, `HandleTaken` …). Declaring classes rather than
  statuses keeps one source: the class the handler raises is the class the document names.

A status's schema narrows `Problem.type` to the codes of those classes, so the property
test of the whole document (`tests/e2e/test_openapi_fuzz.py`) fails on any error that is
not declared, not just on an undeclared status. Probes are the one exception to "any route
can answer 503": readiness answers its own 503 body (`Route.answers`), and liveness and
metrics touch no dependency and are never shed, but they list 503 too, since a client may
treat every operation alike (and a proxy in front answers 503 for a process that is gone).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from core.access import NotInSync
from core.errors import (
    ConflictError,
    OverloadedError,
    QuarkError,
    TimeoutWaitingError,
    UnavailableError,
    ValidationError,
)
from core.permissions import PermissionDenied
from core.ratelimit import RateLimited
from core.tokens import InvalidToken
from edge.admission import READ_METHODS, UNCOUNTED_PATHS
from edge.auth import Unauthenticated
from edge.bodies import BodyTooLarge, MalformedBody, UnsupportedMediaType
from edge.idempotency import KeyReused, RequestInFlight
from edge.problems import PROBLEM_TYPE, Problem, ReadModelUnavailable
from edge.routing import Route
from edge.session_cookies import (
    COOKIE_DELIVERY,
    CSRF_COOKIE,
    CSRF_HEADER,
    REFRESH_COOKIE,
    REFRESH_PATH,
    SESSION_HEADER,
    CsrfFailed,
)
from handlers.accounts.errors import AccountSuspendedError

_ERROR_TEXT = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    503: "Overloaded, a dependency is unavailable, or the read model has not caught up",
    504: "An upstream (a linked page) did not answer in time",
}

_STRING = {"type": "string"}
_INTEGER_TEXT = {"type": "string", "pattern": "^[0-9]+$"}
#: Response headers, by name: what they mean and their form.
_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {"description": "This request's id (the client's, if it sent one)"},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": _INTEGER_TEXT},
    "RateLimit-Limit": {"description": "Requests allowed per period", "schema": _INTEGER_TEXT},
    "RateLimit-Remaining": {"description": "Requests left now", "schema": _INTEGER_TEXT},
    "RateLimit-Reset": {
        "description": "Seconds until the full allowance is back",
        "schema": _INTEGER_TEXT,
    },
    "Quark-Position": {
        "description": "The commit's position; pass it as Quark-After to read this write"
    },
    "Location": {"description": "The created resource"},
    "Idempotent-Replayed": {"description": "`true`: the first answer to this Idempotency-Key"},
    "WWW-Authenticate": {"description": "The authentication scheme"},
    "Set-Cookie": {
        "description": f"With `{SESSION_HEADER}: {COOKIE_DELIVERY}`: the session cookies, one"
        f" header each: `{REFRESH_COOKIE}` (the refresh token; HttpOnly, Secure,"
        f" SameSite=Strict, Path={REFRESH_PATH}) and `{CSRF_COOKIE}` (repeat it in"
        f" `{CSRF_HEADER}`; Secure, SameSite=Strict, Path=/), set, or cleared (Max-Age=0)"
        " by a sign-out"
    },
}
_RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

#: `Quark-After` and its query form, on every route that honours them.
_AFTER_SCHEMA = {"type": "string", "pattern": r"^[A-Z][A-Z0-9_]*:[0-9]{1,19}$"}
_AFTER_PARAMS = (
    {
        "name": "Quark-After",
        "in": "header",
        "required": False,
        "description": "Wait until this position is visible (read-your-writes).",
        "schema": _AFTER_SCHEMA,
    },
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "The same as the Quark-After header, for clients that cannot set one.",
        "schema": _AFTER_SCHEMA,
    },
)

#: Browser clients' session cookies (`edge.session_cookies`), on the routes that take them.
_SESSION_PARAM = {
    "name": SESSION_HEADER,
    "in": "header",
    "required": False,
    "description": f"`{COOKIE_DELIVERY}`: the refresh token goes into the HttpOnly"
    f" `{REFRESH_COOKIE}` cookie (Set-Cookie), not the body (browser clients).",
    "schema": {"type": "string", "enum": [COOKIE_DELIVERY]},
}
_COOKIE_PARAMS = (
    {
        "name": CSRF_HEADER,
        "in": "header",
        "required": False,
        "description": f"The `{CSRF_COOKIE}` cookie's value: needed when the session is the"
        f" `{REFRESH_COOKIE}` cookie's.",
        "schema": _STRING,
    },
    {
        "name": REFRESH_COOKIE,
        "in": "cookie",
        "required": False,
        "description": "The refresh token of a browser client (set by the edge, HttpOnly).",
        "schema": _STRING,
    },
    {
        "name": CSRF_COOKIE,
        "in": "cookie",
        "required": False,
        "description": f"Set beside `{REFRESH_COOKIE}`; the page repeats it in `{CSRF_HEADER}`.",
        "schema": _STRING,
    },
)


def error_classes(route: Route) -> list[type[QuarkError]]:
    """Every error `route` can answer with a problem document: those of its kind, then its
    own (`Route.raises`)."""
    found: list[type[QuarkError]] = [UnavailableError, ReadModelUnavailable]
    if route.path not in UNCOUNTED_PATHS:
        found.append(OverloadedError)
    if route.request is not None:
        found += [UnsupportedMediaType, BodyTooLarge, MalformedBody, ValidationError]
    if route.auth != "none":
        found += [Unauthenticated, InvalidToken, NotInSync]
        if not route.while_suspended:
            # A suspended account's restricted session (`edge.auth.principal`).
            found.append(AccountSuspendedError)
    if route.permission is not None:
        found.append(PermissionDenied)
    if route.idempotent_create or route.idempotent:
        found += [RequestInFlight, KeyReused, ValidationError]
    if route.after:
        found += [ValidationError, TimeoutWaitingError]
    if route.limited:
        found.append(RateLimited)
    if route.method not in READ_METHODS:
        # A command whose aggregate kept changing through every retry (`core.bus`).
        found.append(ConflictError)
    if any(p.where == "query" for p in route.params):
        found.append(ValidationError)
    if route.session_cookies != "none":
        found.append(ValidationError)  # another Quark-Session than `cookie`
    if route.session_cookies == "reads":
        found.append(CsrfFailed)
    found += route.raises
    return list(dict.fromkeys(found))


def _headers(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        name: {
            "description": _HEADERS[name]["description"],
            "required": name in required,
            "schema": _HEADERS[name].get("schema", _STRING),
        }
        for name in names
    }


def _problem_response(route: Route, status: int, errors: list[type[QuarkError]]) -> dict[str, Any]:
    codes = sorted({f"quark:{e.code}" for e in errors})
    names = [h for h in ("X-Request-Id",)]
    required = ["X-Request-Id"]
    if status in (429, 503):
        names.append("Retry-After")
        required.append("Retry-After")
    if status == 409 and (route.idempotent_create or route.idempotent):
        names.append("Retry-After")
    if status == 401:
        names.append("WWW-Authenticate")
    if route.limited:
        names += _RATE_HEADERS
    return {
        "description": f"{_ERROR_TEXT.get(status, 'Error')}: " + ", ".join(f"`{c}`" for c in codes),
        "headers": _headers(*names, required=tuple(required)),
        "content": {
            PROBLEM_TYPE: {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {"properties": {"type": {"enum": codes}, "status": {"const": status}}},
                    ]
                }
            }
        },
    }


def _success_response(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    names = ["X-Request-Id"]
    required = ["X-Request-Id"]
    if route.method not in READ_METHODS:
        # Every command answers its commit's position (the request context adds it from the
        # bus's reply; tests/e2e/kernel/test_command_positions.py walks the route table).
        names.append("Quark-Position")
        required.append("Quark-Position")
    if route.idempotent_create:
        names += ["Location", "Idempotent-Replayed"]
        required.append("Location")
    elif route.idempotent:
        names.append("Idempotent-Replayed")
    if route.limited:
        names += _RATE_HEADERS
    if route.session_cookies != "none":
        names.append("Set-Cookie")
    if route.status != 101:  # a websocket handshake answers headers only
        ok["headers"] = _headers(*names, required=tuple(required))
    if route.response is not None:
        ok["content"] = {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{route.response.__name__}"}
            }
        }
    return ok


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": route.name
        or f"{route.method.lower()}_{route.path.strip('/').replace('/', '_')}",
        "responses": {},
    }
    params: list[dict[str, Any]] = [
        {
            "name": p.name,
            "in": p.where,
            "description": p.description,
            "required": p.required or p.where == "path",
            "schema": p.schema,
        }
        for p in route.params
    ]
    if route.after:
        params += _AFTER_PARAMS
    if route.session_cookies != "none":
        params.append(_SESSION_PARAM)
    if route.session_cookies == "reads":
        params += _COOKIE_PARAMS
    if route.idempotent_create or route.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A repeat within 24 h returns the first answer.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
        )
    if params:
        op["parameters"] = params
    if route.request is not None:
        op["requestBody"] = {
            "required": not route.optional_body,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{route.request.__name__}"}
                }
            },
        }
    if route.upload is not None:
        op["requestBody"] = {"required": True, "content": route.upload}
    op["responses"][str(route.status)] = _success_response(route)
    by_status: dict[int, list[type[QuarkError]]] = defaultdict(list)
    for error in error_classes(route):
        by_status[error.status].append(error)
    own = dict(route.answers)
    for status in sorted({*by_status, *own}):
        if status in own:
            retry = ("Retry-After",) if status in (429, 503) else ()
            op["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "Error"),
                "headers": _headers("X-Request-Id", *retry, required=("X-Request-Id", *retry)),
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{own[status].__name__}"}
                    }
                },
            }
        else:
            op["responses"][str(status)] = _problem_response(route, status, by_status[status])
    if route.while_suspended:
        op["x-while-suspended"] = True
    if route.auth == "bearer":
        op["security"] = [{"bearer": []}]
    elif route.auth == "optional":
        op["security"] = [{}, {"bearer": []}]
    return op


#: The document's title, also the reference page's.
API_TITLE = "Quark API"


def build_openapi(routes: list[Route], *, version: str) -> dict[str, Any]:
    types: list[Any] = [Problem]
    for r in routes:
        for kind in (r.request, r.response, *(kind for _, kind in r.answers)):
            if kind is not None and kind not in types:
                types.append(kind)
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    # Constraints a Struct cannot express (e.g. "at least one field") are declared next to it
    # as `__openapi_extra__` and merged here.
    for kind in types:
        extra = getattr(kind, "__openapi_extra__", None)
        if extra and kind.__name__ in components:
            components[kind.__name__].update(extra)
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        if r.in_openapi:
            paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": version,
            "description": "Conventions: docs/api.md. Errors are RFC 9457 problem documents.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA)"}
            },
        },
    }
