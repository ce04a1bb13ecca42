"""`Idempotency-Key`: a retry converges on the first attempt's commit whatever happened to
that attempt — its answer lost, its Redis record gone, its edge killed mid-request — and
concurrent repeats never create a second post."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import msgspec
import pytest

from core.bootstrap import Infra
from core.ids import new_id
from core.settings import Settings
from edge.idempotency import Stored
from handlers.posts.decide import POST
from tests.support.auth import as_user
from tests.support.log import stream_head
from tests.support.platform import Platform

pytestmark = pytest.mark.usefixtures("signed_in")

ALICE = new_id()
BODY = {"title": "once", "body": "only once"}


async def publish(http: aiohttp.ClientSession, key: str, body: dict = BODY) -> tuple[int, dict]:
    headers = as_user(ALICE, **{"Idempotency-Key": key, "Content-Type": "application/json"})
    async with http.post("/v1/posts", data=msgspec.json.encode(body), headers=headers) as resp:
        return resp.status, await resp.json(content_type=None) | {"_headers": dict(resp.headers)}


def record_key(settings: Settings, key: str, user: str = ALICE) -> str:
    seed = hashlib.sha256(f"{user}|POST /v1/posts|{key}".encode()).hexdigest()
    return f"{settings.redis_prefix}idem:{seed}"


async def redis_now_ms(infra: Infra) -> int:
    seconds, micros = await infra.redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_retry_whose_first_answer_was_lost_gets_the_same_post_and_appends_nothing(
    http: aiohttp.ClientSession, infra: Infra, settings: Settings
) -> None:
    status, first = await publish(http, "lost-answer")
    assert status == 201
    head = await stream_head(infra, "CONTENT")
    # As if the first attempt had been answered 503 after committing: no record remains.
    assert await infra.redis.delete(record_key(settings, "lost-answer")) == 1
    status, again = await publish(http, "lost-answer")
    assert status == 201, again
    assert again["id"] == first["id"] and again["position"] == first["position"]
    assert "Idempotent-Replayed" not in again["_headers"]  # it went to the handler again
    assert await stream_head(infra, "CONTENT") == head


async def test_a_claim_left_by_a_killed_edge_blocks_retries_only_until_the_command_timeout(
    http: aiohttp.ClientSession, infra: Infra, settings: Settings
) -> None:
    fingerprint = hashlib.sha256(msgspec.json.encode(BODY)).hexdigest()
    key = record_key(settings, "killed-edge")

    async def claim(locked_until: int) -> None:
        stored = Stored(fingerprint=fingerprint, locked_until=locked_until, owner="dead-edge")
        await infra.redis.set(key, msgspec.json.encode(stored), ex=3600)

    # Within the command timeout the first attempt may still commit: wait, says the answer.
    await claim(await redis_now_ms(infra) + 30_000)
    status, busy = await publish(
        http, "killed-edge", msgspec.json.decode(msgspec.json.encode(BODY))
    )
    assert status == 409 and busy["type"] == "quark:idempotency-in-flight"
    assert 1 <= int(busy["_headers"]["Retry-After"]) <= 30
    # Past it, the retry proceeds at once instead of being locked out for 24 hours.
    await claim(await redis_now_ms(infra) - 1)
    status, created = await publish(http, "killed-edge")
    assert status == 201, created
    assert (await infra.store.load(POST, created["id"])).state.exists


async def test_the_claim_of_an_attempt_in_flight_lives_no_longer_than_the_command_timeout(
    http: aiohttp.ClientSession, infra: Infra, settings: Settings, platform: Platform
) -> None:
    sent, release = asyncio.Event(), asyncio.Event()
    original = platform.infra.bus.send

    async def held_send(*args: object, **kwargs: object) -> object:
        sent.set()
        await release.wait()  # the first attempt stays in flight while we look at its claim
        return await original(*args, **kwargs)

    platform.infra.bus.send = held_send  # type: ignore[method-assign]
    try:
        first = asyncio.create_task(publish(http, "in-flight"))
        await asyncio.wait_for(sent.wait(), 10)
        stored = msgspec.json.decode(
            await infra.redis.get(record_key(settings, "in-flight")), type=Stored
        )
        now = await redis_now_ms(infra)
        assert stored.status == 0
        assert 0 < stored.locked_until - now <= settings.command_timeout * 1000
        status, busy = await publish(http, "in-flight")
        assert status == 409 and busy["type"] == "quark:idempotency-in-flight"
        assert int(busy["_headers"]["Retry-After"]) <= settings.command_timeout
    finally:
        release.set()
        platform.infra.bus.send = original  # type: ignore[method-assign]
    status, created = await first
    assert status == 201, created


async def test_concurrent_repeats_of_one_key_create_one_post(
    http: aiohttp.ClientSession, infra: Infra
) -> None:
    head = await stream_head(infra, "CONTENT")
    answers = await asyncio.gather(*(publish(http, "concurrent") for _ in range(12)))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {201, 409}, statuses
    ids = {body["id"] for status, body in answers if status == 201}
    assert len(ids) == 1, ids
    for status, body in answers:
        if status == 409:
            assert body["type"] == "quark:idempotency-in-flight"
            assert int(body["_headers"]["Retry-After"]) >= 1
    assert await stream_head(infra, "CONTENT") == head + 1
    # Once the first has finished, every repeat gets its answer.
    status, replay = await publish(http, "concurrent")
    assert status == 201 and replay["id"] in ids
    assert replay["_headers"]["Idempotent-Replayed"] == "true"


async def test_a_retry_after_a_503_keeps_refusing_a_different_body(
    http: aiohttp.ClientSession, infra: Infra, platform: Platform
) -> None:
    original = platform.infra.bus.send

    async def unavailable(*args: object, **kwargs: object) -> object:
        from core.errors import UnavailableError

        raise UnavailableError("the command was not confirmed (TimeoutError)")

    platform.infra.bus.send = unavailable  # type: ignore[method-assign]
    try:
        status, refused = await publish(http, "after-503")
    finally:
        platform.infra.bus.send = original  # type: ignore[method-assign]
    assert status == 503 and refused["type"] == "quark:unavailable"
    status, other = await publish(http, "after-503", {"title": "another", "body": "request"})
    assert status == 422 and other["type"] == "quark:idempotency-key-reused"
    status, created = await publish(http, "after-503")
    assert status == 201, created
