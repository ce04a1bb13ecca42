"""People of the presence tests: signed up, known to the profiles read model, with a
handle (blocks are addressed by handle)."""

from __future__ import annotations

import secrets
from typing import Any

from tests.support.identity import IdentityClient
from tests.support.platform import Platform


class Someone:
    def __init__(self, client: IdentityClient, tokens: dict[str, Any], handle: str) -> None:
        self.client = client
        self.id: str = tokens["user_id"]
        self.token: str = tokens["access_token"]
        self.handle = handle

    async def call(
        self, method: str, path: str, body: Any = None, *, after: str | None = None
    ) -> tuple[int, Any, str]:
        """(status, JSON answer, content type) of a request as this person."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if after:
            headers["Quark-After"] = after
        async with self.client.http.request(method, path, json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None), resp.content_type

    async def presence_of(self, other: Someone, *, after: str | None = None) -> tuple[int, Any]:
        status, body, _ = await self.call("GET", f"/v1/users/{other.id}/presence", after=after)
        return status, body

    async def hide(self, hidden: bool = True) -> str:
        status, body, _ = await self.call("PUT", "/v1/me/privacy", {"show_presence": not hidden})
        assert status == 200, body
        assert body["show_presence"] is (not hidden)
        return str(body["position"])


async def someone(client: IdentityClient, platform: Platform) -> Someone:
    """A new person whom everybody can already read (their profile is applied)."""
    tokens = await client.sign_up()
    handle = f"p_{secrets.token_hex(5)}"
    async with client.http.patch(
        "/v1/me",
        json={"handle": handle},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ) as resp:
        assert resp.status == 200
        position = (await resp.json())["position"]
    await platform.wait("profiles", tokens["position"])
    await platform.wait("profiles", position)
    return Someone(client, tokens, handle)
