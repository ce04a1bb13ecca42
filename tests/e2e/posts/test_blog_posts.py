"""Posts of the blog through HTTP: Markdown rendered inert, optional titles, audiences,
attachments, edit history, tombstones, the hourly quota."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from core import perks
from tests.support.categories import create_category
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.media import picture, ready, upload
from tests.support.platform import Platform

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "![x](javascript:alert(1))",
    "<scr<script>ipt>alert(1)</script>",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def _parsed(html: str) -> tuple[set[str], list[tuple[str, str]]]:
    parser = _Markup()
    parser.feed(html)
    return parser.tags, parser.attributes


async def _post(client: IdentityClient, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, answer, _ = await client.post("/v1/posts", body, token)
    return status, answer


async def _read(
    client: IdentityClient, post_id: str, token: str | None, after: str
) -> tuple[int, Any]:
    return await client.get(f"/v1/posts/{post_id}", token, **{"Quark-After": after})


async def test_markdown_is_rendered_and_every_attack_is_inert(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    body = (
        "Hello **world**, see [docs](https://example.org) #Привет #Quark @someone\n\n"
        + "\n\n".join(XSS)
    )
    status, created = await _post(client, token, {"body": body})
    assert status == 201, created
    status, post = await _read(client, created["id"], None, created["position"])
    assert status == 200, post
    html = post["body_html"]
    assert post["title"] is None and post["body"] == body
    assert "<strong>world</strong>" in html
    assert '<a href="https://example.org" rel="nofollow ugc noopener">docs</a>' in html
    assert post["tags"] == ["привет", "quark"]
    assert 'class="hashtag"' in html
    # Markup is judged as a browser would parse it: attacks may remain as escaped text.
    tags, attributes = _parsed(html)
    assert tags <= {"p", "strong", "a", "br", "em"}, tags
    for name, value in attributes:
        assert name in ("href", "rel", "class"), name
        if name == "href":
            assert value.startswith(("https://", "/")), value


async def test_a_followers_only_post_is_for_followers(
    client: IdentityClient, platform: Platform
) -> None:
    author = await client.sign_up()
    follower = await client.sign_up()
    stranger = await client.sign_up()
    handle = f"auth_{author['user_id'][:8].replace('-', '')}"
    status, changed = await client.call(
        "PATCH", "/v1/me", author["access_token"], {"handle": handle}
    )
    assert status == 200
    await platform.wait("profiles", changed["position"])
    status, followed = await client.call(
        "POST", f"/v1/users/{handle}/follow", follower["access_token"]
    )
    assert status == 200, followed
    status, created = await _post(
        client,
        author["access_token"],
        {"body": "only for friends: marmalade #secretive", "visibility": "followers"},
    )
    assert status == 201, created
    await platform.wait("follows", followed["position"])
    status, comment, _ = await client.post(
        f"/v1/posts/{created['id']}/comments", {"body": "mine"}, author["access_token"]
    )
    assert status == 201
    after = comment["position"]
    for stream, names in (("CONTENT", ("timelines",)), ("PEOPLE", ("timelines", "follows"))):
        for name in names:
            await platform.wait(name, await head_position(platform.infra, stream))
    listings = [
        f"/v1/posts?author={author['user_id']}",
        "/v1/posts",
        "/v1/tags/secretive/posts",
        "/v1/search?q=marmalade&type=posts",
        "/v1/timelines/public",
    ]
    for who, expected in ((author, 200), (follower, 200), (stranger, 404), (None, 404)):
        token = who["access_token"] if who else None
        status, _ = await _read(client, created["id"], token, after)
        assert status == expected, (who and who["user_id"], status)
        for sub in ("history", "comments", "reactions"):
            status, _ = await client.get(
                f"/v1/posts/{created['id']}/{sub}", token, **{"Quark-After": after}
            )
            assert status == expected, sub
        status, _ = await client.get(
            f"/v1/comments/{comment['id']}/reactions", token, **{"Quark-After": after}
        )
        assert status == expected
        # The public timeline is for public posts: nobody finds this one there.
        for path in listings:
            status, page = await client.get(path, token, **{"Quark-After": after})
            assert status == 200, (path, page)
            found = [p.get("id") or p["post"]["id"] for p in page["items"]]
            shown = expected == 200 and "public" not in path
            assert (created["id"] in found) == shown, (path, who and who["user_id"])
        if token:
            status, page = await client.get("/v1/timelines/home", token, **{"Quark-After": after})
            found = [p["id"] for p in page["items"]]
            assert (created["id"] in found) == (expected == 200), "home"


async def test_edits_keep_a_history_and_a_deleted_post_is_gone(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    status, created = await _post(client, token, {"title": "First", "body": "one"})
    assert status == 201
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{created['id']}", token, {"body": "two"}
    )
    assert status == 200
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{created['id']}", token, {"title": None}
    )
    assert status == 200
    status, history = await client.get(
        f"/v1/posts/{created['id']}/history", None, **{"Quark-After": edited["position"]}
    )
    assert status == 200
    assert [(v["version"], v["title"], v["body"]) for v in history["versions"]] == [
        (1, "First", "one"),
        (2, "First", "two"),
        (3, None, "two"),
    ]
    status, deleted = await client.call("DELETE", f"/v1/posts/{created['id']}", token)
    assert status == 200
    status, problem = await _read(client, created["id"], None, deleted["position"])
    assert status == 410 and problem["type"] == "quark:post-deleted"


async def test_attachments_are_my_own_ready_media(
    client: IdentityClient, platform: Platform
) -> None:
    me = (await client.sign_up())["access_token"]
    other = (await client.sign_up())["access_token"]
    _, mine, _ = await upload(client.http, me, picture("PNG", 200, 100))
    _, theirs, _ = await upload(client.http, other, picture("PNG", 100, 200))
    await ready(client.http, platform.infra, me, mine["id"])
    await ready(client.http, platform.infra, other, theirs["id"])

    status, problem = await _post(client, me, {"body": "look", "media_ids": [theirs["id"]]})
    assert status == 404 and problem["type"] == "quark:media-not-found"
    status, created = await _post(client, me, {"body": "look", "media_ids": [mine["id"]]})
    assert status == 201, created
    status, post = await _read(client, created["id"], None, created["position"])
    assert status == 200
    [media] = post["media"]
    assert media["id"] == mine["id"] and media["variants"]["320"]["width"] == 200
    url = media["variants"]["320"]["url"]
    assert "sig=" not in url  # a public post's media is public
    async with client.http.get(url) as resp:
        assert resp.status == 200
    # Followers-only: its media goes behind signed links.
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{created['id']}", me, {"visibility": "followers"}
    )
    assert status == 200
    status, post = await _read(client, created["id"], me, edited["position"])
    assert "sig=" in post["media"][0]["variants"]["320"]["url"]


async def test_posts_per_hour_are_limited(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(perks.STANDARD, "posts_per_hour", 3)
    token = (await client.sign_up())["access_token"]
    for i in range(3):
        status, _ = await _post(client, token, {"body": f"post {i}"})
        assert status == 201
    status, problem, headers = await client.post("/v1/posts", {"body": "one too many"}, token)
    assert status == 429 and problem["type"] == "quark:rate-limited"
    assert int(headers["Retry-After"]) > 0


async def test_a_post_may_name_an_existing_category(client: IdentityClient, with_role: Any) -> None:
    await create_category(client, with_role, "travel", "Путешествия", "Travel")
    token = (await client.sign_up())["access_token"]
    status, problem = await _post(client, token, {"body": "x", "category": "nowhere"})
    assert status == 422 and problem["errors"][0]["field"] == "category"
    status, created = await _post(client, token, {"body": "x", "category": "travel"})
    assert status == 201, created
    status, post = await _read(client, created["id"], None, created["position"])
    assert post["category"] == "travel"
    status, private = await _post(
        client, token, {"body": "y", "category": "travel", "visibility": "followers"}
    )
    status, elsewhere = await _post(client, token, {"body": "z"})
    after = {"Quark-After": elsewhere["position"]}
    # The category's page: its posts only, newest first, each as its reader may see it.
    status, page = await client.get("/v1/categories/travel/posts", None, **after)
    assert status == 200 and [p["id"] for p in page["items"]] == [created["id"]]
    status, page = await client.get("/v1/categories/travel/posts?limit=1", token, **after)
    assert [p["id"] for p in page["items"]] == [private["id"]] and page["next_cursor"]
    status, page = await client.get(
        f"/v1/categories/travel/posts?limit=1&cursor={page['next_cursor']}", token, **after
    )
    assert [p["id"] for p in page["items"]] == [created["id"]] and page["next_cursor"] is None
    status, problem = await client.get("/v1/categories/nowhere/posts", None)
    assert status == 404 and problem["type"] == "quark:category-not-found"


async def test_a_tag_page_lists_what_the_reader_may_see(client: IdentityClient) -> None:
    author = (await client.sign_up())["access_token"]
    status, public = await _post(client, author, {"body": "Hello #Привет"})
    status, private = await _post(
        client, author, {"body": "Secret #ПРИВЕТ", "visibility": "followers"}
    )
    status, other = await _post(client, author, {"body": "nothing tagged"})
    after = other["position"]
    for spelling in ("привет", "Привет", "%D0%9F%D0%A0%D0%98%D0%92%D0%95%D0%A2"):
        status, page = await client.get(
            f"/v1/tags/{spelling}/posts", None, **{"Quark-After": after}
        )
        assert status == 200, page
        assert [p["id"] for p in page["items"]] == [public["id"]]  # not the followers-only one
    status, page = await client.get("/v1/tags/привет/posts", author, **{"Quark-After": after})
    assert [p["id"] for p in page["items"]] == [private["id"], public["id"]]  # the author's own


async def test_only_mentions_of_existing_handles_become_links(
    client: IdentityClient, platform: Platform
) -> None:
    someone = await client.sign_up()
    status, changed = await client.call(
        "PATCH", "/v1/me", someone["access_token"], {"handle": "mentioned_one"}
    )
    assert status == 200
    await platform.wait("profiles", changed["position"])
    token = (await client.sign_up())["access_token"]
    body = "Hi @Mentioned_One and @nobody_at_all"
    status, created = await _post(client, token, {"body": body})
    assert status == 201, created
    status, post = await _read(client, created["id"], token, created["position"])
    html = post["body_html"]
    assert '<a href="/@mentioned_one"' in html and 'class="mention"' in html
    assert "@nobody_at_all" in html and "/@nobody_at_all" not in html
    # The same in a comment, and in an edit (the handles are checked again).
    status, comment, _ = await client.post(
        f"/v1/posts/{created['id']}/comments", {"body": body}, token
    )
    assert status == 201, comment
    status, thread = await client.get(
        f"/v1/posts/{created['id']}/comments", token, **{"Quark-After": comment["position"]}
    )
    html = thread["items"][0]["body_html"]
    assert "/@mentioned_one" in html and "/@nobody_at_all" not in html
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{created['id']}", token, {"body": "Only @nobody_at_all now"}
    )
    assert status == 200
    status, post = await _read(client, created["id"], token, edited["position"])
    assert "<a" not in post["body_html"]
