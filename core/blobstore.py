"""Where media bytes live (DESIGN §5a): the log holds facts about uploads, a `BlobStore`
holds the bytes, under keys the media context derives from the content (so identical
uploads are stored once).

Two backends with one interface and one test suite (tests/integration/media):
- `S3BlobStore`, any S3 service through the `minio` SDK (MinIO in compose.yaml). The SDK is
  synchronous (urllib3), so every call runs in a thread and bodies move in chunks: a file of
  any size passes through the process without being held in memory.
- `LocalBlobStore`, a directory (under the data dir: the embedded default of `./dev up`).
  Writes go to a temporary file beside the target, are flushed to disk and renamed into
  place, so a reader never sees half an object and a crash leaves no torn one.

Keys are `a-z 0-9 . _ - /` paths without empty or dot-only segments: they come from our own
derivation, but a key is also a file path here, so nothing that could climb out of the root
is ever accepted. A key ends with the extension of its content type (`<hash>/320.webp`):
the local backend reads the type from it, S3 keeps the type as the object's metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import NotFoundError, UnavailableError
from core.settings import Settings

#: Bytes moved per read: large enough to keep syscalls and SDK calls few, small enough that
#: hundreds of concurrent downloads stay within a few tens of megabytes.
CHUNK = 256 * 1024
_KEY = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,254}$")


class BlobNotFound(NotFoundError):
    code = "blob-not-found"
    title = "No such object"


@dataclass(frozen=True)
class Blob:
    key: str
    size: int
    content_type: str


def check_key(key: str) -> str:
    """`key` if it is a safe object key, else ValueError."""
    if not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"not an object key: {key!r}")
    return key


def _type_of(key: str) -> str:
    return mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"


class BlobStore(ABC):
    """Bytes by key. Every method is safe to retry: putting the same key again replaces the
    object with the same bytes (keys are content-addressed), deleting a missing key is a
    no-op."""

    @abstractmethod
    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> Blob:
        """Store the file at `path` (left in place) under `key`."""

    async def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> Blob:
        """Store `data` (small objects: variants, thumbnails) under `key`."""
        fd, tmp = tempfile.mkstemp(prefix="quark-blob-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return await self.put_file(key, Path(tmp), content_type)
        finally:
            os.unlink(tmp)

    @abstractmethod
    async def stat(self, key: str) -> Blob | None:
        """The object's size and type, or None when there is none."""

    @abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes `[start, end)` of the object (to its end without `end`), in chunks of at
        most `CHUNK` bytes.

        Raises:
            BlobNotFound: there is no such object.
        """

    async def read_all(self, key: str) -> bytes:
        """The whole object (tests and small variants only)."""
        return b"".join([chunk async for chunk in self.read(key)])

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""

    @abstractmethod
    def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key starting with `prefix` (sweeps, erasure checks)."""

    def presigned_put(self, key: str, expires: timedelta) -> str | None:
        """A URL a client may PUT the object's bytes to directly, or None when the backend
        cannot issue one (the local filesystem): then uploads stream through the edge."""
        return None

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        """A URL a client may GET the object from directly, or None (see `presigned_put`)."""
        return None

    async def close(self) -> None:
        return None


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> Blob:
        target = self._path(key)

        def write() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as out, open(path, "rb") as source:
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            return target.stat().st_size

        size = await asyncio.to_thread(write)
        return Blob(key, size, content_type or _type_of(key))

    async def stat(self, key: str) -> Blob | None:
        try:
            size = (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None
        return Blob(key, size, _type_of(key))

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        left = None if end is None else max(0, end - start)

        def want() -> int:
            return CHUNK if left is None else min(CHUNK, left)

        def open_and_read() -> tuple[BinaryIO, bytes]:
            # One thread hop for the open, the seek and the first chunk — for a thumbnail,
            # the whole read — instead of one each: the hops, not the disk, were most of
            # what a small object cost (`python -m bench media`, GET /media).
            f = open(path, "rb")  # noqa: SIM115 - closed by the generator's `finally`
            try:
                f.seek(start)
                return f, f.read(want())
            except BaseException:
                f.close()
                raise

        try:
            f, chunk = await asyncio.to_thread(open_and_read)
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        try:
            while chunk:
                if left is not None:
                    left -= len(chunk)
                yield chunk
                if left is not None and left <= 0:
                    return
                chunk = await asyncio.to_thread(f.read, want())
        finally:
            # Closing a file opened for reading writes nothing back: no hop needed.
            f.close()

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        def walk() -> list[str]:
            found = []
            for folder, _, files in os.walk(self.root):
                for name in files:
                    if name.startswith(".incoming-"):
                        continue
                    key = (Path(folder) / name).relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        found.append(key)
            return sorted(found)

        for key in await asyncio.to_thread(walk):
            yield key


class S3BlobStore(BlobStore):
    """An S3 bucket through the `minio` SDK (created on `open` when it does not exist)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    async def open(
        cls,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str | None = None,
    ) -> S3BlobStore:
        from minio import Minio

        client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        store = cls(client, bucket)
        try:
            if not await asyncio.to_thread(client.bucket_exists, bucket):
                with contextlib.suppress(_s3_error()):  # created by another process meanwhile
                    await asyncio.to_thread(client.make_bucket, bucket)
        except _UNREACHABLE as exc:
            raise UnavailableError(f"object storage is unreachable ({exc!r})") from None
        return store

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> Blob:
        content_type = content_type or _type_of(check_key(key))
        try:
            await asyncio.to_thread(
                self.client.fput_object, self.bucket, key, str(path), content_type=content_type
            )
        except _UNREACHABLE as exc:
            raise UnavailableError(f"object storage is unreachable ({exc!r})") from None
        size = (await asyncio.to_thread(path.stat)).st_size
        return Blob(key, size, content_type)

    async def stat(self, key: str) -> Blob | None:
        try:
            info = await asyncio.to_thread(self.client.stat_object, self.bucket, check_key(key))
        except _s3_error() as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise
        except _UNREACHABLE as exc:
            raise UnavailableError(f"object storage is unreachable ({exc!r})") from None
        return Blob(key, int(info.size or 0), info.content_type or _type_of(key))

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        length = 0 if end is None else end - start
        if end is not None and length <= 0:
            return
        try:
            response = await asyncio.to_thread(
                self.client.get_object, self.bucket, check_key(key), offset=start, length=length
            )
        except _s3_error() as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise BlobNotFound(key) from None
            if exc.code == "InvalidRange":  # starting at or past the end: nothing to read
                return
            raise
        except _UNREACHABLE as exc:
            raise UnavailableError(f"object storage is unreachable ({exc!r})") from None
        try:
            while chunk := await asyncio.to_thread(response.read, CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self.client.remove_object, self.bucket, check_key(key))
        except _UNREACHABLE as exc:
            raise UnavailableError(f"object storage is unreachable ({exc!r})") from None

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        def listing() -> list[str]:
            objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            return sorted(o.object_name for o in objects)

        for key in await asyncio.to_thread(listing):
            yield key

    def presigned_put(self, key: str, expires: timedelta) -> str | None:
        return str(self.client.presigned_put_object(self.bucket, check_key(key), expires))

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        return str(self.client.presigned_get_object(self.bucket, check_key(key), expires))


def _s3_error() -> type[Exception]:
    from minio.error import S3Error

    return S3Error


def _unreachable() -> tuple[type[BaseException], ...]:
    import urllib3.exceptions

    return (urllib3.exceptions.HTTPError, OSError)


_UNREACHABLE = _unreachable()


async def open_blobstore(settings: Settings) -> BlobStore:
    """S3 when `QUARK_S3_ENDPOINT` is set, else a directory in the data dir."""
    if settings.s3_endpoint:
        return await S3BlobStore.open(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region or None,
        )
    return LocalBlobStore(settings.data_dir / "media")
