"""Search through HTTP: Russian and English stemming in one query, the word being typed as a
prefix, ranking, escaped highlighted snippets, and everything a reader may not see staying
unfound (audience, moderation, deletion, blocks either way)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import post_search
from tests.support.identity import IdentityClient
from tests.support.moderation import moderate_post
from tests.support.platform import Platform


def _word() -> str:
    """A made-up word no other test's post contains (tests share nothing but the habit)."""
    return "zq" + "".join(secrets.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))


async def _person(client: IdentityClient, platform: Platform) -> dict[str, Any]:
    """A signed-up person with a handle (follows and blocks name people by handle)."""
    person = await client.sign_up()
    handle = f"s_{person['user_id'][-12:].replace('-', '')}"
    status, changed = await client.call(
        "PATCH", "/v1/me", person["access_token"], {"handle": handle}
    )
    assert status == 200, changed
    await platform.wait("profiles", changed["position"])
    return {**person, "handle": handle}


async def _publish(client: IdentityClient, token: str, body: str, **fields: Any) -> dict[str, Any]:
    status, created, _ = await client.post("/v1/posts", {"body": body, **fields}, token)
    assert status == 201, created
    return created


async def _search(
    client: IdentityClient,
    q: str,
    token: str | None = None,
    after: str | None = None,
    **params: str,
) -> tuple[int, Any]:
    headers = {"Quark-After": after} if after else {}
    return await client.get(f"/v1/search?{urlencode({'q': q, **params})}", token, **headers)


async def _found(
    client: IdentityClient, q: str, token: str | None = None, after: str | None = None
) -> list[str]:
    status, page = await _search(client, q, token, after)
    assert status == 200, page
    return [item["post"]["id"] for item in page["items"]]


async def test_russian_words_are_found_by_any_of_their_forms(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    dog = await _publish(client, token, f"Моя собака любит гулять {tag}")
    cat = await _publish(client, token, f"Кошки спят весь день {tag}")
    after = cat["position"]
    assert await _found(client, f"собаки {tag}", after=after) == [dog["id"]]
    assert await _found(client, f"кошка {tag}", after=after) == [cat["id"]]
    assert await _found(client, f"гуляли {tag}", after=after) == [dog["id"]]


async def test_english_words_are_found_by_any_of_their_forms(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    run = await _publish(client, token, f"I run every morning {tag}")
    swim = await _publish(client, token, f"Swimming pools were closed {tag}")
    after = swim["position"]
    assert await _found(client, f"{tag} running", after=after) == [run["id"]]
    assert await _found(client, f"{tag} swims", after=after) == [swim["id"]]
    assert await _found(client, f"{tag} pool", after=after) == [swim["id"]]


async def test_one_query_finds_each_language_by_its_own_words(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    russian = await _publish(client, token, f"Собаки бегают по парку {tag}")
    english = await _publish(client, token, f"The dogs were running in the park {tag}")
    after = english["position"]
    # One query in both languages: each post is found by the words of its own language.
    found = await _found(client, f"{tag} собака run", after=after)
    assert found == [], found  # every word must match, and no post holds both languages
    assert set(await _found(client, f"{tag} собака", after=after)) == {russian["id"]}
    assert set(await _found(client, f"{tag} dog", after=after)) == {english["id"]}
    both = await _publish(client, token, f"Собака and her dog {tag}")
    assert await _found(client, f"{tag} собаки dogs", after=both["position"]) == [both["id"]]


async def test_the_last_word_is_a_prefix_while_typing(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    dog = await _publish(client, token, f"{tag} Собака во дворе")
    run = await _publish(client, token, f"{tag} Running late again")
    after = run["position"]
    assert await _found(client, f"{tag} собак", after=after) == [dog["id"]]
    assert await _found(client, f"{tag} соба", after=after) == [dog["id"]]  # noqa: RUF001
    # 'running' is stemmed to 'run': 'runn' is found through the words as written.
    assert await _found(client, f"{tag} runn", after=after) == [run["id"]]
    assert await _found(client, f"{tag} runni", after=after) == [run["id"]]
    assert await _found(client, f"{tag} runz", after=after) == []
    # Only the last word is a prefix: 'lat' alone is no word of the post.
    assert await _found(client, f"{tag} lat running", after=after) == []
    # The prefix of the word being typed is highlighted too.
    status, page = await _search(client, f"{tag} runn", after=after)
    assert status == 200, page
    assert "<mark>Running</mark>" in page["items"][0]["snippet"], page


async def test_title_hits_come_first_then_phrases_then_rank_then_the_newest(
    client: IdentityClient,
) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    in_body = await _publish(client, token, f"a long story about {tag} green gardens")
    # A title hit: every word of the query is in the title (not as a phrase here).
    in_title = await _publish(
        client, token, "nothing else here", title=f"Green gardens of Moscow, {tag}"
    )
    scattered = await _publish(client, token, f"{tag} the gardens were not green at all")
    after = scattered["position"]
    # The title hit first, then the phrase as typed, then the same words scattered.
    assert await _found(client, f"{tag} green gardens", after=after) == [
        in_title["id"],
        in_body["id"],
        scattered["id"],
    ]
    # Equal ranks: the newest first.
    first = await _publish(client, token, f"{tag} yellow boat")
    second = await _publish(client, token, f"{tag} yellow boat")
    assert await _found(client, f"{tag} yellow boat", after=second["position"]) == [
        second["id"],
        first["id"],
    ]


async def test_pages_follow_the_ranking_without_repeats(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    ids = []
    for i in range(5):
        # Equal ranks: pages cross a tie, which the cursor's position breaks.
        created = await _publish(client, token, f"{tag} apple {i}")
        ids.append(created["id"])
    after = created["position"]
    seen: list[str] = []
    status, page = await _search(client, tag, after=after, limit="2")
    assert status == 200, page
    while True:
        seen += [item["post"]["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        status, page = await _search(client, tag, limit="2", cursor=page["next_cursor"])
        assert status == 200, page
    assert seen == list(reversed(ids))
    # A cursor belongs to its query.
    status, problem = await _search(client, f"{tag} apple", cursor=page["next_cursor"] or "x")
    assert status == 400 and problem["type"] == "quark:bad-cursor"


async def test_snippets_are_escaped_and_highlighted(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    tag = _word()
    body = f"Look: <script>alert(1)</script> & <b>dogs</b> are {tag} here"
    created = await _publish(client, token, body, title=f"<i>Dogs</i> & {tag}")
    status, page = await _search(client, f"{tag} dog", after=created["position"])
    assert status == 200, page
    [hit] = page["items"]
    assert hit["type"] == "post"
    snippet, title = hit["snippet"], hit["title_snippet"]
    assert "<script" not in snippet and "<b>" not in snippet, snippet
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in snippet, snippet
    assert "&amp;" in snippet and f"<mark>{tag}</mark>" in snippet, snippet
    assert "&lt;b&gt;<mark>dogs</mark>&lt;/b&gt;" in snippet, snippet
    assert title == f"&lt;i&gt;<mark>Dogs</mark>&lt;/i&gt; &amp; <mark>{tag}</mark>", title
    # Nothing but <mark> is markup in a snippet.
    stripped = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


async def test_a_followers_only_post_is_found_by_followers_only(
    client: IdentityClient, platform: Platform
) -> None:
    author = await _person(client, platform)
    follower = await _person(client, platform)
    stranger = await _person(client, platform)
    status, followed = await client.call(
        "POST", f"/v1/users/{author['handle']}/follow", follower["access_token"]
    )
    assert status == 200, followed
    await platform.wait("follows", followed["position"])
    tag = _word()
    created = await _publish(
        client, author["access_token"], f"{tag} secret garden", visibility="followers"
    )
    after = created["position"]
    for who, expected in ((author, True), (follower, True), (stranger, False), (None, False)):
        token = who["access_token"] if who else None
        assert (await _found(client, tag, token, after) == [created["id"]]) == expected, who


async def test_deleted_posts_are_gone_and_hidden_ones_come_back(
    client: IdentityClient, platform: Platform
) -> None:
    author = await client.sign_up()
    reader = (await client.sign_up())["access_token"]
    tag = _word()
    hidden = await _publish(client, author["access_token"], f"{tag} moderated words")
    doomed = await _publish(client, author["access_token"], f"{tag} deleted words")
    assert set(await _found(client, tag, reader, doomed["position"])) == {
        hidden["id"],
        doomed["id"],
    }
    status, deleted = await client.call(
        "DELETE", f"/v1/posts/{doomed['id']}", author["access_token"]
    )
    assert status == 200
    assert await _found(client, tag, reader, deleted["position"]) == [hidden["id"]]
    position = await moderate_post(platform.infra, hidden["id"], "hidden")
    assert await _found(client, tag, reader, position) == []
    assert await _found(client, tag, None, position) == []
    # Its author still finds it, marked as hidden.
    status, page = await _search(client, tag, author["access_token"], position)
    assert [i["post"]["moderation"] for i in page["items"]] == ["hidden"]
    position = await moderate_post(platform.infra, hidden["id"], "visible")
    assert await _found(client, tag, reader, position) == [hidden["id"]]


async def test_blocks_hide_posts_and_people_both_ways(
    client: IdentityClient, platform: Platform
) -> None:
    alice = await _person(client, platform)
    bob = await _person(client, platform)
    carol = await _person(client, platform)
    tag = _word()
    from_alice = await _publish(client, alice["access_token"], f"{tag} from alice")
    from_bob = await _publish(client, bob["access_token"], f"{tag} from bob")
    status, blocked = await client.call(
        "POST", f"/v1/users/{bob['handle']}/block", alice["access_token"]
    )
    assert status == 200, blocked
    await platform.wait("follows", blocked["position"])
    after = from_bob["position"]
    # Alice blocked Bob: neither finds the other's posts; Carol finds both.
    assert await _found(client, tag, alice["access_token"], after) == [from_alice["id"]]
    assert await _found(client, tag, bob["access_token"], after) == [from_bob["id"]]
    assert set(await _found(client, tag, carol["access_token"], after)) == {
        from_alice["id"],
        from_bob["id"],
    }
    for me, them in ((alice, bob), (bob, alice)):
        status, page = await _search(client, them["handle"], me["access_token"], type="users")
        assert status == 200 and page["items"] == [], page
    status, page = await _search(client, bob["handle"], carol["access_token"], type="users")
    assert [(i["type"], i["user"]["id"]) for i in page["items"]] == [("user", bob["user_id"])]


async def test_tags_are_found_by_prefix_most_used_first(client: IdentityClient) -> None:
    token = (await client.sign_up())["access_token"]
    stem = _word()
    await _publish(client, token, f"#{stem}rare once")
    for i in range(3):
        created = await _publish(client, token, f"#{stem}Popular post {i}")
    status, page = await _search(client, f"#{stem}", after=created["position"], type="tags")
    assert status == 200, page
    assert page["items"] == [
        {"type": "tag", "tag": f"{stem}popular", "posts": 3},
        {"type": "tag", "tag": f"{stem}rare", "posts": 1},
    ]
    assert page["next_cursor"] is None


async def test_bad_queries_are_refused_and_syntax_is_just_text(client: IdentityClient) -> None:
    for params in ({"q": ""}, {"q": "   "}, {"q": "x" * 201}, {"q": "dog", "type": "videos"}):
        status, problem = await client.get(f"/v1/search?{urlencode(params)}")
        assert status == 422 and problem["type"] == "quark:validation", (params, problem)
    status, problem = await client.get("/v1/search?q=dog&sort=new")
    assert status == 422, problem
    status, problem = await client.get("/v1/search")
    assert status == 422, problem
    for q in ("a & | !(", "'", "\\", ":*", "!!!", "<->", "собака:* & !кот", "a' | 'b"):
        status, page = await _search(client, q)
        assert status == 200, (q, page)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60))
async def test_no_query_text_is_an_error(client: IdentityClient, q: str) -> None:
    status, page = await _search(client, q)
    # Control characters or only spaces are refused; everything else is searched.
    assert status in (200, 422), (q, page)
    if status == 422:
        assert not q.strip() or any(ord(c) < 32 or ord(c) == 127 for c in q), q


async def test_older_matches_are_found_past_the_newest_posts(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the newest `RECENT_SCAN` posts, matches come from the GIN index: the same
    answers, in the same order, paged the same way."""
    monkeypatch.setattr(post_search, "RECENT_SCAN", 2)
    token = (await client.sign_up())["access_token"]
    tag = _word()
    titled = await _publish(client, token, "first", title=f"{tag} in a title")
    ids = [titled["id"]]
    for i in range(4):
        created = await _publish(client, token, f"{tag} body {i}")
        ids.append(created["id"])
    await _publish(client, token, "unrelated newest post")
    seen: list[str] = []
    status, page = await _search(client, tag, after=created["position"], limit="2")
    while True:
        assert status == 200, page
        seen += [item["post"]["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        status, page = await _search(client, tag, limit="2", cursor=page["next_cursor"])
    assert seen == [titled["id"], *reversed(ids[1:])]
