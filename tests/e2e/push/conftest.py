"""Web push tests: a local push service (tests/support/fake_push.py) that endpoints on
loopback reach, so the platform here accepts `http:` endpoints on 127.0.0.1."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.support.fake_push import push_service
from tests.support.identity import lifted_limits

__all__ = ["push_service"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, push_allow_local_endpoints=True)
