"""OpenAPI 3.1 generated from the route tables and the msgspec Structs they name."""

from __future__ import annotations

from typing import Any

import msgspec

from edge.problems import Problem
from edge.routing import Route

_ERROR_TEXT = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    503: "A dependency is unavailable or the read model has not caught up",
}


def build_openapi(routes: list[Route], *, version: str) -> dict[str, Any]:
    types: list[Any] = [Problem]
    for r in routes:
        if r.request is not None:
            types.append(r.request)
        if r.response is not None:
            types.append(r.response)
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
        if not r.in_openapi:
            continue
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": r.name or f"{r.method.lower()}_{r.path.strip('/').replace('/', '_')}",
            "responses": {},
        }
        params = [
            {
                "name": p.name,
                "in": p.where,
                "description": p.description,
                "required": p.required or p.where == "path",
                "schema": p.schema,
            }
            for p in r.params
        ]
        if r.idempotent_create:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "A repeat within 24 h returns the first answer.",
                    "schema": {"type": "string", "maxLength": 200},
                }
            )
        if params:
            op["parameters"] = params
        if r.request is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{r.request.__name__}"}
                    }
                },
            }
        ok: dict[str, Any] = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{r.response.__name__}"}
                }
            }
        op["responses"][str(r.status)] = ok
        for code in sorted({*r.errors, 400, 503} if r.request else {*r.errors, 503}):
            op["responses"][str(code)] = {
                "description": _ERROR_TEXT.get(code, "Error"),
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        if r.auth == "bearer":
            op["security"] = [{"bearer": []}]
            op["responses"].setdefault(
                "401",
                {
                    "description": "No valid access token (or its session has ended)",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            )
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Quark API",
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
