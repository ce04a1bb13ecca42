"""The upload aggregate's decisions, as pure functions: who may do what, in which state,
and which repeats change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.commands import CommandMeta
from core.registry import Event
from handlers.media import decide as d
from handlers.media.commands import (
    AttachMedia,
    DeleteMedia,
    DescribeMedia,
    ReceiveUpload,
    RefuseUpload,
    ReserveUpload,
)
from handlers.media.errors import (
    MediaExists,
    MediaNotFound,
    MediaNotReady,
    NotAnImage,
    UploadNotReserved,
)
from handlers.media.events import MediaProcessed, MediaRejected, Variant

MEDIA = "0192f0a0-0000-7000-8000-000000000001"
OWNER, OTHER = "0192f0a0-0000-7000-8000-0000000000aa", "0192f0a0-0000-7000-8000-0000000000bb"
SHA = "a" * 64
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def meta(
    actor: str | None = OWNER, roles: frozenset[str] = frozenset(), at: datetime = NOW
) -> CommandMeta:
    return CommandMeta("cmd", actor, roles, "corr", at)


def fold(events: list[Event], state: d.MediaState | None = None) -> d.MediaState:
    state = state or d.MediaState()
    for e in events:
        state = d.evolve(state, e)
    return state


def received(sha: str = SHA, key: str | None = None) -> ReceiveUpload:
    return ReceiveUpload(
        media_id=MEDIA,
        sha256=sha,
        size=10,
        media_type="image/png",
        upload_key=key or f"uploads/{MEDIA}/{sha}",
    )


def ready_state(media_type: str = "image/png") -> d.MediaState:
    state = fold(d.decide_receive(d.MediaState(), received(), meta()))
    processed = MediaProcessed(
        media_id=MEDIA,
        media_type=media_type,
        width=1,
        height=1,
        blurhash=None,
        variants={"original": Variant(f"{SHA}/original.png", 1, 1, media_type, 10)},
        processed_at=NOW,
    )
    return fold(d.decide_processed(state, processed), state)


def test_a_retry_of_the_same_upload_changes_nothing_but_other_bytes_conflict() -> None:
    state = fold(d.decide_receive(d.MediaState(), received(), meta()))
    assert state.status == d.PROCESSING
    assert d.decide_receive(state, received(), meta()) == []
    with pytest.raises(MediaExists):
        d.decide_receive(state, received("b" * 64), meta())
    with pytest.raises(MediaExists):
        d.decide_receive(state, received(), meta(OTHER))


def test_bytes_must_be_the_uploads_own() -> None:
    other_media = "0192f0a0-0000-7000-8000-000000000002"
    with pytest.raises(MediaNotFound):
        d.decide_receive(d.MediaState(), received(key=f"uploads/{other_media}/{SHA}"), meta())


def test_a_reservation_is_completed_by_its_owner_in_time_within_its_size() -> None:
    reserve = ReserveUpload(
        media_id=MEDIA,
        size=10,
        declared_type="image/png",
        expires_at=int((NOW + timedelta(minutes=15)).timestamp()),
    )
    state = fold(d.decide_reserve(d.MediaState(), reserve, meta()))
    assert d.decide_reserve(state, reserve, meta()) == []  # the same reservation again
    direct = received(key=f"uploads/{MEDIA}/direct")
    with pytest.raises(MediaNotFound):
        d.decide_receive(state, direct, meta(OTHER))
    with pytest.raises(UploadNotReserved):
        d.decide_receive(state, direct, meta(at=NOW + timedelta(minutes=16)))
    too_big = ReceiveUpload(
        media_id=MEDIA, sha256=SHA, size=11, media_type="image/png", upload_key=direct.upload_key
    )
    with pytest.raises(UploadNotReserved):
        d.decide_receive(state, too_big, meta())
    assert fold(d.decide_receive(state, direct, meta()), state).status == d.PROCESSING
    refused = fold(d.decide_refuse(state, RefuseUpload(media_id=MEDIA, reason="no"), meta()), state)
    assert refused.status == d.FAILED


def test_the_worker_concludes_once() -> None:
    state = fold(d.decide_receive(d.MediaState(), received(), meta()))
    rejected = MediaRejected(media_id=MEDIA, reason="damaged", rejected_at=NOW)
    after = fold(d.decide_rejected(state, rejected), state)
    assert after.status == d.FAILED
    assert d.decide_rejected(after, rejected) == []
    late = MediaProcessed(
        media_id=MEDIA,
        media_type="image/png",
        width=1,
        height=1,
        blurhash=None,
        variants={},
        processed_at=NOW,
    )
    assert d.decide_processed(after, late) == []  # a rejected upload stays rejected


def test_only_the_owner_attaches_ready_images_once() -> None:
    state = ready_state()
    attach = AttachMedia(media_id=MEDIA, ref=f"avatar:{OWNER}", public=True, image_only=True)
    with pytest.raises(MediaNotFound):
        d.decide_attach(state, attach, meta(OTHER))
    attached = fold(d.decide_attach(state, attach, meta()), state)
    assert d.decide_attach(attached, attach, meta()) == []
    with pytest.raises(NotAnImage):
        d.decide_attach(ready_state("application/pdf"), attach, meta())
    processing = fold(d.decide_receive(d.MediaState(), received(), meta()))
    with pytest.raises(MediaNotReady):
        d.decide_attach(processing, attach, meta())
    # The sweep leaves attached media alone, except for erasure.
    assert d.decide_sweep(attached, MEDIA, "unattached", meta(None)) == []
    assert d.decide_sweep(attached, MEDIA, "erased", meta(None))


def test_delete_by_owner_or_moderator_then_purge_once() -> None:
    state = ready_state()
    with pytest.raises(MediaNotFound):
        d.decide_delete(state, DeleteMedia(media_id=MEDIA), meta(OTHER))
    by_moderator = d.decide_delete(
        state, DeleteMedia(media_id=MEDIA), meta(OTHER, frozenset({"moderator"}))
    )
    assert by_moderator[0].reason == "moderator"  # type: ignore[attr-defined]
    deleted = fold(d.decide_delete(state, DeleteMedia(media_id=MEDIA), meta()), state)
    assert d.decide_delete(deleted, DeleteMedia(media_id=MEDIA), meta()) == []
    with pytest.raises(MediaNotFound):
        d.decide_describe(deleted, DescribeMedia(media_id=MEDIA, description="x"), meta())
    assert d.decide_purge(state, MEDIA, [], meta(None)) == []  # not deleted: never purged
    purged = fold(d.decide_purge(deleted, MEDIA, [f"{SHA}/original.png"], meta(None)), deleted)
    assert purged.purged and d.decide_purge(purged, MEDIA, [], meta(None)) == []
