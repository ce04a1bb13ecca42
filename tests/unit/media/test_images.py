"""The image pipeline: refuse bombs and damaged files, turn pictures upright, strip every
bit of metadata, write the original and the 64/320/1080 variants at the right sizes, and
do it byte for byte the same on a second run — with each engine."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from handlers.media import blurhash
from handlers.media.content import RefusedContent
from handlers.media.images import (
    DEFAULT_ENGINE,
    ENGINES,
    MAX_PIXELS,
    ProcessedImage,
    capped_size,
    probe,
    process_image,
    variant_size,
)

engines = pytest.mark.parametrize("engine", ENGINES)

RED = (230, 20, 20)
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description dc:creator="Ada the photographer"/></rdf:RDF></x:xmpmeta>'
)


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Noise over a gradient: something an encoder has to work on, unlike a flat colour."""
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 30 + seed).convert("RGB")
    return Image.blend(gradient, noise, 0.25)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`x`height` but whose data is one compressed row: a
    few dozen bytes that a decoder would allocate the full size for."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def is_red(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return r > 180 and g < 80 and b < 80


def sizes(result: ProcessedImage) -> dict[str, tuple[int, int]]:
    return {name: (f.width, f.height) for name, f in result.variants.items()}


def assert_variants_fit(result: ProcessedImage, width: int, height: int) -> None:
    """Every variant's long side is min(its name, the picture's long side), the aspect is
    kept to the pixel, and the files say what the result says."""
    for name, side in (("64", 64), ("320", 320), ("1080", 1080)):
        f = result.variants[name]
        long_side = max(width, height)
        assert max(f.width, f.height) == min(side, long_side), (name, f)
        exact = min(width, height) * min(1.0, side / long_side)
        assert abs(min(f.width, f.height) - exact) <= 1, (name, f)
        assert f.type == "image/webp"
        assert f.path.name == f"{name}.webp"
    for f in result.variants.values():
        assert f.size == f.path.stat().st_size > 0
        with Image.open(f.path) as im:
            assert im.size == (f.width, f.height)
            assert Image.MIME[im.format] == f.type


@engines
def test_a_turned_photo_comes_out_upright_with_no_exif_gps_xmp_comment_or_profile(
    tmp_path: Path, engine: str
) -> None:
    # Stored 400x200 with a red block top-left; orientation 6 means "turn 90° clockwise to
    # view", which brings the stored top-left corner to the top right.
    source = photo(400, 200)
    source.paste(RED, (0, 0, 80, 60))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera Maker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "turned.jpg"
    source.save(src, exif=exif, xmp=XMP, comment=b"shot at home", icc_profile=srgb, quality=95)
    with Image.open(src) as check:  # the source really carries what must go
        assert check.getexif().get_ifd(0x8825)[2] == (48.0, 51.0, 29.0)
        assert {"xmp", "comment", "icc_profile"} <= check.info.keys()
    assert probe(src).upright_size == (200, 400)

    result = process_image(src, tmp_path / "out", engine=engine)

    assert (result.type, result.width, result.height) == ("image/jpeg", 200, 400)
    assert result.variants["original"].path.name == "original.jpg"
    for f in result.variants.values():
        data = f.path.read_bytes()
        for marker in (b"Exif", b"xmpmeta", b"shot at home", b"Camera Maker", b"ICC_PROFILE"):
            assert marker not in data, (f.name, marker)
        with Image.open(f.path) as im:
            assert len(im.getexif()) == 0
            assert not {"xmp", "comment", "icc_profile", "exif"} & im.info.keys(), im.info.keys()
            assert im.width < im.height, f.name
            rgb = im.convert("RGB")
            w, h = rgb.size
            assert is_red(rgb.getpixel((w - 1 - w // 20, h // 40))), f.name  # top right
            assert not is_red(rgb.getpixel((w // 20, h // 40))), f.name  # top left
            assert not is_red(rgb.getpixel((w - 1 - w // 20, h - 1 - h // 40))), f.name
    assert sizes(result) == {
        "original": (200, 400),
        "1080": (200, 400),
        "320": (160, 320),
        "64": (32, 64),
    }


@engines
def test_png_stays_png_with_its_alpha_and_variants_at_each_long_side(
    tmp_path: Path, engine: str
) -> None:
    source = photo(1500, 1000).convert("RGBA")
    source.putalpha(Image.linear_gradient("L").resize((1500, 1000)))
    src = tmp_path / "alpha.png"
    source.save(src)

    result = process_image(src, tmp_path / "out", engine=engine)

    assert (result.type, result.width, result.height) == ("image/png", 1500, 1000)
    assert result.variants["original"].path.name == "original.png"
    assert_variants_fit(result, 1500, 1000)
    with Image.open(result.variants["320"].path) as im:
        assert im.mode == "RGBA"


@engines
def test_png_text_exif_xmp_and_profile_are_stripped(tmp_path: Path, engine: str) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 29.0)})
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "shot at home")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "tagged.png"
    photo(300, 200).save(src, exif=exif, pnginfo=text, icc_profile=srgb)
    with Image.open(src) as check:
        check.load()
        assert {"Comment", "XML:com.adobe.xmp", "icc_profile"} <= check.info.keys()
        assert check.getexif().get_ifd(0x8825)[1] == "N"

    result = process_image(src, tmp_path / "out", engine=engine)

    for f in result.variants.values():
        data = f.path.read_bytes()
        for marker in (b"eXIf", b"iCCP", b"tEXt", b"iTXt", b"xmpmeta", b"EXIF", b"ICCP", b"XMP "):
            assert marker not in data, (f.name, marker)
        with Image.open(f.path) as im:
            im.load()
            assert len(im.getexif()) == 0
            assert (
                not {"Comment", "XML:com.adobe.xmp", "icc_profile", "exif", "xmp"} & im.info.keys()
            )


@engines
def test_a_small_picture_is_never_enlarged_and_every_variant_name_exists(
    tmp_path: Path, engine: str
) -> None:
    src = tmp_path / "small.png"
    photo(200, 100).save(src)

    result = process_image(src, tmp_path / "out", engine=engine)

    assert sizes(result) == {
        "original": (200, 100),
        "1080": (200, 100),
        "320": (200, 100),
        "64": (64, 32),
    }
    assert_variants_fit(result, 200, 100)


@engines
def test_webp_stays_webp(tmp_path: Path, engine: str) -> None:
    src = tmp_path / "photo.webp"
    photo(800, 600).save(src, quality=90)

    result = process_image(src, tmp_path / "out", engine=engine)

    assert (result.type, result.width, result.height) == ("image/webp", 800, 600)
    assert result.variants["original"].path.name == "original.webp"
    assert_variants_fit(result, 800, 600)


@engines
def test_an_animated_gif_becomes_a_still_png_of_its_first_frame(
    tmp_path: Path, engine: str
) -> None:
    frames = [Image.new("RGB", (120, 90), colour) for colour in (RED, (20, 200, 20), (20, 20, 200))]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert probe(src).animated

    result = process_image(src, tmp_path / "out", engine=engine)

    assert (result.type, result.width, result.height) == ("image/png", 120, 90)
    assert_variants_fit(result, 120, 90)
    for f in result.variants.values():
        with Image.open(f.path) as im:
            assert getattr(im, "n_frames", 1) == 1
            assert is_red(im.convert("RGB").getpixel((im.width // 2, im.height // 2))), f.name


@engines
@pytest.mark.parametrize("suffix", ["avif", "heic"])
def test_avif_and_heic_are_served_as_webp(tmp_path: Path, engine: str, suffix: str) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    src = tmp_path / f"photo.{suffix}"
    photo(640, 480).save(src, quality=80)

    result = process_image(src, tmp_path / "out", engine=engine)

    assert (result.type, result.width, result.height) == ("image/webp", 640, 480)
    assert result.variants["original"].path.name == "original.webp"
    assert_variants_fit(result, 640, 480)


@engines
def test_a_large_photo_is_capped_to_the_box_turned_to_its_orientation(
    tmp_path: Path, engine: str
) -> None:
    src = tmp_path / "tall.jpg"
    photo(1000, 4000).save(src, quality=80)

    result = process_image(src, tmp_path / "out", engine=engine)

    assert (result.width, result.height) == (960, 3840)
    assert_variants_fit(result, 960, 3840)


def test_the_cap_fits_the_long_side_in_3840_and_the_short_in_2160_never_enlarging() -> None:
    assert capped_size(6000, 4000) == (3240, 2160)
    assert capped_size(4000, 6000) == (2160, 3240)
    assert capped_size(8000, 1000) == (3840, 480)
    assert capped_size(3840, 2160) == (3840, 2160)
    assert capped_size(100, 50) == (100, 50)
    assert variant_size(5000, 1, 64) == (64, 1)
    assert variant_size(200, 100, 320) == (200, 100)


@engines
def test_a_png_bomb_is_refused_from_its_header_naming_its_pixel_count(
    tmp_path: Path, engine: str
) -> None:
    src = tmp_path / "bomb.png"
    src.write_bytes(png_header_only(20_000, 20_000))
    assert src.stat().st_size < 1_000

    with pytest.raises(RefusedContent, match="20000x20000 = 400,000,000 pixels") as probed:
        probe(src)
    assert f"{MAX_PIXELS:,}" in str(probed.value)
    with pytest.raises(RefusedContent, match="400,000,000 pixels"):
        process_image(src, tmp_path / "out", engine=engine)
    assert not (tmp_path / "out").exists()


def test_the_pixel_limit_is_ours_whatever_pillows_global_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb, fine = tmp_path / "bomb.png", tmp_path / "fine.png"
    bomb.write_bytes(png_header_only(6000, 6000))  # 36 MP: over ours, under Pillow's default
    photo(300, 200).save(fine)

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(RefusedContent, match="36,000,000 pixels"):
        probe(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    assert (probe(fine).width, probe(fine).height) == (300, 200)
    assert process_image(fine, tmp_path / "out", engine="pillow").width == 300


@engines
def test_a_truncated_jpeg_is_refused_as_damaged(tmp_path: Path, engine: str) -> None:
    whole = tmp_path / "whole.jpg"
    photo(640, 480).save(whole, quality=90)
    data = whole.read_bytes()
    src = tmp_path / "cut.jpg"
    src.write_bytes(data[: len(data) // 2])
    probe(src)  # the header is whole: only decoding can tell

    with pytest.raises(RefusedContent, match="damaged or truncated"):
        process_image(src, tmp_path / "out", engine=engine)


@engines
def test_garbage_behind_a_jpeg_magic_is_refused(tmp_path: Path, engine: str) -> None:
    src = tmp_path / "fake.jpg"
    src.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)

    with pytest.raises(RefusedContent):
        probe(src)
    with pytest.raises(RefusedContent):
        process_image(src, tmp_path / "out", engine=engine)


@engines
def test_a_damaged_png_body_is_refused(tmp_path: Path, engine: str) -> None:
    whole = tmp_path / "whole.png"
    photo(300, 200).save(whole)
    data = bytearray(whole.read_bytes())
    data[200:400] = b"\x55" * 200  # inside the first IDAT: zlib and CRC both break
    src = tmp_path / "damaged.png"
    src.write_bytes(bytes(data))

    with pytest.raises(RefusedContent, match="damaged or truncated"):
        process_image(src, tmp_path / "out", engine=engine)


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "doc.pdf"
    src.write_bytes(b"%PDF-1.7\n" + b"0" * 100)

    with pytest.raises(RefusedContent, match="not an image"):
        probe(src)


@engines
@pytest.mark.parametrize("suffix", ["jpg", "png", "gif"])
def test_a_second_run_writes_the_same_bytes(tmp_path: Path, engine: str, suffix: str) -> None:
    src = tmp_path / f"photo.{suffix}"
    photo(1300, 900).save(src)

    first = process_image(src, tmp_path / "one", engine=engine)
    second = process_image(src, tmp_path / "two", engine=engine)

    assert first.blurhash == second.blurhash
    assert sizes(first) == sizes(second)
    for name, f in first.variants.items():
        assert f.path.read_bytes() == second.variants[name].path.read_bytes(), name


@engines
def test_the_blurhash_comes_from_the_picture(tmp_path: Path, engine: str) -> None:
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (500, 300), RED).save(red)
    Image.new("RGB", (500, 300), (20, 20, 230)).save(blue)

    hashes = {process_image(p, tmp_path / p.stem, engine=engine).blurhash for p in (red, blue)}

    assert len(hashes) == 2
    assert all(len(h) == 28 for h in hashes)  # 4x3 components: 6 + 2 x 11 characters


def test_blurhash_matches_the_reference_encoder() -> None:
    # The vector was computed by the reference algorithm of blurha.sh (its Python port).
    w, h = 8, 6
    rgb = bytes(
        v for y in range(h) for x in range(w) for v in (x * 32, y * 40, 128 if (x + y) % 2 else 0)
    )
    assert blurhash.encode(w, h, rgb) == "LjF=a33Aa|xtzMNJfQnReqf7fQf7"
    with pytest.raises(ValueError, match="components"):
        blurhash.encode(w, h, rgb, x_components=10)


def test_an_unknown_engine_is_an_error_and_the_default_is_one_of_ours(tmp_path: Path) -> None:
    src = tmp_path / "p.png"
    photo(10, 10).save(src)
    assert DEFAULT_ENGINE in ENGINES
    with pytest.raises(ValueError, match="unknown image engine"):
        process_image(src, tmp_path / "out", engine="imagemagick")
