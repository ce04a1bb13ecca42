"""What the timeline tests share: people with handles, posts, and walking every page."""

from __future__ import annotations

from typing import Any

from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform

HOME = "/v1/timelines/home"
PUBLIC = "/v1/timelines/public"


async def person(client: IdentityClient, handle: str) -> dict[str, Any]:
    """A signed-up person with a handle (follows and blocks name people by handle)."""
    someone = await client.sign_up(name=handle.title())
    status, body = await client.call("PATCH", "/v1/me", someone["access_token"], {"handle": handle})
    assert status == 200, body
    return {**someone, "handle": handle, "token": someone["access_token"]}


async def publish(
    client: IdentityClient, who: dict[str, Any], body: str, **extra: Any
) -> dict[str, Any]:
    status, created, _ = await client.post("/v1/posts", {"body": body, **extra}, who["token"])
    assert status == 201, created
    return created


async def relate(
    client: IdentityClient, who: dict[str, Any], verb: str, other: dict[str, Any]
) -> str:
    """`verb` is POST/DELETE + follow/block: `("POST", "follow")` follows; the position."""
    method, kind = verb.split()
    status, body = await client.call(method, f"/v1/users/{other['handle']}/{kind}", who["token"])
    assert status == 200, body
    return str(body["position"])


async def page(
    client: IdentityClient,
    path: str,
    token: str | None,
    *,
    after: str | None = None,
    query: str = "",
) -> tuple[int, Any, str | None]:
    """One page: status, body and the `Quark-Timeline-Source` header."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if after:
        headers["Quark-After"] = after
    async with client.http.get(f"{path}{query}", headers=headers) as resp:
        return (
            resp.status,
            await resp.json(content_type=None),
            resp.headers.get("Quark-Timeline-Source"),
        )


async def walk(
    client: IdentityClient,
    path: str,
    token: str | None,
    *,
    after: str | None = None,
    limit: int = 20,
    sources: list[str] | None = None,
) -> list[str]:
    """Post ids of every page of `path`, in order; `sources` collects each page's source."""
    ids: list[str] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body, source = await page(client, path, token, after=after, query=query)
        assert status == 200, body
        assert len(body["items"]) <= limit
        ids += [p["id"] for p in body["items"]]
        if sources is not None and source:
            sources.append(source)
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
        assert body["items"], "a page with a next cursor is never empty"


async def settled(platform: Platform) -> str:
    """Wait until every read model a timeline reads has applied both streams' heads; the
    CONTENT head position (for `Quark-After`)."""
    content = await head_position(platform.infra, "CONTENT")
    people = await head_position(platform.infra, "PEOPLE")
    for name in ("posts", "follows", "timelines"):
        await platform.wait(name, content)
        await platform.wait(name, people)
    return content
