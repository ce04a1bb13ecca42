"""What every e2e test drives the platform with: an `IdentityClient` on the test's HTTP
session, reading SMS codes from the outbox the platform's SMS sender writes."""

from __future__ import annotations

import aiohttp
import pytest

from core.settings import Settings
from tests.support.identity import IdentityClient


@pytest.fixture
def client(http: aiohttp.ClientSession, settings: Settings) -> IdentityClient:
    return IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")
