"""Comments through HTTP: threads, tombstones, who may do what, counts on posts, and fifty
people commenting on one post at the same moment."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.identity import IdentityClient, WithRole
from tests.support.platform import Platform


async def _comment(
    client: IdentityClient,
    token: str,
    post_id: str,
    body: str,
    reply_to: str | None = None,
    after: str | None = None,
) -> tuple[int, Any]:
    """A comment; `after` the position of what the commenter has seen (the post)."""
    payload: dict[str, Any] = {"body": body}
    if reply_to:
        payload["reply_to"] = reply_to
    headers = {"Authorization": f"Bearer {token}"}
    if after:
        headers["Quark-After"] = after
    async with client.http.post(
        f"/v1/posts/{post_id}/comments", json=payload, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def _thread(
    client: IdentityClient, post_id: str, token: str | None, after: str, query: str = ""
) -> tuple[int, Any]:
    return await client.get(f"/v1/posts/{post_id}/comments{query}", token, **{"Quark-After": after})


async def _new_post(client: IdentityClient, token: str, **extra: Any) -> dict[str, Any]:
    status, created, _ = await client.post("/v1/posts", {"body": "a post", **extra}, token)
    assert status == 201, created
    return created


async def test_a_thread_nests_replies_and_keeps_the_shape_of_deleted_comments(
    client: IdentityClient,
) -> None:
    author = (await client.sign_up())["access_token"]
    reader = (await client.sign_up())["access_token"]
    post = await _new_post(client, author)
    status, first = await _comment(
        client, reader, post["id"], "first **comment**", after=post["position"]
    )
    assert status == 201, first
    status, _ = await _comment(client, author, post["id"], "second", after=post["position"])
    assert status == 201
    parent = first["id"]
    chain = []
    for depth in range(6):  # replies of replies, deeper than shown
        status, reply = await _comment(client, reader, post["id"], f"reply {depth}", parent)
        assert status == 201, reply
        chain.append(reply)
        parent = reply["id"]
    status, page = await _thread(client, post["id"], None, chain[-1]["position"])
    assert status == 200
    bodies = [c["body"] for c in page["items"]]
    assert bodies == ["first **comment**", *[f"reply {d}" for d in range(6)], "second"]
    assert [c["depth"] for c in page["items"]] == [0, 1, 2, 3, 4, 4, 4, 0]
    assert "<strong>comment</strong>" in page["items"][0]["body_html"]

    # The post's author deletes a reader's comment: a tombstone stays in its place.
    status, deleted = await client.call("DELETE", f"/v1/comments/{first['id']}", author)
    assert status == 200, deleted
    status, page = await _thread(client, post["id"], None, deleted["position"])
    tomb = page["items"][0]
    assert tomb["deleted"] and tomb["body"] == "" and tomb["author_id"] == ""
    assert [c["body"] for c in page["items"][1:3]] == ["reply 0", "reply 1"]
    status, view = await client.get(
        f"/v1/posts/{post['id']}", None, **{"Quark-After": deleted["position"]}
    )
    assert view["comments"] == 7


async def test_only_the_author_edits_and_strangers_cannot_delete(
    client: IdentityClient, with_role: WithRole
) -> None:
    author = (await client.sign_up())["access_token"]
    commenter = (await client.sign_up())["access_token"]
    stranger = (await client.sign_up())["access_token"]
    post = await _new_post(client, author)
    status, comment = await _comment(client, commenter, post["id"], "mine", after=post["position"])
    status, problem = await client.call(
        "PATCH", f"/v1/comments/{comment['id']}", author, {"body": "not yours"}
    )
    assert status == 403 and problem["type"] == "quark:not-comment-author"
    status, edited = await client.call(
        "PATCH", f"/v1/comments/{comment['id']}", commenter, {"body": "mine, edited"}
    )
    assert status == 200
    status, page = await _thread(client, post["id"], None, edited["position"])
    assert page["items"][0]["body"] == "mine, edited" and page["items"][0]["edited_at"]
    status, problem = await client.call("DELETE", f"/v1/comments/{comment['id']}", stranger)
    assert status == 403
    moderator = (await with_role("moderator"))["access_token"]
    status, _ = await client.call("DELETE", f"/v1/comments/{comment['id']}", moderator)
    assert status == 200


async def test_only_who_may_see_a_post_may_comment(
    client: IdentityClient, platform: Platform
) -> None:
    author = await client.sign_up()
    stranger = (await client.sign_up())["access_token"]
    blocked = await client.sign_up()
    token = author["access_token"]
    hidden = await _new_post(client, token, visibility="followers")
    status, _ = await _comment(
        client, stranger, hidden["id"], "let me in", after=hidden["position"]
    )
    assert status == 404
    status, _ = await _thread(client, hidden["id"], stranger, hidden["position"])
    assert status == 404

    # Blocked by the author: the author's posts do not exist for them.
    handle = f"b_{blocked['user_id'][:8].replace('-', '')}"
    status, changed = await client.call(
        "PATCH", "/v1/me", blocked["access_token"], {"handle": handle}
    )
    assert status == 200
    await platform.wait("profiles", changed["position"])
    status, blocking = await client.call("POST", f"/v1/users/{handle}/block", token)
    assert status == 200, blocking
    open_post = await _new_post(client, token)
    await platform.wait("follows", blocking["position"])
    status, _ = await _comment(
        client, blocked["access_token"], open_post["id"], "hi", after=open_post["position"]
    )
    assert status == 404

    public = await _new_post(client, token)
    other_post = await _new_post(client, token)
    status, elsewhere = await _comment(client, token, other_post["id"], "elsewhere")
    status, problem = await _comment(client, token, public["id"], "x", elsewhere["id"])
    assert status == 422 and problem["errors"][0]["field"] == "reply_to"


async def test_fifty_people_comment_on_one_post_at_once(client: IdentityClient) -> None:
    author = (await client.sign_up())["access_token"]
    post = await _new_post(client, author)
    people = [(await client.sign_up())["access_token"] for _ in range(50)]
    results = await asyncio.gather(
        *(
            _comment(client, token, post["id"], f"comment {i}", after=post["position"])
            for i, token in enumerate(people)
        )
    )
    assert [status for status, _ in results] == [201] * 50
    last = max(results, key=lambda r: int(r[1]["position"].split(":")[1]))[1]["position"]
    seen: list[str] = []
    query = "?limit=20"
    while True:
        status, page = await _thread(client, post["id"], None, last, query)
        assert status == 200
        seen += [c["id"] for c in page["items"]]
        if not page["next_cursor"]:
            break
        query = f"?limit=20&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(answer["id"] for _, answer in results)  # none skipped or repeated
    status, view = await client.get(f"/v1/posts/{post['id']}", None, **{"Quark-After": last})
    assert view["comments"] == 50


async def test_comments_of_people_blocked_either_way_are_not_in_the_thread(
    client: IdentityClient, platform: Platform
) -> None:
    author, reader, loud, quiet = [await client.sign_up() for _ in range(4)]
    post = await _new_post(client, author["access_token"])
    await platform.wait("posts", post["position"])
    made = {}
    for who, name in ((loud, "loud"), (quiet, "quiet"), (author, "author")):
        status, made[name] = await _comment(client, who["access_token"], post["id"], name)
        assert status == 201
    # The reader blocks `loud`; `quiet` blocks the reader.
    for blocker, blocked, name in ((reader, loud, "loud_one"), (quiet, reader, "reader_one")):
        status, changed = await client.call(
            "PATCH", "/v1/me", blocked["access_token"], {"handle": name}
        )
        assert status == 200
        await platform.wait("profiles", changed["position"])
        status, blocking = await client.call(
            "POST", f"/v1/users/{name}/block", blocker["access_token"]
        )
        assert status == 200, blocking
        await platform.wait("follows", blocking["position"])
    last = made["author"]["position"]
    status, page = await _thread(client, post["id"], reader["access_token"], last)
    assert [c["id"] for c in page["items"]] == [made["author"]["id"]]
    status, page = await _thread(client, post["id"], None, last)
    assert len(page["items"]) == 3  # everyone else hears all three
