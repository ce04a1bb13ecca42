"""A websocket client of the live channel, as an app would hold one: authenticated, keeping
its cursor, matching request frames to their results."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp

_refs = itertools.count(1)


class LiveClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, ready: dict[str, Any]) -> None:
        self.ws = ws
        self.ready = ready
        self.cursor: int = ready["cursor"]
        #: Frames read while waiting for something else (a result, an item).
        self.backlog: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls, http: aiohttp.ClientSession, token: str, cursor: int | None = None
    ) -> LiveClient:
        ws = await http.ws_connect("/v1/ws")
        await ws.send_json(
            {"type": "auth", "token": token} | ({} if cursor is None else {"cursor": cursor})
        )
        ready = await ws.receive_json(timeout=10)
        assert ready["type"] == "ready", ready
        return cls(ws, ready)

    async def frame(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame (from the backlog first); items move the cursor."""
        frame = self.backlog.pop(0) if self.backlog else await self.ws.receive_json(timeout=timeout)
        if frame.get("cursor") is not None and frame["type"] in ("item", "reset"):
            assert frame["cursor"] > self.cursor, (frame, self.cursor)
            self.cursor = frame["cursor"]
        return frame

    async def item(self, timeout: float = 10, *, type: str | None = None) -> dict[str, Any]:
        """The next item (its `item`), skipping ephemeral frames; of `type` if given, which
        must then be the next item."""
        while True:
            frame = await self.frame(timeout)
            if frame["type"] == "item":
                if type is not None:
                    assert frame["item"]["type"] == type, frame
                return frame["item"] | {"cursor": frame["cursor"]}
            assert frame["type"] in ("typing", "presence", "result"), frame

    async def request(self, frame: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Send a request frame (a `ref` is added) and wait for its result; frames that come
        meanwhile stay in the backlog, in order."""
        ref = f"r{next(_refs)}"
        await self.ws.send_json(frame | {"ref": ref})
        seen: list[dict[str, Any]] = []
        try:
            while True:
                got = await self.ws.receive_json(timeout=timeout)
                if got.get("type") == "result" and got.get("ref") == ref:
                    return got
                seen.append(got)
        finally:
            self.backlog.extend(seen)

    async def close(self) -> None:
        await self.ws.close()
