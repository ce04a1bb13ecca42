"""What the media context does on its own schedule and in answer to other contexts:

- the sweeper deletes uploads attached to nothing for `QUARK_MEDIA_UNATTACHED_TTL_SECONDS`
  (and direct uploads that never arrived), then purges the bytes of deleted uploads once the
  grace period has passed and no other live upload shares them (content-addressed objects
  are shared by identical uploads: this read-model sweep is the reference count);
- a person's erasure deletes all their media and purges its bytes at once;
- a new avatar (or none) detaches the previous one, which the sweeper then collects;
- a deleted post or chat message detaches its media.

Every step is idempotent (command ids derived from what is being swept) and safe to run in
several processes at once; the read model only proposes candidates, each aggregate decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.bus import transact
from core.envelope import utc_now
from core.logging import get_logger
from core.reactor import Reactor
from handlers.media.decide import (
    UPLOAD,
    content_prefix,
    decide_detach,
    decide_purge,
    decide_sweep,
    upload_prefix,
)
from handlers.media.worker import system_meta
from projections import media as model

log = get_logger("quark.media")
BATCH = 500
#: How long erasure waits for the media read model to show every upload made before it.
CATCH_UP_SECONDS = 30.0


@dataclass
class MediaSweeper:
    infra: Any
    _task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.blobs = await self.infra.blobstore()
        self._task = asyncio.create_task(self._run(), name="media-sweeper")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        interval = self.infra.settings.media_sweep_seconds
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            try:
                await self.sweep_once()
            except Exception:  # a dependency away: the next round tries again
                log.exception("media_sweep_failed")

    async def sweep_once(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete what is due, purge what may go; (deleted, purged) counts. `now` lets a
        test look a day ahead."""
        settings = self.infra.settings
        now = now or utc_now()
        pool = self.infra.pool
        deleted = 0
        cutoff = now - timedelta(seconds=settings.media_unattached_ttl_seconds)
        for media_id, status in await model.unattached_before(pool, cutoff, now, BATCH):
            reason = "expired" if status == "reserved" else "unattached"
            deleted += await delete_media(self.infra, media_id, reason, f"sweep/{media_id}")
        grace = now - timedelta(seconds=settings.media_purge_grace_seconds)
        purged = 0
        for item in await model.purgeable(pool, grace, BATCH):
            purged += await purge_media(self.infra, self.blobs, item.id, item.sha256, item.shared)
        if deleted or purged:
            log.info("media_swept", deleted=deleted, purged=purged)
        return deleted, purged


async def delete_media(infra: Any, media_id: str, reason: str, command_id: str) -> int:
    outcome = await transact(
        infra.store,
        UPLOAD,
        media_id,
        lambda s: decide_sweep(s, media_id, reason, meta),
        meta := system_meta(command_id),
    )
    return len(outcome.events)


async def purge_media(
    infra: Any, blobs: Any, media_id: str, sha256: str | None, shared: bool
) -> int:
    """Delete the upload's own temporary object and — unless another live upload shares
    them — every object made from its bytes; then record it."""
    async for key in blobs.keys(upload_prefix(media_id)):
        await blobs.delete(key)
    keys: list[str] = []
    if sha256 and not shared:
        keys = [key async for key in blobs.keys(content_prefix(sha256))]
        for key in keys:
            await blobs.delete(key)
    meta = system_meta(f"purge/{media_id}")
    outcome = await transact(
        infra.store, UPLOAD, media_id, lambda s: decide_purge(s, media_id, keys, meta), meta
    )
    return len(outcome.events)


async def erase_media_of(infra: Any, recorded: Any) -> None:
    """React to `accounts.AccountErased`: every upload of the person is deleted and its
    bytes purged now (no grace period), except bytes another person's upload shares."""
    user_id = recorded.event.user_id
    await _media_read_model_caught_up(infra)
    blobs = await infra.blobstore()
    tag = f"{recorded.stream}-{recorded.seq}-{recorded.index}"
    for media_id in await model.media_of_owner(infra.pool, user_id):
        await delete_media(infra, media_id, "erased", f"erased/{tag}/{media_id}")
        state = (await infra.store.load(UPLOAD, media_id)).state
        shared = bool(state.sha256) and await model.shared_with_others(
            infra.pool, state.sha256, user_id
        )
        await purge_media(infra, blobs, media_id, state.sha256 or None, shared)


async def _media_read_model_caught_up(infra: Any) -> None:
    """Wait until the media read model shows every upload committed so far."""
    stream = infra.store.streams.stream_for("media")
    js = infra.nc.jetstream()
    head = (await js.stream_info(stream)).state.last_seq
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_SECONDS
    while await model.checkpoint(infra.pool, stream) < head:
        if loop.time() > deadline:
            raise TimeoutError("the media read model is behind; erasure retries")
        await asyncio.sleep(0.1)


async def detach_old_avatar(infra: Any, recorded: Any) -> None:
    """React to `profiles.ProfileUpdated`: the previous avatar is no longer attached."""
    event = recorded.event
    if event.avatar_media_id is None and not event.avatar_cleared:
        return
    await _detach_all(infra, f"avatar:{event.user_id}", recorded, keep=event.avatar_media_id)


async def detach_from_deleted_post(infra: Any, recorded: Any) -> None:
    """React to `posts.PostDeleted`: its media is attached to nothing there any more."""
    await _detach_all(infra, f"post:{recorded.event.post_id}", recorded)


async def detach_from_deleted_message(infra: Any, recorded: Any) -> None:
    """React to `chat.MessageDeleted`: its media is attached to nothing there any more."""
    await _detach_all(infra, f"message:{recorded.event.message_id}", recorded)


async def _detach_all(infra: Any, ref: str, recorded: Any, keep: str | None = None) -> None:
    tag = f"{recorded.stream}-{recorded.seq}-{recorded.index}"
    for media_id in await model.attached_to(infra.pool, ref):
        if media_id == keep:
            continue
        meta = system_meta(f"detach/{tag}/{media_id}")
        await transact(
            infra.store,
            UPLOAD,
            media_id,
            lambda s, media_id=media_id, meta=meta: decide_detach(s, media_id, ref, meta),
            meta,
        )


def reactors(infra: Any) -> list[Reactor]:
    js = infra.nc.jetstream()
    streams = infra.store.streams

    async def on_erasure(recorded: Any) -> None:
        await erase_media_of(infra, recorded)

    async def on_profile(recorded: Any) -> None:
        await detach_old_avatar(infra, recorded)

    async def on_post(recorded: Any) -> None:
        await detach_from_deleted_post(infra, recorded)

    async def on_message(recorded: Any) -> None:
        await detach_from_deleted_message(infra, recorded)

    def reactor(name: str, context: str, subjects: str, event: str, react: Any) -> Reactor:
        return Reactor(
            js=js,
            registry=infra.registry,
            name=name,
            stream=streams.stream_for(context),
            filter_subject=subjects,
            reacts_to=frozenset({event}),
            react=react,
        )

    return [
        reactor(
            "media_on_erasure",
            "accounts",
            "ev.accounts.account.>",
            "accounts.AccountErased",
            on_erasure,
        ),
        reactor(
            "media_on_profile", "profiles", "ev.profiles.>", "profiles.ProfileUpdated", on_profile
        ),
        reactor("media_on_posts", "posts", "ev.posts.>", "posts.PostDeleted", on_post),
        reactor(
            "media_on_messages",
            "chat",
            "ev.chat.message.>",
            "chat.MessageDeleted",
            on_message,
        ),
    ]
