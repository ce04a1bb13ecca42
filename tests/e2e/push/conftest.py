"""Web push tests: a local push service (tests/support/fake_push.py) that endpoints on
loopback reach, so the platform here accepts `http:` endpoints on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.settings import Settings
from tests.support.fake_push import FakePushService, running_push_service
from tests.support.identity import IdentityClient, lifted_limits


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, push_allow_local_endpoints=True)


@pytest.fixture
async def push_service(client: IdentityClient) -> AsyncIterator[FakePushService]:
    """A push service that knows the key the platform publishes for browsers."""
    status, body = await client.get("/v1/push/key")
    assert status == 200, body
    async with running_push_service(body["public_key"]) as fake:
        yield fake
