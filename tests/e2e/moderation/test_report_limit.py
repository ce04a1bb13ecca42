"""Reports are rate limited per person (`QUARK_LIMIT_REPORTS`): past the limit the answer is
429 with Retry-After, and nothing is filed."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(limit_reports="3/h")


async def test_a_fourth_report_within_the_hour_is_refused(client: IdentityClient) -> None:
    reporter = await client.sign_up()
    people = [await client.sign_up() for _ in range(4)]
    for person in people[:3]:
        status, _ = await report(client, reporter["access_token"], "user", person["user_id"])
        assert status == 201
    status, problem = await report(client, reporter["access_token"], "user", people[3]["user_id"])
    assert (status, problem["type"]) == (429, "quark:rate-limited")
    # Another person is not limited by the first one's reports.
    status, _ = await report(client, people[0]["access_token"], "user", people[3]["user_id"])
    assert status == 201
