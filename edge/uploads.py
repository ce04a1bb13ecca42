"""Streamed request bodies for media: spooled to a temporary file while they are hashed
(SHA-256) and counted, never held in memory, and refused the moment they pass their limit.

Then the content check every upload passes, streamed or direct: the kind is decided from the
first bytes (`handlers.media.content.sniff`), a type the client declared must agree with it,
and an image's header must be within the pixel limit — all before anything is stored or
decoded (`handlers.media.images.probe` reads the header only).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import QuarkError
from handlers.media import images
from handlers.media.content import HEAD_BYTES, Kind, RefusedContent, TooManyPixels, sniff
from handlers.media.errors import DamagedMedia, ImageTooLarge, TypeMismatch, UnsupportedContent

#: Bytes written to the spool file per thread hop.
FLUSH_BYTES = 1024 * 1024
#: Declared types that say nothing (the kind is then decided from the bytes alone).
UNSPECIFIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True)
class Spooled:
    path: Path
    size: int
    sha256: str
    head: bytes


async def spool(
    chunks: AsyncIterator[bytes],
    limit: int,
    too_large: Callable[[], QuarkError],
    directory: Path | None = None,
) -> Spooled:
    """Write `chunks` to a new temporary file; raise `too_large()` as soon as more than
    `limit` bytes arrived (the rest of the body is never read). The caller removes the
    file (`discard`)."""
    fd, name = tempfile.mkstemp(prefix="quark-upload-", dir=directory)
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    pending: list[bytes] = []
    pending_size = 0
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large()
                digest.update(chunk)
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= FLUSH_BYTES:
                    await asyncio.to_thread(f.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(f.write, b"".join(pending))
    except BaseException:
        await discard(path)
        raise
    return Spooled(path, size, digest.hexdigest(), head)


async def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        await asyncio.to_thread(os.unlink, path)


def declared_type(value: str | None) -> str:
    """A client's `Content-Type` reduced to its media type ("" when it says nothing)."""
    text = (value or "").split(";", 1)[0].strip().lower()
    return "" if text in UNSPECIFIC_TYPES else text


async def check_content(spooled: Spooled, declared: str) -> Kind:
    """The kind of the spooled upload, or the problem that refuses it."""
    try:
        kind = sniff(spooled.head)
    except RefusedContent as refused:
        raise UnsupportedContent(f"This file looks like {refused}.") from None
    if declared and declared != kind.media_type and not _same_type(declared, kind):
        raise TypeMismatch(f"declared {declared}, but the content is {kind.media_type}")
    if kind.image:
        try:
            await asyncio.to_thread(images.probe, spooled.path)
        except TooManyPixels as refused:
            raise ImageTooLarge(str(refused)) from None
        except RefusedContent as refused:
            raise DamagedMedia(str(refused)) from None
    return kind


#: Other spellings of the types we take.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/heif": "image/heic"}


def _same_type(declared: str, kind: Kind) -> bool:
    return _ALIASES.get(declared) == kind.media_type


async def body_chunks(read: Callable[[int], Awaitable[bytes]], size: int = 256 * 1024):
    """Chunks of a body from a `read(n)` coroutine (aiohttp's payload or a multipart part)."""
    while chunk := await read(size):
        yield chunk
