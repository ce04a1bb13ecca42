"""The Pillow engine of `handlers.media.images.process_image` (the contract is there).

The order is chosen for cost: a JPEG is decoded already scaled by its DCT (`draft`) when
that stays at least as large as the capped size, every mode is normalised to L, RGB, RGBA
or CMYK, the picture is capped *before* it is turned upright and colour-converted (both
then work on at most 8.3 MP), and each variant is made from the next larger one.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageCms, ImageFile

from handlers.media import blurhash, content
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
    open_pillow,
    output_paths,
    variant_file,
    variant_size,
)

#: EXIF orientation to the transposition that makes the picture upright (EXIF 2.32, 4.6.4).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

#: Pillow's errors for pixel data that does not decode; anything else is a bug and raises.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)


def process(src: Path, out_dir: Path, info: ImageInfo) -> ProcessedImage:
    """`process_image` with Pillow; `info` is `probe(src)`."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A process-wide switch: with it on, a truncated upload decodes with a grey band
        # and is stored as if whole. Refuse to run rather than silently accept.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; the pipeline needs it off")
    output = ORIGINAL_FORMAT[info.kind]
    with src.open("rb") as fp:
        _, im = open_pillow(fp, src)
        with im:
            picture, icc = _decode(im, info)
    picture = _srgb(picture, icc)
    paths = output_paths(out_dir, output)
    _save(
        picture, paths["original"], output, JPEG_QUALITY if output.codec == "jpeg" else WEBP_QUALITY
    )
    files = {"original": variant_file("original", paths["original"], picture.size, output)}

    # Largest first, each from the previous: a 1080 px reduction of 8 MP, then small ones.
    current = picture
    smalls: dict[str, Image.Image] = {}
    for name, side in sorted(VARIANT_SIDES.items(), key=lambda kv: -kv[1]):
        size = variant_size(picture.width, picture.height, side)
        if size != current.size:
            current = _bare(current.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
        _save(current, paths[name], WEBP_OUT, VARIANT_QUALITY)
        files[name] = variant_file(name, paths[name], size, WEBP_OUT)
        smalls[name] = current

    thumb = smalls[BLURHASH_SOURCE].convert("RGB")
    return ProcessedImage(
        type=output.type,
        width=picture.width,
        height=picture.height,
        blurhash=blurhash.encode(thumb.width, thumb.height, thumb.tobytes()),
        variants=files,
    )


def _decode(im: Image.Image, info: ImageInfo) -> tuple[Image.Image, bytes | None]:
    """The first frame, capped and upright, in L, RGB, RGBA or CMYK, and its ICC profile."""
    target = capped_size(im.width, im.height)
    try:
        if info.kind == content.JPEG:
            im.draft(None, target)
        im.load()
        exif = im.getexif()  # after load: a PNG's eXIf chunk may follow its pixels
        orientation = exif.get(0x0112, 1)
        icc = im.info.get("icc_profile") or None
        picture = _normalised(im)
        if picture.size != target:
            picture = picture.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        elif picture is im:
            picture = im.copy()  # `im` is closed with its file, its pixels with it
    except _DECODE_ERRORS:
        raise RefusedContent(DAMAGED) from None
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])
    return _bare(picture), icc


def _normalised(im: Image.Image) -> Image.Image:
    """`im` in a mode that resizes and converts well: L, RGB, RGBA or CMYK."""
    mode = im.mode
    if mode in ("L", "RGB", "RGBA", "CMYK"):
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16-bit grey (PNG): scale to 8 bits; `convert("L")` would clip at 255 instead.
        return im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if mode == "P" and "transparency" in im.info:
        return im.convert("RGBA")
    if mode in ("LA", "La", "PA", "RGBa"):
        return im.convert("RGBA")
    if mode == "1":
        return im.convert("L")
    return im.convert("RGB")


def _srgb(picture: Image.Image, icc: bytes | None) -> Image.Image:
    """`picture` as sRGB (RGB or RGBA): converted through its ICC profile when it has one
    that littlecms accepts, by Pillow's plain formulas otherwise."""
    alpha = picture.getchannel("A") if picture.mode == "RGBA" else None
    colour = picture.convert("RGB") if alpha is not None else picture
    converted = None
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(colour, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a broken or mismatched profile: treat the pixels as sRGB
    if converted is None:
        converted = colour.convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    return _bare(converted)


def _save(picture: Image.Image, path: Path, output: OutputFormat, quality: int) -> None:
    if output.codec == "jpeg":
        picture.convert("RGB").save(
            path, "JPEG", quality=quality, optimize=True, progressive=True, subsampling="4:2:0"
        )
    elif output.codec == "png":
        picture.save(path, "PNG", optimize=True)
    else:
        picture.save(path, "WEBP", quality=quality, method=4)


def _bare(picture: Image.Image) -> Image.Image:
    # Pillow copies `info` (EXIF, XMP, ICC, comments) along every operation and some savers
    # read from it; an empty `info` is what makes "no metadata" true for every output.
    picture.info = {}
    return picture
