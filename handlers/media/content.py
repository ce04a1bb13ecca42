"""What an upload is, decided from its first bytes — never from its name or the client's
`Content-Type` (issue 9, secure upload). Pure functions: the media handler and the upload
route call them with the head of the file they are streaming.

The allow-list is explicit: images (JPEG, PNG, WebP, GIF, AVIF, HEIC) are decoded and
re-encoded later; PDF, MP4 and WebM are stored as they are after this check. Everything
else is refused with a reason a person can act on. SVG is refused on purpose: it is a
document that can carry script, whatever its extension says; so is HTML (a browser would
run it if it were ever served inline) and any executable.

No kept library decides this for us: `python-magic` needs the system's libmagic and its
whole database for a dozen signatures, and Pillow knows only images. The signatures below
are those of the formats' own specifications (ISO BMFF `ftyp` brands, the EBML header of
Matroska/WebM, RIFF for WebP).
"""

from __future__ import annotations

from dataclasses import dataclass

#: How many leading bytes `sniff` needs to decide every format it knows.
HEAD_BYTES = 64


class RefusedContent(ValueError):
    """The upload is not something we store; the message says why, for the person."""


class TooManyPixels(RefusedContent):
    """An image over the pixel limit, known from its header alone (a decompression bomb is
    refused without being decoded)."""


@dataclass(frozen=True)
class Kind:
    """A recognised upload: its media type, our extension for keys, and whether it is an
    image (decoded, stripped and re-encoded) or kept as it is."""

    media_type: str
    extension: str
    image: bool


JPEG = Kind("image/jpeg", "jpg", True)
PNG = Kind("image/png", "png", True)
WEBP = Kind("image/webp", "webp", True)
GIF = Kind("image/gif", "gif", True)
AVIF = Kind("image/avif", "avif", True)
HEIC = Kind("image/heic", "heic", True)
PDF = Kind("application/pdf", "pdf", False)
MP4 = Kind("video/mp4", "mp4", False)
WEBM = Kind("video/webm", "webm", False)
#: Everything we take.
KINDS = (JPEG, PNG, WEBP, GIF, AVIF, HEIC, PDF, MP4, WEBM)

#: ISO base media file `ftyp` major brands, by what they hold.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"M4V "}
)


def sniff(head: bytes) -> Kind:
    """The kind of file whose first bytes are `head` (at least `HEAD_BYTES` of them, or the
    whole file when it is shorter).

    Raises:
        RefusedContent: not a format we accept; the message names what it looks like.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return AVIF
        if brand in _HEIC_BRANDS:
            return HEIC
        if brand in _MP4_BRANDS:
            return MP4
        raise RefusedContent(f"a media container of a kind we do not take ({brand!r})")
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, or WebM by its DocType
        if b"webm" in head[:HEAD_BYTES]:
            return WEBM
        raise RefusedContent("a Matroska video; only WebM and MP4 are taken")
    raise RefusedContent(_what_it_looks_like(head))


def _what_it_looks_like(head: bytes) -> str:
    if head.startswith((b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")):
        return "a program, not a picture, video or PDF"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) or b"<svg" in text:
        return "an SVG image, which can carry script; upload a PNG or WebP instead"
    if text.startswith((b"<!doctype html", b"<html", b"<script", b"<head", b"<body")):
        return "an HTML document, not a picture, video or PDF"
    if not head:
        return "an empty file"
    return "a file of a type we do not take (JPEG, PNG, WebP, GIF, AVIF, HEIC, PDF, MP4, WebM)"
