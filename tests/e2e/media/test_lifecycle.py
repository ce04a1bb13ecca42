"""What happens to uploads over time: deletion, the 24-hour sweep of unattached uploads,
bytes shared by identical uploads, and purging only what nothing uses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.envelope import utc_now
from core.settings import Settings
from handlers.media.sweeper import MediaSweeper
from tests.support.identity import IdentityClient
from tests.support.media import media_view, picture, ready, upload
from tests.support.platform import Platform


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Purge as soon as the sweeper runs; the sweeper is run by the tests themselves.
    return settings.with_(media_purge_grace_seconds=0, media_sweep_seconds=3600)


def _sweeper(platform: Platform) -> MediaSweeper:
    return next(b for b in platform.workers.background if isinstance(b, MediaSweeper))


async def _keys(platform: Platform, prefix: str = "") -> list[str]:
    blobs = await platform.infra.blobstore()
    return [key async for key in blobs.keys(prefix)]


async def _sweep(platform: Platform, *, ahead: timedelta = timedelta(0)) -> tuple[int, int]:
    # The sweeper proposes from the read model: let it show everything committed so far.
    from tests.support.log import head_position

    await platform.wait("media", await head_position(platform.infra, "MEDIA"))
    return await _sweeper(platform).sweep_once(utc_now() + ahead)


async def test_identical_uploads_share_their_bytes_until_the_last_one_goes(
    client: IdentityClient, platform: Platform
) -> None:
    alice = (await client.sign_up())["access_token"]
    bob = (await client.sign_up())["access_token"]
    data = picture("PNG", 500, 300)
    _, a, _ = await upload(client.http, alice, data)
    _, b, _ = await upload(client.http, bob, data)
    view_a = await ready(client.http, platform.infra, alice, a["id"])
    view_b = await ready(client.http, platform.infra, bob, b["id"])
    key = view_a["variants"]["320"]["url"].split("?")[0]
    assert key == view_b["variants"]["320"]["url"].split("?")[0]  # stored once
    sha = key.split("/")[2]
    stored = await _keys(platform, sha)
    assert len(stored) == 4  # original, 64, 320, 1080
    assert await _keys(platform, "uploads/") == []  # temporary objects are gone

    status, _ = await client.call("DELETE", f"/v1/media/{a['id']}", alice)
    assert status == 200
    assert (await _sweep(platform))[1] == 1
    status, _ = await media_view(client.http, alice, a["id"])
    assert status == 404
    assert await _keys(platform, sha) == stored  # Bob's upload still uses them
    async with client.http.get(view_b["variants"]["320"]["url"]) as resp:
        assert resp.status == 200

    status, _ = await client.call("DELETE", f"/v1/media/{b['id']}", bob)
    assert status == 200
    assert (await _sweep(platform))[1] == 1
    assert await _keys(platform) == []
    async with client.http.get(view_b["variants"]["320"]["url"]) as resp:
        assert resp.status == 404


async def test_unattached_uploads_go_after_a_day_and_attached_ones_stay(
    client: IdentityClient, platform: Platform
) -> None:
    me = (await client.sign_up())["access_token"]
    _, avatar, _ = await upload(client.http, me, picture("PNG", 80, 80))
    _, loose, _ = await upload(client.http, me, picture("PNG", 90, 90))
    await ready(client.http, platform.infra, me, avatar["id"])
    await ready(client.http, platform.infra, me, loose["id"])
    status, _ = await client.call("PATCH", "/v1/me", me, {"avatar_media_id": avatar["id"]})
    assert status == 200

    assert await _sweep(platform) == (0, 0)  # nothing is a day old yet
    deleted, purged = await _sweep(platform, ahead=timedelta(hours=25))
    # Purged once the read model shows the deletion: by this round if the media projection
    # applied it before the purge query ran (it often does), else by the next.
    assert deleted == 1 and purged in (0, 1)
    assert purged + (await _sweep(platform, ahead=timedelta(hours=25)))[1] == 1
    status, _ = await media_view(client.http, me, loose["id"])
    assert status == 404
    status, view = await media_view(client.http, me, avatar["id"])
    assert status == 200 and view["status"] == "ready"
    remaining = {key.split("/")[0] for key in await _keys(platform)}
    assert remaining == {view["variants"]["320"]["url"].split("/")[2]}

    # A new avatar detaches the old one, which the sweep then collects.
    _, newer, _ = await upload(client.http, me, picture("PNG", 70, 70))
    await ready(client.http, platform.infra, me, newer["id"])
    status, _ = await client.call("PATCH", "/v1/me", me, {"avatar_media_id": newer["id"]})
    assert status == 200
    from handlers.media.events import MediaDetached
    from tests.support.log import next_event

    await next_event(platform.infra, "MEDIA", f"ev.media.upload.{avatar['id']}", MediaDetached)
    await _sweep(platform, ahead=timedelta(hours=25))
    await _sweep(platform, ahead=timedelta(hours=25))
    status, _ = await media_view(client.http, me, avatar["id"])
    assert status == 404
    status, _ = await media_view(client.http, me, newer["id"])
    assert status == 200
