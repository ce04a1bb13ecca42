"""A burst of reports from accounts made today does not hide anything at the default
threshold: twenty of them weigh 2 (0.1 each), where three month-old reporters with clean
records would weigh 3 (`core.moderation.reporter_weight`)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient
from tests.support.moderation import carried_out
from tests.support.platform import Platform


async def test_twenty_new_accounts_do_not_hide_a_post(
    client: IdentityClient, platform: Platform, settings: Settings, with_role: Any
) -> None:
    assert settings.auto_hide_score == Settings().auto_hide_score == 3.0
    author, stranger = await client.sign_up(), await client.sign_up()
    m = (await with_role("moderator"))["access_token"]
    status, post, _ = await client.post("/v1/posts", {"body": "unpopular"}, author["access_token"])
    assert status == 201
    await platform.wait("posts", post["position"])
    for _ in range(20):
        reporter = await client.sign_up()
        status, filed = await report(client, reporter["access_token"], "post", post["id"])
        assert status == 201, filed
    head = await carried_out(platform, filed["position"])
    status, _ = await client.get(
        f"/v1/posts/{post['id']}", stranger["access_token"], **{"Quark-After": head}
    )
    assert status == 200
    status, case = await client.get(
        f"/v1/moderation/cases/{filed['case_id']}", m, **{"Quark-After": filed["position"]}
    )
    assert (case["case"]["reporters"], case["case"]["auto_hidden_score"]) == (20, None)
