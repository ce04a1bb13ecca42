# ruff: noqa: RUF001 (look-alike letters are what these tests are about)
"""The server-wide word filter through HTTP: admins manage the rules (nobody else), and each
action does what it says where it applies — a block refuses the write naming the rule
whatever the usual evasions (case, yo for ye, Latin letters that look Cyrillic, separators
inside a word), a censor stores asterisks, a hold publishes for the author alone until a
moderator decides, a flag publishes and files a report by the system — on posts, comments,
chat messages and profiles; a changed rule applies at once and a removed one no more."""

from __future__ import annotations

from typing import Any

import aiohttp

from core.bootstrap import Infra
from core.moderation import SYSTEM
from handlers.moderation.decide import case_id
from projections import projections
from tests.e2e.moderation.test_decisions import decide
from tests.support.auth import Tokens
from tests.support.identity import IdentityClient, new_phone
from tests.support.log import head_position
from tests.support.moderation import carried_out
from tests.support.platform import Platform

RULES = "/v1/admin/word-filters"


async def add_rule(
    client: IdentityClient,
    token: str,
    pattern: str,
    action: str,
    contexts: tuple[str, ...] = ("posts",),
    *,
    whole_word: bool = True,
) -> dict[str, Any]:
    body = {"pattern": pattern, "action": action, "contexts": list(contexts)}
    status, rule, headers = await client.post(RULES, {**body, "whole_word": whole_word}, token)
    assert status == 201, rule
    assert headers["Location"] == f"{RULES}/{rule['id']}"
    return rule


async def publish(
    client: IdentityClient, token: str, after: str, body: str, title: str | None = None
) -> tuple[int, Any]:
    """A post written after the rules at `after` (what an admin was answered)."""
    payload = {"body": body} if title is None else {"body": body, "title": title}
    status, answer, _ = await client.post("/v1/posts", payload, token, **{"Quark-After": after})
    return status, answer


def assert_blocked(answer: Any, rule_id: str, field: str = "body") -> None:
    assert answer["type"] == "quark:word-filter-blocked", answer
    assert answer["status"] == 422 and rule_id in answer["detail"]
    assert answer["errors"][0]["field"] == field and rule_id in answer["errors"][0]["message"]


async def system_report(
    client: IdentityClient, platform: Platform, moderator: str, target_type: str, target_id: str
) -> dict[str, Any]:
    """The case of `target` as moderators see it, once its report is in their read model,
    checked to be one open report by the system."""
    head = await head_position(platform.infra, "MODERATION")
    await platform.wait("moderation", head)
    case = case_id(target_type, target_id)
    status, page = await client.get("/v1/moderation/queue?limit=100", moderator)
    assert status == 200 and case in [c["id"] for c in page["items"]], page
    status, view = await client.get(f"/v1/moderation/cases/{case}", moderator)
    assert status == 200, view
    (filed,) = view["reports"]
    assert (filed["reporter_id"], filed["category"]) == (SYSTEM, "other")
    assert filed["comment"].startswith("word filter: rule ")
    return view


async def test_admins_manage_the_rules_and_nobody_else_may(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    moderator = (await with_role("moderator"))["access_token"]
    user = (await client.sign_up())["access_token"]
    body = {"pattern": "спам", "action": "block", "contexts": ["posts", "comments"]}
    for token in (moderator, user):
        assert (await client.post(RULES, body, token))[0] == 403
        assert (await client.get(RULES, token))[0] == 403

    key = {"Idempotency-Key": "first-rule"}
    status, rule, _ = await client.post(RULES, {**body, "note": "the spam wave"}, admin, **key)
    assert status == 201, rule
    again = await client.post(RULES, {**body, "note": "the spam wave"}, admin, **key)
    assert (again[0], again[1]["id"]) == (201, rule["id"])
    after = {"Quark-After": rule["position"]}
    status, view = await client.get(f"{RULES}/{rule['id']}", admin, **after)
    assert status == 200, view
    assert (view["pattern"], view["action"], view["contexts"], view["whole_word"]) == (
        "спам", "block", ["posts", "comments"], True,
    )  # fmt: skip
    assert view["note"] == "the spam wave"
    assert (await client.get(f"{RULES}/{rule['id']}", moderator))[0] == 403

    for bad in (
        {**body, "pattern": "..."},
        {**body, "pattern": "x" * 201},
        {**body, "action": "delete"},
        {**body, "contexts": []},
        {**body, "contexts": ["posts", "posts"]},
    ):
        status, problem, _ = await client.post(RULES, bad, admin)
        assert status == 422, (bad, problem)

    status, changed = await client.call(
        "PATCH", f"{RULES}/{rule['id']}", admin, {"action": "censor", "note": None}
    )
    assert status == 200, changed
    status, view = await client.get(
        f"{RULES}/{rule['id']}", admin, **{"Quark-After": changed["position"]}
    )
    assert (view["action"], view["note"], view["pattern"]) == ("censor", None, "спам")

    second = await add_rule(client, admin, "казино", "flag", ("messages",))
    status, page = await client.get(
        f"{RULES}?limit=1", admin, **{"Quark-After": second["position"]}
    )
    assert [r["id"] for r in page["items"]] == [rule["id"]] and page["next_cursor"]
    status, rest = await client.get(f"{RULES}?limit=1&cursor={page['next_cursor']}", admin)
    assert [r["id"] for r in rest["items"]] == [second["id"]] and rest["next_cursor"] is None

    status, removed = await client.call("DELETE", f"{RULES}/{rule['id']}", admin)
    assert status == 200, removed
    status, _ = await client.get(
        f"{RULES}/{rule['id']}", admin, **{"Quark-After": removed["position"]}
    )
    assert status == 404
    assert (await client.call("DELETE", f"{RULES}/{rule['id']}", admin))[0] == 404
    assert (await client.call("PATCH", f"{RULES}/{rule['id']}", admin, {"action": "flag"}))[
        0
    ] == 404


async def test_a_block_refuses_a_post_naming_the_rule_through_every_usual_evasion(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    author = await client.sign_up()
    a = author["access_token"]
    spam = await add_rule(client, admin, "спам", "block")
    tree = await add_rule(client, admin, "ёлка", "block")
    after = tree["position"]

    for text in ("Купите СПАМ", "Купите спaм", "Купите с.п.а.м", "Купите с п а м", "Купите Сп-Ам"):
        status, answer = await publish(client, a, after, text)
        assert status == 422, (text, answer)
        assert_blocked(answer, spam["id"])
    status, answer = await publish(client, a, after, "fine body", title="СПАМ дёшево")
    assert status == 422
    assert_blocked(answer, spam["id"], field="title")
    status, answer = await publish(client, a, after, "Продам ЕЛКА")  # ye for yo
    assert status == 422
    assert_blocked(answer, tree["id"])
    # Nothing of it was written.
    status, page = await client.get(f"/v1/posts?author={author['user_id']}", a)
    assert status == 200 and page["items"] == []

    # Whole word: a longer word is not the word; as a substring rule it is.
    status, post = await publish(client, a, after, "Я не спамер")
    assert status == 201, post
    status, changed = await client.call(
        "PATCH", f"{RULES}/{spam['id']}", admin, {"whole_word": False}
    )
    assert status == 200
    status, answer = await publish(client, a, changed["position"], "Я не спамер")
    assert status == 422
    assert_blocked(answer, spam["id"])
    # An edit is screened like a post.
    status, answer = await client.call(
        "PATCH", f"/v1/posts/{post['id']}", a, {"body": "а теперь спам"}
    )
    assert status == 422
    assert_blocked(answer, spam["id"])


async def test_a_censored_comment_is_stored_with_asterisks(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    author, commenter = await client.sign_up(), await client.sign_up()
    a, c = author["access_token"], commenter["access_token"]
    rule = await add_rule(client, admin, "дурак", "censor", ("comments",))
    status, post, _ = await client.post("/v1/posts", {"body": "Что скажете?"}, a)
    assert status == 201
    await platform.wait("posts", post["position"])
    path = f"/v1/posts/{post['id']}/comments"
    status, comment, _ = await client.post(
        path, {"body": "Сам ты Дурaк, и он д.у.р.а.к!"}, c, **{"Quark-After": rule["position"]}
    )
    assert status == 201, comment
    status, thread = await client.get(path, a, **{"Quark-After": comment["position"]})
    (shown,) = thread["items"]
    assert shown["body"] == "Сам ты *****, и он *.*.*.*.*!"
    # An edit too; a post is not screened by a comments rule.
    status, edited = await client.call(
        "PATCH", f"/v1/comments/{comment['id']}", c, {"body": "ДУРАК"}
    )
    assert status == 200, edited
    status, thread = await client.get(path, a, **{"Quark-After": edited["position"]})
    assert thread["items"][0]["body"] == "*****"
    status, other, _ = await client.post("/v1/posts", {"body": "дурак"}, a)
    assert status == 201
    status, view = await client.get(f"/v1/posts/{other['id']}", a)
    assert view["body"] == "дурак"


async def test_a_held_post_is_its_authors_alone_until_a_moderator_releases_it(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    moderator = (await with_role("moderator"))["access_token"]
    author, reader = await client.sign_up(), await client.sign_up()
    a, r = author["access_token"], reader["access_token"]
    rule = await add_rule(client, admin, "казино", "hold", whole_word=False)
    status, post = await publish(client, a, rule["position"], "Лучшие КАЗИНОвые бонусы")
    assert status == 201, post
    status, view = await client.get(f"/v1/posts/{post['id']}", a)
    assert status == 200 and view["moderation"] == "held"
    after = {"Quark-After": post["position"]}
    assert (await client.get(f"/v1/posts/{post['id']}", r, **after))[0] == 404
    status, page = await client.get("/v1/timelines/public", r, **after)
    assert post["id"] not in [p["id"] for p in page["items"]]

    view = await system_report(client, platform, moderator, "post", post["id"])
    assert rule["id"] in view["reports"][0]["comment"]
    assert view["reports"][0]["reported"]["body"] == "Лучшие КАЗИНОвые бонусы"

    status, decided = await decide(client, moderator, view["case"]["id"], ["restore"], "fine")
    assert status == 201, decided
    head = await carried_out(platform, decided["position"])
    status, shown = await client.get(f"/v1/posts/{post['id']}", r, **{"Quark-After": head})
    assert status == 200 and shown["moderation"] == "visible"

    # A held comment likewise: its author sees it, the post's author does not.
    status, changed = await client.call(
        "PATCH", f"{RULES}/{rule['id']}", admin, {"contexts": ["posts", "comments"]}
    )
    path = f"/v1/posts/{post['id']}/comments"
    status, comment, _ = await client.post(
        path, {"body": "казино!"}, r, **{"Quark-After": changed["position"]}
    )
    assert status == 201, comment
    status, mine = await client.get(path, r, **{"Quark-After": comment["position"]})
    assert [(c["id"], c["moderation"]) for c in mine["items"]] == [(comment["id"], "held")]
    status, theirs = await client.get(path, a, **{"Quark-After": comment["position"]})
    assert theirs["items"] == []
    await system_report(client, platform, moderator, "comment", comment["id"])


async def test_a_flagged_chat_message_is_delivered_and_reported_and_a_hold_flags_it(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    moderator = (await with_role("moderator"))["access_token"]
    sender, member = await client.sign_up(), await client.sign_up()
    s, m = sender["access_token"], member["access_token"]
    await add_rule(client, admin, "казино", "flag", ("messages",))
    held = await add_rule(client, admin, "ставки", "hold", ("messages",))
    status, group, _ = await client.post(
        "/v1/conversations", {"kind": "group", "name": "g", "members": [member["user_id"]]}, s
    )
    assert status == 201, group
    messages = f"/v1/conversations/{group['id']}/messages"
    sent = []
    for text in ("Го в КАЗИНО", "Делайте ставки"):
        status, message, _ = await client.post(
            messages, {"body": text}, s, **{"Quark-After": held["position"]}
        )
        assert status == 201, message
        sent.append(message)
    status, page = await client.get(messages, m, **{"Quark-After": sent[-1]["position"]})
    assert [x["body"] for x in page["items"]] == ["Делайте ставки", "Го в КАЗИНО"]
    for message in sent:
        await system_report(client, platform, moderator, "message", message["id"])


async def test_a_profile_is_refused_held_or_blocked_and_censored_otherwise(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    person = await client.sign_up()
    p = person["access_token"]
    block = await add_rule(client, admin, "spam", "block", ("profiles",), whole_word=False)
    hold = await add_rule(client, admin, "казино", "hold", ("profiles",))
    censor = await add_rule(client, admin, "дурак", "censor", ("profiles",))
    after = {"Quark-After": censor["position"]}

    status, answer = await call_after(client, "PATCH", "/v1/me", p, {"bio": "I sell SPAM"}, after)
    assert status == 422
    assert_blocked(answer, block["id"], field="bio")
    status, answer = await call_after(
        client, "PATCH", "/v1/me", p, {"display_name": "Казино"}, after
    )
    assert status == 422
    assert_blocked(answer, hold["id"], field="display_name")
    status, answer = await call_after(client, "PATCH", "/v1/me", p, {"handle": "spam_king"}, after)
    assert status == 422
    assert_blocked(answer, block["id"], field="handle")
    status, changed = await call_after(client, "PATCH", "/v1/me", p, {"bio": "Я не дурак"}, after)
    assert status == 200, changed
    status, me = await client.get("/v1/me", p, **{"Quark-After": changed["position"]})
    assert me["bio"] == "Я не *****"

    # A display name at sign-up is a profile's text too.
    registration = await client.verified_phone(new_phone())
    status, answer, _ = await client.register(registration, name="Spammer")
    assert status == 422
    assert_blocked(answer, block["id"], field="display_name")


async def call_after(
    client: IdentityClient, method: str, path: str, token: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    async with client.http.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}", **headers}
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_a_changed_action_applies_at_once_and_a_removed_rule_no_more(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    author = await client.sign_up()
    a = author["access_token"]
    rule = await add_rule(client, admin, "реклама", "block")
    status, answer = await publish(client, a, rule["position"], "Тут реклама")
    assert status == 422
    assert_blocked(answer, rule["id"])
    status, changed = await client.call(
        "PATCH", f"{RULES}/{rule['id']}", admin, {"action": "censor"}
    )
    assert status == 200
    status, post = await publish(client, a, changed["position"], "Тут реклама")
    assert status == 201, post
    status, view = await client.get(f"/v1/posts/{post['id']}", a)
    assert view["body"] == "Тут *******"
    status, removed = await client.call("DELETE", f"{RULES}/{rule['id']}", admin)
    assert status == 200
    status, post = await publish(client, a, removed["position"], "Тут реклама")
    assert status == 201, post
    status, view = await client.get(f"/v1/posts/{post['id']}", a)
    assert view["body"] == "Тут реклама"


async def never_made(infra: Infra, projection: str) -> None:
    """Remove a read model the test database was copied with (tests/conftest.py's template
    holds every one), as on a station where its projection never ran."""
    async with infra.pool.acquire() as conn, conn.transaction():
        builds = await conn.fetch(
            "SELECT build FROM quark.builds WHERE projection = $1", projection
        )
        for row in builds:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{projection}__b{row["build"]}" CASCADE')
        await conn.execute(f'DROP SCHEMA IF EXISTS "{projection}" CASCADE')
        for table in ("checkpoints", "builds"):
            await conn.execute(f"DELETE FROM quark.{table} WHERE projection = $1", projection)
        await conn.execute("DELETE FROM quark.projections WHERE name = $1", projection)


async def test_writes_wait_for_the_rules_read_model_503_until_it_exists(
    infra: Infra, tokens: Tokens
) -> None:
    others = [name for name in projections() if name != "word_filters"]
    await never_made(infra, "word_filters")
    async with (
        Platform(infra, projection_names=others) as platform,
        aiohttp.ClientSession(base_url=platform.base_url) as http,
    ):
        headers = tokens.headers("0190e4c2-0000-7000-8000-00000000b0b0")
        async with http.post("/v1/posts", json={"body": "hello"}, headers=headers) as resp:
            problem = await resp.json(content_type=None)
            assert resp.status == 503, problem
            assert problem["type"] == "quark:read-model-unavailable"
            assert resp.headers["Retry-After"] == "1"
