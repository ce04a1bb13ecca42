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
        #: Notification items, set aside: they come from another read model than the
        #: conversations' items, so their place among those is not fixed.
        self.notifications: list[dict[str, Any]] = []
        #: Items read while looking for a notification, in order.
        self.items: list[dict[str, Any]] = []

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
        """The next item (its `item`), skipping ephemeral frames and setting notifications
        aside (unless asking for one); of `type` if given, which must then be the next."""
        if self.items:
            got = self.items.pop(0)
            assert type is None or got["type"] == type, got
            return got
        while True:
            frame = await self.frame(timeout)
            if (
                frame["type"] == "item"
                and type != "notification"
                and frame["item"]["type"].startswith("notification")
            ):
                self.notifications.append(frame["item"] | {"cursor": frame["cursor"]})
                continue
            if frame["type"] == "item":
                if type is not None:
                    assert frame["item"]["type"] == type, frame
                return frame["item"] | {"cursor": frame["cursor"]}
            assert frame["type"] in ("typing", "presence", "result"), frame

    async def signal(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame that is not an item (an error, a typing or presence signal, a
        pong); items read meanwhile stay for `item()` and `notification()`. Items come
        through the inbox stream and signals straight from the edge, so their order between
        them is not fixed: a late notification item may come before an error."""
        while True:
            frame = await self.frame(timeout)
            if frame["type"] != "item":
                return frame
            got = frame["item"] | {"cursor": frame["cursor"]}
            kept = self.notifications if got["type"].startswith("notification") else self.items
            kept.append(got)

    async def notification(self, timeout: float = 10) -> dict[str, Any]:
        """The next notification item; other items read meanwhile stay for `item()`."""
        if self.notifications:
            return self.notifications.pop(0)
        while True:
            frame = await self.frame(timeout)
            if frame["type"] != "item":
                continue
            got = frame["item"] | {"cursor": frame["cursor"]}
            if got["type"].startswith("notification"):
                return got
            self.items.append(got)

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
