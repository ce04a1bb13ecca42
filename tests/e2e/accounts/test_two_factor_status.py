"""`GET /v1/auth/2fa` says whether the caller's second factor is on (what the web app's
security settings and account erasure ask for), following enabling and disabling at once."""

from __future__ import annotations

import time

import pyotp

from tests.support.identity import IdentityClient


async def test_the_second_factor_status_follows_enable_and_disable(
    client: IdentityClient,
) -> None:
    person = await client.sign_up()
    token = person["access_token"]
    status, answer = await client.get("/v1/auth/2fa", token)
    assert status == 200 and answer == {"enabled": False}

    status, setup, _ = await client.post("/v1/auth/2fa/setup", token=token)
    assert status == 200
    # Set up but not confirmed with a code: still off.
    status, answer = await client.get("/v1/auth/2fa", token)
    assert answer == {"enabled": False}
    totp = pyotp.TOTP(setup["secret"])
    status, _, _ = await client.post("/v1/auth/2fa/enable", {"code": totp.now()}, token)
    assert status == 200
    status, answer = await client.get("/v1/auth/2fa", token)
    assert answer == {"enabled": True}

    status, _, _ = await client.post("/v1/auth/2fa/enable", {"code": totp.now()}, token)
    assert status == 409  # already on: nothing changes
    status, _, _ = await client.post("/v1/auth/2fa/disable", {"code": "x" * 3}, token)
    assert status == 422
    status, answer = await client.get("/v1/auth/2fa", token)
    assert answer == {"enabled": True}

    async with client.http.post(
        "/v1/auth/2fa/disable",
        json={"code": totp.at(time.time() + 30)},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 204
    status, answer = await client.get("/v1/auth/2fa", token)
    assert answer == {"enabled": False}

    status, _ = await client.get("/v1/auth/2fa")
    assert status == 401
