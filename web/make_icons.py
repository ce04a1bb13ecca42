"""Draws the app's PNG icons from the same shapes as web/icons/icon.svg (run by hand after
changing the icon: `.venv/bin/python web/make_icons.py`). Pillow draws them so that no
SVG renderer is needed; the PNGs are committed, as browsers ask for these sizes."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent / "icons"
ACCENT = (75, 63, 216, 255)
PAPER = (247, 247, 250, 255)


def draw(size: int, *, maskable: bool) -> Image.Image:
    scale = 4  # drawn large and scaled down: smooth edges without an antialiasing API
    big = size * scale
    image = Image.new("RGBA", (big, big), ACCENT if maskable else (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    centre = big / 2
    # A maskable icon keeps its drawing inside the safe zone (the middle 80%).
    ring = big * (0.30 if maskable else 0.42)
    width = big * (0.05 if maskable else 0.07)
    colour = PAPER if maskable else ACCENT
    if not maskable:
        pen.ellipse((0, 0, big - 1, big - 1), fill=PAPER)
    pen.ellipse(
        (centre - ring, centre - ring, centre + ring, centre + ring),
        outline=colour,
        width=int(width),
    )
    core = ring * 0.42
    pen.ellipse((centre - core, centre - core, centre + core, centre + core), fill=colour)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def save(image: Image.Image, name: str) -> None:
    # A 32-colour palette keeps the edges smooth at a fraction of the RGBA file's size.
    image.quantize(32, method=Image.Quantize.FASTOCTREE).save(ICONS / name, optimize=True)


if __name__ == "__main__":
    save(draw(192, maskable=False), "icon-192.png")
    save(draw(512, maskable=False), "icon-512.png")
    save(draw(512, maskable=True), "maskable-512.png")
