"""Home and public timelines through HTTP: who sees what, newest first, and how follows,
blocks, audiences, deletions and moderation change it."""

from __future__ import annotations

from tests.support.identity import IdentityClient
from tests.support.moderation import moderate_post
from tests.support.platform import Platform
from tests.support.timelines import (
    HOME,
    PUBLIC,
    page,
    person,
    publish,
    relate,
    settled,
    walk,
)


async def test_home_has_my_posts_and_my_followees_newest_first_and_nobody_elses(
    client: IdentityClient, platform: Platform
) -> None:
    me, star, stranger = [await person(client, h) for h in ("me_h", "star_h", "stranger_h")]
    await relate(client, me, "POST follow", star)
    expected = []
    for i in range(3):
        expected.append((await publish(client, star, f"star {i}"))["id"])
        expected.append((await publish(client, me, f"mine {i}"))["id"])
        await publish(client, stranger, f"stranger {i}")
    last = await settled(platform)
    status, body, source = await page(client, HOME, me["token"], after=last)
    assert status == 200, body
    assert [p["id"] for p in body["items"]] == list(reversed(expected))
    assert body["next_cursor"] is None
    assert source == "redis"
    # The star's own home has only the star's posts; the public timeline has everyone's.
    assert len(await walk(client, HOME, star["token"], after=last)) == 3
    assert len(await walk(client, PUBLIC, None, after=last)) == 9


async def test_following_brings_recent_posts_in_and_unfollowing_takes_them_out(
    client: IdentityClient, platform: Platform
) -> None:
    me, author = await person(client, "me_f"), await person(client, "author_f")
    older = [(await publish(client, author, f"before {i}"))["id"] for i in range(4)]
    await settled(platform)
    assert await walk(client, HOME, me["token"]) == []
    await relate(client, me, "POST follow", author)
    # My own write (the follow) is waited for without any header.
    assert await walk(client, HOME, me["token"]) == list(reversed(older))
    newer = await publish(client, author, "after")
    assert await walk(client, HOME, me["token"], after=newer["position"]) == [
        newer["id"],
        *reversed(older),
    ]
    await relate(client, me, "DELETE follow", author)
    assert await walk(client, HOME, me["token"]) == []


async def test_a_block_either_way_takes_the_authors_posts_out_of_home_and_public(
    client: IdentityClient, platform: Platform
) -> None:
    alice, bob, carol = [await person(client, h) for h in ("alice_k", "bob_k", "carol_k")]
    await relate(client, alice, "POST follow", bob)
    await relate(client, bob, "POST follow", alice)
    await relate(client, carol, "POST follow", bob)
    from_bob = (await publish(client, bob, "bob speaks"))["id"]
    from_alice = (await publish(client, alice, "alice speaks"))["id"]
    last = await settled(platform)
    assert await walk(client, HOME, alice["token"], after=last) == [from_alice, from_bob]
    assert await walk(client, HOME, bob["token"], after=last) == [from_alice, from_bob]
    # Alice blocks Bob: neither sees the other's posts anywhere any more.
    await relate(client, alice, "POST block", bob)
    last = await settled(platform)
    assert await walk(client, HOME, alice["token"], after=last) == [from_alice]
    assert await walk(client, HOME, bob["token"], after=last) == [from_bob]
    assert from_bob not in await walk(client, PUBLIC, alice["token"], after=last)
    assert from_alice not in await walk(client, PUBLIC, bob["token"], after=last)
    # Carol blocked by Bob (the other direction): Bob's posts leave Carol's home.
    assert await walk(client, HOME, carol["token"], after=last) == [from_bob]
    await relate(client, bob, "POST block", carol)
    last = await settled(platform)
    assert await walk(client, HOME, carol["token"], after=last) == []
    assert from_bob not in await walk(client, PUBLIC, carol["token"], after=last)
    # Unblocking does not bring the follow back; the public timeline shows Bob again.
    await relate(client, bob, "DELETE block", carol)
    last = await settled(platform)
    assert await walk(client, HOME, carol["token"], after=last) == []
    assert from_bob in await walk(client, PUBLIC, carol["token"], after=last)


async def test_a_followers_only_post_reaches_followers_and_nobody_else(
    client: IdentityClient, platform: Platform
) -> None:
    author, fan, other = [await person(client, h) for h in ("author_v", "fan_v", "other_v")]
    await relate(client, fan, "POST follow", author)
    public = (await publish(client, author, "for everyone"))["id"]
    private = (await publish(client, author, "for my followers", visibility="followers"))["id"]
    last = await settled(platform)
    assert await walk(client, HOME, fan["token"], after=last) == [private, public]
    assert await walk(client, HOME, author["token"], after=last) == [private, public]
    assert await walk(client, HOME, other["token"], after=last) == []
    for token in (None, other["token"], fan["token"], author["token"]):
        assert await walk(client, PUBLIC, token, after=last) == [public]
    # Made public by an edit, it reaches the public timeline; back to followers, it leaves.
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{private}", author["token"], {"visibility": "public"}
    )
    assert status == 200, edited
    assert await walk(client, PUBLIC, None, after=edited["position"]) == [private, public]
    # A follower who stops following loses the followers-only post even if Redis kept it.
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{private}", author["token"], {"visibility": "followers"}
    )
    assert status == 200, edited
    assert await walk(client, PUBLIC, None, after=edited["position"]) == [public]
    await relate(client, fan, "DELETE follow", author)
    assert await walk(client, HOME, fan["token"], after=edited["position"]) == []


async def test_a_deleted_post_leaves_every_timeline(
    client: IdentityClient, platform: Platform
) -> None:
    author, fan = await person(client, "author_d"), await person(client, "fan_d")
    await relate(client, fan, "POST follow", author)
    kept = (await publish(client, author, "kept"))["id"]
    gone = (await publish(client, author, "gone"))["id"]
    last = await settled(platform)
    assert await walk(client, HOME, fan["token"], after=last) == [gone, kept]
    status, deleted = await client.call("DELETE", f"/v1/posts/{gone}", author["token"])
    assert status == 200, deleted
    for token in (fan["token"], author["token"]):
        assert await walk(client, HOME, token, after=deleted["position"]) == [kept]
    assert await walk(client, PUBLIC, None, after=deleted["position"]) == [kept]


async def test_a_hidden_post_leaves_the_timelines_and_returns_when_visible_again(
    client: IdentityClient, platform: Platform
) -> None:
    author, fan = await person(client, "author_m"), await person(client, "fan_m")
    await relate(client, fan, "POST follow", author)
    first = (await publish(client, author, "first"))["id"]
    second = (await publish(client, author, "second"))["id"]
    await settled(platform)
    hidden = await moderate_post(platform.infra, second, "hidden")
    assert await walk(client, HOME, fan["token"], after=hidden) == [first]
    assert await walk(client, PUBLIC, fan["token"], after=hidden) == [first]
    assert await walk(client, PUBLIC, None, after=hidden) == [first]
    # Its author still sees it, marked.
    status, body, _ = await page(client, HOME, author["token"], after=hidden)
    assert status == 200, body
    assert [(p["id"], p["moderation"]) for p in body["items"]] == [
        (second, "hidden"),
        (first, "visible"),
    ]
    visible = await moderate_post(platform.infra, second, "visible")
    assert await walk(client, HOME, fan["token"], after=visible) == [second, first]
    assert await walk(client, PUBLIC, None, after=visible) == [second, first]


async def test_timelines_refuse_bad_requests(client: IdentityClient, platform: Platform) -> None:
    me = await person(client, "me_bad")
    for i in range(3):
        await publish(client, me, f"post {i}")
    status, _, _ = await page(client, HOME, None)
    assert status == 401
    status, body, _ = await page(client, HOME, me["token"], query="?limit=1")
    assert status == 200 and body["next_cursor"]
    cursor = body["next_cursor"]
    # A home cursor is not a public one, nor someone else's, and cannot be changed.
    status, _, _ = await page(client, PUBLIC, None, query=f"?cursor={cursor}")
    assert status == 400
    other = await person(client, "other_bad")
    status, _, _ = await page(client, HOME, other["token"], query=f"?cursor={cursor}")
    assert status == 400
    status, _, _ = await page(client, HOME, me["token"], query=f"?cursor={cursor[:-2]}xx")
    assert status == 400
    for query in ("?limit=0", "?limit=101", "?colour=blue"):
        status, _, _ = await page(client, HOME, me["token"], query=query)
        assert status == 422, query
        status, _, _ = await page(client, PUBLIC, None, query=query)
        assert status == 422, query
