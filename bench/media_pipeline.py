"""The image pipeline's cost: `python -m bench.media_pipeline [--quick]`.

For each engine of `handlers.media.images` and each size (1, 12 and 24 MP): wall-clock
and CPU milliseconds per megapixel of the source, for the whole of `process_image` (probe,
decode, cap, turn, sRGB, the original and the three WebP variants written, the BlurHash),
median of a few runs after one warm-up. CPU time counts every thread of the process, so it
is the figure to compare when the worker's cores are busy with other jobs; wall time is
what one upload waits. Then the peak RSS of processing one 24 MP image in a fresh
process, next to the same process's peak once warmed up on a small picture (the
interpreter, Pillow and libvips are in both; the difference is the pipeline's working
memory).

The sources are synthetic photos (`make_jpeg`): gradients on each channel, blurred noise
for texture and fine noise for grain, saved at quality 90, so the decoder and the encoders
do the work a camera picture gives them; a flat colour would encode in no time and flatter
both engines.

The functions `make_jpeg`, `ms_per_megapixel` and `peak_rss_mb` are what `python -m bench
media` reuses; run alone, this module prints a table and writes
`bench/results/media_pipeline.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter

from bench.report import RESULTS, render_table
from handlers.media.images import ENGINES, process_image

#: Source sizes by label; 12 and 24 MP are common phone and camera sensors.
SIZES: dict[str, tuple[int, int]] = {
    "1MP": (1152, 864),
    "12MP": (4000, 3000),
    "24MP": (6000, 4000),
}
QUICK_SIZES = {"1MP": SIZES["1MP"]}
RUNS = 5
ROOT = Path(__file__).resolve().parent.parent


def make_jpeg(path: Path, width: int, height: int) -> Path:
    """Write a synthetic photo of `width`x`height` to `path` as a quality-90 JPEG."""
    gradient = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    colour = Image.merge("RGB", (gradient, radial, gradient.transpose(Image.Transpose.ROTATE_180)))
    # Texture: noise at a low resolution, blurred and enlarged (clouds, foliage, fabric).
    coarse = Image.effect_noise((max(1, width // 16), max(1, height // 16)), 60)
    texture = coarse.filter(ImageFilter.GaussianBlur(2)).resize((width, height)).convert("RGB")
    grain = Image.effect_noise((width, height), 25).convert("RGB")
    picture = Image.blend(Image.blend(colour, texture, 0.35), grain, 0.12)
    picture.save(path, "JPEG", quality=90)
    return path


def megapixels(path: Path) -> float:
    with Image.open(path) as im:
        return im.width * im.height / 1e6


def timed_runs(engine: str, path: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `runs` calls of `process_image`, after one warm-up call
    (imports, plugin registration, libvips start-up are not per-image costs)."""
    walls: list[float] = []
    cpus: list[float] = []
    with tempfile.TemporaryDirectory(prefix="quark-bench-media-") as tmp:
        process_image(path, Path(tmp) / "warm", engine=engine)
        for i in range(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            process_image(path, Path(tmp) / str(i), engine=engine)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return walls, cpus


def ms_per_megapixel(engine: str, path: Path, runs: int = RUNS) -> float:
    """Median wall-clock milliseconds per source megapixel of `process_image`."""
    walls, _ = timed_runs(engine, path, runs)
    return round(statistics.median(walls) * 1000 / megapixels(path), 2)


_CHILD = """
import sys, tempfile
from pathlib import Path
from PIL import Image
from handlers.media import images
def mb():
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
with tempfile.TemporaryDirectory() as tmp:
    # A small picture first, so every library is loaded and started before `base`.
    small = Path(tmp) / "small.jpg"
    Image.new("RGB", (64, 48), (90, 120, 200)).save(small)
    images.process_image(small, Path(tmp) / "small", engine="{engine}")
    base = mb()
    images.process_image(Path(sys.argv[1]), Path(tmp) / "big", engine="{engine}")
print(base, mb())
"""


def peak_rss(engine: str, path: Path) -> tuple[float, float]:
    """RSS in MB of a fresh process once warmed up (a small picture processed: modules and
    native libraries loaded), and its peak after processing `path` once: the child's own `VmHWM` (Linux), the high-water mark of its address space.
    `ru_maxrss` would not do: Linux carries it over `fork` and `exec`, so a child of this
    process, which has just processed 24 MP images, starts with our peak as its own, and
    `RUSAGE_CHILDREN` is the largest of every child ever waited for."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(engine=engine), str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    ).stdout.split()
    return round(float(out[0]), 1), round(float(out[1]), 1)


def peak_rss_mb(engine: str, path: Path) -> float:
    """Peak RSS in MB of a fresh process that processes `path` once with `engine`."""
    return peak_rss(engine, path)[1]


def measure(
    sizes: dict[str, tuple[int, int]], runs: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Every figure of this suite, as the JSON report."""
    report: dict[str, Any] = {"machine": _machine(), "runs": runs, "engines": {}}
    largest = max(sizes, key=lambda label: sizes[label][0] * sizes[label][1])
    with tempfile.TemporaryDirectory(prefix="quark-bench-media-src-") as tmp:
        sources = {}
        for label, (w, h) in sizes.items():
            say(f"making a {w}x{h} photo")
            sources[label] = make_jpeg(Path(tmp) / f"{label}.jpg", w, h)
        for engine in ENGINES:
            figures: dict[str, Any] = {}
            for label, path in sources.items():
                say(f"{engine}: {label} x {runs}")
                walls, cpus = timed_runs(engine, path, runs)
                mp = megapixels(path)
                figures[label] = {
                    "megapixels": round(mp, 2),
                    "wall_ms_per_mp": round(statistics.median(walls) * 1000 / mp, 2),
                    "cpu_ms_per_mp": round(statistics.median(cpus) * 1000 / mp, 2),
                    "wall_ms": round(statistics.median(walls) * 1000, 1),
                }
            say(f"{engine}: peak RSS of one {largest} image in a fresh process")
            base, peak = peak_rss(engine, sources[largest])
            figures["rss"] = {"image": largest, "warm_mb": base, "peak_mb": peak}
            report["engines"][engine] = figures
    return report


def table(report: dict[str, Any]) -> str:
    labels = [k for k in next(iter(report["engines"].values())) if k != "rss"]
    headers = ["engine", *(f"{label} ms/MP wall (cpu)" for label in labels), "peak RSS"]
    rows = []
    for engine, figures in report["engines"].items():
        cells = [
            f"{figures[label]['wall_ms_per_mp']:.1f} ({figures[label]['cpu_ms_per_mp']:.1f})"
            for label in labels
        ]
        rss = figures["rss"]
        rows.append([engine, *cells, f"{rss['peak_mb']:.0f} MB ({rss['warm_mb']:.0f} warm)"])
    return render_table(headers, rows, right=set(range(1, len(headers))))


def _machine() -> dict[str, Any]:
    import PIL

    try:
        import pyvips

        vips = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    except (ImportError, OSError):  # pragma: no cover - the wheel is a dependency
        vips = None
    return {
        "cpu_count": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pillow": PIL.__version__,
        "libvips": vips,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.media_pipeline", description=__doc__)
    p.add_argument("--quick", action="store_true", help="1 MP only, 2 runs (a smoke run)")
    p.add_argument("--output", type=Path, default=RESULTS / "media_pipeline.json")
    args = p.parse_args(argv)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    report = measure(QUICK_SIZES if args.quick else SIZES, 2 if args.quick else RUNS, say)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
