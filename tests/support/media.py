"""Media in tests: real images made with Pillow (a photo with GPS and a rotated
orientation, a decompression bomb that is a small file), uploads through HTTP, and waiting
for the worker's conclusion on the log instead of polling."""

from __future__ import annotations

import io
import time
import zlib
from typing import Any

import aiohttp
import nats.js.errors
from nats.js.api import ConsumerConfig, DeliverPolicy
from PIL import Image, TiffImagePlugin

from core.bootstrap import Infra
from core.envelope import RecordedEvent
from handlers.media.events import MediaProcessed, MediaRejected

#: EXIF tags (TIFF numbering).
ORIENTATION, GPS_IFD = 0x0112, 0x8825
GPS_LATITUDE_REF, GPS_LATITUDE = 1, 2


def photo(width: int = 400, height: int = 200, *, orientation: int = 1, gps: bool = False) -> bytes:
    """A JPEG whose top-left quarter is red and the rest blue, with EXIF orientation and GPS.

    Orientation 6 means "rotate 90° clockwise to display": displayed upright, the red quarter
    is then at the top right and the image is `height` wide and `width` tall.
    """
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {
            GPS_LATITUDE_REF: "N",
            GPS_LATITUDE: (
                TiffImagePlugin.IFDRational(55, 1),
                TiffImagePlugin.IFDRational(45, 1),
                TiffImagePlugin.IFDRational(0, 1),
            ),
        }
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif, comment=b"taken at home")
    return out.getvalue()


def picture(fmt: str, width: int, height: int, **options: Any) -> bytes:
    image = Image.new("RGB", (width, height), (30, 160, 90))
    image.paste((250, 220, 10), (0, 0, width // 3, height // 3))
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def animated_gif(width: int = 300, height: int = 150, frames: int = 3) -> bytes:
    images = [Image.new("P", (width, height), i * 40) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid PNG of `width`x`height` black pixels that is about a megabyte: decoding
    it would need 1.2 GB (the decompression bomb every image service must refuse)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    # The pixels are all zero (and so is every row's filter byte): the zlib stream is one
    # block of zeros compressed once and repeated (a full flush makes blocks independent),
    # then an empty final block and the checksum of the whole — built in milliseconds.
    row_bytes = 1 + width * 3
    rows_per_block = 1000
    block = bytes(row_bytes * rows_per_block)
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(height, rows_per_block)
    assert rest == 0, "height must be a multiple of 1000"
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    data = first + again * (blocks - 1) + b"\x03\x00" + checksum.to_bytes(4, "big")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


async def upload(
    http: aiohttp.ClientSession,
    token: str,
    data: bytes,
    *,
    content_type: str = "application/octet-stream",
    multipart: bool = False,
    filename: str = "file.bin",
    description: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    hdrs = {"Authorization": f"Bearer {token}", **(headers or {})}
    if multipart:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type=content_type)
        if description is not None:
            form.add_field("description", description)
        body: Any = form
    else:
        body = data
        hdrs["Content-Type"] = content_type
    async with http.post("/v1/media", data=body, headers=hdrs) as resp:
        return resp.status, await resp.json(content_type=None), dict(resp.headers)


async def concluded(infra: Infra, media_id: str, timeout: float = 30.0) -> RecordedEvent:
    """The worker's conclusion about an upload (processed or rejected), from the log."""
    js = infra.nc.jetstream()
    wanted = {MediaProcessed.name, MediaRejected.name}
    sub = await js.subscribe(
        f"ev.media.upload.{media_id}",
        stream="MEDIA",
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except (TimeoutError, nats.js.errors.Error):
                break
            seq = msg.metadata.sequence.stream
            for recorded in infra.registry.recorded(msg.data, "MEDIA", seq, wanted):
                return recorded
    finally:
        await sub.unsubscribe()
    raise AssertionError(f"media {media_id} was not processed within {timeout} s")


async def media_view(
    http: aiohttp.ClientSession, token: str | None, media_id: str, after: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if after:
        headers["Quark-After"] = after
    async with http.get(f"/v1/media/{media_id}", headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def ready(
    http: aiohttp.ClientSession, infra: Infra, token: str, media_id: str
) -> dict[str, Any]:
    """Wait for the worker, then the media view as of its conclusion."""
    event = await concluded(infra, media_id)
    status, view = await media_view(http, token, media_id, f"MEDIA:{event.seq}")
    assert status == 200, view
    return view
