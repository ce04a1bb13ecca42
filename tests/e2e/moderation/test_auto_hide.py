"""Hiding pending review through HTTP: reported content is hidden once the weighted count
of distinct reporters reaches `QUARK_AUTO_HIDE_SCORE`; one person reporting again adds
nothing, a burst from new accounts (0.1 each, `core.moderation.reporter_weight`) stays below
the default threshold (`test_report_burst.py`), and a moderator's dismissal shows the
content again."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from tests.e2e.moderation.test_decisions import decide
from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.moderation import carried_out
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Every account in a test is new (weight 0.1): five distinct reporters reach 0.5.
    return lifted_limits(settings, limit_reports="1000/h", auto_hide_score=0.5)


async def _visible(client: IdentityClient, post_id: str, token: str, head: str) -> bool:
    status, _ = await client.get(f"/v1/posts/{post_id}", token, **{"Quark-After": head})
    return status == 200


async def test_distinct_reporters_hide_a_post_pending_review_and_a_dismissal_shows_it(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, stranger = await client.sign_up(), await client.sign_up()
    m = (await with_role("moderator"))["access_token"]
    status, post, _ = await client.post(
        "/v1/posts", {"body": "a heated opinion"}, author["access_token"]
    )
    assert status == 201
    await platform.wait("posts", post["position"])
    reporters = [await client.sign_up() for _ in range(5)]

    # Four people, the first of them five times: 0.4, below the threshold.
    for n, reporter in enumerate(reporters[:4]):
        for _ in range(5 if n == 0 else 1):
            status, filed = await report(client, reporter["access_token"], "post", post["id"])
            assert status == 201, filed
    head = await carried_out(platform, filed["position"])
    assert await _visible(client, post["id"], stranger["access_token"], head)
    status, case = await client.get(
        f"/v1/moderation/cases/{filed['case_id']}", m, **{"Quark-After": filed["position"]}
    )
    assert (case["case"]["reporters"], case["case"]["auto_hidden_score"]) == (4, None)

    # The fifth distinct person reaches it.
    status, filed = await report(client, reporters[4]["access_token"], "post", post["id"])
    assert status == 201
    head = await carried_out(platform, filed["position"])
    assert not await _visible(client, post["id"], stranger["access_token"], head)
    status, view = await client.get(f"/v1/posts/{post['id']}", author["access_token"])
    assert (status, view["moderation"]) == (200, "hidden")
    status, page = await client.get("/v1/moderation/queue", m, **{"Quark-After": filed["position"]})
    (entry,) = [c for c in page["items"] if c["id"] == filed["case_id"]]
    assert entry["auto_hidden_score"] == pytest.approx(0.5)
    status, notes = await client.get("/v1/notifications", author["access_token"])
    (note,) = [n for n in notes["items"] if n["kind"] == "moderation"]
    assert (note["state"], note["decision"]) == ("hidden", None)

    # The review finds nothing wrong: dismissing shows it again, and the next reports start
    # from nothing.
    status, decided = await decide(client, m, filed["case_id"], ["dismiss"], "fair opinion")
    assert status == 201, decided
    head = await carried_out(platform, decided["position"])
    assert await _visible(client, post["id"], stranger["access_token"], head)
    status, filed = await report(client, reporters[0]["access_token"], "post", post["id"])
    head = await carried_out(platform, filed["position"])
    assert await _visible(client, post["id"], stranger["access_token"], head)
