"""Which address a session records (and rate limits count): the peer, or behind a trusted
proxy the last untrusted X-Forwarded-For hop — never what a client merely claims."""

from __future__ import annotations

import aiohttp
import pytest

from core.settings import Settings
from tests.support.identity import IdentityClient, new_phone


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(trusted_proxies="127.0.0.1/32")


async def _session_ip(http: aiohttp.ClientSession, settings: Settings, xff: str) -> str:
    client = IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")
    token = await client.verified_phone(new_phone())
    async with http.post(
        "/v1/auth/register",
        json={"registration_token": token, "password": "a fine passphrase", "display_name": "P"},
        headers={"X-Forwarded-For": xff},
    ) as resp:
        assert resp.status == 201
        tokens = await resp.json()
        position = resp.headers["Quark-Position"]
    async with http.get(
        "/v1/auth/sessions",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Quark-After": position},
    ) as resp:
        return (await resp.json())["items"][0]["ip"]


async def test_behind_a_trusted_proxy_the_forwarded_client_counts(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    assert await _session_ip(http, settings, "203.0.113.7") == "203.0.113.7"
    # What the client wrote itself (left of the hop our proxy added) is not believed.
    assert await _session_ip(http, settings, "6.6.6.6, 203.0.113.9") == "203.0.113.9"
    assert await _session_ip(http, settings, "garbage") == "127.0.0.1"
