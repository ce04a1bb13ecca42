"""Admin tests sign up many people from one address (generous limits) and need people who
hold a role."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, WithRole, lifted_limits


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


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
