"""The edge application factory: middlewares, routes from the route tables, lifecycle."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref

import asyncpg
import msgspec
import structlog
from aiohttp import web

from core.bootstrap import Infra
from core.errors import NotFoundError, QuarkError, UnavailableError
from core.failures import DEPENDENCY_FAILURES
from core.logging import get_logger
from core.metrics import HTTP_REQUESTS_TOTAL, HTTP_SECONDS
from edge.admission import Admission
from edge.auth import ACCESS, guarded, tokens_ctx, while_suspended
from edge.bodies import BodyTooLarge
from edge.context import (
    COMMAND_POSITION,
    CORRELATION_ID,
    INFRA,
    POSITIONS,
    RATE_HEADERS,
    READ_STREAMS,
    WRITES,
)
from edge.docs import OPENAPI_PATH, add_reference_routes
from edge.idempotency import idempotent
from edge.openapi import API_TITLE, build_openapi
from edge.positions import PositionWatcher
from edge.problems import MethodNotAllowed, ReadModelUnavailable, from_error, problem_response
from edge.routes.live import SOCKETS, close_sockets, hub_ctx
from edge.routing import Route
from edge.security import apply_cors, security_headers
from edge.web import add_web_routes
from edge.wordfilter import WORD_FILTERS, WordFilters
from edge.writes import WriteLog

log = get_logger("quark.edge")
VERSION = "0.1.0"
_encoder = msgspec.json.Encoder()


def _clean_id(value: str | None) -> str | None:
    """Client-supplied ids go into logs and NATS headers: keep them short and printable."""
    if value and len(value) <= 100 and value.isascii() and value.isprintable():
        return value
    return None


#: The request's id, for responses streamed before the middleware sees them (downloads).
REQUEST_ID = web.RequestKey("request_id", str)


async def _request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    if REQUEST_ID in request:
        response.headers.setdefault("X-Request-Id", request[REQUEST_ID])


@web.middleware
async def request_context(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
    request_id = _clean_id(request.headers.get("X-Request-Id")) or str(uuid.uuid4())
    correlation = _clean_id(request.headers.get("X-Correlation-Id")) or request_id
    request[CORRELATION_ID] = correlation
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation)
    started = time.perf_counter()
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unmatched"
    )
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        response.headers.update(request.get(RATE_HEADERS, {}))
        if COMMAND_POSITION in request and status < 400:
            # Every answer to a command carries its commit's position (API.md), whichever
            # route built it: the command bus noted it when the reply came.
            response.headers.setdefault("Quark-Position", request[COMMAND_POSITION])
        return response
    finally:
        HTTP_REQUESTS_TOTAL.labels(request.method, route, str(status)).inc()
        HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
        structlog.contextvars.clear_contextvars()


@web.middleware
async def problems(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
    """Every error becomes a problem document; no stack trace ever reaches a client."""
    try:
        return await handler(request)
    except QuarkError as exc:
        if exc.status >= 500:
            log.warning("request_failed", code=exc.code, detail=exc.detail, path=request.path)
        else:  # what the dashboard shows when someone follows this request's correlation id
            log.info("request_refused", code=exc.code, status=exc.status, path=request.path)
        return from_error(exc)
    except asyncpg.UndefinedTableError:
        # A read model that does not exist yet (first start, before its worker built it).
        return from_error(ReadModelUnavailable())
    except DEPENDENCY_FAILURES as exc:
        log.warning("dependency_unavailable", error=repr(exc), path=request.path)
        return from_error(UnavailableError())
    except web.HTTPRequestEntityTooLarge:
        return from_error(BodyTooLarge())
    except web.HTTPNotFound:
        return from_error(NotFoundError(f"no route for {request.path}"))
    except web.HTTPMethodNotAllowed as exc:
        return from_error(
            MethodNotAllowed(
                f"{request.method} is not allowed here",
                headers={"Allow": ",".join(sorted(exc.allowed_methods))},
            )
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(exc.status, "http-error", exc.reason, exc.text)
    except Exception:
        log.exception("unhandled_error", path=request.path, method=request.method)
        return problem_response(500, "internal", "Internal error", "the error was logged")


def all_routes() -> list[Route]:
    from edge.routes import (
        accounts,
        accounts_data,
        accounts_security,
        admin,
        admin_station,
        admin_stats,
        admin_wordfilters,
        categories,
        chat,
        chat_messages,
        chat_state,
        comments,
        health,
        link_previews,
        live,
        media,
        media_uploads,
        moderation,
        moderation_appeals,
        moderation_decisions,
        notifications,
        posts,
        presence,
        profiles,
        reactions,
        search,
        tags,
        timelines,
    )

    return [
        *health.ROUTES,
        *accounts.ROUTES,
        *accounts_security.ROUTES,
        *accounts_data.ROUTES,
        *profiles.ROUTES,
        *presence.ROUTES,
        *admin.ROUTES,
        *admin_stats.ROUTES,
        *admin_station.ROUTES,
        *admin_wordfilters.ROUTES,
        *posts.ROUTES,
        *tags.ROUTES,
        *search.ROUTES,
        *categories.ROUTES,
        *moderation.ROUTES,
        *moderation_decisions.ROUTES,
        *moderation_appeals.ROUTES,
        *reactions.ROUTES,
        *comments.ROUTES,
        *chat.ROUTES,
        *chat_messages.ROUTES,
        *chat_state.ROUTES,
        *timelines.ROUTES,
        *media.ROUTES,
        *media_uploads.ROUTES,
        *notifications.ROUTES,
        *link_previews.ROUTES,
        *live.ROUTES,
    ]


ADMISSION = web.AppKey("admission", Admission)
#: Set when this edge is being replaced: every answer closes its connection, so clients
#: move to the other edge between two requests instead of losing one to a closed socket.
DRAINING = web.AppKey("draining", asyncio.Event)
ROUTE_LIST = web.AppKey("route_list", list)


def serving_status(app: web.Application) -> dict[str, object]:
    """What this edge serves and is serving (its `status` answer to the hub): the routes,
    the requests in flight by kind and the open websockets."""
    return {
        "routes": app[ROUTE_LIST],
        "in_flight": dict(app[ADMISSION].in_flight),
        "websockets": len(app[SOCKETS]),
    }


def create_app(infra: Infra, routes: list[Route] | None = None) -> web.Application:
    settings = infra.settings
    # client_max_size guards every route; routes with larger bodies (media) raise it locally.
    admission = Admission(
        settings.max_commands_in_flight,
        settings.max_reads_in_flight,
        settings.max_transfers_in_flight,
    )
    app = web.Application(
        middlewares=[request_context, problems, admission.middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[INFRA] = infra
    app[ADMISSION] = admission
    app[DRAINING] = asyncio.Event()

    async def close_when_draining(request: web.Request, response: web.StreamResponse) -> None:
        if request.app[DRAINING].is_set():
            # The hook runs after aiohttp chose the Connection header: say it as well as do
            # it, or the client reuses a connection the server is closing.
            response.force_close()
            response.headers["Connection"] = "close"

    app.on_response_prepare.append(close_when_draining)
    from edge.delivery import SmallObjects
    from edge.routes.media import PUBLIC_CONTENT, SMALL_OBJECTS, PublicContent

    app[PUBLIC_CONTENT] = PublicContent()
    app[SMALL_OBJECTS] = SmallObjects()
    # Open websockets, closed with 1001 on shutdown so clients reconnect with their cursor.
    app[SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(close_sockets)
    app[READ_STREAMS] = infra.decl.read_streams()
    app[POSITIONS] = PositionWatcher(infra.nc, infra.pool, app[READ_STREAMS])
    from core.projection_worker import checkpoint_lookups
    from projections import projections

    for name, lookup in checkpoint_lookups(infra, projections()).items():
        app[POSITIONS].checkpoint_source(name, lookup)
    app[WORD_FILTERS] = WordFilters(infra, app[POSITIONS])
    routes = all_routes() if routes is None else routes
    app[ROUTE_LIST] = [f"{r.method} {r.path}" for r in routes]
    for r in routes:
        handler = guarded(r.handler, r.permission) if r.permission else r.handler
        if r.idempotent_create or r.idempotent:
            handler = idempotent(handler, f"{r.method} {r.path}", streamed=r.upload is not None)
        if r.while_suspended:
            # Outermost: the permission and idempotency checks already meet the caller.
            handler = while_suspended(handler)
        app.router.add_route(r.method, r.path, handler, name=r.name)
    spec_body: list[bytes] = []

    async def openapi(_: web.Request) -> web.Response:
        # Built on first request, not at start: most edges never serve it, and building it
        # is a fifth of an edge's start-up.
        if not spec_body:
            spec_body.append(_encoder.encode(build_openapi(routes, version=VERSION)))
        return web.Response(body=spec_body[0], content_type="application/json")

    app.router.add_get(OPENAPI_PATH, openapi)
    add_reference_routes(app, title=f"{API_TITLE} {VERSION}")
    add_web_routes(app)
    app.on_response_prepare.append(security_headers(settings))
    app.on_response_prepare.append(_request_id_header)
    apply_cors(app, settings.cors_origin_list())

    async def positions_ctx(app: web.Application):
        await app[POSITIONS].start()
        yield
        await app[POSITIONS].stop()

    async def writes_ctx(app: web.Application):
        """After `tokens_ctx`: the write log shares the access copy's barrier, and takes a
        new floor whenever that copy re-syncs after a reconnection."""
        event_streams = sorted(set(infra.decl.stream_map().contexts().values()))
        writes = app[WRITES] = WriteLog(infra.nc, app[ACCESS].barrier, event_streams)
        await writes.start()
        app[ACCESS].on_sync.append(writes.take_floor)
        yield
        await writes.stop()

    app.cleanup_ctx.append(positions_ctx)
    app.cleanup_ctx.append(tokens_ctx)
    app.cleanup_ctx.append(writes_ctx)
    app.cleanup_ctx.append(hub_ctx)
    return app
