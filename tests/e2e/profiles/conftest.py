"""Profile tests sign up many people from one address: generous limits, one client."""

from __future__ import annotations

import aiohttp
import pytest

from core.settings import Settings
from tests.support.identity import IdentityClient, lifted_limits


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, handle_cooling_off_seconds=2)


@pytest.fixture
def client(http: aiohttp.ClientSession, settings: Settings) -> IdentityClient:
    return IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")
