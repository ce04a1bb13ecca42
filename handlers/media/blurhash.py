"""BlurHash (https://blurha.sh): a ~28-character placeholder a client paints while the
picture loads, the same text Mastodon's API returns in `blurhash`.

Written here rather than taken from a package: it is a page of arithmetic over an image
of a few thousand pixels, the packages on PyPI are either pure Python like this or a C
build, and owning it keeps the output byte-stable (content-addressed objects and
redelivered events must give the same string). The caller hands in a small downscale (the
64 px variant), never the full picture: the cost is width x height x components.

The sums are separable (cos(x)·cos(y)), so each row is reduced once per horizontal
component and the rows are then combined per vertical component: about
width x height x (x components) multiply-adds per channel instead of that times
(y components).
"""

from __future__ import annotations

import math

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"

#: sRGB byte value to linear light, precomputed for the 256 values a channel can hold.
_TO_LINEAR = tuple(
    v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    for v in (i / 255 for i in range(256))
)


def encode(
    width: int, height: int, rgb: bytes, *, x_components: int = 4, y_components: int = 3
) -> str:
    """The BlurHash of an image given as packed 8-bit RGB rows (`width * height * 3` bytes).

    Raises:
        ValueError: the components are outside 1..9 or `rgb` has the wrong length.
    """
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash components must be between 1 and 9")
    if len(rgb) != width * height * 3 or width < 1 or height < 1:
        raise ValueError(f"expected {width}x{height} RGB pixels, got {len(rgb)} bytes")

    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)
    ]
    linear = [_TO_LINEAR[b] for b in rgb]

    # rows[y][i] = (r, g, b) of row y projected on horizontal component i.
    rows: list[list[tuple[float, float, float]]] = []
    for y in range(height):
        base = y * width * 3
        reds = linear[base : base + width * 3 : 3]
        greens = linear[base + 1 : base + width * 3 : 3]
        blues = linear[base + 2 : base + width * 3 : 3]
        row = []
        for i in range(x_components):
            c = cos_x[i]
            row.append(
                (
                    math.fsum(map(float.__mul__, c, reds)),
                    math.fsum(map(float.__mul__, c, greens)),
                    math.fsum(map(float.__mul__, c, blues)),
                )
            )
        rows.append(row)

    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        for i in range(x_components):
            scale = (1 if i == 0 and j == 0 else 2) / (width * height)
            c = cos_y[j]
            factors.append(
                tuple(  # type: ignore[arg-type]
                    scale * math.fsum(c[y] * rows[y][i][ch] for y in range(height))
                    for ch in range(3)
                )
            )

    dc, ac = factors[0], factors[1:]
    out = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for f in ac for v in f)
        quantised_max = max(0, min(82, math.floor(actual_max * 166 - 0.5)))
        maximum = (quantised_max + 1) / 166
        out += _base83(quantised_max, 1)
    else:
        maximum = 1.0
        out += _base83(0, 1)
    out += _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4)
    for f in ac:
        r, g, b = (max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5))) for v in f)
        out += _base83(r * 19 * 19 + g * 19 + b, 2)
    return out


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - 1 - k)) % 83] for k in range(length))
