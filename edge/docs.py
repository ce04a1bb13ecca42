"""The interactive API reference at `/docs`: Swagger UI over `/openapi.json`.

Swagger UI's files come from an installed package (swagger-ui-py, which ships the Swagger UI
dist: 5.24.2 in swagger-ui-py 25.7.1; Swagger UI 5 is the first to render OpenAPI 3.1), and
the edge serves them itself, so the reference works on a self-hosted machine without internet
access. The page has no inline script: its initialiser is `edge/static/docs.js`, so the page
works under `script-src 'self'`.

Only the files the page names are served, looked up by name in a table built at start-up:
no request path is ever joined to a directory, so nothing outside that table can be reached.
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web

ASSETS_PREFIX = "/docs/assets"
OPENAPI_PATH = "/openapi.json"

#: The distribution package (and its import name) that ships the Swagger UI files.
_UI_DISTRIBUTION = "swagger-ui-py"
_UI_PACKAGE = "swagger_ui"
#: What the page uses from the Swagger UI dist; the rest of the package (the editor, the
#: OAuth2 redirect page) is not served.
_UI_FILES = (
    "swagger-ui.css",
    "index.css",
    "swagger-ui-bundle.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
)
_OWN_DIR = Path(__file__).resolve().parent / "static"
_OWN_FILES = ("docs.js",)

_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

#: Everything the page loads comes from the edge. `img-src data:` is for the icons that
#: swagger-ui.css embeds as data: URLs; `connect-src 'self'` for `/openapi.json` and
#: "Try it out". No 'unsafe-inline' and no 'unsafe-eval': the bundle needs neither.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# The URL of an asset changes with its content, so a browser may keep it for good.
_ASSET_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    """A file the page loads, held in memory (about 1.7 MB in all)."""

    name: str
    body: bytes
    content_type: str
    digest: str

    @property
    def url(self) -> str:
        return f"{ASSETS_PREFIX}/{self.digest}/{self.name}"


def swagger_ui_dir() -> Path:
    """The installed Swagger UI dist directory.

    Found with `find_spec`, not by importing the package: its `__init__` imports Jinja2 and
    framework adapters the edge has no use for.
    """
    spec = importlib.util.find_spec(_UI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{_UI_DISTRIBUTION} is not installed; install Quark as the README says")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _asset(directory: Path, name: str) -> Asset:
    body = (directory / name).read_bytes()
    return Asset(
        name=name,
        body=body,
        content_type=_CONTENT_TYPES[Path(name).suffix],
        digest=hashlib.sha256(body).hexdigest()[:16],
    )


@functools.cache
def load_assets() -> Mapping[str, Asset]:
    """Every file the page loads, by name. Read once per process: every edge app built in
    the process (tests build many) serves the same files."""
    ui = swagger_ui_dir()
    assets = [_asset(ui, name) for name in _UI_FILES]
    assets += [_asset(_OWN_DIR, name) for name in _OWN_FILES]
    return {a.name: a for a in assets}


def docs_page(title: str, assets: Mapping[str, Asset]) -> str:
    """The page: stylesheets, the Swagger UI bundle and the initialiser, all from the edge."""

    def url(name: str) -> str:
        return html.escape(assets[name].url)

    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{url("swagger-ui.css")}">
<link rel="stylesheet" href="{url("index.css")}">
<link rel="icon" type="image/png" sizes="32x32" href="{url("favicon-32x32.png")}">
<link rel="icon" type="image/png" sizes="16x16" href="{url("favicon-16x16.png")}">
</head>
<body>
<noscript><p>This reference needs JavaScript. The document it shows is
<a href="{OPENAPI_PATH}">{OPENAPI_PATH}</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="{url("swagger-ui-bundle.js")}"></script>
<script src="{url("docs.js")}"></script>
</body>
</html>
"""


def add_reference_routes(app: web.Application, *, title: str) -> None:
    """`/docs` and its assets (`/` is the web app's: edge/web.py).

    Not routes of the route tables: they are not API operations, so `/openapi.json` does not
    list them.
    """
    assets = load_assets()
    page = docs_page(title, assets).encode()

    async def docs(_: web.Request) -> web.Response:
        return web.Response(
            body=page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                # The page names the assets by digest: it must be fetched again after an
                # upgrade, or it would point at files the edge no longer serves.
                hdrs.CACHE_CONTROL: "no-cache",
            },
        )

    async def asset(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["name"])
        if found is None or found.digest != request.match_info["digest"]:
            raise web.HTTPNotFound()
        response = web.Response(
            body=found.body,
            content_type=found.content_type,
            charset="utf-8" if found.content_type.startswith("text/") else None,
            headers={hdrs.CACHE_CONTROL: _ASSET_CACHE, "X-Content-Type-Options": "nosniff"},
        )
        if found.content_type.startswith("text/"):
            # The bundle is 1.5 MB as text and about a third of that gzipped.
            response.enable_compression()
        return response

    app.router.add_get("/docs", docs)
    app.router.add_get(ASSETS_PREFIX + "/{digest}/{name}", asset)
