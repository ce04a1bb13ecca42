"""The image pipeline of the media context: look at an upload's header, then decode it,
turn it upright, strip it and write the files the API serves. Pure CPU over local files;
the media worker moves the bytes to and from the blob store and runs this in a thread.

What comes out, for every accepted image (`process_image`):

- `original.<ext>`: the picture re-encoded, fitted inside 3840x2160 turned to the picture's
  own orientation (a portrait photo fits 2160x3840, so it is not shrunk to half the size a
  landscape one keeps), never enlarged. JPEG stays JPEG (quality 85, progressive, optimised
  Huffman tables), PNG stays PNG (maximum zlib effort), WebP stays WebP (lossy, quality 85).
  AVIF and HEIC become WebP: browsers do not all show HEIC, and WebP keeps the alpha a JPEG
  would lose; clients must read WebP anyway for the variants.
- GIF and animated WebP become a still of their first frame (`original.png` for a GIF,
  `original.webp` for a WebP). Keeping animations means re-encoding every frame at every
  size and bounding frames x pixels, work that belongs with a video path (Mastodon turns
  GIFs into MP4); until we have one an animation is a still rather than a second,
  half-tested pipeline.
- `64.webp`, `320.webp`, `1080.webp`: the long side 64, 320 and 1080 px. Never enlarged:
  a variant larger than the picture is the picture at its own size, so the three names
  always exist and a client asking for `320` always finds it (identical bytes dedupe in
  the content-addressed store).
- A BlurHash of 4x3 components, from the 64 px variant's pixels.

**Metadata.** Every output is pixels only: no EXIF (GPS, camera serials, dates), no XMP,
no comments, no ICC profile. The EXIF orientation is applied first so nothing looks turned
once the tag is gone. Colour-managed sources (Display P3 phone photos, Adobe RGB, CMYK
JPEGs) are converted to sRGB before their profile is dropped: an untagged image is shown
as sRGB, so dropping a profile without converting would shift every colour.

**Refusals** (`RefusedContent`, reasons a person can act on): a header that does not parse,
more than `MAX_PIXELS` pixels (checked from the header, before any pixel is decoded: a
20,000x20,000 PNG of zeros is a few kilobytes that would decode to 1.6 GB), and pixel data
that is damaged or truncated — both engines are told to fail on a truncated file instead
of painting the missing part grey.

**Determinism.** The same file gives byte-identical outputs on every run with one engine
and library version (no timestamps, no randomness, fixed encoder settings): objects are
keyed by content and a redelivered event must produce the same keys. The two engines do
not give the same bytes as each other.

**Engines.** `pillow` and `vips` (pyvips with the `pyvips-binary` wheel, no system
libvips). `vips` decodes HEIC through Pillow (pillow-heif): the libheif inside
`pyvips-binary` is built without an HEVC decoder. `probe` always reads headers with
Pillow: it is cheap to load and the edge never needs libvips. Measured on the 2-core
development machine (`python -m bench.media_pipeline`: synthetic photos of noise over
gradients, every output above written, median of 5 runs after a warm-up; milliseconds per
source megapixel, wall clock with CPU time in brackets; peak RSS of one 24 MP image in a
fresh process, 24-30 MB of which is the warmed-up interpreter and libraries):

    engine   1 MP        12 MP      24 MP      peak RSS, 24 MP
    pillow   187 (187)   53 (53)    39 (39)    192 MB
    vips     161 (166)   32 (38)    19 (23)    105 MB

Runs on the shared machine vary by about 25%; at 12 and 24 MP vips was ahead in every run,
at 1 MP the two are within that noise, both dominated by the four encodes (WebP at
libwebp's default effort is most of it).

`DEFAULT_ENGINE` is `vips`: on camera-sized pictures, the ones that cost, it takes half
the wall time and 60-70% of the CPU time of Pillow (what counts when the worker runs
several jobs at once), and about half the memory, because
`thumbnail` decodes, rotates, colour-converts and shrinks in one streamed pass where
Pillow holds the full decoded frame and then its resized copy.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from handlers.media import content
from handlers.media.content import Kind, RefusedContent, TooManyPixels

#: Mastodon's limit (7680x4320): above it an upload is refused from its header alone.
MAX_PIXELS = 33_177_600
#: The original is fitted inside this box, turned to the picture's orientation.
ORIGINAL_BOX = (3840, 2160)
#: Variant name to the length of its long side; the names are part of the API.
VARIANT_SIDES: dict[str, int] = {"64": 64, "320": 320, "1080": 1080}
#: The variant the BlurHash is computed from.
BLURHASH_SOURCE = "64"
JPEG_QUALITY = 85
WEBP_QUALITY = 85
VARIANT_QUALITY = 80

ENGINES = ("pillow", "vips")
DEFAULT_ENGINE = "vips"

#: The reason given when pixel data does not decode.
DAMAGED = "the image is damaged or truncated; export it again and re-upload"

#: Our kinds to the Pillow plugin that reads them (HEIF comes from pillow-heif).
_PILLOW_FORMATS = {
    content.JPEG: "JPEG",
    content.PNG: "PNG",
    content.WEBP: "WEBP",
    content.GIF: "GIF",
    content.AVIF: "AVIF",
    content.HEIC: "HEIF",
}


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says. `width` and `height` are as stored, before the EXIF
    `orientation` (1-8, 1 when absent) is applied; `upright_size` is the size once it is."""

    kind: Kind
    width: int
    height: int
    orientation: int
    animated: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def upright_size(self) -> tuple[int, int]:
        # Orientations 5-8 turn the picture a quarter, swapping its sides.
        if self.orientation >= 5:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class VariantFile:
    """One written file: `name` is "original" or a key of `VARIANT_SIDES`."""

    name: str
    path: Path
    width: int
    height: int
    type: str
    size: int


@dataclass(frozen=True)
class ProcessedImage:
    """The result of `process_image`: `type`, `width` and `height` are the original's
    output (upright and capped); `variants` holds "original" and every `VARIANT_SIDES`."""

    type: str
    width: int
    height: int
    blurhash: str
    variants: dict[str, VariantFile]


@dataclass(frozen=True)
class OutputFormat:
    """How the original is written: the saver's format name, the extension, the MIME type."""

    codec: str
    extension: str
    type: str


JPEG_OUT = OutputFormat("jpeg", "jpg", "image/jpeg")
PNG_OUT = OutputFormat("png", "png", "image/png")
WEBP_OUT = OutputFormat("webp", "webp", "image/webp")

#: The original's output format by input kind (see the module docstring).
ORIGINAL_FORMAT: dict[Kind, OutputFormat] = {
    content.JPEG: JPEG_OUT,
    content.PNG: PNG_OUT,
    content.WEBP: WEBP_OUT,
    content.GIF: PNG_OUT,
    content.AVIF: WEBP_OUT,
    content.HEIC: WEBP_OUT,
}


def probe(path: Path) -> ImageInfo:
    """The header of the image at `path`, read without decoding a pixel; the edge calls it
    on every upload, so it costs a file open and a few kilobytes.

    Raises:
        RefusedContent: not an image we take, a header that does not parse, or more than
            `MAX_PIXELS` pixels.
    """
    with path.open("rb") as fp:
        kind, im = open_pillow(fp, path)
        try:
            return ImageInfo(
                kind=kind,
                width=im.width,
                height=im.height,
                orientation=_orientation(im),
                # Only whether a second frame exists: counting them all walks a GIF's
                # every block, which is not a header read.
                animated=bool(getattr(im, "is_animated", False)),
            )
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise RefusedContent(f"the image header cannot be read ({exc})") from None
        finally:
            im.close()


def open_pillow(fp: io.BufferedReader, path: Path) -> tuple[Kind, Image.Image]:
    """The kind of the image in `fp` and the image, opened (header only) by the one Pillow plugin for its sniffed kind
    and checked against `MAX_PIXELS`.

    The plugin is called directly rather than through `Image.open` on purpose: `Image.open`
    applies Pillow's own bomb limit, a module global (`Image.MAX_IMAGE_PIXELS`) that any
    code in the process may change and that raises without telling the size, so our limit
    and our reason would depend on someone else's setting. Restricting to one plugin also
    keeps Pillow's other forty parsers away from untrusted bytes.

    Raises:
        RefusedContent: as `probe`.
    """
    kind = content.sniff(_head(fp))
    if not kind.image:
        raise RefusedContent(f"a {kind.media_type} file is not an image")
    factory = _pillow_factory(_PILLOW_FORMATS[kind])
    fp.seek(0)
    try:
        im = factory(fp, str(path))
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise RefusedContent(f"the image header cannot be read ({exc})") from None
    check_pixels(im.width, im.height)
    return kind, im


def check_pixels(width: int, height: int) -> None:
    """Refuse a picture of more than `MAX_PIXELS` pixels, saying how many it has."""
    if width < 1 or height < 1:
        raise RefusedContent(f"the image claims a size of {width}x{height} pixels")
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise TooManyPixels(
            f"the image is {width}x{height} = {pixels:,} pixels, more than the "
            f"{MAX_PIXELS:,} we take; scale it down and re-upload"
        )


def process_image(src: Path, out_dir: Path, *, engine: str = DEFAULT_ENGINE) -> ProcessedImage:
    """Decode the image at `src` under the pixel limit, turn it upright, strip it, and
    write `original.<ext>` and the WebP variants into `out_dir` (see the module docstring).

    Raises:
        RefusedContent: as `probe`, or the pixel data is damaged or truncated.
        ValueError: `engine` is not one of `ENGINES`.
    """
    info = probe(src)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _engine(engine)(src, out_dir, info)


def _engine(name: str) -> Callable[[Path, Path, ImageInfo], ProcessedImage]:
    # Imported on use: a process that only probes never loads libvips.
    if name == "pillow":
        from handlers.media import images_pillow

        return images_pillow.process
    if name == "vips":
        from handlers.media import images_vips

        return images_vips.process
    raise ValueError(f"unknown image engine {name!r}; known: {', '.join(ENGINES)}")


def capped_size(width: int, height: int) -> tuple[int, int]:
    """The original's output size: inside `ORIGINAL_BOX` turned to the picture's orientation,
    aspect kept, never enlarged. Symmetric in its arguments, so it can be applied before or
    after a quarter turn."""
    long_box, short_box = max(ORIGINAL_BOX), min(ORIGINAL_BOX)
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, long_box / long_side, short_box / short_side)
    return _scaled(width, height, scale)


def variant_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size of a variant whose long side is `long_side`, never enlarged."""
    return _scaled(width, height, min(1.0, long_side / max(width, height)))


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def output_paths(out_dir: Path, original: OutputFormat) -> dict[str, Path]:
    """Where each output of `process_image` is written, by variant name."""
    paths = {"original": out_dir / f"original.{original.extension}"}
    paths.update({name: out_dir / f"{name}.webp" for name in VARIANT_SIDES})
    return paths


def variant_file(name: str, path: Path, size: tuple[int, int], output: OutputFormat) -> VariantFile:
    """The record of a file just written."""
    return VariantFile(name, path, size[0], size[1], output.type, path.stat().st_size)


def _head(fp: io.BufferedReader) -> bytes:
    fp.seek(0)
    return fp.read(content.HEAD_BYTES)


def _orientation(im: Image.Image) -> int:
    # Only an EXIF block already read with the header: Pillow's `getexif()` on a PNG whose
    # eXIf chunk follows the pixels would decode the whole image to find it.
    raw = im.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    exif.load(raw)
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _pillow_factory(fmt: str) -> Callable[..., Image.Image]:
    if fmt == "HEIF" and fmt not in Image.OPEN:
        import pillow_heif

        pillow_heif.register_heif_opener()
    if fmt not in Image.OPEN:
        Image.init()
    return Image.OPEN[fmt][0]
