"""Moderators' account actions through HTTP, carried out by the accounts context: a limit
takes a person's posts out of every public listing for all but their followers and
themself; a suspension (until a time, or indefinitely) leaves them only a restricted session
— from which they can still appeal — and ends by itself when its time passes, with no job;
an approved appeal or `restore` on the person lifts both. Admins suspend until a time and
see every account's standing."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient
from tests.support.moderation import carried_out
from tests.support.platform import Platform
from tests.support.timelines import HOME, PUBLIC, person, publish, relate, settled

#: What a restricted session may not do (a sample of the routes not open to it).
CLOSED = ("GET", HOME)


async def decide(
    client: IdentityClient,
    token: str,
    case_id: str,
    actions: list[str],
    *,
    until: datetime | None = None,
    reason: str = "rule 2",
) -> dict[str, Any]:
    body: dict[str, Any] = {"actions": actions, "reason": reason}
    if until is not None:
        body["suspend_until"] = until.isoformat()
    status, decided, _ = await client.post(f"/v1/moderation/cases/{case_id}/decisions", body, token)
    assert status == 201, decided
    return decided


async def _get(client: IdentityClient, path: str, token: str | None, after: str) -> Any:
    status, body = await client.get(path, token, **{"Quark-After": after})
    assert status == 200, (path, body)
    return body


async def _me(client: IdentityClient, token: str, after: str) -> dict[str, Any]:
    me = await _get(client, "/v1/me", token, after)
    return {k: me[k] for k in ("suspended", "suspended_until", "limited")}


async def test_a_limited_persons_posts_reach_only_their_followers_and_themself(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    tag = f"watch{secrets.token_hex(3)}"
    slug = f"deals-{secrets.token_hex(3)}"
    admin = await with_role("admin")
    status, _, _ = await client.post(
        "/v1/admin/categories",
        {"slug": slug, "name_ru": "Скидки", "name_en": "Deals", "position": 1},
        admin["access_token"],
    )
    assert status == 201
    author = await person(client, f"li_{secrets.token_hex(3)}")
    follower = await person(client, f"fo_{secrets.token_hex(3)}")
    stranger = await person(client, f"st_{secrets.token_hex(3)}")
    await relate(client, follower, "POST follow", author)
    await settled(platform)
    post = await publish(client, author, f"Cheap #{tag} here", category=slug)
    head = await settled(platform)
    listings = {
        "public": PUBLIC,
        "tag": f"/v1/tags/{tag}/posts",
        "category": f"/v1/categories/{slug}/posts",
        "author": f"/v1/posts?author={author['user_id']}",
        "all": "/v1/posts",
    }

    async def seen_by(token: str | None, after: str) -> dict[str, bool]:
        found = {}
        for name, path in listings.items():
            sep = "&" if "?" in path else "?"
            page = await _get(client, f"{path}{sep}limit=50", token, after)
            found[name] = post["id"] in [p["id"] for p in page["items"]]
        page = await _get(client, f"/v1/search?q={tag}&type=posts", token, after)
        found["search"] = post["id"] in [h["post"]["id"] for h in page["items"]]
        trending = await _get(client, "/v1/tags/trending?limit=50", token, after)
        found["trending"] = tag in [t["tag"] for t in trending["items"]]
        return found

    everywhere = {name: True for name in [*listings, "search", "trending"]}
    assert await seen_by(stranger["token"], head) == everywhere

    moderator = await with_role("moderator")
    status, filed = await report(client, stranger["token"], "post", post["id"])
    assert status == 201, filed
    limited = await decide(client, moderator["access_token"], filed["case_id"], ["limit"])
    head = await carried_out(platform, limited["position"])
    await settled(platform)

    # Gone from every public listing for someone who does not follow them, signed in or not.
    nowhere = {name: False for name in everywhere}
    assert await seen_by(stranger["token"], head) == nowhere
    assert await seen_by(None, head) == nowhere
    # Their followers still have them, at home and in the listings.
    home = await _get(client, f"{HOME}?limit=50", follower["token"], head)
    assert post["id"] in [p["id"] for p in home["items"]]
    assert (await seen_by(follower["token"], head))["public"] is True
    # They still see their own, and are told they are limited.
    mine = await _get(client, listings["author"], author["token"], head)
    assert [p["id"] for p in mine["items"]] == [post["id"]]
    assert await _me(client, author["token"], head) == {
        "suspended": False,
        "suspended_until": None,
        "limited": True,
    }
    # The post's own link still answers (a limit is not hiding).
    status, _ = await client.get(f"/v1/posts/{post['id']}", stranger["token"])
    assert status == 200
    # Admins find limited people; the security log names the moderator's reason.
    page = await _get(client, "/v1/admin/users?limited=true&limit=200", admin["access_token"], head)
    (row,) = [u for u in page["items"] if u["id"] == author["user_id"]]
    assert (row["limited"], row["suspended"], row["suspended_until"]) == (True, False, None)
    page = await _get(
        client, "/v1/admin/users?limited=false&limit=200", admin["access_token"], head
    )
    assert author["user_id"] not in [u["id"] for u in page["items"]]
    log = await _get(client, "/v1/me/security-log", author["token"], head)
    entries = {e["kind"]: e["detail"] for e in log["items"]}
    assert entries["limited"] == {"by": moderator["user_id"], "reason": "rule 2"}


async def test_a_suspension_with_an_end_restricts_sign_in_until_it_passes_with_no_job(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    status, post, _ = await client.post("/v1/posts", {"body": "spam"}, author["access_token"])
    assert status == 201
    await platform.wait("posts", post["position"])
    status, filed = await report(client, reporter["access_token"], "post", post["id"])
    assert status == 201
    until = datetime.now(UTC) + timedelta(seconds=5)
    decided = await decide(
        client, moderator["access_token"], filed["case_id"], ["suspend"], until=until
    )
    head = await carried_out(platform, decided["position"])

    # Every session ended with the suspension.
    status, _ = await client.get("/v1/auth/sessions", author["access_token"])
    assert status == 401
    # Signing in works, into a restricted session that says until when.
    status, restricted = await client.log_in(author["phone"])
    assert status == 200, restricted
    assert restricted["restricted"] is True
    assert datetime.fromisoformat(restricted["suspended_until"]) == until
    token = restricted["access_token"]
    status, refused = await client.get(CLOSED[1], token)
    assert (status, refused["type"]) == (403, "quark:account-suspended")
    assert datetime.fromisoformat(refused["suspended_until"]) >= until
    status, _ = await client.get("/v1/auth/sessions", token)
    assert status == 200
    assert await _me(client, token, head) == {
        "suspended": True,
        "suspended_until": restricted["suspended_until"],
        "limited": False,
    }

    # The end passes: nothing runs, nothing is written, and the account is free again.
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1.1)
    status, free = await client.log_in(author["phone"])
    assert status == 200 and free.get("restricted", False) is False, free
    status, _ = await client.get(HOME, free["access_token"])
    assert status == 200
    # The restricted token named the end: past it, it is an ordinary one.
    status, _ = await client.get(HOME, token)
    assert status == 200
    assert (await _me(client, free["access_token"], head))["suspended"] is False


async def test_a_suspended_person_appeals_and_an_approval_lifts_suspension_and_limit(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    m = moderator["access_token"]
    status, filed = await report(client, reporter["access_token"], "user", author["user_id"])
    assert status == 201, filed
    decided = await decide(client, m, filed["case_id"], ["limit", "suspend"], reason="bots")
    await carried_out(platform, decided["position"])

    status, session = await client.log_in(author["phone"])
    assert status == 200 and session["restricted"] is True, session
    assert "suspended_until" not in session  # indefinitely
    token = session["access_token"]
    status, refused, _ = await client.post("/v1/posts", {"body": "let me out"}, token)
    assert (status, refused["type"]) == (403, "quark:account-suspended")
    assert refused["suspended_until"] is None

    # What a suspended person may still do: read the decision, appeal, export, sessions.
    mine = await _get(client, "/v1/me/moderation", token, decided["position"])
    (decision,) = mine["items"]
    assert (decision["id"], decision["actions"]) == (decided["decision_id"], ["limit", "suspend"])
    status, appealed, _ = await client.post(
        "/v1/moderation/appeals",
        {"decision_id": decided["decision_id"], "text": "I am no bot."},
        token,
    )
    assert status == 201, appealed
    appeal = await _get(
        client, f"/v1/moderation/appeals/{appealed['appeal_id']}", token, appealed["position"]
    )
    assert appeal["state"] == "open"
    status, export = await client.get("/v1/me/export", token)
    assert status == 200 and export["account"]["suspended"] is True
    assert export["account"]["limited"] is True

    status, approved, _ = await client.post(
        f"/v1/moderation/appeals/{appealed['appeal_id']}/approve",
        {"reason": "fair enough"},
        m,
        **{"Quark-After": appealed["position"]},
    )
    assert status == 200, approved
    await carried_out(platform, approved["position"])

    # A refresh gives a full session; the person is told of the ruling.
    status, full, _ = await client.post(
        "/v1/auth/refresh", {"refresh_token": session["refresh_token"]}
    )
    assert status == 200 and full["restricted"] is False, full
    assert await _me(client, full["access_token"], approved["position"]) == {
        "suspended": False,
        "suspended_until": None,
        "limited": False,
    }
    notes = await _get(client, "/v1/notifications", full["access_token"], approved["position"])
    verdicts = [
        n["decision"]["appeal"]
        for n in notes["items"]
        if n["kind"] == "moderation" and (n["decision"] or {}).get("appeal")
    ]
    assert verdicts == ["approved"]


async def test_restore_on_a_person_lifts_limit_and_suspension(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    admin = await with_role("admin")
    m = (await with_role("moderator"))["access_token"]
    status, filed = await report(client, reporter["access_token"], "user", author["user_id"])
    assert status == 201
    until = datetime.now(UTC) + timedelta(days=7)
    decided = await decide(client, m, filed["case_id"], ["limit", "suspend"], until=until)
    head = await carried_out(platform, decided["position"])
    page = await _get(
        client, "/v1/admin/users?suspended=true&limit=200", admin["access_token"], head
    )
    (row,) = [u for u in page["items"] if u["id"] == author["user_id"]]
    assert (row["suspended"], row["limited"]) == (True, True)
    assert datetime.fromisoformat(row["suspended_until"]) == until

    restored = await decide(client, m, filed["case_id"], ["restore"])
    head = await carried_out(platform, restored["position"])
    status, session = await client.log_in(author["phone"])
    assert status == 200 and session.get("restricted", False) is False, session
    page = await _get(client, "/v1/admin/users?limit=200", admin["access_token"], head)
    (row,) = [u for u in page["items"] if u["id"] == author["user_id"]]
    assert (row["suspended"], row["suspended_until"], row["limited"]) == (False, None, False)


async def test_an_admin_suspends_until_a_time(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    admin = await with_role("admin")
    token = admin["access_token"]
    target = await client.sign_up()
    path = f"/v1/admin/users/{target['user_id']}/suspend"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    status, problem = await client.call("POST", path, token, {"reason": "r", "until": past})
    assert status == 422, problem
    status, problem = await client.call(
        "POST", path, token, {"reason": "r", "until": "2030-01-01T00:00:00"}
    )
    assert status == 422, problem  # no time zone

    until = datetime.now(UTC) + timedelta(hours=3)
    status, suspended = await client.call(
        "POST", path, token, {"reason": "cooling off", "until": until.isoformat()}
    )
    assert status == 200, suspended
    assert suspended["suspended"] is True
    assert datetime.fromisoformat(suspended["suspended_until"]) == until
    page = await _get(
        client, "/v1/admin/users?suspended=true&limit=200", token, suspended["position"]
    )
    (row,) = [u for u in page["items"] if u["id"] == target["user_id"]]
    assert datetime.fromisoformat(row["suspended_until"]) == until and row["limited"] is False
    status, session = await client.log_in(target["phone"])
    assert status == 200 and session["restricted"] is True
    # The person's activity says until when (the admins' view of it).
    activity = await _get(
        client, f"/v1/admin/users/{target['user_id']}/activity", token, suspended["position"]
    )
    (entry,) = [e for e in activity["items"] if e["kind"] == "suspended"]
    assert datetime.fromisoformat(entry["detail"]["until"]) == until

    status, lifted = await client.call(
        "POST", f"/v1/admin/users/{target['user_id']}/unsuspend", token, {"reason": "ok"}
    )
    assert status == 200 and (lifted["suspended"], lifted["suspended_until"]) == (False, None)
