"""The libvips engine of `handlers.media.images.process_image` (the contract is there),
through pyvips and the `pyvips-binary` wheel.

`thumbnail` does the expensive part in one pass: it decodes a JPEG already shrunk by its
DCT when it can, turns the picture upright from its EXIF orientation, converts an embedded
ICC profile to sRGB (`export_profile`, asked only when there is one) and resizes; `fail_on="truncated"` makes a cut-off
file an error instead of a picture with a grey band. libvips is lazy, so the capped
picture is computed into memory (`copy_memory`) inside the decode guard: a decoding error
surfaces there and not later as a mislabelled write error. The variants are then made
from memory, each from the next larger one, and every saver is given `keep=NONE` (no
EXIF, XMP, IPTC or ICC).

HEIC goes to the Pillow engine: the libheif inside `pyvips-binary` has no HEVC decoder.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

from handlers.media import blurhash, content, images_pillow
from handlers.media.content import RefusedContent
from handlers.media.images import (
    BLURHASH_SOURCE,
    DAMAGED,
    JPEG_QUALITY,
    ORIGINAL_FORMAT,
    VARIANT_QUALITY,
    VARIANT_SIDES,
    WEBP_OUT,
    WEBP_QUALITY,
    ImageInfo,
    OutputFormat,
    ProcessedImage,
    capped_size,
    output_paths,
    variant_file,
)


@functools.cache
def _vips() -> ModuleType:
    """pyvips, loaded on first use, with libvips' operation cache off: it keys loads by
    file name, and the worker reuses temporary names, so a cached result could be another
    upload's picture; it would also hold decoded images in memory between jobs."""
    import pyvips

    pyvips.cache_set_max(0)
    return pyvips


def process(src: Path, out_dir: Path, info: ImageInfo) -> ProcessedImage:
    """`process_image` with libvips; `info` is `probe(src)`."""
    if info.kind == content.HEIC:
        return images_pillow.process(src, out_dir, info)
    vips = _vips()
    output = ORIGINAL_FORMAT[info.kind]
    # The box is square on the long side: `capped_size` does not depend on orientation,
    # and the orientation `probe` saw may not be the one libvips finds (a PNG's eXIf chunk
    # can follow its pixels).
    long_side = max(capped_size(info.width, info.height))
    try:
        # Colour management only for a picture with a profile: asked for on an untagged
        # one, libvips still runs every pixel through littlecms (sRGB to sRGB), which cost
        # more than the decode and resize together in our bench.
        header = vips.Image.new_from_file(str(src), access="sequential")
        managed = {"export_profile": "srgb"} if header.get_typeof("icc-profile-data") else {}
        picture = vips.Image.thumbnail(
            str(src), long_side, height=long_side, size="down", fail_on="truncated", **managed
        )
        picture = _srgb8(picture).copy_memory()
    except vips.Error:
        raise RefusedContent(DAMAGED) from None

    paths = output_paths(out_dir, output)
    _save(
        picture, paths["original"], output, JPEG_QUALITY if output.codec == "jpeg" else WEBP_QUALITY
    )
    size = (picture.width, picture.height)
    files = {"original": variant_file("original", paths["original"], size, output)}

    current = picture
    smalls = {}
    for name, side in sorted(VARIANT_SIDES.items(), key=lambda kv: -kv[1]):
        if max(current.width, current.height) > side:
            current = current.thumbnail_image(side, height=side, size="down").copy_memory()
        _save(current, paths[name], WEBP_OUT, VARIANT_QUALITY)
        files[name] = variant_file(name, paths[name], (current.width, current.height), WEBP_OUT)
        smalls[name] = current

    thumb = smalls[BLURHASH_SOURCE]
    rgb = bytes(thumb.extract_band(0, n=3).write_to_memory())
    return ProcessedImage(
        type=output.type,
        width=picture.width,
        height=picture.height,
        blurhash=blurhash.encode(thumb.width, thumb.height, rgb),
        variants=files,
    )


def _srgb8(picture):  # type: ignore[no-untyped-def]  # pyvips has no type hints
    """8-bit sRGB with 3 bands, or 4 with alpha: grey, 16-bit and CMYK without a profile
    are converted by libvips' own formulas."""
    if picture.interpretation != "srgb" or picture.format != "uchar":
        picture = picture.colourspace("srgb")
    if picture.format != "uchar":
        picture = picture.cast("uchar")
    if picture.bands > 4:
        picture = picture.extract_band(0, n=4 if picture.hasalpha() else 3)
    return picture


def _save(picture, path: Path, output: OutputFormat, quality: int) -> None:  # type: ignore[no-untyped-def]
    keep = _vips().enums.ForeignKeep.NONE
    if output.codec == "jpeg":
        if picture.hasalpha():
            picture = picture.flatten(background=[255, 255, 255])
        picture.jpegsave(
            str(path),
            Q=quality,
            optimize_coding=True,
            interlace=True,
            subsample_mode="on",
            keep=keep,
        )
    elif output.codec == "png":
        picture.pngsave(str(path), compression=9, keep=keep)
    else:
        picture.webpsave(str(path), Q=quality, effort=4, keep=keep)
