"""The API reference at /docs as a browser sees it: a page whose every script, stylesheet and
icon comes from the edge, under a Content-Security-Policy that allows nothing else."""

from __future__ import annotations

import asyncio
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import aiohttp

from edge.docs import swagger_ui_dir
from tests.support.platform import Platform

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# What each kind of asset must be served as, and the least it can weigh and still be the real
# file (the bundle is about 1.5 MB, the stylesheet 150 kB, the initialiser under 1 kB).
EXPECTED = {
    ".js": ("text/javascript", 300),
    ".css": ("text/css", 150),
    ".png": ("image/png", 200),
}


class Page(HTMLParser):
    """What a browser would load from the page, and any inline code it would run."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[str] = []
        self.inline_scripts: list[str] = []
        self.inline_styles = 0
        self.event_handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.event_handlers += [name for name in a if name.startswith("on")]
        if "style" in a or tag == "style":
            self.inline_styles += 1
        if tag == "script":
            self._in_script = True
            if a.get("src"):
                self.scripts.append(a["src"] or "")
        elif tag == "link" and a.get("href"):
            self.links.append(a["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


async def load_page(http: aiohttp.ClientSession) -> tuple[aiohttp.ClientResponse, Page]:
    async with http.get("/docs") as resp:
        assert resp.status == 200
        page = Page()
        page.feed(await resp.text())
    return resp, page


def policy(header: str) -> dict[str, list[str]]:
    directives = (d.split() for d in header.split(";") if d.strip())
    return {d[0]: d[1:] for d in directives}


async def raw_get(base_url: str, target: str) -> tuple[int, bytes]:
    """Send `target` exactly as written: an HTTP client would resolve `..` and re-encode."""
    url = urlparse(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_docs_page_loads_every_script_stylesheet_and_icon_from_the_edge(
    http: aiohttp.ClientSession,
) -> None:
    _, page = await load_page(http)
    assert len(page.scripts) == 2 and len(page.links) == 4
    for ref in page.scripts + page.links:
        assert ref.startswith("/") and not ref.startswith("//"), f"{ref} is not the edge's"
        async with http.get(ref) as resp:
            body = await resp.read()
            assert resp.status == 200, ref
            content_type, least = EXPECTED[Path(ref).suffix]
            assert resp.content_type == content_type, ref
            assert len(body) >= least, ref


async def test_docs_page_runs_no_inline_code_and_its_policy_allows_only_the_edge(
    http: aiohttp.ClientSession,
) -> None:
    resp, page = await load_page(http)
    assert page.inline_scripts == [] and page.event_handlers == []
    assert page.inline_styles == 0
    csp = policy(resp.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"} & {
        source for sources in csp.values() for source in sources
    }


async def test_initialiser_points_the_ui_at_the_openapi_document_and_nowhere_else(
    http: aiohttp.ClientSession,
) -> None:
    _, page = await load_page(http)
    [initialiser] = [src for src in page.scripts if src.endswith("/docs.js")]
    async with http.get(initialiser) as resp:
        code = await resp.text()
    assert re.search(r"""\burl:\s*["']/openapi\.json["']""", code)
    assert 'validatorUrl: "none"' in code
    assert "http://" not in code and "https://" not in code
    async with http.get("/openapi.json") as resp:
        assert resp.status == 200 and (await resp.json())["openapi"] == "3.1.0"


async def test_bundled_swagger_ui_is_version_5_which_renders_openapi_3_1(
    http: aiohttp.ClientSession,
) -> None:
    _, page = await load_page(http)
    [bundle] = [src for src in page.scripts if src.endswith("/swagger-ui-bundle.js")]
    async with http.get(bundle) as resp:
        found = re.search(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', await resp.text())
    assert found, "the bundle names no Swagger UI version"
    assert int(found.group(1)) >= 5


async def test_assets_are_cached_for_good_and_the_page_is_checked_again(
    http: aiohttp.ClientSession,
) -> None:
    resp, page = await load_page(http)
    assert resp.headers["Cache-Control"] == "no-cache"
    for ref in page.scripts + page.links:
        async with http.get(ref) as asset:
            assert "immutable" in asset.headers["Cache-Control"]
            assert asset.headers["X-Content-Type-Options"] == "nosniff"
    # The URL names the content: another digest is another file, which the edge does not have.
    stale = re.sub(r"/docs/assets/[0-9a-f]+/", "/docs/assets/0123456789abcdef/", page.scripts[0])
    async with http.get(stale) as resp:
        assert resp.status == 404


async def test_bundle_travels_compressed_to_a_browser_that_accepts_it(
    http: aiohttp.ClientSession,
) -> None:
    _, page = await load_page(http)
    [bundle] = [src for src in page.scripts if src.endswith("/swagger-ui-bundle.js")]
    async with http.get(bundle, headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as r:
        sent = await r.read()
        assert r.headers["Content-Encoding"] == "gzip"
    assert len(sent) < 1_000_000


async def test_the_reference_itself_is_not_an_operation_of_the_api(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/openapi.json") as resp:
        paths = set((await resp.json())["paths"])
    assert "/" not in paths and "/openapi.json" not in paths
    assert not [p for p in paths if p.startswith("/docs")]
    assert "/v1/posts" in paths  # the document does list the API


async def test_asset_paths_reach_no_file_but_the_ones_the_page_names(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, page = await load_page(http)
    prefix = page.scripts[0].rsplit("/", 1)[0]  # /docs/assets/<digest>
    ui = swagger_ui_dir()
    # Each would reach a file if the edge joined the path to the dist directory (or to
    # edge/static, or mapped the URL onto the source tree).
    attempts = [
        "/docs/assets/../../pyproject.toml",
        "/docs/assets/%2e%2e/%2e%2e/pyproject.toml",
        "/docs/assets/%2E%2E%2F%2E%2E%2Fpyproject.toml",
        f"{prefix}/../core.py",
        f"{prefix}/..%2fcore.py",
        f"{prefix}/%2e%2e%2fcore.py",
        f"{prefix}/%2E%2E%2F__init__.py",
        f"{prefix}/..%2f..%2fswagger_ui%2fcore.py",
        f"{prefix}/..%5ccore.py",
        f"{prefix}/%252e%252e%252fcore.py",
        f"{prefix}/..%2fdocs.py",
        f"{prefix}/{'..%2f' * 12}{str(ROOT / 'pyproject.toml').lstrip('/').replace('/', '%2f')}",
        f"{prefix}/{str(ui / 'LICENSE').replace('/', '%2f')}",
        # In the dist directory, but not a file the page uses.
        f"{prefix}/swagger-editor-bundle.js",
        f"{prefix}/oauth2-redirect.html",
        f"{prefix}/LICENSE",
    ]
    # Pieces of the files' contents (a 404 names the path it was asked for, so not names).
    secrets = [
        (ROOT / "pyproject.toml").read_bytes()[:40],
        (ROOT / "edge" / "docs.py").read_bytes()[:40],
        (ui.parent / "core.py").read_bytes()[:40],
        (ui.parent / "__init__.py").read_bytes()[:40],
        (ui / "swagger-editor-bundle.js").read_bytes()[1000:1040],
        (ui / "oauth2-redirect.html").read_bytes()[:40],
        (ui / "LICENSE").read_bytes()[:40],
    ]
    for target in attempts:
        status, body = await raw_get(platform.base_url, target)
        assert status == 404, target
        assert not [s for s in secrets if s in body], target


async def test_a_browser_renders_the_operations_under_the_page_policy(
    platform: Platform, tmp_path: Path
) -> None:
    # `./dev test` installs Debian's chromium (as root); without it this test must fail.
    assert CHROMIUM is not None, "install Debian's chromium (./dev test does it as root)"
    # The edge runs in this event loop: the browser must not block it.
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        f"{platform.base_url}/docs",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    dom, _ = await asyncio.wait_for(browser.communicate(), 60)
    # Rendered by Swagger UI from /openapi.json: only possible if the scripts ran under the CSP.
    assert b"opblock" in dom and b"/v1/posts" in dom
