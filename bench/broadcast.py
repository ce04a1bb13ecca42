"""A raw aiohttp websocket server: the ceiling of the live channel (`python -m bench.broadcast
PORT`).

It speaks just enough of docs/websocket.md for the chat suite's own client code to drive it
unchanged: `GET /v1/ws`, a first `auth` frame answered with `ready`, then text frames. It
keeps one socket per token and does nothing else: no token check, no inbox, no queue, no
writer task, no presence. Two routes make it send:

- `POST /v1/broadcast`: the request body, as one text frame, to every socket (a channel
  message to all its connected members, without the log, the projection or the hub);
- `POST /v1/relay/{token}`: the request body to the socket of that token only (a direct
  message's delivery, without the command round trip).

It runs in its own process on uvloop without an access log, like `quark run edge`, so the
chat suite can hold both to the same client, the same frame size and the same number of
sockets: what the edge does beyond this is what the gateway and the pipeline behind it cost.
"""

from __future__ import annotations

import json
import sys

from aiohttp import WSMsgType, web

from bench.hello import run_on_uvloop, serve_app

_DONE = b'{"sent":true}'
SOCKETS = web.AppKey("sockets", dict)


async def _ws(request: web.Request) -> web.StreamResponse:
    # The edge's own options (edge/routes/live.py): uncompressed frames, pings every 30 s.
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096, compress=False)
    await ws.prepare(request)
    first = await ws.receive(timeout=10)
    if first.type != WSMsgType.TEXT:
        return ws
    token = str(json.loads(first.data).get("token", ""))
    sockets: dict[str, web.WebSocketResponse] = request.app[SOCKETS]
    sockets[token] = ws
    ready = {"type": "ready", "user_id": token, "session_id": token, "cursor": 0}
    await ws.send_str(json.dumps(ready))
    try:
        async for _msg in ws:
            pass  # client frames are read and dropped
    finally:
        if sockets.get(token) is ws:
            del sockets[token]
    return ws


async def _broadcast(request: web.Request) -> web.Response:
    frame = await request.read()
    for ws in list(request.app[SOCKETS].values()):
        try:
            await ws.send_frame(frame, WSMsgType.TEXT)
        except ConnectionError:
            continue
    return web.Response(status=201, body=_DONE, content_type="application/json")


async def _relay(request: web.Request) -> web.Response:
    frame = await request.read()
    ws = request.app[SOCKETS].get(request.match_info["token"])
    if ws is None:
        raise web.HTTPNotFound()
    await ws.send_frame(frame, WSMsgType.TEXT)
    return web.Response(status=201, body=_DONE, content_type="application/json")


async def _close_all(app: web.Application) -> None:
    for ws in list(app[SOCKETS].values()):
        await ws.close(code=1001, message=b"server shutdown")


async def serve(port: int) -> None:
    app = web.Application()
    app[SOCKETS] = {}
    app.router.add_get("/v1/ws", _ws)
    app.router.add_post("/v1/broadcast", _broadcast)
    app.router.add_post("/v1/relay/{token}", _relay)
    app.on_shutdown.append(_close_all)
    await serve_app(app, port)


def main() -> int:
    return run_on_uvloop(serve)


if __name__ == "__main__":
    sys.exit(main())
