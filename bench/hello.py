"""A hello-world aiohttp server: the HTTP ceiling of the edge (`python -m bench.hello PORT`).

It answers `POST /v1/posts` the way the edge does on the wire — reads the JSON body, replies
201 with a small JSON document and a `Quark-Position` header — but does nothing else; and
`GET /v1/me/security-log` and `GET /v1/timelines/home` with an empty page, never looking
at the token; and `POST /v1/media` the way the edge takes an upload on the wire — the raw
body read in the same 256 KiB chunks and thrown away, 202 with a small JSON document — with
nothing spooled, hashed, checked, stored or sent (the ceiling of the media suite's
uploads/s). It runs
in its own process on uvloop without an access log, like `quark run edge`, so the difference
between its rate and the edge's is what our middlewares, validation and the command round
trip cost, not a different server setup.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

_REPLY = b'{"id":"00000000-0000-7000-8000-000000000000","position":"CONTENT:1"}'
_EMPTY_PAGE = b'{"items":[],"next_before":null}'
_ACCEPTED = (
    b'{"id":"00000000-0000-7000-8000-000000000000","status":"processing","position":"MEDIA:1"}'
)
#: The edge's chunk size for streamed uploads (`edge.uploads.body_chunks`).
_CHUNK = 256 * 1024


async def _publish(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(
        status=201,
        body=_REPLY,
        content_type="application/json",
        headers={"Quark-Position": "CONTENT:1"},
    )


async def _discard_upload(request: web.Request) -> web.Response:
    # Streamed like the edge reads it: `request.read()` would buffer it and stop at 1 MiB.
    while await request.content.read(_CHUNK):
        pass
    return web.Response(status=202, body=_ACCEPTED, content_type="application/json")


async def _empty_page(request: web.Request) -> web.Response:
    return web.Response(
        body=_EMPTY_PAGE, content_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_post("/v1/posts", _publish)
    app.router.add_get("/v1/me/security-log", _empty_page)
    app.router.add_get("/v1/timelines/home", _empty_page)
    app.router.add_post("/v1/media", _discard_upload)
    await serve_app(app, port)


async def serve_app(app: web.Application, port: int) -> None:
    """Serve `app` the way `quark run edge` serves the edge (no access log), until SIGINT or
    SIGTERM; "ready" on stdout once it listens (the benches wait for it)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()


def run_on_uvloop(server: Callable[[int], Coroutine[Any, Any, None]]) -> int:
    """`server(port)` with the port from argv, on uvloop like the edge."""
    port = int(sys.argv[1])
    try:
        import uvloop

        uvloop.run(server(port))
    except ImportError:  # pragma: no cover - non-Linux
        asyncio.run(server(port))
    return 0


def main() -> int:
    return run_on_uvloop(serve)


if __name__ == "__main__":
    sys.exit(main())
