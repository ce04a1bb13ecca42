"""Helpers of the chat tests: people, conversations and messages through HTTP."""

from __future__ import annotations

import weakref
from typing import Any

from tests.support.identity import IdentityClient

#: The latest chat position any person of a test was answered, per client: everyone reads
#: after it (`Quark-After`), as people do who were told of each other's writes. Weakly
#: keyed by the client itself: keyed by `id()`, a later test's client at a freed client's
#: address read after the earlier test's position, which its new stream never reaches.
_SEEN: weakref.WeakKeyDictionary[IdentityClient, str] = weakref.WeakKeyDictionary()


def _later(a: str | None, b: str) -> str:
    if a is None or a.split(":")[0] != b.split(":")[0]:
        return b
    return b if int(b.split(":")[1]) > int(a.split(":")[1]) else a


class Person:
    def __init__(self, client: IdentityClient, tokens: dict[str, Any]) -> None:
        self.client = client
        self.id: str = tokens["user_id"]
        self.token: str = tokens["access_token"]

    async def call(
        self, method: str, path: str, body: Any = None, *, after: str | None = None
    ) -> tuple[int, Any]:
        """A request as this person, after every chat write of the test (or `after`)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        seen = after or _SEEN.get(self.client)
        if seen:
            headers["Quark-After"] = seen
        async with self.client.http.request(method, path, json=body, headers=headers) as resp:
            answer = await resp.json(content_type=None)
        position = answer.get("position") if isinstance(answer, dict) else None
        if isinstance(position, str) and position.startswith("CHAT:"):
            _SEEN[self.client] = _later(_SEEN.get(self.client), position)
        return resp.status, answer

    async def start(self, kind: str, members: list[Person] = (), **extra: Any) -> tuple[int, Any]:  # type: ignore[assignment]
        return await self.call(
            "POST", "/v1/conversations", {"kind": kind, "members": [m.id for m in members], **extra}
        )

    async def send(self, conversation_id: str, body: str, **extra: Any) -> tuple[int, Any]:
        return await self.call(
            "POST", f"/v1/conversations/{conversation_id}/messages", {"body": body, **extra}
        )

    async def history(self, conversation_id: str, query: str = "") -> tuple[int, Any]:
        return await self.call("GET", f"/v1/conversations/{conversation_id}/messages{query}")


async def person(client: IdentityClient) -> Person:
    return Person(client, await client.sign_up())


async def group(owner: Person, members: list[Person], name: str = "friends") -> str:
    status, body = await owner.start("group", members, name=name)
    assert status == 201, body
    return str(body["id"])


def bodies(page: dict[str, Any]) -> list[str]:
    return [m["body"] for m in page["items"]]
