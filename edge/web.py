"""The web app (docs/web.md), served by the edge at `/` like any other client's files.

There is no build step: the files under `web/` are what the browser runs. At start-up the
edge reads them once into a table (URL path -> bytes, gzip bytes, digest, type), so no request
path is ever joined to a directory and nothing outside `web/` can be reached. Text files are
gzipped once here, not per request. The one generated file is the service worker: its list
of files and its version (a digest over every file) are filled in at start-up, so any change
to any file makes browsers install a new worker and drop the old cache.

Every path the app's router knows (`CLIENT_ROUTES`) answers the same shell page, so a link
to a post or a conversation opens the app on that screen.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

#: The app's screens, as aiohttp patterns: each answers the shell (web/app/routes.js has the
#: same list; tests/unit/edge/test_web.py keeps the two in step).
CLIENT_ROUTES = (
    "/",
    "/signin",
    "/signup",
    "/reset",
    "/home",
    "/public",
    "/tags/{tag}",
    "/categories/{slug}",
    "/posts/{post_id}",
    "/search",
    "/people/{handle}",
    "/@{handle}",
    "/people/{handle}/{list}",
    "/profile/edit",
    "/messages",
    "/messages/{conversation_id}",
    "/notifications",
    "/settings",
    "/settings/{section}",
    "/standing",
    "/admin",
    "/admin/{section}",
    "/moderation",
    "/moderation/{section}",
    "/moderation/cases/{case_id}",
)

#: Folders of `web/` served as they are, under their own name.
ASSET_DIRS = ("app", "styles", "icons")
#: The languages of the app: `web/i18n/<lang>/*.json`, one file per area of the app (so
#: screens add their strings without touching one shared file), served merged as
#: `/i18n/<lang>.json`.
LANGUAGES = ("en", "ru")
#: What may be served, by suffix (anything else in `web/` is not).
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".html": "text/html",
}

#: The shell's policy: no inline script or style, no eval, nothing from another origin.
#: `connect-src 'self'` covers the gateway's websocket on the same host (CSP Level 3).
SHELL_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


#: The service worker's own policy: it fetches and caches this origin's files and answers.
WORKER_POLICY = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'"


@dataclass(frozen=True)
class WebFile:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


def _file(body: bytes, suffix: str) -> WebFile:
    content_type = TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "text/plain"
    textual = content_type.startswith("text/") or content_type.endswith(("json", "+xml"))
    gzipped = gzip.compress(body, 9, mtime=0) if textual and len(body) > 256 else None
    digest = hashlib.sha256(body).hexdigest()[:20]
    return WebFile(body, gzipped, content_type, f'"{digest}"')


def catalogs(root: Path = WEB_DIR) -> dict[str, dict[str, object]]:
    """Each language's catalog, merged from its files; a key in two files is an error."""
    merged: dict[str, dict[str, object]] = {}
    for lang in LANGUAGES:
        entries: dict[str, object] = {}
        for path in sorted((root / "i18n" / lang).glob("*.json")):
            for key, value in json.loads(path.read_text(encoding="utf-8")).items():
                if key in entries:
                    raise ValueError(f"{path}: {key!r} is already in another {lang} file")
                entries[key] = value
        merged[lang] = entries
    return merged


@functools.cache
def load_files(root: Path = WEB_DIR) -> dict[str, WebFile]:
    """URL path -> file, for every servable file of `web/` (read once per process)."""
    files: dict[str, WebFile] = {}
    for folder in ASSET_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in TYPES:
                url = "/" + path.relative_to(root).as_posix()
                files[url] = _file(path.read_bytes(), path.suffix)
    for lang, entries in catalogs(root).items():
        files[f"/i18n/{lang}.json"] = _file(
            json.dumps(entries, ensure_ascii=False).encode(), ".json"
        )
    files["/manifest.webmanifest"] = _file(
        (root / "manifest.webmanifest").read_bytes(), ".webmanifest"
    )
    shell = _file((root / "index.html").read_bytes(), ".html")
    files["/index.html"] = shell
    version = hashlib.sha256("".join(f.etag for f in files.values()).encode()).hexdigest()[:16]
    worker = (root / "sw.js").read_text(encoding="utf-8")
    head = (
        f"const VERSION = {json.dumps(version)};\n"
        f"const SHELL_FILES = {json.dumps(['/', *sorted(set(files) - {'/index.html'})])};\n"
    )
    files["/sw.js"] = _file((head + worker).encode(), ".js")
    return files


def _answer(request: web.Request, found: WebFile, **headers: str) -> web.Response:
    if request.headers.get(hdrs.IF_NONE_MATCH) == found.etag:
        return web.Response(status=304, headers={hdrs.ETAG: found.etag, **headers})
    body = found.body
    extra = {hdrs.ETAG: found.etag, hdrs.VARY: "Accept-Encoding", **headers}
    if found.gzipped is not None and "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, ""):
        body = found.gzipped
        extra[hdrs.CONTENT_ENCODING] = "gzip"
    response = web.Response(body=body, headers=extra)
    response.content_type = found.content_type
    if found.content_type.startswith("text/") or found.content_type.endswith("json"):
        response.charset = "utf-8"
    return response


def add_web_routes(app: web.Application, files: dict[str, WebFile] | None = None) -> None:
    """The shell on every client route, the app's files, the manifest and the worker."""
    table = load_files() if files is None else files
    shell = table["/index.html"]

    async def page(request: web.Request) -> web.Response:
        # Revalidated on every load (no-cache with an ETag): the page names the app's files,
        # which change with an upgrade.
        return _answer(
            request,
            shell,
            **{"Content-Security-Policy": SHELL_POLICY, hdrs.CACHE_CONTROL: "no-cache"},
        )

    async def asset(request: web.Request) -> web.Response:
        found = table.get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        headers = {hdrs.CACHE_CONTROL: "no-cache"}
        if request.path == "/sw.js":
            headers["Service-Worker-Allowed"] = "/"
            # A worker runs under the policy its script came with: the API's `default-src
            # 'none'` would stop it fetching the very files it caches.
            headers["Content-Security-Policy"] = WORKER_POLICY
        return _answer(request, found, **headers)

    for pattern in CLIENT_ROUTES:
        app.router.add_get(pattern, page)
    for folder in ASSET_DIRS:
        app.router.add_get(f"/{folder}/{{path:.+}}", asset)
    app.router.add_get("/i18n/{path:.+}", asset)
    app.router.add_get("/manifest.webmanifest", asset)
    app.router.add_get("/sw.js", asset)
