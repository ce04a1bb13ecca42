"""Limits that need their own settings: code lifetime, SMS per phone and per IP, and the
platform sending its codes through SMS.ru (a local gateway speaking its protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest

from core.bootstrap import open_infra
from core.settings import Settings
from handlers import all_events
from tests.support.fake_smsru import API_ID, FakeSmsRu, running_gateway
from tests.support.identity import PASSWORD, IdentityClient, new_phone
from tests.support.platform import Platform


@pytest.fixture
async def gateway() -> AsyncIterator[FakeSmsRu]:
    async with running_gateway() as fake:
        yield fake


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(
        verification_code_ttl_seconds=1,
        verification_resend_after_seconds=0,
        limit_sms_per_phone="3/h",
    )


@pytest.fixture
def client(http: aiohttp.ClientSession, settings: Settings) -> IdentityClient:
    return IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")


async def test_an_expired_code_is_refused(client: IdentityClient) -> None:
    phone = new_phone()
    status, started, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
    assert status == 202 and started["expires_in"] == 1
    code = await client.sms_code(phone)
    await asyncio.sleep(1.1)  # the code's lifetime is the point of this test
    status, body, _ = await client.post(
        "/v1/auth/phone/verify", {"verification_id": started["verification_id"], "code": code}
    )
    assert status == 410 and body["type"] == "quark:verification-expired"


async def test_sms_to_one_phone_are_limited(client: IdentityClient) -> None:
    phone = new_phone()
    for _ in range(3):
        status, _, headers = await client.post("/v1/auth/phone/start", {"phone": phone})
        assert status == 202
        assert headers["RateLimit-Limit"] == "3"
    status, body, headers = await client.post("/v1/auth/phone/start", {"phone": phone})
    assert status == 429 and body["type"] == "quark:rate-limited"
    assert int(headers["Retry-After"]) > 0
    await client.sms_code(phone, after=2)
    assert client.sms_count(phone) == 3  # the refused request sent nothing


@pytest.fixture
def smsru_settings(settings: Settings, gateway: FakeSmsRu) -> Settings:
    return settings.with_(
        sms_provider="smsru",
        sms_ru_api_id=API_ID,
        sms_ru_url=gateway.url,
        verification_code_ttl_seconds=300,
    )


async def test_sign_up_through_the_sms_ru_gateway_survives_a_transient_failure(
    smsru_settings: Settings, gateway: FakeSmsRu
) -> None:
    gateway.request_code = 220  # "service temporarily unavailable": the sender retries
    async with AsyncExitStack() as stack:
        infra = await open_infra(smsru_settings, stack, all_events(), name="smsru-test")
        async with (
            Platform(infra) as platform,
            aiohttp.ClientSession(base_url=platform.base_url) as http,
        ):
            client = IdentityClient(http, smsru_settings.data_dir / "sms-outbox.jsonl")
            phone = new_phone()
            status, started, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
            assert status == 202
            for _ in range(100):
                if gateway.received:
                    break
                await asyncio.sleep(0.05)
            gateway.request_code = None
            for _ in range(200):  # the retry comes after the first backoff (2 s)
                if len(gateway.received) >= 2:
                    break
                await asyncio.sleep(0.05)
            sent = gateway.received[-1]
            assert sent["to"] == phone.lstrip("+") and sent["api_id"] == API_ID
            code = next(w for w in sent["msg"].replace(".", " ").split() if w.isdigit())
            status, verified, _ = await client.post(
                "/v1/auth/phone/verify",
                {"verification_id": started["verification_id"], "code": code},
            )
            assert status == 200
            status, tokens, _ = await client.register(
                verified["registration_token"], PASSWORD, "Via SMS.ru"
            )
            assert status == 201 and tokens["access_token"]
            assert client.sms_count(phone) == 0  # nothing went to the outbox


async def test_resent_codes_count_against_the_number_too(client: IdentityClient) -> None:
    phone = new_phone()
    started = []
    for _ in range(3):
        status, body, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
        assert status == 202
        started.append(body["verification_id"])
    await client.sms_code(phone, after=2)
    # Each verification may resend at once here; the number's budget is spent anyway.
    status, body, headers = await client.post(
        "/v1/auth/phone/resend", {"verification_id": started[0]}
    )
    assert status == 429 and body["type"] == "quark:rate-limited"
    assert int(headers["Retry-After"]) > 0
    assert client.sms_count(phone) == 3
