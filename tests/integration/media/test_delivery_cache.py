"""Small objects served from the edge's memory: the same bytes and ranges as the store,
bounded in size, never holding large objects."""

from __future__ import annotations

from core.blobstore import Blob, BlobNotFound, BlobStore
from edge.delivery import CachedStore, SmallObjects

KEY = "a" * 64 + "/320.webp"


async def _read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


async def test_small_objects_come_from_memory_after_the_first_read(store: BlobStore) -> None:
    data = bytes(range(256)) * 40
    await store.put_bytes(KEY, data, "image/webp")
    cached = CachedStore(store, SmallObjects())
    blob = await cached.stat(KEY)
    assert blob is not None and blob.size == len(data)
    assert await _read(cached, KEY) == data
    assert await _read(cached, KEY, 10, 20) == data[10:20]
    assert await _read(cached, KEY, len(data) - 5) == data[-5:]
    # Gone from the store, still in memory: whether it may be served is decided before the
    # store is asked (the media route's access check), and content-addressed bytes never
    # change.
    await store.delete(KEY)
    assert await _read(cached, KEY) == data
    assert await CachedStore(store, SmallObjects()).stat(KEY) is None


async def test_large_objects_are_never_held(store: BlobStore) -> None:
    cache = SmallObjects(max_object=1024)
    await store.put_bytes(KEY, b"x" * 2048, "image/webp")
    cached = CachedStore(store, cache)
    assert (await cached.stat(KEY)).size == 2048  # type: ignore[union-attr]
    assert cache.total == 0
    await store.delete(KEY)
    try:
        await _read(cached, KEY)
    except BlobNotFound:
        pass
    else:
        raise AssertionError("a large object was served from memory")


def test_the_least_recently_used_go_first_within_the_bound() -> None:
    cache = SmallObjects(max_object=100, max_total=250)
    for name in ("a", "b", "c"):
        cache.put(Blob(name, 100, "image/webp"), b"x" * 100)
    assert cache.get("a") is None and cache.total == 200  # "a" made room for "c"
    assert cache.get("b") is not None  # now the most recent
    cache.put(Blob("d", 100, "image/webp"), b"x" * 100)
    assert cache.get("c") is None and cache.get("b") is not None and cache.get("d") is not None
