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
from handlers.accounts.sms_jobs import SmsJob, open_job
from tests.support.fake_smsru import API_ID, FakeSmsRu, running_gateway
from tests.support.identity import PASSWORD, IdentityClient, new_phone
from tests.support.log import stored_messages
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
    gateway.unavailable_for = 1  # "service temporarily unavailable" once: the sender retries
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
            # The retry comes after the first backoff (2 s): the refused attempt, then the
            # same SMS again, accepted, and nothing after it.
            number = phone.lstrip("+")
            assert await gateway.answers_to(number, 2) == [220, 100]
            first, retried = await gateway.requests_to(number, 2)
            assert retried == first
            code = next(w for w in retried.replace(".", " ").split() if w.isdigit())
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
    # Delivered once: no attempt after the accepted one, even when the platform stops.
    assert await gateway.answers_to(number, 2) == [220, 100]


async def test_a_queued_sms_shows_neither_the_number_nor_the_code(
    smsru_settings: Settings, gateway: FakeSmsRu
) -> None:
    # The gateway holds the request, so the job stays in the SMS work queue (delivered to the
    # sender, not acknowledged) while the test reads what the server stored.
    gateway.hang = True
    async with AsyncExitStack() as stack:
        infra = await open_infra(smsru_settings, stack, all_events(), name="smsru-test")
        async with (
            Platform(infra) as platform,
            aiohttp.ClientSession(base_url=platform.base_url) as http,
        ):
            client = IdentityClient(http, smsru_settings.data_dir / "sms-outbox.jsonl")
            phone = new_phone()
            status, _, _ = await client.post("/v1/auth/phone/start", {"phone": phone})
            assert status == 202
            [text] = await gateway.requests_to(phone.lstrip("+"))
            code = next(w for w in text.replace(".", " ").split() if w.isdigit())
            try:
                jobs = await stored_messages(infra, "SMS")
            finally:
                gateway.released.set()  # the sender finishes the job (also if the read fails)
            assert jobs, "the job left the queue before the gateway took it"
            for job in jobs:
                stored = f"{job.subject} {job.headers} ".encode() + (job.data or b"")
                for clear in (phone, phone.lstrip("+"), phone[2:], code):
                    assert clear.encode() not in stored, (clear, stored)
            # What is stored is this SMS, sealed under the platform's key.
            assert [open_job(infra.secret_key, job.data or b"") for job in jobs] == [
                SmsJob(to=phone, text=text)
            ]
            assert await gateway.answers_to(phone.lstrip("+"), 1) == [100]


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
