"""An upload's kind comes from its bytes, never its name or declared type; what is not on
the allow-list is refused with a reason a person can act on."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from handlers.media.content import (
    AVIF,
    GIF,
    HEIC,
    JPEG,
    MP4,
    PDF,
    PNG,
    WEBM,
    WEBP,
    Kind,
    RefusedContent,
    sniff,
)


def png(width: int = 1, height: int = 1) -> bytes:
    """A real PNG (one black pixel per row), as an encoder writes it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def ftyp(brand: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x00\x00" + brand + b"mif1"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG),
        (b"\xff\xd8\xff\xe1\x00\x2aExif\x00\x00", JPEG),
        (png(), PNG),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (b"GIF89a\x01\x00\x01\x00", GIF),
        (b"GIF87a\x01\x00\x01\x00", GIF),
        (ftyp(b"avif"), AVIF),
        (ftyp(b"heic"), HEIC),
        (ftyp(b"isom"), MP4),
        (ftyp(b"mp42"), MP4),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", PDF),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87", WEBM),
    ],
)
def test_accepted_kinds_are_recognised_by_their_bytes(head: bytes, kind: Kind) -> None:
    assert sniff(head) == kind


def test_images_are_decoded_and_the_rest_kept_as_they_are() -> None:
    assert all(k.image for k in (JPEG, PNG, WEBP, GIF, AVIF, HEIC))
    assert not any(k.image for k in (PDF, MP4, WEBM))


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00", "a program"),  # a Windows executable named .jpg
        (b"\x7fELF\x02\x01\x01\x00", "a program"),
        (b"#!/bin/sh\nrm -rf /\n", "a program"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        (b'<?xml version="1.0"?>\n<svg><script>x()</script></svg>', "SVG"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html><script>x()</script>", "HTML"),
        (b"<html><body onload=x()>", "HTML"),
        (b"", "an empty file"),
        (b"just some text", "a type we do not take"),
        (ftyp(b"qt  "), "a media container"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "Matroska"),
    ],
)
def test_anything_else_is_refused_with_a_reason(head: bytes, reason: str) -> None:
    with pytest.raises(RefusedContent, match=reason):
        sniff(head)


def test_the_name_and_declared_type_play_no_part() -> None:
    """`sniff` takes only bytes: an HTML page sent as `photo.jpg` with `image/jpeg` is the
    HTML page it is."""
    upload = io.BytesIO(b"<!doctype html><script>steal()</script>")
    with pytest.raises(RefusedContent, match="HTML"):
        sniff(upload.read(64))
