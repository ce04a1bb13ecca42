"""The media worker: turns received uploads into stored variants, beside the media handler.

A durable pull consumer on the MEDIA stream delivers every `MediaReceived` at least once;
any number of worker processes share it. Processing is idempotent by construction:
- the objects it writes are content-addressed (`<sha256>/<variant>.<ext>`) and the image
  pipeline is deterministic, so a redelivery writes the very same objects again;
- the concluding event is appended through `transact` with a command id derived from the
  media id, and `decide_processed` only concludes an upload that is still processing;
- the upload's temporary object is deleted last, after the conclusion is durable — a worker
  killed anywhere before that leaves everything for the next delivery to finish.

Decoding and encoding run in a process pool (`QUARK_MEDIA_PROCESSES`), never on the event
loop; a long job tells JetStream it is still working (`in_progress`), so it is not handed to
another worker meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from core.blobstore import BlobNotFound, BlobStore
from core.bus import transact
from core.commands import CommandMeta
from core.envelope import utc_now
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE
from core.worker_loop import ConsumerLoop
from handlers.media import images
from handlers.media.content import HEAD_BYTES, RefusedContent, TooManyPixels, sniff
from handlers.media.decide import (
    PROCESSING,
    UPLOAD,
    content_prefix,
    decide_processed,
    decide_rejected,
)
from handlers.media.events import MediaProcessed, MediaReceived, MediaRejected, Variant

log = get_logger("quark.media")
CONSUMER = "media_processor"
#: A job that stops reporting progress for this long is handed to another worker.
ACK_WAIT_SECONDS = 30.0
#: How often a running job reports progress.
PROGRESS_SECONDS = 10.0

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/avif": "avif",
}


def system_meta(command_id: str, correlation_id: str = "") -> CommandMeta:
    """The metadata of what the platform decides by itself (no person acting)."""
    return CommandMeta(
        command_id=command_id,
        actor=None,
        roles=frozenset(),
        correlation_id=correlation_id or command_id,
        received_at=utc_now(),
    )


def variant_key(sha256: str, name: str, media_type: str) -> str:
    return f"{content_prefix(sha256)}{name}.{_EXTENSIONS.get(media_type, 'bin')}"


async def _download(blobs: BlobStore, key: str, target: Path) -> None:
    with target.open("wb") as f:
        async for chunk in blobs.read(key):
            f.write(chunk)


@dataclass
class MediaProcessor:
    """Makes the variants of uploaded images and videos, one job at a time per process."""

    #: Its own module on the station (discovery, `quark status`).
    module: ClassVar[str] = "media-worker"
    infra: Any
    #: Jobs one process runs at once (the pool's size: more would only queue).
    concurrency: int = 1
    ack_wait: float = ACK_WAIT_SECONDS
    _loop: ConsumerLoop | None = None
    _executor: Executor | None = None

    async def start(self) -> None:
        self.stream = self.infra.store.streams.stream_for("media")
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject="ev.media.>",
            ack_wait=self.ack_wait,
            max_deliver=-1,
        )
        self.blobs = await self.infra.blobstore()
        self._loop = ConsumerLoop(
            self.infra.nc.jetstream(),
            self.stream,
            config,
            self._handle_batch,
            name="media-processor",
            batch=self.concurrency,
        )
        await self._loop.start()

    def _images(self) -> Executor | None:
        """The processes images are made in, started with the first image: a platform that
        has none to make keeps no pool (nor multiprocessing's resource tracker, 13 MB of an
        idle `./dev up`'s RSS)."""
        if self._executor is None and self.concurrency > 0:
            # `spawn`: a fork of a process running an event loop and NATS threads is unsafe.
            self._executor = ProcessPoolExecutor(
                max_workers=self.concurrency, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _handle_batch(self, msgs: list[Any]) -> None:
        await asyncio.gather(*(self._handle(m) for m in msgs))

    async def _handle(self, msg: Any) -> None:
        seq = msg.metadata.sequence.stream
        progress = asyncio.create_task(self._keep_alive(msg))
        try:
            for recorded in self.infra.registry.recorded(
                msg.data, self.stream, seq, frozenset({MediaReceived.name})
            ):
                await self.process(recorded.event, recorded.envelope.correlation_id)
        except Exception:
            attempt = msg.metadata.num_delivered
            log.exception("media_processing_failed", seq=seq, attempt=attempt)
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await msg.nak(delay=min(2.0**attempt, 120.0))
            return
        finally:
            progress.cancel()
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await msg.ack()

    async def _keep_alive(self, msg: Any) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            with contextlib.suppress(*NATS_UNAVAILABLE):
                await msg.in_progress()

    async def process(self, event: MediaReceived, correlation_id: str = "") -> None:
        store = self.infra.store
        state = (await store.load(UPLOAD, event.media_id)).state
        if state.status != PROCESSING:
            # Concluded (or deleted) already: only an earlier delivery's leftover may remain.
            await self.blobs.delete(event.upload_key)
            return
        log.info("media_processing", media_id=event.media_id)
        with tempfile.TemporaryDirectory(prefix="quark-media-") as tmp:
            source = Path(tmp) / "upload"
            try:
                await _download(self.blobs, event.upload_key, source)
                conclusion = await self._derive(event, source, Path(tmp) / "out")
            except BlobNotFound:
                conclusion = self._rejected(
                    event, "the uploaded bytes are missing; upload again", "upload-missing"
                )
            except TooManyPixels as refused:
                conclusion = self._rejected(event, str(refused), "image-too-large")
            except RefusedContent as refused:
                conclusion = self._rejected(event, str(refused), "damaged-media")
        if isinstance(conclusion, MediaRejected):
            # Refused bytes go before the refusal is recorded: nothing of them stays.
            await self.blobs.delete(event.upload_key)
            decide: Any = lambda s: decide_rejected(s, conclusion)  # noqa: E731
        else:
            decide = lambda s: decide_processed(s, conclusion)  # noqa: E731
        await transact(
            store,
            UPLOAD,
            event.media_id,
            decide,
            system_meta(f"processed/{event.media_id}", correlation_id),
        )
        await self.blobs.delete(event.upload_key)
        log.info("media_processed", media_id=event.media_id, outcome=type(conclusion).__name__)

    def _rejected(self, event: MediaReceived, reason: str, code: str) -> MediaRejected:
        return MediaRejected(
            media_id=event.media_id, reason=reason, rejected_at=utc_now(), code=code
        )

    async def _derive(self, event: MediaReceived, source: Path, out: Path) -> MediaProcessed:
        with source.open("rb") as f:
            kind = sniff(f.read(HEAD_BYTES))
        if not kind.image:
            key = f"{content_prefix(event.sha256)}original.{kind.extension}"
            blob = await self.blobs.put_file(key, source, kind.media_type)
            return MediaProcessed(
                media_id=event.media_id,
                media_type=kind.media_type,
                width=None,
                height=None,
                blurhash=None,
                variants={"original": Variant(key, None, None, kind.media_type, blob.size)},
                processed_at=utc_now(),
            )
        await asyncio.to_thread(out.mkdir)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._images(), images.process_image, source, out)
        variants: dict[str, Variant] = {}
        for name, v in result.variants.items():
            key = variant_key(event.sha256, name, v.type)
            await self.blobs.put_file(key, v.path, v.type)
            variants[name] = Variant(key, v.width, v.height, v.type, v.size)
        return MediaProcessed(
            media_id=event.media_id,
            media_type=result.type,
            width=result.width,
            height=result.height,
            blurhash=result.blurhash,
            variants=variants,
            processed_at=utc_now(),
        )


def background_services(infra: Any) -> list[Any]:
    from handlers.media.sweeper import MediaSweeper, reactors

    settings = infra.settings
    return [
        MediaProcessor(
            infra,
            concurrency=settings.media_processes,
            ack_wait=settings.media_ack_wait_seconds,
        ),
        MediaSweeper(infra),
        *reactors(infra),
    ]
