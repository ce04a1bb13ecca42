"""The hub's HTTP side, on its own port (3900, `QUARK_HUB_PORT`): the registry and health
API, HTTP modules' registration, and the dashboard with its live feed.

Admins only: the platform's own access tokens, checked the way the edge checks them (the
signing keys from the bucket, the copy of ended sessions and changed roles), with the
`station.view` permission (`station.manage` to retry dead letters). The dashboard signs in
through the edge's `/v1/auth/login` (and `/login/2fa`) and keeps the access token in an
`HttpOnly; SameSite=Strict` cookie of the hub's origin, so its script never holds it.
HTTP modules authenticate with their module token instead (`hub.registry.module_token`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from core.access import AccessList
from core.access_claims import AccessClaims
from core.bootstrap import Infra
from core.errors import (
    FieldError,
    ForbiddenError,
    NotFoundError,
    QuarkError,
    UnauthorizedError,
    ValidationError,
)
from core.logging import get_logger
from core.metrics import render
from core.permissions import PermissionDenied, require
from core.signing_keys import KeyRing
from core.tokens import TokenService
from hub import deadletters
from hub.health import record_module_states, station_health
from hub.logs import LEVELS, LogBuffer
from hub.registry import (
    HttpModules,
    Instance,
    Registration,
    discover,
    instance_status,
    token_matches,
)
from projections import stats as stats_model

log = get_logger("quark.hub")

STATIC = Path(__file__).parent / "static"
COOKIE = "quark_hub"
PROBLEM_TYPE = "application/problem+json"

INFRA = web.AppKey("infra", Infra)
HUB = web.AppKey("hub", "Hub")


class Station(msgspec.Struct, kw_only=True):
    """What the hub knows it should find running: module name -> kind."""

    expected: dict[str, str]
    projections: list[str]


class ModuleView(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    instances: list[Instance]


class Hub:
    """The hub's state in one process: the registry, HTTP modules, tokens."""

    def __init__(self, infra: Infra, station: Station) -> None:
        self.infra = infra
        self.station = station
        settings = infra.settings
        self.http_modules = HttpModules(infra.nc, settings.hub_module_ttl_seconds)
        self.tokens: TokenService | None = None
        self.access: AccessList | None = None
        self._seen: tuple[float, list[Instance]] = (0.0, [])
        self.logs = LogBuffer(infra.nc)
        self._lock = asyncio.Lock()

    async def instances(self, max_age: float = 0.0) -> list[Instance]:
        """Everything running now: a discovery round per call (one at a time), or the last
        one when it is at most `max_age` seconds old (the live sampler's cadence)."""
        async with self._lock:
            at, found = self._seen
            if time.monotonic() - at > max_age:
                nats_found, http_found = await asyncio.gather(
                    discover(self.infra.nc), self.http_modules.instances()
                )
                found = [*nats_found, *http_found]
                self._seen = (time.monotonic(), found)
            return found

    async def modules(self) -> list[ModuleView]:
        by_module: dict[str, list[Instance]] = {}
        for i in await self.instances():
            by_module.setdefault(i.module, []).append(i)
        names = sorted(set(self.station.expected) | set(by_module))
        return [
            ModuleView(
                name=n,
                kind=by_module[n][0].kind if by_module.get(n) else self.station.expected[n],
                instances=by_module.get(n, []),
            )
            for n in names
        ]

    async def health(self) -> Any:
        s = self.infra.settings
        report = await station_health(
            self.infra,
            # The live sampler has just discovered for this tick's modules: no second round.
            await self.instances(max_age=1.0),
            self.station.expected,
            self.station.projections,
            max_lag_events=s.hub_lag_degraded_events,
            max_lag_seconds=s.hub_lag_degraded_seconds,
        )
        record_module_states(report.modules)
        return report


# -- problems and auth ------------------------------------------------------------------------

_problem = msgspec.json.Encoder()


def problem(exc: QuarkError) -> web.Response:
    body: dict[str, Any] = {
        "type": f"quark:{exc.code}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if exc.errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in exc.errors]
    headers = dict(exc.headers)
    if exc.retry_after is not None or exc.status == 503:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after or 1)))
    return web.Response(
        status=exc.status, body=_problem.encode(body), content_type=PROBLEM_TYPE, headers=headers
    )


@web.middleware
async def problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except QuarkError as exc:
        return problem(exc)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("hub_request_failed", path=request.path)
        return problem(QuarkError("the hub could not answer this request"))


class Unauthenticated(UnauthorizedError):
    code = "unauthenticated"
    title = "Sign in as an admin"


def _token_of(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if cookie := request.cookies.get(COOKIE):
        return cookie
    raise Unauthenticated("send Authorization: Bearer <access token>, or sign in on the dashboard")


async def viewer(request: web.Request, permission: str = "station.view") -> str:
    """The signed-in admin's user id, or 401/403."""
    hub = request.app[HUB]
    if hub.tokens is None or hub.access is None:
        raise Unauthenticated("the hub is starting")
    now = int(time.time())
    claims = await hub.tokens.verify(_token_of(request), now)
    await hub.access.current()
    if hub.access.is_revoked(claims.sid):
        raise Unauthenticated("this session has ended; sign in again")
    _not_suspended(claims, now)
    require(hub.access.roles_of(claims.sub, claims.roles), permission)
    return claims.sub


def _not_suspended(claims: AccessClaims, now: int) -> None:
    """A suspended admin's restricted session reaches nothing here."""
    if claims.restricted_at(now):
        raise PermissionDenied("this account is suspended")


_json = msgspec.json.Encoder()


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=_json.encode(value), content_type="application/json")


async def read_json(request: web.Request, kind: type, limit: int = 16_384) -> Any:
    body = await request.read()
    if len(body) > limit:
        raise ValidationError(f"the body is larger than {limit} bytes")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc), errors=[FieldError("$", str(exc))]) from None
    except msgspec.DecodeError as exc:
        raise ValidationError(f"malformed JSON: {exc}") from None


# -- routes -----------------------------------------------------------------------------------


async def services(request: web.Request) -> web.Response:
    await viewer(request)
    return json_response({"items": await request.app[HUB].modules()})


async def service(request: web.Request) -> web.Response:
    await viewer(request)
    name = request.match_info["name"]
    hub = request.app[HUB]
    found = next((m for m in await hub.modules() if m.name == name), None)
    if found is None:
        raise NotFoundError(f"no module named {name!r} is known to the hub")
    statuses = await asyncio.gather(*(instance_status(hub.infra.nc, i) for i in found.instances))
    return json_response(
        {
            "name": found.name,
            "kind": found.kind,
            "instances": [
                {**msgspec.to_builtins(i), "status": s}
                for i, s in zip(found.instances, statuses, strict=True)
            ],
        }
    )


async def health(request: web.Request) -> web.Response:
    await viewer(request)
    report = await request.app[HUB].health()
    response = json_response(report, status=503 if report.state == "down" else 200)
    if report.state == "down":
        response.headers["Retry-After"] = "5"
    return response


class ModuleForbidden(ForbiddenError):
    code = "module-token-refused"
    title = "This token does not belong to that module"


def _module_auth(request: web.Request, module: str) -> None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        raise Unauthenticated("send Authorization: Bearer <module token>")
    if not token_matches(request.app[INFRA].secret_key, module, token):
        raise ModuleForbidden()


async def register(request: web.Request) -> web.Response:
    """Register or heartbeat (the same call): the registration lives for the TTL."""
    registration = await read_json(request, Registration)
    _module_auth(request, registration.name)
    hub = request.app[HUB]
    if (
        registration.name in hub.station.expected
        and hub.station.expected[registration.name] != "external"
    ):
        raise ModuleForbidden(f"{registration.name} is one of the station's own modules")
    stored = await hub.http_modules.heartbeat(registration, request.remote or "")
    ttl = hub.http_modules.ttl
    return json_response(
        {
            "name": registration.name,
            "instance": registration.instance,
            "registered_at": stored.registered_at,
            "ttl_seconds": ttl,
            "heartbeat_every_seconds": round(ttl / 3, 3),
        }
    )


async def deregister(request: web.Request) -> web.Response:
    name, instance = request.match_info["name"], request.match_info["instance"]
    _module_auth(request, name)
    await request.app[HUB].http_modules.remove(name, instance)
    return web.Response(status=204)


class SignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    phone: str | None = None
    password: str | None = None
    mfa_token: str | None = None
    code: str | None = None


async def sign_in(request: web.Request) -> web.Response:
    """Sign in through the edge; an admin's access token goes into the hub's cookie."""
    body = await read_json(request, SignIn, limit=4096)
    settings = request.app[INFRA].settings
    edge = settings.hub_edge_url or f"http://{settings.http_host}:{settings.http_port}"
    if body.mfa_token:
        path, payload = "/v1/auth/login/2fa", {"mfa_token": body.mfa_token, "code": body.code or ""}
    else:
        path, payload = (
            "/v1/auth/login",
            {"phone": body.phone or "", "password": body.password or ""},
        )
    headers = {"X-Forwarded-For": request.remote or ""}
    async with (
        aiohttp.ClientSession() as session,
        session.post(edge + path, json=payload, headers=headers) as r,
    ):
        answer = await r.read()
        kind = r.headers.get("Content-Type", "application/json")
        if r.status != 200:
            return web.Response(status=r.status, body=answer, content_type=kind.split(";")[0])
    data = json.loads(answer)
    token = data.get("access_token")
    if not token:  # a second factor is needed: hand its token to the page
        return json_response({"mfa_required": True, "mfa_token": data.get("mfa_token")})
    hub = request.app[HUB]
    assert hub.tokens is not None and hub.access is not None
    now = int(time.time())
    claims = await hub.tokens.verify(token, now)
    _not_suspended(claims, now)
    require(hub.access.roles_of(claims.sub, claims.roles), "station.view")
    response = json_response({"signed_in": True, "expires_in": data.get("expires_in")})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(data.get("expires_in") or 900),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return response


async def sign_out(_: web.Request) -> web.Response:
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """Who the dashboard is signed in as (`signed_in` false with no token at all: the page's
    first question, not an error)."""
    if "Authorization" not in request.headers and COOKIE not in request.cookies:
        return json_response({"signed_in": False, "user_id": None})
    return json_response({"signed_in": True, "user_id": await viewer(request)})


async def logs(request: web.Request) -> web.Response:
    """Recent log lines of every process, filtered by module, lowest level, correlation id."""
    await viewer(request)
    q = request.query
    try:
        limit = int(q.get("limit", "200"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise ValidationError("`limit` is from 1 to 1000", errors=[FieldError("limit", "range")])
    level = q.get("level") or None
    if level is not None and level not in LEVELS:
        raise ValidationError(
            f"`level` is one of {', '.join(LEVELS)}", errors=[FieldError("level", "unknown")]
        )
    lines = request.app[HUB].logs.select(
        module=q.get("module") or None,
        level=level,
        correlation_id=q.get("correlation_id") or None,
        limit=limit,
    )
    return json_response({"items": lines})


async def dead_letters(request: web.Request) -> web.Response:
    await viewer(request)
    return json_response({"items": await deadletters.recent(request.app[INFRA].nc)})


async def retry_dead_letter(request: web.Request) -> web.Response:
    """Apply a dead letter again through its read model's writer (admins: station.manage)."""
    who = await viewer(request, "station.manage")
    raw = request.match_info["seq"]
    if not raw.isdigit():
        raise NotFoundError(f"no dead letter {raw}")
    hub = request.app[HUB]
    result = await deadletters.retry(hub.infra.nc, int(raw), await hub.instances())
    log.info("dead_letter_retry", by=who, **result)
    return json_response(result)


async def analytics(request: web.Request) -> web.Response:
    """Sign-ups, posts and messages per hour over the last `hours` (1 to 168; 48), every
    hour listed, from the stats read model."""
    await viewer(request)
    raw = request.query.get("hours", "48")
    hours = int(raw) if raw.isdigit() else 0
    if not 1 <= hours <= 168:
        raise ValidationError("`hours` is from 1 to 168", errors=[FieldError("hours", "range")])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = now - timedelta(hours=hours - 1)
    counts = await stats_model.hourly_counts(request.app[INFRA].pool, first)
    rows = []
    for n in range(hours):
        hour = first + timedelta(hours=n)
        rows.append(
            {
                "hour": hour.isoformat(),
                **{m: counts.get((hour, m), 0) for m in stats_model.HOURLY_METRICS},
            }
        )
    return json_response({"hours": rows})


async def healthz(_: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=render(), headers={"Content-Type": "text/plain; version=0.0.4"})


async def dashboard(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def _security_headers(_: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")


def create_hub_app(infra: Infra, station: Station) -> web.Application:
    app = web.Application(middlewares=[problems], client_max_size=64 * 1024)
    app[INFRA] = infra
    hub = app[HUB] = Hub(infra, station)
    app.router.add_get("/v1/hub/services", services)
    app.router.add_get("/v1/hub/services/{name}", service)
    app.router.add_get("/v1/hub/health", health)
    app.router.add_post("/v1/hub/register", register)
    app.router.add_delete("/v1/hub/register/{name}/{instance}", deregister)
    app.router.add_post("/v1/hub/session", sign_in)
    app.router.add_delete("/v1/hub/session", sign_out)
    app.router.add_get("/v1/hub/me", me)
    app.router.add_get("/v1/hub/logs", logs)
    app.router.add_get("/v1/hub/analytics", analytics)
    app.router.add_get("/v1/hub/dead-letters", dead_letters)
    app.router.add_post("/v1/hub/dead-letters/{seq}/retry", retry_dead_letter)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", dashboard)
    app.router.add_static("/static/", STATIC)
    app.on_response_prepare.append(_security_headers)
    from hub.live import add_live_routes

    add_live_routes(app)

    async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
        ring = await KeyRing.connect(infra.nc.jetstream(), infra.secret_key)
        hub.tokens = TokenService(ring)
        hub.access = AccessList(infra.nc, infra.settings.nats_url)
        await hub.access.start()
        await hub.logs.start()
        refresher = asyncio.create_task(ring.keep_fresh())
        yield
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await hub.access.stop()
        await hub.logs.stop()

    app.cleanup_ctx.append(auth_ctx)
    return app
