"""The platform's figures per day through HTTP (`GET /v1/admin/stats`): each figure moves by
what people did, every day of a range is answered, bad ranges are 422, only admins read
them, and the read model stays exact when events come again or it is rebuilt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.projection_worker import sink_for
from core.settings import Settings
from projections import projections
from tests.e2e.chat.support import Person
from tests.e2e.moderation.test_reports import report
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, WithRole
from tests.support.log import head_position, stream_head
from tests.support.media import photo, upload
from tests.support.platform import Platform
from tests.support.projections import redeliver

#: The streams the `stats` read model consumes (streams.yaml).
STREAMS = ("ACCOUNTS", "CONTENT", "CHAT", "MEDIA", "MODERATION")
COUNTED = ("sign_ups", "posts", "comments", "messages", "uploads", "reports")


async def settled(platform: Platform) -> None:
    """Until the read model has applied everything every stream holds."""
    for stream in STREAMS:
        await platform.wait("stats", await head_position(platform.infra, stream))


def around_today() -> str:
    """Yesterday to tomorrow (UTC): whatever the test does falls inside, even if it runs
    across midnight."""
    today = datetime.now(UTC).date()
    return f"?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"


async def read(client: IdentityClient, token: str, query: str = "") -> dict[str, Any]:
    status, body = await client.get(f"/v1/admin/stats{query}", token)
    assert status == 200, body
    return body


async def people_do_one_of_everything(client: IdentityClient, platform: Platform) -> dict[str, int]:
    """Two people sign up, post, comment, react, message, upload, report and delete a post;
    what each figure must have moved by."""
    ann, bob = await client.sign_up(), await client.sign_up()
    a, b = ann["access_token"], bob["access_token"]
    posts = []
    for n in range(2):
        status, post, _ = await client.post("/v1/posts", {"body": f"post {n}"}, a)
        assert status == 201, post
        posts.append(post)
    await platform.wait("posts", posts[-1]["position"])
    status, _, _ = await client.post(f"/v1/posts/{posts[0]['id']}/comments", {"body": "hi"}, b)
    assert status == 201
    status, _ = await client.call("PUT", f"/v1/posts/{posts[0]['id']}/reactions/like", b)
    assert status == 200
    # Made and deleted the same day: still a post made that day.
    status, _ = await client.call("DELETE", f"/v1/posts/{posts[1]['id']}", a)
    assert status == 200
    sender = Person(client, ann)
    status, dm = await sender.start("direct", [Person(client, bob)])
    assert status == 201, dm
    for text in ("hello", "are you there?"):
        status, sent = await sender.send(dm["id"], text)
        assert status == 201, sent
    status, accepted, _ = await upload(client.http, b, photo(), content_type="image/jpeg")
    assert status == 202, accepted
    status, filed = await report(client, b, "post", posts[0]["id"])
    assert status == 201, filed
    # Ann signs in again: activity, not a second sign-up, and she is still one person.
    status, _ = await client.log_in(ann["phone"])
    assert status == 200
    return {
        "sign_ups": 2,
        "active_people": 2,
        "posts": 2,
        "comments": 1,
        "messages": 2,
        "uploads": 1,
        "reports": 1,
    }


async def test_each_figure_moves_by_what_people_did(
    client: IdentityClient, platform: Platform, with_role: WithRole
) -> None:
    admin = (await with_role("admin"))["access_token"]
    query = around_today()
    await settled(platform)
    before = await read(client, admin, query)
    # The admin signed up today: they are already counted.
    assert before["totals"]["sign_ups"] >= 1 and before["totals"]["active_people"] >= 1

    moved = await people_do_one_of_everything(client, platform)
    await settled(platform)
    after = await read(client, admin, query)

    assert {metric: after["totals"][metric] - before["totals"][metric] for metric in moved} == moved
    assert [d["day"] for d in after["days"]] == [
        (date.fromisoformat(after["from"]) + timedelta(days=n)).isoformat() for n in range(3)
    ]
    # The totals add the days up, except active people: different people over the range.
    for metric in COUNTED:
        assert after["totals"][metric] == sum(d[metric] for d in after["days"]), metric
    assert after["totals"]["active_people"] <= sum(d["active_people"] for d in after["days"])


async def test_every_day_of_a_range_is_answered_zeros_included(
    client: IdentityClient, platform: Platform, with_role: WithRole
) -> None:
    admin = (await with_role("admin"))["access_token"]
    await settled(platform)
    page = await read(client, admin, "?from=2024-02-27&to=2024-03-01")
    assert page["from"] == "2024-02-27" and page["to"] == "2024-03-01"
    assert [d["day"] for d in page["days"]] == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    zeros = dict.fromkeys((*COUNTED, "active_people"), 0)
    assert all({k: v for k, v in d.items() if k != "day"} == zeros for d in page["days"])
    assert page["totals"] == zeros
    # No range: the last thirty days, ending today (UTC), today's sign-up among them.
    page = await read(client, admin)
    today = datetime.now(UTC).date()
    assert len(page["days"]) == 30
    assert date.fromisoformat(page["to"]) - date.fromisoformat(page["from"]) == timedelta(29)
    assert date.fromisoformat(page["to"]) in (today, today + timedelta(days=1))
    assert page["totals"]["sign_ups"] == 1 and page["totals"]["active_people"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-11-27&to=2026-11-26",
        "?from=2025-11-25&to=2026-11-26",
        "?from=2026-02-30",
        "?to=26-11-2026",
        "?from=20261126",
        "?from=",
    ],
    ids=["upside-down", "367-days", "no-such-day", "day-first", "basic-format", "empty"],
)
async def test_a_bad_range_is_a_validation_problem(
    client: IdentityClient, platform: Platform, with_role: WithRole, query: str
) -> None:
    admin = (await with_role("admin"))["access_token"]
    async with client.http.get(
        f"/v1/admin/stats{query}", headers={"Authorization": f"Bearer {admin}"}
    ) as resp:
        problem = await resp.json(content_type=None)
        assert resp.status == 422, problem
        assert resp.content_type == "application/problem+json"
    assert problem["type"] == "quark:validation"
    assert problem["errors"][0]["field"] in ("from", "to")


async def test_a_whole_leap_year_is_one_request(
    client: IdentityClient, platform: Platform, with_role: WithRole
) -> None:
    admin = (await with_role("admin"))["access_token"]
    page = await read(client, admin, "?from=2024-01-01&to=2024-12-31")
    assert len(page["days"]) == 366 and page["days"][-1]["day"] == "2024-12-31"


async def test_only_admins_read_the_figures(
    client: IdentityClient, platform: Platform, with_role: WithRole
) -> None:
    person = await client.sign_up()
    moderator, admin = await with_role("moderator"), await with_role("admin")
    status, problem = await client.get("/v1/admin/stats")
    assert status == 401, problem
    for who in (person, moderator):
        status, problem = await client.get("/v1/admin/stats", who["access_token"])
        assert status == 403 and problem["type"] == "quark:permission-denied", problem
    status, page = await client.get("/v1/admin/stats", admin["access_token"])
    assert status == 200 and len(page["days"]) == 30


async def test_events_applied_again_and_a_replay_leave_the_same_figures(
    client: IdentityClient,
    platform: Platform,
    with_role: WithRole,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    admin = (await with_role("admin"))["access_token"]
    await people_do_one_of_everything(client, platform)
    await settled(platform)
    query = around_today()
    figures = await read(client, admin, query)
    assert figures["totals"]["posts"] == 2 and figures["totals"]["messages"] == 2
    sink = sink_for(projections()["stats"], platform.infra)
    rows = await sink.digest()

    # Every event of two streams delivered again, as after a checkpoint that fell behind
    # its rows: in batches, then one by one (the retry after a failed batch).
    for stream, max_batch in (("CONTENT", 1000), ("CHAT", 1)):
        assert await stream_head(platform.infra, stream) > 0
        await redeliver(platform, "stats", stream, since=0, max_batch=max_batch)
        assert await sink.digest() == rows
    assert await read(client, admin, query) == figures

    active = await sink.active_build()
    assert active is not None
    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "stats") == 0
    rebuilt = await sink.active_build()
    assert rebuilt is not None and rebuilt[0] > active[0]
    assert await sink.digest() == rows
    assert await read(client, admin, query) == figures
