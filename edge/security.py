"""Security headers on every response, and the CORS policy of the API.

The headers are set in `on_response_prepare`, not in a middleware: the signal fires for every
response the edge sends, including problems made by the middlewares themselves, websocket
handshakes and the `/docs` assets, so none can slip through a path a middleware does not see.

- `X-Content-Type-Options: nosniff`: a JSON body is never sniffed into HTML or script.
- `Referrer-Policy: no-referrer`: URLs (ids, cursors) do not leak to other sites.
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: nothing of ours is framed
  (clickjacking). A response with its own policy keeps it (`/docs` has a complete one);
  the API's answers get `default-src 'none'`, since a JSON document loads nothing.
- `Strict-Transport-Security` in production only: a development edge on plain HTTP would
  otherwise teach the browser to refuse `http://localhost` for a year.

CORS (`QUARK_CORS_ORIGINS`): browsers on the listed origins may call every route, sending the
headers the API reads and reading the ones it answers with. No credentials: the API
authenticates with `Authorization`, which a script sends explicitly. The one cookie, a
browser client's refresh cookie (`edge.session_cookies`), is for pages of the edge's own
origin: its headers (`Quark-Session`, `Quark-CSRF`) are left out here, so another origin
asking for it fails at the preflight rather than losing its refresh token into a cookie
its browser will not keep. With no origins configured, no CORS header is ever sent
(same-origin only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_cors
from aiohttp import web

from core.settings import Settings

#: Two years, the preload list's expectation.
HSTS = "max-age=63072000; includeSubDomains"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: Request headers a browser client sends beyond the CORS-safelisted ones.
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Quark-After",
    "X-Request-Id",
)
#: Response headers a browser client may read beyond the CORS-safelisted ones.
CORS_EXPOSE_HEADERS = (
    "Quark-Position",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-Id",
    "Idempotent-Replayed",
)


def security_headers(
    settings: Settings,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The `on_response_prepare` callback that adds the headers to every response."""
    production = settings.env == "production"

    async def add_headers(_: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", API_POLICY)
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)

    return add_headers


def apply_cors(app: web.Application, origins: list[str]) -> None:
    """Let browsers on `origins` call every route registered so far (call it last)."""
    if not origins:
        return
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(origins, options))
    for route in list(app.router.routes()):
        cors.add(route)
