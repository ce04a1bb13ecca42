"""One storage suite, run against both backends: the local directory and S3 — the latter
through the `minio` SDK against a real S3-protocol HTTP server the tests start (moto's
server mode in a thread of this process), never a mock object."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from core.blobstore import (
    CHUNK,
    BlobNotFound,
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    check_key,
    open_blobstore,
)
from core.settings import Settings


def a_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / f"upload-{secrets.token_hex(4)}"
    path.write_bytes(data)
    return path, data


async def test_an_object_reads_back_exactly_as_stored(store: BlobStore, tmp_path: Path) -> None:
    path, data = a_file(tmp_path, 3 * CHUNK + 17)
    key = f"{hashlib.sha256(data).hexdigest()}/original.jpg"
    blob = await store.put_file(key, path)
    assert (blob.size, blob.content_type) == (len(data), "image/jpeg")
    assert path.exists()  # the source is the caller's: left in place
    stat = await store.stat(key)
    assert stat is not None and (stat.size, stat.content_type) == (len(data), "image/jpeg")
    chunks = [chunk async for chunk in store.read(key)]
    assert b"".join(chunks) == data
    # Streamed: never more than a chunk at a time.
    assert max(len(c) for c in chunks) <= CHUNK and len(chunks) >= 4


async def test_ranges_read_exactly_the_bytes_asked_for(store: BlobStore, tmp_path: Path) -> None:
    path, data = a_file(tmp_path, CHUNK + 1000)
    key = "ab/range.bin"
    await store.put_file(key, path, "application/octet-stream")
    for start, end in (
        (0, 1),
        (10, 20),
        (CHUNK - 5, CHUNK + 5),
        (100, None),
        (len(data) - 1, None),
    ):
        got = b"".join([c async for c in store.read(key, start, end)])
        assert got == data[start:end], (start, end)
    assert b"".join([c async for c in store.read(key, len(data), None)]) == b""


async def test_putting_the_same_key_again_keeps_one_object(
    store: BlobStore, tmp_path: Path
) -> None:
    path, data = a_file(tmp_path, 5000)
    await store.put_file("same/320.webp", path)
    await store.put_file("same/320.webp", path)  # a retried or duplicate upload
    assert [k async for k in store.keys("same/")] == ["same/320.webp"]
    assert await store.read_all("same/320.webp") == data
    assert (await store.stat("same/320.webp")).content_type == "image/webp"  # type: ignore[union-attr]


async def test_small_objects_are_stored_from_bytes(store: BlobStore) -> None:
    await store.put_bytes("thumbs/64.webp", b"RIFF....WEBP", "image/webp")
    assert await store.read_all("thumbs/64.webp") == b"RIFF....WEBP"


async def test_a_missing_object_is_none_to_stat_not_found_to_read_and_fine_to_delete(
    store: BlobStore,
) -> None:
    assert await store.stat("nothing/here.png") is None
    with pytest.raises(BlobNotFound):
        await store.read_all("nothing/here.png")
    await store.delete("nothing/here.png")


async def test_deleted_objects_are_gone_and_keys_list_by_prefix(
    store: BlobStore, tmp_path: Path
) -> None:
    path, _ = a_file(tmp_path, 100)
    for key in ("p1/a.png", "p1/b.png", "p2/c.png"):
        await store.put_file(key, path)
    assert [k async for k in store.keys("p1/")] == ["p1/a.png", "p1/b.png"]
    await store.delete("p1/a.png")
    assert await store.stat("p1/a.png") is None
    assert [k async for k in store.keys("p")] == ["p1/b.png", "p2/c.png"]


@pytest.mark.parametrize(
    "key", ["../escape.png", "/etc/passwd", "a//b.png", "a/./b.png", "a/../b.png", "UPPER.png", ""]
)
async def test_keys_that_could_leave_the_root_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not an object key"):
        check_key(key)
    with pytest.raises(ValueError, match="not an object key"):
        await store.stat(key)


async def test_s3_presigned_urls_let_a_client_put_and_get_directly(s3_server: str) -> None:
    store = await S3BlobStore.open(
        s3_server, "test-access", "test-secret", "quark-presigned", secure=False, region="us-east-1"
    )
    put_url = store.presigned_put("direct/upload.bin", timedelta(minutes=5))
    assert put_url is not None and "X-Amz-Signature" in put_url
    async with aiohttp.ClientSession() as http:
        async with http.put(put_url, data=b"direct bytes") as resp:
            assert resp.status == 200, await resp.text()
        get_url = store.presigned_get("direct/upload.bin", timedelta(minutes=5))
        assert get_url is not None
        async with http.get(get_url) as resp:
            assert resp.status == 200 and await resp.read() == b"direct bytes"
    assert await store.read_all("direct/upload.bin") == b"direct bytes"


async def test_the_local_backend_issues_no_presigned_urls(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    assert store.presigned_put("a/b.png", timedelta(minutes=1)) is None
    assert store.presigned_get("a/b.png", timedelta(minutes=1)) is None


async def test_without_s3_settings_media_live_in_the_data_dir(tmp_path: Path) -> None:
    store = await open_blobstore(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "media").resolve()


async def test_with_s3_settings_media_live_in_the_bucket_which_is_created(s3_server: str) -> None:
    settings = Settings(
        s3_endpoint=s3_server,
        s3_access_key="test-access",
        s3_secret_key="test-secret",
        s3_bucket="quark-configured",
        s3_region="us-east-1",
        s3_secure=False,
    )
    store = await open_blobstore(settings)
    assert isinstance(store, S3BlobStore) and store.bucket == "quark-configured"
    await store.put_bytes("k/v.png", b"png")
    again = await open_blobstore(settings)  # the bucket exists now: opened, not re-created
    assert await again.read_all("k/v.png") == b"png"
