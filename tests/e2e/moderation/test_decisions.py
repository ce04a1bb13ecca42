"""Decisions through HTTP: report → queue → decision → the author's notification, the
content hidden everywhere and back after a restore; several actions in one decision, the
same decision on 100 cases at once, refused combinations, and the log of every decision
for admins only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient
from tests.support.moderation import carried_out
from tests.support.platform import Platform


async def decide(
    client: IdentityClient, token: str, case_id: str, actions: list[str], reason: str = "rule 2"
) -> tuple[int, Any]:
    status, answer, _ = await client.post(
        f"/v1/moderation/cases/{case_id}/decisions",
        {"actions": actions, "reason": reason, "rule": "2. No adverts"},
        token,
    )
    return status, answer


async def test_a_decision_hides_the_post_tells_the_author_and_a_restore_brings_it_back(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    a, r, m = author["access_token"], reporter["access_token"], moderator["access_token"]
    status, post, _ = await client.post("/v1/posts", {"body": "Cheap #watches here"}, a)
    assert status == 201
    await platform.wait("posts", post["position"])
    status, filed = await report(client, r, "post", post["id"], "spam")
    assert status == 201

    status, decided = await decide(client, m, filed["case_id"], ["hide", "warn"], "adverts")
    assert status == 201, decided
    head = await carried_out(platform, decided["position"])
    status, _ = await client.get(f"/v1/posts/{post['id']}", r, **{"Quark-After": head})
    assert status == 404
    status, page = await client.get("/v1/timelines/public", r, **{"Quark-After": head})
    assert post["id"] not in [p["id"] for p in page["items"]]
    status, page = await client.get("/v1/search?q=watches&type=posts", r, **{"Quark-After": head})
    assert status == 200 and post["id"] not in [p["post"]["id"] for p in page["items"]]
    status, view = await client.get(f"/v1/posts/{post['id']}", a)
    assert status == 200 and view["moderation"] == "hidden"
    status, notes = await client.get("/v1/notifications", a)
    (note,) = [n for n in notes["items"] if n["kind"] == "moderation"]
    assert (note["target_id"], note["state"], note["reason"]) == (post["id"], "hidden", "adverts")

    # The case left the open queue with its decision, which the case view shows.
    after = {"Quark-After": decided["position"]}
    status, page = await client.get("/v1/moderation/queue?limit=100", m, **after)
    assert filed["case_id"] not in [c["id"] for c in page["items"]]
    status, page = await client.get("/v1/moderation/queue?state=resolved&limit=100", m, **after)
    assert filed["case_id"] in [c["id"] for c in page["items"]]
    status, case = await client.get(f"/v1/moderation/cases/{filed['case_id']}", m, **after)
    assert case["case"]["state"] == "resolved" and case["case"]["reporters"] == 0
    (d,) = case["decisions"]
    assert (d["actions"], d["reason"], d["rule"], d["moderator_id"], d["reporters"]) == (
        ["hide", "warn"], "adverts", "2. No adverts", moderator["user_id"], [reporter["user_id"]]
    )  # fmt: skip

    status, restored = await decide(client, m, filed["case_id"], ["restore"], "on appeal")
    assert status == 201, restored
    head = await carried_out(platform, restored["position"])
    status, view = await client.get(f"/v1/posts/{post['id']}", r, **{"Quark-After": head})
    assert status == 200 and view["moderation"] == "visible"
    status, page = await client.get("/v1/timelines/public", r, **{"Quark-After": head})
    assert post["id"] in [p["id"] for p in page["items"]]

    # The author sees both decisions, newest first, with the appeal window, and never who
    # decided or who reported; the reporter has none of their own.
    after = {"Quark-After": restored["position"]}
    status, page = await client.get("/v1/me/moderation?limit=1", a, **after)
    assert status == 200, page
    (newest,) = page["items"]
    assert (newest["actions"], newest["reason"], newest["target_id"]) == (
        ["restore"], "on appeal", post["id"]
    )  # fmt: skip
    assert "moderator_id" not in newest and "reporters" not in newest
    at, until = (datetime.fromisoformat(newest[k]) for k in ("at", "appeal_until"))
    assert until - at == timedelta(days=20)
    status, rest = await client.get(f"/v1/me/moderation?cursor={page['next_cursor']}", a, **after)
    assert [d["actions"] for d in rest["items"]] == [["hide", "warn"]]
    assert rest["next_cursor"] is None
    status, theirs = await client.get("/v1/me/moderation", r, **after)
    assert status == 200 and theirs["items"] == []

    # A new report opens the case again.
    other = await client.sign_up()
    status, again = await report(client, other["access_token"], "post", post["id"], "nsfw")
    assert status == 201 and again["case_id"] == filed["case_id"]
    status, case = await client.get(
        f"/v1/moderation/cases/{filed['case_id']}", m, **{"Quark-After": again["position"]}
    )
    assert case["case"]["state"] == "open" and case["case"]["categories"] == ["nsfw"]


async def test_a_removed_comment_is_gone_and_refused_combinations_change_nothing(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    a, r, m = author["access_token"], reporter["access_token"], moderator["access_token"]
    status, post, _ = await client.post("/v1/posts", {"body": "a post"}, r)
    assert status == 201
    await platform.wait("posts", post["position"])
    status, comment, _ = await client.post(f"/v1/posts/{post['id']}/comments", {"body": "ugh"}, a)
    assert status == 201
    await platform.wait("comments", comment["position"])
    _, filed = await report(client, r, "comment", comment["id"], "harassment")
    _, person = await report(client, r, "user", author["user_id"], "harassment")

    for actions in (["dismiss", "hide"], ["hide", "restore"], ["hide", "hide"]):
        status, problem = await decide(client, m, filed["case_id"], actions)
        assert (status, problem["type"]) == (422, "quark:bad-decision"), actions
    status, problem = await decide(client, m, person["case_id"], ["hide"])
    assert (status, problem["type"]) == (422, "quark:bad-decision")
    status, problem = await decide(client, r, filed["case_id"], ["remove"])
    assert status == 403
    status, problem = await decide(client, m, "00000000-0000-7000-8000-000000000000", ["warn"])
    assert status == 404

    status, decided = await decide(client, m, filed["case_id"], ["remove"], "threats")
    assert status == 201
    head = await carried_out(platform, decided["position"])
    status, thread = await client.get(
        f"/v1/posts/{post['id']}/comments", r, **{"Quark-After": head}
    )
    assert status == 200 and comment["id"] not in [c["id"] for c in thread["items"]]
    # Its author still sees it in the thread, marked.
    status, thread = await client.get(f"/v1/posts/{post['id']}/comments", a)
    (mine,) = [c for c in thread["items"] if c["id"] == comment["id"]]
    assert mine["moderation"] == "removed"
    status, _ = await decide(client, m, person["case_id"], ["dismiss"], "not harassment")
    assert status == 201


async def test_one_decision_on_a_hundred_cases_and_the_log_for_admins_only(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator, admin = await with_role("moderator"), await with_role("admin")
    a, r, m = author["access_token"], reporter["access_token"], moderator["access_token"]
    posts = []
    for n in range(100):
        status, post, _ = await client.post("/v1/posts", {"body": f"spam {n}"}, a)
        assert status == 201
        posts.append(post)
    await platform.wait("posts", posts[-1]["position"])
    cases = []
    for post in posts:
        status, filed = await report(client, r, "post", post["id"], "spam")
        assert status == 201, filed
        cases.append(filed["case_id"])
    unknown = "00000000-0000-7000-8000-000000000000"
    status, bulk, headers = await client.post(
        "/v1/moderation/decisions",
        {"case_ids": [*cases, unknown], "actions": ["hide"], "reason": "a spam run"},
        m,
    )
    assert status == 200, bulk
    assert (bulk["decided"], bulk["refused"]) == (100, 1)
    outcome = {o["case_id"]: o for o in bulk["results"]}
    assert outcome[unknown]["status"] == 404 and outcome[unknown]["type"] == "quark:case-not-found"
    assert all(outcome[c]["status"] == 201 and outcome[c]["position"] for c in cases)
    head = await carried_out(platform, headers["Quark-Position"])
    status, page = await client.get(
        f"/v1/posts?author={author['user_id']}&limit=100", r, **{"Quark-After": head}
    )
    assert status == 200 and page["items"] == []

    after = {"Quark-After": headers["Quark-Position"]}
    status, _ = await client.get("/v1/moderation/log", m, **after)
    assert status == 403
    seen: list[dict[str, Any]] = []
    path = f"/v1/moderation/log?moderator={moderator['user_id']}&limit=40"
    while path:
        status, page = await client.get(path, admin["access_token"], **after)
        assert status == 200, page
        seen += page["items"]
        assert moderator["user_id"] in page["people"] or not page["items"]
        cursor = page["next_cursor"]
        path = (
            f"/v1/moderation/log?moderator={moderator['user_id']}&limit=40&cursor={cursor}"
            if cursor
            else ""
        )
    assert sorted(d["case_id"] for d in seen) == sorted(cases)
    assert [d["at"] for d in seen] == sorted((d["at"] for d in seen), reverse=True)
    status, page = await client.get(
        f"/v1/moderation/log?target_id={posts[0]['id']}", admin["access_token"], **after
    )
    assert [d["target_id"] for d in page["items"]] == [posts[0]["id"]]
    status, _ = await client.get("/v1/moderation/log?since=yesterday", admin["access_token"])
    assert status == 422


async def test_a_retried_bulk_decision_with_its_idempotency_key_decides_each_case_once(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator, admin = await with_role("moderator"), await with_role("admin")
    cases = []
    for n in range(3):
        status, post, _ = await client.post(
            "/v1/posts", {"body": f"ad {n}"}, author["access_token"]
        )
        await platform.wait("posts", post["position"])
        _, filed = await report(client, reporter["access_token"], "post", post["id"])
        cases.append(filed["case_id"])
    body = {"case_ids": cases, "actions": ["hide"], "reason": "ads"}
    key = {"Idempotency-Key": "bulk-ads-1"}
    answers = []
    for _ in range(2):
        status, bulk, headers = await client.post(
            "/v1/moderation/decisions", body, moderator["access_token"], **key
        )
        assert status == 200, bulk
        answers.append((bulk, headers["Quark-Position"]))
    assert answers[0] == answers[1]
    status, page = await client.get(
        "/v1/moderation/log?limit=100", admin["access_token"], **{"Quark-After": answers[0][1]}
    )
    assert sorted(d["case_id"] for d in page["items"] if d["case_id"] in cases) == sorted(cases)
    # The same key with another body is refused rather than answered with the first.
    status, problem, _ = await client.post(
        "/v1/moderation/decisions", {**body, "reason": "other"}, moderator["access_token"], **key
    )
    assert status == 422, problem
