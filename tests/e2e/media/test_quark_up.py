"""`quark up` (what `./dev up` runs) with media: in the data dir when no S3 is configured, in
the bucket with `QUARK_S3_*` settings — an upload through HTTP comes out processed."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest

from core import embedded
from core.blobstore import LocalBlobStore, S3BlobStore
from core.settings import Settings
from tests.support.identity import IdentityClient
from tests.support.media import picture
from tests.support.processes import WorkerProcess


async def _processed(http: aiohttp.ClientSession, token: str, media_id: str) -> dict:
    """Poll the media view: this test watches a whole platform from outside, like a client."""
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(300):
        async with http.get(f"/v1/media/{media_id}", headers=headers) as resp:
            view = await resp.json()
        if view["status"] != "processing":
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"still processing: {view}")


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_quark_up_serves_media(settings: Settings, s3_server: str, backend: str) -> None:
    env = {}
    bucket = f"quark-up-{secrets.token_hex(4)}"
    if backend == "s3":
        env = {
            "QUARK_S3_ENDPOINT": s3_server,
            "QUARK_S3_ACCESS_KEY": "test-access",
            "QUARK_S3_SECRET_KEY": "test-secret",
            "QUARK_S3_BUCKET": bucket,
            "QUARK_S3_REGION": "us-east-1",
            "QUARK_S3_SECURE": "false",
        }
    up = WorkerProcess([], settings, port=embedded.free_port(), command="up", env=env)
    await up.start()
    try:
        await up.wait_ready(timeout=60)
        # The edge answers before the banner is printed (the hub and any module in another
        # language start after it).
        await up.wait_output("quark is up")
        where = f"bucket {bucket}" if backend == "s3" else str(settings.data_dir / "media")
        assert any("media" in line and where in line for line in up.output), up.output
        async with aiohttp.ClientSession(base_url=up.base_url) as http:
            client = IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")
            token = (await client.sign_up())["access_token"]
            async with http.post(
                "/v1/media",
                data=picture("PNG", 500, 400),
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 202, await resp.text()
                media_id = (await resp.json())["id"]
            view = await _processed(http, token, media_id)
            assert view["status"] == "ready", view
            async with http.get(view["variants"]["320"]["url"]) as resp:
                assert (
                    resp.status == 200 and len(await resp.read()) == view["variants"]["320"]["size"]
                )
    finally:
        await up.stop()
    if backend == "s3":
        store = await S3BlobStore.open(
            s3_server, "test-access", "test-secret", bucket, secure=False, region="us-east-1"
        )
    else:
        store = LocalBlobStore(settings.data_dir / "media")
    keys = [key async for key in store.keys("")]
    assert len(keys) == 4 and keys[0].startswith(view["variants"]["320"]["url"].split("/")[2])
