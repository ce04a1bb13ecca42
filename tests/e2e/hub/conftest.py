"""The hub beside the in-process platform, on a port of its own, and an admin to ask it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from core import embedded
from tests.support.identity import WithRole
from tests.support.platform import Platform


@pytest.fixture
async def hub_url(platform: Platform) -> str:
    await platform.workers.start_hub("127.0.0.1", embedded.free_port())
    assert platform.workers.hub_url is not None
    return platform.workers.hub_url


@pytest.fixture
async def hub(hub_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=hub_url) as session:
        yield session


@pytest.fixture
async def admin(with_role: WithRole) -> dict[str, Any]:
    return await with_role("admin")


def bearer(person: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {person['access_token']}"}
