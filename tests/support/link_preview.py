"""The link-preview module (Node.js) against a test's servers, and local pages for it to
preview: nothing is fetched from the internet, and the module is told it may reach loopback
only (`QUARK_LINK_PREVIEW_NETWORKS`), so no test can make it connect anywhere else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from core import embedded
from core.settings import Settings
from station.process_modules import ModuleProcess
from tests.support.platform import Platform

MODULE = "link-preview"
#: Where a test's module may connect: this machine only.
LOOPBACK = "127.0.0.0/8,::1/128"

ARTICLE = """<!doctype html>
<html lang="en"><head>
  <meta charset="utf-8">
  <title>Fallback title</title>
  <meta property="og:title" content="Quark &amp; the log">
  <meta property="og:description" content="Why every change is an event.">
  <meta property="og:site_name" content="Quark Journal">
  <meta property="og:image" content="/images/card.png">
  <meta name="twitter:title" content="not this one">
</head><body><h1>Quark</h1></body></html>
"""

PLAIN = "<html><head><title>Only a title</title></head><body>text</body></html>"


class Pages:
    """An HTTP server on 127.0.0.1 with the pages the tests preview."""

    def __init__(self) -> None:
        self.port = embedded.free_port()
        self.runner: web.AppRunner | None = None
        self._hanging: set[asyncio.Future[None]] = set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _article(self, _request: web.Request) -> web.Response:
        return web.Response(text=ARTICLE, content_type="text/html")

    async def _plain(self, _request: web.Request) -> web.Response:
        return web.Response(text=PLAIN, content_type="text/html")

    async def _moved(self, _request: web.Request) -> web.Response:
        raise web.HTTPFound("/article")

    async def _silent(self, _request: web.Request) -> web.Response:
        """Accepts the request and never answers (until the server stops)."""
        waiting = asyncio.get_running_loop().create_future()
        self._hanging.add(waiting)
        try:
            await waiting
        finally:
            self._hanging.discard(waiting)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/article", self._article)
        app.router.add_get("/plain", self._plain)
        app.router.add_get("/moved", self._moved)
        app.router.add_get("/silent", self._silent)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        for waiting in list(self._hanging):
            waiting.cancel()
        if self.runner is not None:
            await self.runner.cleanup()


@asynccontextmanager
async def local_pages() -> AsyncIterator[Pages]:
    pages = Pages()
    await pages.start()
    try:
        yield pages
    finally:
        await pages.stop()


async def start_link_preview(platform: Platform, settings: Settings | None = None) -> ModuleProcess:
    """The Node.js module in a process of its own, docked to the platform's NATS, as
    `quark up` starts it (the platform's workers stop it with the rest)."""
    settings = (settings or platform.infra.settings).with_(link_preview_networks=LOOPBACK)
    skipped = await platform.workers.start_process_modules(
        [MODULE], capture=True, settings=settings
    )
    child = next((c for c in platform.workers.children if c.name == MODULE), None)
    if MODULE in skipped:
        output = "".join(child.output) if child is not None else ""
        pytest.fail(
            f"the {MODULE} module did not start: {skipped[MODULE]}. Node.js 20 and "
            f"`npm ci` in modules/{MODULE} are needed (./dev test does both).\n{output}",
            pytrace=False,
        )
    assert child is not None
    return child


@asynccontextmanager
async def link_preview(
    platform: Platform, settings: Settings | None = None
) -> AsyncIterator[ModuleProcess]:
    """`start_link_preview`, stopped (and gone) when the block ends."""
    child = await start_link_preview(platform, settings)
    try:
        yield child
    finally:
        await child.stop()
        platform.workers.children.remove(child)
