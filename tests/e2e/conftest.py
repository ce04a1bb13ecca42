"""What every e2e test drives the platform with: an `IdentityClient` on the test's HTTP
session, reading SMS codes from the outbox the platform's SMS sender writes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.settings import Settings
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, WithRole


@pytest.fixture
def client(http: aiohttp.ClientSession, settings: Settings) -> IdentityClient:
    return IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")


@pytest.fixture
def with_role(
    client: IdentityClient, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> WithRole:
    """`await with_role("admin")`: a new person granted `role` from the console, with tokens
    that carry it (refreshed after the grant)."""

    async def make(role: str) -> dict[str, Any]:
        person = await client.sign_up()
        use_settings(monkeypatch, settings)
        assert await run_quark("admin", "grant", person["user_id"], role) == 0
        status, tokens, _ = await client.post(
            "/v1/auth/refresh", {"refresh_token": person["refresh_token"]}
        )
        assert status == 200
        return {**person, **tokens}

    return make
