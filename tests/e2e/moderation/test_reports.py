"""Reports, the queue and the case view through HTTP: a report keeps the content as the log
had it, and what the author does afterwards is shown beside it; one open report per
person and target; nobody reports what they cannot see or what is theirs; only moderators
reach the queue."""

from __future__ import annotations

from typing import Any

from tests.support.identity import IdentityClient
from tests.support.platform import Platform


async def report(
    client: IdentityClient, token: str, target_type: str, target_id: str, category: str = "spam",
    comment: str | None = None,
) -> tuple[int, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "target_type": target_type,
        "target_id": target_id,
        "category": category,
    }
    if comment is not None:
        body["comment"] = comment
    status, answer, _ = await client.post("/v1/reports", body, token)
    return status, answer


async def test_a_reported_post_keeps_the_reported_version_beside_every_later_one(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    status, post, _ = await client.post(
        "/v1/posts", {"title": "Deal", "body": "Buy cheap watches here"}, author["access_token"]
    )
    assert status == 201
    await platform.wait("posts", post["position"])
    status, filed = await report(
        client, reporter["access_token"], "post", post["id"], "spam", "an advert"
    )
    assert status == 201, filed
    # The author cleans up after being reported: an edit, then the deletion.
    status, edited = await client.call(
        "PATCH", f"/v1/posts/{post['id']}", author["access_token"], {"body": "Nothing to see"}
    )
    assert status == 200, edited
    status, deleted = await client.call("DELETE", f"/v1/posts/{post['id']}", author["access_token"])
    assert status == 200, deleted

    status, case = await client.get(
        f"/v1/moderation/cases/{filed['case_id']}",
        moderator["access_token"],
        **{"Quark-After": filed["position"]},
    )
    assert status == 200, case
    assert case["case"]["target_type"] == "post" and case["case"]["author_id"] == author["user_id"]
    assert case["case"]["reporters"] == 1 and case["case"]["categories"] == ["spam"]
    (seen,) = case["reports"]
    assert seen["reporter_id"] == reporter["user_id"] and seen["comment"] == "an advert"
    assert (seen["reported"]["title"], seen["reported"]["body"]) == (
        "Deal",
        "Buy cheap watches here",
    )
    later = case["after_report"]
    assert [(v["body"], v["deleted"]) for v in later] == [
        ("Nothing to see", False),
        ("Nothing to see", True),
    ]
    assert case["current"]["deleted"] is True
    assert all(v["seq"] > seen["reported"]["seq"] for v in later)


async def test_one_open_report_per_person_and_target_a_repeat_updates_it(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author = await client.sign_up()
    reporter = await client.sign_up()
    other = await client.sign_up()
    moderator = await with_role("moderator")
    status, post, _ = await client.post("/v1/posts", {"body": "rude words"}, author["access_token"])
    assert status == 201
    await platform.wait("posts", post["position"])
    first = await report(client, reporter["access_token"], "post", post["id"], "spam")
    again = await report(client, reporter["access_token"], "post", post["id"], "harassment", "no")
    third = await report(client, other["access_token"], "post", post["id"], "harassment")
    assert first[0] == again[0] == third[0] == 201
    assert first[1]["case_id"] == again[1]["case_id"] == third[1]["case_id"]
    status, case = await client.get(
        f"/v1/moderation/cases/{first[1]['case_id']}",
        moderator["access_token"],
        **{"Quark-After": third[1]["position"]},
    )
    assert status == 200
    assert case["case"]["reporters"] == 2
    assert case["case"]["categories"] == ["harassment"]
    mine = next(r for r in case["reports"] if r["reporter_id"] == reporter["user_id"])
    assert (mine["category"], mine["comment"]) == ("harassment", "no")


async def test_nobody_reports_what_they_cannot_see_or_their_own(
    client: IdentityClient, platform: Platform
) -> None:
    author, stranger, member = (
        await client.sign_up(),
        await client.sign_up(),
        await client.sign_up(),
    )
    a, s, m = author["access_token"], stranger["access_token"], member["access_token"]
    status, private, _ = await client.post(
        "/v1/posts", {"body": "friends only", "visibility": "followers"}, a
    )
    assert status == 201
    await platform.wait("posts", private["position"])
    assert (await report(client, s, "post", private["id"]))[0] == 404
    assert (await report(client, a, "post", private["id"]))[1]["type"] == "quark:own-content"
    assert (await report(client, s, "user", author["user_id"]))[0] == 201
    assert (await report(client, a, "user", author["user_id"]))[0] == 422
    assert (await report(client, s, "post", "00000000-0000-7000-8000-000000000000"))[0] == 404
    assert (await report(client, s, "comment", "not-a-uuid"))[0] == 422
    assert (await report(client, s, "user", author["user_id"], "spam", "nul \x00 here"))[0] == 422
    assert (await report(client, s, "user", author["user_id"], "spam", "x" * 1001))[0] == 422

    status, group, _ = await client.post(
        "/v1/conversations", {"kind": "group", "name": "g", "members": [member["user_id"]]}, a
    )
    assert status == 201, group
    status, message, _ = await client.post(
        f"/v1/conversations/{group['id']}/messages", {"body": "a group message"}, a
    )
    assert status == 201
    await platform.wait("chat", message["position"])
    # A stranger to the group cannot tell the message exists; a member reports it.
    assert (await report(client, s, "message", message["id"]))[0] == 404
    status, filed = await report(client, m, "message", message["id"], "harassment")
    assert status == 201, filed


async def test_the_queue_is_for_moderators_oldest_first_filtered_and_paged(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter, user = await client.sign_up(), await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    t = moderator["access_token"]
    status, post, _ = await client.post("/v1/posts", {"body": "a post"}, author["access_token"])
    assert status == 201
    await platform.wait("posts", post["position"])
    status, comment, _ = await client.post(
        f"/v1/posts/{post['id']}/comments", {"body": "a comment"}, author["access_token"]
    )
    assert status == 201
    await platform.wait("comments", comment["position"])
    filed = [
        await report(client, reporter["access_token"], "post", post["id"], "spam"),
        await report(client, reporter["access_token"], "comment", comment["id"], "nsfw"),
        await report(client, reporter["access_token"], "user", author["user_id"], "other"),
    ]
    assert [f[0] for f in filed] == [201, 201, 201], filed
    after = {"Quark-After": filed[-1][1]["position"]}
    ours = {f[1]["case_id"] for f in filed}

    status, problem = await client.get("/v1/moderation/queue", user["access_token"])
    assert (status, problem["type"]) == (403, "quark:permission-denied")
    status, _ = await client.get(
        f"/v1/moderation/cases/{filed[0][1]['case_id']}", user["access_token"]
    )
    assert status == 403

    seen: list[dict[str, Any]] = []
    path = "/v1/moderation/queue?limit=1"
    while path:
        status, page = await client.get(path, t, **after)
        assert status == 200, page
        seen += page["items"]
        path = (
            f"/v1/moderation/queue?limit=1&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else ""
        )
    mine = [c for c in seen if c["id"] in ours]
    assert [c["target_type"] for c in mine] == ["post", "comment", "user"]
    opened = [c["opened_at"] for c in seen]
    assert opened == sorted(opened)

    status, page = await client.get("/v1/moderation/queue?category=nsfw&limit=100", t, **after)
    assert status == 200 and {c["id"] for c in page["items"]} & ours == {filed[1][1]["case_id"]}
    status, page = await client.get("/v1/moderation/queue?target_type=user&limit=100", t, **after)
    assert {c["id"] for c in page["items"]} & ours == {filed[2][1]["case_id"]}
    status, problem = await client.get("/v1/moderation/queue?category=rude", t)
    assert status == 422

    case_id = filed[0][1]["case_id"]
    status, taken, _ = await client.post(
        f"/v1/moderation/cases/{case_id}/assign", {"assignee": moderator["user_id"]}, t
    )
    assert status == 200, taken
    status, page = await client.get(
        f"/v1/moderation/queue?assignee={moderator['user_id']}",
        t,
        **{"Quark-After": taken["position"]},
    )
    assert [c["id"] for c in page["items"]] == [case_id]
    assert page["items"][0]["assignee"] == moderator["user_id"]
    status, _, _ = await client.post(
        f"/v1/moderation/cases/{case_id}/assign", {"assignee": None}, user["access_token"]
    )
    assert status == 403
