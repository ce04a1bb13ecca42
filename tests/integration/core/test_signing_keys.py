"""The signing key ring against a real `signing_keys` bucket: first start by several
processes at once, rotation seen by other processes without a restart, retirement, sealed
storage, and `quark keys …` as an operator runs it."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from core.bootstrap import secret_key
from core.errors import ConfigError
from core.ids import new_id
from core.settings import Settings
from core.signing_keys import BUCKET, KeyRing
from core.tokens import InvalidToken, TokenService
from tests.support.cli import run_quark, use_settings

SECRET = secrets.token_hex(32).encode()


@pytest.fixture
def now() -> int:
    """The wall clock, read per test: PyJWT checks `exp` and `iat` against it."""
    return int(time.time())


@pytest.fixture
async def js(settings: Settings) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(settings.nats_url)
    yield nc.jetstream()
    await nc.close()


def kid_of(token: str) -> str:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]


def issue(ring: KeyRing, now: int) -> str:
    return TokenService(ring).issue(new_id(), new_id(), ["user"], now)[0]


async def bucket_kids(js: JetStreamContext) -> set[str]:
    """The kids with a live value in the bucket, read subject by subject from its stream.

    Not `kv.keys()`: nats-py's watch can end its initial replay early and report no keys
    (the reason the ring itself reads this way; seen failing this test under a full run).
    """
    stream, prefix = f"KV_{BUCKET}", f"$KV.{BUCKET}."
    info = await js.stream_info(stream, subjects_filter=f"{prefix}>")
    kids = set()
    for subject in info.state.subjects or {}:
        msg = await js.get_last_msg(stream, subject)
        if (msg.headers or {}).get("KV-Operation") not in ("DEL", "PURGE"):
            kids.add(subject[len(prefix) :])
    return kids


async def test_rings_starting_together_agree_on_one_signer(js: JetStreamContext, now: int) -> None:
    a, b = await asyncio.gather(KeyRing.connect(js, SECRET), KeyRing.connect(js, SECRET))
    await asyncio.gather(a.ensure(now), b.ensure(now))
    # Each may have signed with its own key so far: those tokens verify everywhere.
    for signer, verifier in ((a, b), (b, a)):
        await TokenService(verifier).verify(issue(signer, now), now)
    assert 1 <= len(await bucket_kids(js)) <= 2
    await a.refresh()
    await b.refresh()
    assert a.signing_key(now).kid == b.signing_key(now).kid


async def test_ensure_keeps_the_existing_key(js: JetStreamContext, now: int) -> None:
    ring = await KeyRing.connect(js, SECRET)
    key = await ring.ensure(now)
    again = await (await KeyRing.connect(js, SECRET)).ensure(now + 5000)
    assert again.kid == key.kid
    assert await bucket_kids(js) == {key.kid}


async def test_after_rotation_old_tokens_verify_until_their_key_retires(
    js: JetStreamContext,
    now: int,
) -> None:
    ring = await KeyRing.connect(js, SECRET)
    old = await ring.ensure(now)
    service = TokenService(ring)
    old_token = issue(ring, now)
    rotation = await ring.rotate(now + 10, retire_after=60)
    assert [k.kid for k in rotation.retiring] == [old.kid]
    new_token = issue(ring, now + 10)
    assert kid_of(old_token) == old.kid
    assert kid_of(new_token) == rotation.new.kid != old.kid
    await service.verify(old_token, now + 69)
    with pytest.raises(InvalidToken, match="retired"):
        await service.verify(old_token, now + 70)
    await service.verify(new_token, now + 70)
    # Another process, started now, sees the same: the retirement is stored, not cached.
    fresh = TokenService(await KeyRing.connect(js, SECRET))
    with pytest.raises(InvalidToken, match="retired"):
        await fresh.verify(old_token, now + 70)


async def test_a_rotation_elsewhere_is_picked_up_on_the_first_unknown_kid(
    js: JetStreamContext,
    now: int,
) -> None:
    here = await KeyRing.connect(js, SECRET)
    await here.ensure(now)
    elsewhere = await KeyRing.connect(js, SECRET)
    rotation = await elsewhere.rotate(now + 1)
    token = issue(elsewhere, now + 1)
    assert kid_of(token) == rotation.new.kid
    claims = await TokenService(here).verify(token, now + 2)
    assert claims.iat == now + 1
    assert here.signing_key(now + 2).kid == rotation.new.kid


async def test_jwks_lists_exactly_the_live_keys_and_rotation_removes_retired_ones(
    js: JetStreamContext,
    now: int,
) -> None:
    ring = await KeyRing.connect(js, SECRET)
    k0 = await ring.ensure(now)
    k1 = (await ring.rotate(now + 1, retire_after=60)).new
    assert {k["kid"] for k in ring.jwks(now + 1)["keys"]} == {k0.kid, k1.kid}
    rotation = await ring.rotate(now + 100, retire_after=60)
    k2 = rotation.new
    assert rotation.removed == [k0.kid]
    assert await bucket_kids(js) == {k1.kid, k2.kid}
    assert [k["kid"] for k in ring.jwks(now + 100)["keys"]] == [k2.kid, k1.kid]
    assert [k["kid"] for k in ring.jwks(now + 160)["keys"]] == [k2.kid]


async def test_the_stored_value_holds_the_private_key_sealed_only(
    js: JetStreamContext, now: int
) -> None:
    ring = await KeyRing.connect(js, SECRET)
    key = await ring.ensure(now)
    entry = await (await js.key_value(BUCKET)).get(key.kid)
    stored = json.loads(entry.value or b"")
    assert stored["kid"] == key.kid
    assert (stored["created_at"], stored["retire_at"]) == (now, None)
    raw = key.private_key.private_bytes_raw()
    value = entry.value or b""
    for spelling in (
        raw,
        raw.hex().encode(),
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
    ):
        assert spelling not in value
    with pytest.raises(ConfigError, match="does not open"):
        await KeyRing.connect(js, b"another platform secret")


async def test_a_missing_bucket_says_to_apply_the_streams(js: JetStreamContext) -> None:
    await js.delete_key_value(BUCKET)
    with pytest.raises(ConfigError, match="quark streams apply"):
        await KeyRing.connect(js, SECRET)


async def test_quark_keys_rotate_and_show(
    settings: Settings,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_settings(monkeypatch, settings)
    now = int(time.time())
    ring = await KeyRing.connect(js, secret_key(settings))  # the CLI's secret, from the data dir
    first = await ring.ensure(now)
    capsys.readouterr()
    # main() runs its own event loop, so it runs in a thread beside this test's loop.
    assert await run_quark("keys", "rotate") == 0
    out = capsys.readouterr().out
    await ring.refresh()
    new = ring.signing_key(now)
    assert new.kid != first.kid
    assert f"new signing key {new.kid}" in out
    assert f"{first.kid} verifies until" in out
    assert await run_quark("keys", "show") == 0
    rows = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows == {new.kid: "signing", first.kid: "retiring"}
