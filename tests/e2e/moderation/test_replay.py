"""`quark replay moderation` rebuilds the queue, the cases and the decision log from the log
alone: what moderators read before and after is the same (digest comparison), and the
read model answers from a new build."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.projection_worker import sink_for
from projections import projections
from tests.e2e.moderation.test_decisions import decide
from tests.e2e.moderation.test_reports import report
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform


async def digest(client: IdentityClient, moderator: str, admin: str, after: str) -> dict[str, str]:
    """A hash of every moderation page a moderator or admin reads."""
    parts: dict[str, Any] = {}
    headers = {"Quark-After": after}
    for state in ("open", "resolved"):
        status, page = await client.get(
            f"/v1/moderation/queue?state={state}&limit=100", moderator, **headers
        )
        assert status == 200
        parts[f"queue-{state}"] = page["items"]
        for case in page["items"]:
            status, view = await client.get(
                f"/v1/moderation/cases/{case['id']}", moderator, **headers
            )
            assert status == 200
            parts[f"case-{case['id']}"] = view
    status, log = await client.get("/v1/moderation/log?limit=100", admin, **headers)
    assert status == 200
    parts["log"] = log["items"]
    for state in ("open", "approved", "rejected"):
        status, page = await client.get(
            f"/v1/moderation/appeals?state={state}", moderator, **headers
        )
        assert status == 200
        parts[f"appeals-{state}"] = page["items"]
    return {
        name: hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()
        for name, part in parts.items()
    }


async def test_replaying_the_moderation_read_model_gives_the_same_queue_cases_and_log(
    client: IdentityClient,
    platform: Platform,
    with_role: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    author = await client.sign_up()
    reporters = [await client.sign_up() for _ in range(3)]
    moderator, admin = await with_role("moderator"), await with_role("admin")
    m = moderator["access_token"]
    posts = []
    for n in range(4):
        status, post, _ = await client.post(
            "/v1/posts", {"body": f"post {n}"}, author["access_token"]
        )
        assert status == 201
        posts.append(post)
    await platform.wait("posts", posts[-1]["position"])
    cases = []
    for n, post in enumerate(posts):
        for reporter in reporters[: n + 1]:
            status, filed = await report(
                client, reporter["access_token"], "post", post["id"], ("spam", "nsfw")[n % 2]
            )
            assert status == 201
        cases.append(filed["case_id"])
    await report(client, reporters[0]["access_token"], "user", author["user_id"], "other", "x")
    status, _, _ = await client.post(
        f"/v1/moderation/cases/{cases[0]}/assign", {"assignee": moderator["user_id"]}, m
    )
    assert status == 200
    status, hidden = await decide(client, m, cases[1], ["hide", "warn"])
    assert status == 201
    status, warned = await decide(client, m, cases[3], ["warn"])
    assert status == 201
    assert (await decide(client, m, cases[2], ["dismiss"]))[0] == 201
    await report(client, reporters[2]["access_token"], "post", posts[2]["id"], "illegal")
    # Two appeals: one approved, one left open.
    appeals = []
    for decision in (hidden, warned):
        status, appealed, _ = await client.post(
            "/v1/moderation/appeals",
            {"decision_id": decision["decision_id"], "text": "please"},
            author["access_token"],
        )
        assert status == 201, appealed
        appeals.append(appealed)
    status, _, _ = await client.post(
        f"/v1/moderation/appeals/{appeals[0]['appeal_id']}/approve",
        {"reason": "ok"},
        m,
        **{"Quark-After": appeals[-1]["position"]},
    )
    assert status == 200
    last = await head_position(platform.infra, "MODERATION")
    before = await digest(client, m, admin["access_token"], last)
    # Both queues, five cases, the log, three appeal lists.
    assert len(before) == 2 + 5 + 1 + 3

    sink = sink_for(projections()["moderation"], platform.infra)
    active = await sink.active_build()
    assert active is not None
    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "moderation") == 0
    rebuilt = await sink.active_build()
    assert rebuilt is not None and rebuilt[0] > active[0]
    assert await digest(client, m, admin["access_token"], last) == before
