"""Notifications through HTTP: new followers, mentions in posts and comments (only of
handles that exist), replies to my posts and comments, reactions grouped per target, none
for my own acts; per-kind settings, "only from people I follow", blocks, marking read."""

from __future__ import annotations

from typing import Any

from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform
from tests.support.timelines import person, publish, relate


async def settled(platform: Platform) -> None:
    """Every notification made, every post readable by everyone and every block known
    (the notifications read filters on the follows read model's blocks)."""
    for stream in ("CONTENT", "PEOPLE", "NOTIFY"):
        await platform.wait("notifications", await head_position(platform.infra, stream))
    await platform.wait("posts", await head_position(platform.infra, "CONTENT"))
    await platform.wait("follows", await head_position(platform.infra, "PEOPLE"))


async def mine(client: IdentityClient, who: dict[str, Any], query: str = "") -> dict[str, Any]:
    status, page = await client.get(f"/v1/notifications{query}", who["token"])
    assert status == 200, page
    return page


def summary(page: dict[str, Any]) -> list[tuple[str, list[str], int]]:
    return [(n["kind"], [a["handle"] for a in n["actors"]], n["count"]) for n in page["items"]]


async def comment(
    client: IdentityClient, who: dict[str, Any], post_id: str, body: str, **extra: Any
) -> dict[str, Any]:
    status, made, _ = await client.post(
        f"/v1/posts/{post_id}/comments", {"body": body, **extra}, who["token"]
    )
    assert status == 201, made
    return made


async def react(
    client: IdentityClient, who: dict[str, Any], post_id: str, kind: str, method: str = "PUT"
) -> None:
    status, body = await client.call(method, f"/v1/posts/{post_id}/reactions/{kind}", who["token"])
    assert status == 200, body


async def test_every_kind_arrives_grouped_and_filtered_as_chosen(
    client: IdentityClient, platform: Platform
) -> None:
    ada, bob, cat, dan = [
        await person(client, f"n_{name}") for name in ("ada", "bob", "cat", "dan")
    ]
    await relate(client, bob, "POST follow", ada)
    post = await publish(client, ada, "Hello @n_bob and @n_nobody")
    await settled(platform)
    first = await comment(client, cat, post["id"], "Nice one")
    await platform.wait("comments", first["position"])  # ada replies to cat's comment
    await comment(client, ada, post["id"], "Thanks", reply_to=first["id"])
    await comment(client, dan, post["id"], "Agreed with @n_cat")
    for who in (bob, cat, dan):
        await react(client, who, post["id"], "like")
    await react(client, bob, post["id"], "love")  # a second kind: still one person
    await react(client, ada, post["id"], "wow")  # my own: nothing for me
    await settled(platform)

    page = await mine(client, ada)
    assert summary(page) == [
        ("reaction", ["n_dan", "n_cat", "n_bob"], 3),
        ("reply", ["n_dan"], 1),
        ("reply", ["n_cat"], 1),
        ("follow", ["n_bob"], 1),
    ]
    assert page["unread"] == 4 and not any(n["read"] for n in page["items"])
    assert summary(await mine(client, bob)) == [("mention", ["n_ada"], 1)]
    cats = await mine(client, cat)
    assert summary(cats) == [("mention", ["n_dan"], 1), ("reply", ["n_ada"], 1)]
    assert (
        cats["items"][1]["target_type"] == "comment" and cats["items"][1]["post_id"] == post["id"]
    )

    # A reaction taken back leaves the group; both kinds taken back, the person too.
    await react(client, dan, post["id"], "like", "DELETE")
    await react(client, bob, post["id"], "like", "DELETE")
    await settled(platform)
    assert summary(await mine(client, ada))[0] == ("reaction", ["n_cat", "n_bob"], 2)

    # Only from people I follow: Ada follows Cat.
    await relate(client, ada, "POST follow", cat)
    status, _ = await client.call(
        "PUT", "/v1/notifications/settings", ada["token"], {"only_following": True}
    )
    assert status == 200
    await settled(platform)
    assert summary(await mine(client, ada)) == [
        ("reaction", ["n_cat"], 1),
        ("reply", ["n_cat"], 1),
    ]
    # Kinds I do not want.
    status, _ = await client.call(
        "PUT", "/v1/notifications/settings", ada["token"], {"disabled": ["reaction"]}
    )
    await settled(platform)
    assert summary(await mine(client, ada)) == [("reply", ["n_cat"], 1)]
    status, settings = await client.get("/v1/notifications/settings", ada["token"])
    assert settings == {"disabled": ["reaction"], "only_following": True}
    status, _ = await client.call(
        "PUT", "/v1/notifications/settings", ada["token"], {"disabled": [], "only_following": False}
    )
    # Someone I block is not heard (nor someone who blocks me).
    await relate(client, ada, "POST block", dan)
    await settled(platform)
    page = await mine(client, ada)
    assert summary(page) == [
        ("reaction", ["n_cat", "n_bob"], 2),
        ("reply", ["n_cat"], 1),
        ("follow", ["n_bob"], 1),
    ]


async def test_marking_read_one_or_all(client: IdentityClient, platform: Platform) -> None:
    eve, fay, gus = [await person(client, f"r_{name}") for name in ("eve", "fay", "gus")]
    await relate(client, fay, "POST follow", eve)
    await relate(client, gus, "POST follow", eve)
    await settled(platform)
    page = await mine(client, eve)
    assert page["unread"] == 2
    status, _ = await client.call(
        "POST", "/v1/notifications/read", eve["token"], {"ids": [page["items"][0]["id"]]}
    )
    assert status == 200
    await settled(platform)
    page = await mine(client, eve)
    assert [n["read"] for n in page["items"]] == [True, False] and page["unread"] == 1
    assert len((await mine(client, eve, "?unread=true"))["items"]) == 1
    status, _ = await client.call("POST", "/v1/notifications/read", eve["token"], {})
    await settled(platform)
    page = await mine(client, eve)
    assert page["unread"] == 0 and all(n["read"] for n in page["items"])
    # Nobody reads or marks another person's notifications: they only ever see their own.
    assert (await mine(client, fay))["items"] == []


async def test_pages_walk_every_notification_once(
    client: IdentityClient, platform: Platform
) -> None:
    star = await person(client, "p_star")
    fans = [await person(client, f"p_fan{n}") for n in range(7)]
    for fan in fans:
        await relate(client, fan, "POST follow", star)
    await settled(platform)
    seen: list[str] = []
    cursor = None
    while True:
        page = await mine(client, star, f"?limit=3{'&cursor=' + cursor if cursor else ''}")
        seen += [n["actors"][0]["handle"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p_fan{n}" for n in reversed(range(7))]
