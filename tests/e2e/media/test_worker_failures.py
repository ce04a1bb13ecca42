"""The media worker under redelivery and SIGKILL: whatever happens mid-processing, an upload
ends with exactly one conclusion in the log and exactly one set of objects in the store."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.media_pipeline import make_jpeg
from core.bootstrap import Infra
from handlers.media.events import MediaProcessed, MediaReceived
from handlers.media.worker import MediaProcessor
from tests.support.identity import IdentityClient
from tests.support.log import next_event, stored_messages
from tests.support.media import concluded, upload
from tests.support.platform import Platform
from tests.support.processes import WorkerProcess


async def _stop_in_process_worker(platform: Platform) -> None:
    """This test runs the media worker itself: the platform's own one stands aside."""
    for service in platform.workers.background:
        if isinstance(service, MediaProcessor):
            await service.stop()


async def _conclusions(infra: Infra, media_id: str) -> list[str]:
    names = []
    for msg in await stored_messages(infra, "MEDIA"):
        if msg.subject == f"ev.media.upload.{media_id}":
            names += [r.envelope.type for r in infra.registry.recorded(msg.data, "MEDIA", msg.seq)]
    return [n for n in names if n in ("media.MediaProcessed", "media.MediaRejected")]


async def _objects(infra: Infra) -> dict[str, bytes]:
    blobs = await infra.blobstore()
    return {key: await blobs.read_all(key) async for key in blobs.keys("")}


async def test_redelivered_uploads_make_one_set_of_objects(
    client: IdentityClient, platform: Platform
) -> None:
    await _stop_in_process_worker(platform)
    token = (await client.sign_up())["access_token"]
    with tempfile.TemporaryDirectory() as tmp:
        data = make_jpeg(Path(tmp) / "p.jpg", 1200, 800).read_bytes()
    status, accepted, _ = await upload(client.http, token, data)
    assert status == 202, accepted
    received = await next_event(
        platform.infra, "MEDIA", f"ev.media.upload.{accepted['id']}", MediaReceived
    )
    worker = MediaProcessor(platform.infra, concurrency=0)
    worker.stream, worker.blobs = "MEDIA", await platform.infra.blobstore()
    # Two deliveries of the same event at once (an ack lost, another worker taking over),
    # then a third after the conclusion.
    await asyncio.gather(worker.process(received.event), worker.process(received.event))
    first = await _objects(platform.infra)
    await worker.process(received.event)
    assert await _objects(platform.infra) == first
    assert await _conclusions(platform.infra, accepted["id"]) == ["media.MediaProcessed"]
    assert sorted(k.split("/")[1] for k in first) == [
        "1080.webp",
        "320.webp",
        "64.webp",
        "original.jpg",
    ]


async def test_a_worker_killed_mid_processing_is_finished_by_the_next(
    client: IdentityClient, platform: Platform
) -> None:
    await _stop_in_process_worker(platform)
    settings = platform.infra.settings
    token = (await client.sign_up())["access_token"]
    with tempfile.TemporaryDirectory() as tmp:
        data = make_jpeg(Path(tmp) / "big.jpg", 6000, 4000).read_bytes()  # 24 MP
    env = {"QUARK_MEDIA_ACK_WAIT_SECONDS": "2", "QUARK_LOG_LEVEL": "info"}
    doomed = WorkerProcess(["handler", "media"], settings, env=env)
    await doomed.start()
    try:
        status, accepted, _ = await upload(client.http, token, data)
        assert status == 202, accepted
        await doomed.wait_output("media_processing")
        doomed.kill()
    finally:
        await doomed.stop()
    assert await _conclusions(platform.infra, accepted["id"]) == []

    survivor = WorkerProcess(["handler", "media"], settings, env=env)
    await survivor.start()
    try:
        event = await concluded(platform.infra, accepted["id"], timeout=60)
        assert event.envelope.type == MediaProcessed.name
    finally:
        await survivor.stop()
    assert await _conclusions(platform.infra, accepted["id"]) == ["media.MediaProcessed"]
    keys = sorted(await _objects(platform.infra))
    assert len(keys) == 4 and not [k for k in keys if k.startswith("uploads/")], keys
