"""The media benchmark: `python -m bench media [--quick]`.

Three groups of figures, each printed beside a ceiling measured in the same run (the
machine's speed drifts by up to 4x between runs; the ratios are what compare):

1. **Uploads/s through HTTP** (`uploads_per_s_<size>_<clients>`): `POST /v1/media` with
   the raw body of a 1 MP and a 12 MP JPEG (`bench.media_pipeline.make_jpeg`) at 4 and 16
   closed-loop clients. An upload counts when the edge answered 202: it has spooled the
   body, hashed it, checked its content (sniff and header probe), stored it and the
   `ReceiveUpload` command is durable. Every upload carries a JPEG comment with a counter,
   so no two have the same bytes (nothing is ever deduplicated). Ceiling: the same bodies
   POSTed by the same clients to `bench/hello.py`, which reads each body in the edge's
   chunk size and throws it away. The media worker runs while uploads arrive (as in
   production it would): the figure includes its competition for the two cores.
   **End-to-end** (`ready_per_s_<size>`): uploads of a phase that reached `status: ready`
   in the media read model, divided by the time from the phase's first POST to the last one
   ready, polled every `READY_POLL` seconds in PostgreSQL; the worker runs with
   `QUARK_MEDIA_PROCESSES=2` (two image processes on two cores). Its ceiling is the
   pipeline alone: two processes each doing one image per `process_image` wall time of
   figure 2 (default engine). Each phase drains before the next starts, so every upload
   phase begins with an idle worker; a phase is bounded in uploads as well as in time, to
   keep the drain short.
2. **Processing ms per megapixel** (`ms_per_mp`) for both engines at 1, 12 and 24 MP
   (`ms_per_megapixel`, median wall time of `process_image`), and the **peak RSS** of one
   24 MP image in a fresh process, what a worker's image process needs (`peak_rss_mb`), for
   the default engine and the other one. Run in this process before the platform starts.
3. **`GET /media/{key}`/s of a public 320 px thumbnail at 64 clients** (keep-alive, every
   answer checked to be 200): an uploaded image is made public by setting it as its owner's
   avatar, then its `variants["320"].url` is fetched. Ceilings: (a) the aiohttp hello-world
   GET (`bench/hello.py`) by the same clients, (b) the edge's own static files, the
   Swagger UI asset nearest in size to the thumbnail (`edge/docs.py`, bytes held in memory)
   through the same edge process, so the difference is what delivery costs (the read-model
   lookup of `content_access`, the blob `stat` and read). Third figure: the same GET with
   `If-None-Match` (304). Every GET asks for `Accept-Encoding: identity`, so nothing is
   compressed. Media and static GETs run in alternating rounds; the best round counts.

Standard perks allow `uploads_per_hour` (60) uploads per person and hour, 429 beyond: the
product's limit is not lifted; uploads are spread over as many bench users as that takes
(each bench user's access token is minted by this process and used for at most that many
uploads; the count is printed). A user without a profile row is a standard user.

The platform runs as separate processes: `quark run handler media` (the worker runs in it),
`quark run handler profiles` (the avatar), `quark run projection media`, `quark run
projection profiles` (the upload limits read `vip_until`) and `quark run edge`. The load
generator is the Python aiohttp client, which shares the machine's two cores with them.

This module holds the sizes, what each figure measures (`MEASURED`), figure 2 and the
ceilings taken before the platform starts, the run in its order and the report. Figure 1 is
measured in `bench/media_uploads.py`, figure 3 in `bench/media_delivery.py`; the pipeline's
own measurements are `bench/media_pipeline.py`'s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import ceilings
from bench.environment import BenchSetupError, Setup, access_tokens, set_up
from bench.loadgen import LoopResult, http_closed_loop, rounded
from bench.media_delivery import (
    GET_CLIENTS,
    THUMBNAIL,
    get_figures,
    nearest_asset,
    public_thumbnail,
)
from bench.media_pipeline import make_jpeg, megapixels, ms_per_megapixel, peak_rss_mb
from bench.media_uploads import (
    READY_POLL,
    UPLOAD_CLIENTS,
    UPLOADED,
    UPLOADS_PER_USER,
    Accepted,
    UniqueBodies,
    Uploaders,
    UploadPhase,
    upload_phase,
)
from bench.report import cpu_ms_per_request, fmt, fmt_ratio, footer, machine, ratio, render_table
from handlers.media.images import DEFAULT_ENGINE, ENGINES

#: The processes the figures need, in start order, the edge last.
WORKERS: tuple[tuple[str, ...], ...] = (
    ("handler", "media"),
    ("handler", "profiles"),
    ("projection", "media"),
    # A profile change (the avatar) is screened with the word filter's rules.
    ("projection", "profiles,word_filters"),
    ("edge",),
)
#: Image processes of the media worker: one per core of the development machine.
MEDIA_PROCESSES = 2
SETTINGS: dict[str, str] = {"QUARK_MEDIA_PROCESSES": str(MEDIA_PROCESSES)}
#: Source sizes by label (those of `bench.media_pipeline`).
SOURCES: dict[str, tuple[int, int]] = {
    "1MP": (1152, 864),
    "12MP": (4000, 3000),
    "24MP": (6000, 4000),
}

MEASURED: dict[str, str] = {
    "uploads_per_s": "POST /v1/media, raw JPEG body, closed-loop clients, counted at the 202 "
    "(spooled, hashed, checked, stored, command durable); every body unique (a JPEG comment "
    "with a counter); the media worker processes earlier uploads meanwhile",
    "raw_body_posts_per_s": "the same bodies by the same clients to bench/hello.py POST "
    "/v1/media, which reads the body in 256 KiB chunks and discards it",
    "ready_per_s": f"uploads of the {max(UPLOAD_CLIENTS)}-client phase that reached status "
    "ready in the media read model / seconds from the phase's first POST to the last one "
    f"ready (polled every {READY_POLL}s); QUARK_MEDIA_PROCESSES={MEDIA_PROCESSES} on "
    f"{os.cpu_count()} cores",
    "pipeline_images_per_s": f"{MEDIA_PROCESSES} processes x 1000 / (ms per image of "
    "process_image, default engine, figure 2): the worker's ceiling",
    "ms_per_mp": "bench.media_pipeline.ms_per_megapixel: median wall ms of process_image per "
    "source megapixel (probe, decode, variants, BlurHash), in this process, platform stopped",
    "peak_rss_mb": "bench.media_pipeline.peak_rss_mb: VmHWM of a fresh process that processes "
    "the image once",
    "media_get_per_s_64": f"GET of a public {THUMBNAIL} px thumbnail's URL (an avatar) through "
    f"the edge, {GET_CLIENTS} keep-alive clients, every answer checked to be 200 (best round)",
    "media_get_304_per_s_64": "the same GET with If-None-Match: its ETag (304 expected)",
    "static_get_per_s_64": "GET of the edge's Swagger UI asset nearest in size to the "
    "thumbnail (edge/docs.py, in memory), same edge process and clients (best round)",
    "aiohttp_hello_get_per_s_64": f"GET /v1/me/security-log of bench/hello.py, {GET_CLIENTS} "
    "clients, before the platform starts",
}


@dataclass(frozen=True)
class Sizes:
    #: Pipeline sizes measured (figure 2) and the one whose peak RSS is taken.
    pipeline: tuple[str, ...]
    rss_image: str
    pipeline_runs: int
    upload_seconds: float
    #: Most uploads of one phase, by size (the worker must drain them afterwards).
    max_uploads: dict[str, int]
    warmup_seconds: float
    get_seconds: float
    get_rounds: int
    max_requests: int
    drain_timeout: float
    overall_timeout: float


FULL = Sizes(
    pipeline=("1MP", "12MP", "24MP"),
    rss_image="24MP",
    pipeline_runs=5,
    upload_seconds=8.0,
    max_uploads={"1MP": 400, "12MP": 160},
    warmup_seconds=1.0,
    get_seconds=10.0,
    get_rounds=2,
    max_requests=200_000,
    drain_timeout=240.0,
    overall_timeout=1_200.0,
)
QUICK = Sizes(
    pipeline=("1MP", "12MP"),
    rss_image="12MP",
    pipeline_runs=2,
    upload_seconds=2.0,
    max_uploads={"1MP": 60, "12MP": 24},
    warmup_seconds=0.3,
    get_seconds=3.0,
    get_rounds=1,
    max_requests=50_000,
    drain_timeout=120.0,
    overall_timeout=420.0,
)


# --- figure 2: the pipeline, in this process ----------------------------------------------


def pipeline_figures(
    sources: dict[str, Path], sizes: Sizes, say: Callable[[str], None]
) -> dict[str, Any]:
    ms: dict[str, dict[str, float]] = {}
    for engine in ENGINES:
        ms[engine] = {}
        for label in sizes.pipeline:
            say(f"figure 2: {engine}, {label} x {sizes.pipeline_runs}")
            ms[engine][label] = ms_per_megapixel(engine, sources[label], sizes.pipeline_runs)
    rss: dict[str, float] = {}
    for engine in ENGINES:
        say(f"figure 2: {engine}, peak RSS of one {sizes.rss_image} image in a fresh process")
        rss[engine] = peak_rss_mb(engine, sources[sizes.rss_image])
    return {"ms_per_mp": ms, "peak_rss_mb": rss}


# --- ceilings before the platform starts --------------------------------------------------


async def ceiling_figures(
    tmp: Path,
    bodies: dict[str, UniqueBodies],
    tokens: list[str],
    sizes: Sizes,
    say: Callable[[str], None],
) -> dict[str, LoopResult]:
    out: dict[str, LoopResult] = {}
    hello = ceilings.HelloServer(tmp)
    try:
        for label in UPLOADED:
            for clients in UPLOAD_CLIENTS:
                say(f"ceiling: raw {label} body POSTs to aiohttp, {clients} clients")
                # The same headers as an upload; the hello server reads none of them.
                headers = [
                    {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
                    for token in tokens[:clients]
                ]
                out[f"{label}_{clients}"] = await http_closed_loop(
                    "POST",
                    f"{hello.base_url}/v1/media",
                    headers,
                    body=bodies[label],
                    status=202,
                    clients=clients,
                    seconds=sizes.upload_seconds,
                    max_requests=sizes.max_requests,
                    warmup_seconds=sizes.warmup_seconds,
                )
        say(f"ceiling: aiohttp hello-world GET, {GET_CLIENTS} clients")
        out["hello_get"] = await http_closed_loop(
            "GET",
            f"{hello.base_url}/v1/me/security-log",
            [{"Accept-Encoding": "identity"}] * GET_CLIENTS,
            clients=GET_CLIENTS,
            seconds=sizes.get_seconds,
            max_requests=sizes.max_requests,
            warmup_seconds=sizes.warmup_seconds,
        )
    finally:
        hello.stop()
    return out


# --- the run ------------------------------------------------------------------------------


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        sources: dict[str, Path] = {}
        for label in dict.fromkeys((*UPLOADED, *sizes.pipeline, sizes.rss_image)):
            w, h = SOURCES[label]
            say(f"making a {w}x{h} photo")
            sources[label] = await asyncio.to_thread(make_jpeg, tmp / f"{label}.jpg", w, h)
        pipeline = await asyncio.to_thread(pipeline_figures, sources, sizes, say)
        bodies = {label: UniqueBodies(sources[label].read_bytes()) for label in UPLOADED}
        # Read now: the files go with the temporary directory.
        source_info = {
            label: {"bytes": path.stat().st_size, "megapixels": round(megapixels(path), 2)}
            for label, path in sources.items()
        }
        async with AsyncExitStack() as stack:
            setup = await set_up(tmp, stack, say, WORKERS, SETTINGS)
            platform = setup.platform
            uploaders = Uploaders(setup.tokens, UPLOADS_PER_USER)
            tokens = access_tokens(setup.tokens, max(UPLOAD_CLIENTS))
            raw = await ceiling_figures(tmp, bodies, tokens, sizes, say)
            say(
                "starting the platform: quark run handler media / handler profiles / "
                f"projection media / projection profiles / edge (QUARK_MEDIA_PROCESSES="
                f"{MEDIA_PROCESSES})"
            )
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            connector = aiohttp.TCPConnector(limit=GET_CLIENTS)
            async with aiohttp.ClientSession(connector=connector) as session:
                await platform.wait_ready(session)
                await platform.wait_handlers(setup.infra.nc)
                phases: list[UploadPhase] = []
                first: Accepted | None = None
                for label in UPLOADED:
                    for clients in UPLOAD_CLIENTS:
                        phase, accepted = await upload_phase(
                            platform,
                            setup.infra.pool,
                            session,
                            label,
                            clients,
                            bodies[label],
                            uploaders,
                            sizes,
                            say,
                        )
                        phases.append(phase)
                        first = first or accepted
                if first is None or not first.uploads:
                    raise BenchSetupError("no upload was accepted")
                media_id, token = first.uploads[0]
                say(f"figure 3: making {media_id} an avatar (public)")
                thumbnail, thumbnail_size, etag = await public_thumbnail(
                    platform, session, media_id, token
                )
                static, static_size = nearest_asset(thumbnail_size)
                gets = await get_figures(platform, session, thumbnail, etag, static, sizes, say)
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)
    delivery = {
        "thumbnail_bytes": thumbnail_size,
        "static_asset": static,
        "static_asset_bytes": static_size,
    }
    return assemble(
        sizes, quick, setup, source_info, pipeline, raw, phases, gets, uploaders.users, delivery
    )


def assemble(
    sizes: Sizes,
    quick: bool,
    setup: Setup,
    sources: dict[str, dict[str, Any]],
    pipeline: dict[str, Any],
    raw: dict[str, LoopResult],
    phases: list[UploadPhase],
    gets: dict[str, list[tuple[LoopResult, dict[str, float]]]],
    users: int,
    delivery: dict[str, Any],
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    ceilings_out: dict[str, Any] = {}
    ratios: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    busiest = max(UPLOAD_CLIENTS)
    for phase in phases:
        key = f"{phase.size}_{phase.clients}"
        r, bound = phase.result, raw[key]
        figures[f"uploads_per_s_{key}"] = round(r.per_s, 1)
        figures[f"uploads_p50_ms_{key}"] = rounded(r.p50_ms)
        figures[f"uploads_p99_ms_{key}"] = rounded(r.p99_ms)
        ceilings_out[f"raw_body_posts_per_s_{key}"] = round(bound.per_s, 1)
        ratios[f"uploads_per_s_{key}_vs_raw_body_posts"] = ratio(r.per_s, bound.per_s)
        details[f"uploads_{key}"] = r.summary() | {
            "first_error": r.first_error,
            "error_kinds": dict(r.error_kinds),
            "accepted_with_warmup": phase.accepted,
            "ready": phase.ready,
            "failed": phase.failed,
            "seconds_to_all_ready": round(phase.seconds_to_all_ready, 2),
            "drain_seconds": round(phase.drain_seconds, 2),
            "ready_per_s": round(phase.ready_per_s, 2),
            "cores_used": phase.cores,
        }
        details[f"raw_body_posts_{key}"] = bound.summary()
        if phase.clients == busiest:
            wall_ms = pipeline["ms_per_mp"][DEFAULT_ENGINE].get(phase.size)
            image_ms = None if wall_ms is None else wall_ms * sources[phase.size]["megapixels"]
            limit = None if not image_ms else MEDIA_PROCESSES * 1000 / image_ms
            figures[f"ready_per_s_{phase.size}"] = round(phase.ready_per_s, 2)
            ceilings_out[f"pipeline_images_per_s_{phase.size}"] = rounded(limit, 2)
            ratios[f"ready_per_s_{phase.size}_vs_pipeline"] = ratio(phase.ready_per_s, limit)
    figures["ms_per_mp"] = pipeline["ms_per_mp"]
    figures["peak_rss_mb"] = {"image": sizes.rss_image, **pipeline["peak_rss_mb"]}
    best = {name: max(results, key=lambda x: x[0].per_s) for name, results in gets.items()}
    media, media_cores = best["media"]
    static, static_cores = best["static"]
    not_modified, _ = best["media_304"]
    hello = raw["hello_get"]
    figures |= {
        "media_get_per_s_64": round(media.per_s, 1),
        "media_get_p50_ms_64": rounded(media.p50_ms),
        "media_get_p99_ms_64": rounded(media.p99_ms),
        "media_get_304_per_s_64": round(not_modified.per_s, 1),
        "media_get_304_p50_ms_64": rounded(not_modified.p50_ms),
        "media_get_304_p99_ms_64": rounded(not_modified.p99_ms),
    }
    ceilings_out |= {
        "static_get_per_s_64": round(static.per_s, 1),
        "static_get_p50_ms_64": rounded(static.p50_ms),
        "static_get_p99_ms_64": rounded(static.p99_ms),
        "aiohttp_hello_get_per_s_64": round(hello.per_s, 1),
        "aiohttp_hello_get_p50_ms_64": rounded(hello.p50_ms),
        "aiohttp_hello_get_p99_ms_64": rounded(hello.p99_ms),
    }
    ratios |= {
        "media_get_per_s_64_vs_aiohttp_hello": ratio(media.per_s, hello.per_s),
        "media_get_per_s_64_vs_static": ratio(media.per_s, static.per_s),
        "media_get_304_per_s_64_vs_aiohttp_hello": ratio(not_modified.per_s, hello.per_s),
        "media_get_304_per_s_64_vs_static": ratio(not_modified.per_s, static.per_s),
    }
    for name, results in gets.items():
        result, _ = best[name]
        details[f"get_{name}_64"] = result.summary() | {
            "non_expected_answers": result.errors,
            "error_kinds": dict(result.error_kinds),
            "first_error": result.first_error,
            "rounds_per_s": [round(r.per_s, 1) for r, _ in results],
        }
    details |= {
        "aiohttp_hello_get_64": hello.summary(),
        "cores_used_during_media_get_64": media_cores,
        "cores_used_during_static_get_64": static_cores,
        "cpu_ms_per_media_get_64": cpu_ms_per_request(media_cores, media.per_s),
        "cpu_ms_per_static_get_64": cpu_ms_per_request(static_cores, static.per_s),
        "delivery": delivery,
        "bench_users": users,
        "uploads_per_user_at_most": UPLOADS_PER_USER,
        "sources": sources,
    }
    return {
        **figures,
        "ceilings": ceilings_out,
        "ratios": ratios,
        "measured": MEASURED,
        "details": details,
        "default_engine": DEFAULT_ENGINE,
        "media_processes": MEDIA_PROCESSES,
        "settings_for_the_run": SETTINGS,
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": setup.backends.origins,
        "load_generator": "python (aiohttp client)",
        **machine(),
    }


# --- the report ---------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    c = result["ceilings"]
    r = result["ratios"]
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        label: str,
        value: str,
        latency: tuple[float | None, float | None],
        bound: str,
        ratio_key: str | None,
    ) -> None:
        p50, p99 = latency
        shown = fmt_ratio(r[ratio_key]) if ratio_key else "-"
        rows.append((label, value, fmt(p50, "ms"), fmt(p99, "ms"), bound, shown))

    for label in UPLOADED:
        for clients in UPLOAD_CLIENTS:
            key = f"{label}_{clients}"
            row(
                f"uploads/s {label}, {clients} clients",
                fmt(result[f"uploads_per_s_{key}"], "/s"),
                (result[f"uploads_p50_ms_{key}"], result[f"uploads_p99_ms_{key}"]),
                f"{fmt(c[f'raw_body_posts_per_s_{key}'], '/s')} raw body POSTs, aiohttp",
                f"uploads_per_s_{key}_vs_raw_body_posts",
            )
        ready = result.get(f"ready_per_s_{label}")
        limit = c.get(f"pipeline_images_per_s_{label}")
        row(
            f"  ready/s {label} (worker, {result['media_processes']} processes)",
            "-" if ready is None else f"{ready:.2f}/s",
            (None, None),
            "-" if limit is None else f"{limit:.2f}/s pipeline alone, {result['media_processes']}",
            f"ready_per_s_{label}_vs_pipeline",
        )
    default = result["default_engine"]
    for engine, by_size in result["ms_per_mp"].items():
        cells = ", ".join(f"{size} {ms:.1f}" for size, ms in by_size.items())
        mark = " (default)" if engine == default else ""
        row(f"ms/MP {engine}{mark}", cells, (None, None), "", None)
    rss = result["peak_rss_mb"]
    row(
        f"peak RSS, one {rss['image']} image",
        ", ".join(f"{e} {rss[e]:.0f} MB" for e in result["ms_per_mp"]),
        (None, None),
        "",
        None,
    )
    hello = f"{fmt(c['aiohttp_hello_get_per_s_64'], '/s')} aiohttp hello GET, 64"
    static = f"{fmt(c['static_get_per_s_64'], '/s')} edge static file, 64"
    row(
        f"GET /media {THUMBNAIL}px, 64 clients",
        fmt(result["media_get_per_s_64"], "/s"),
        (result["media_get_p50_ms_64"], result["media_get_p99_ms_64"]),
        hello,
        "media_get_per_s_64_vs_aiohttp_hello",
    )
    row("", "", (None, None), static, "media_get_per_s_64_vs_static")
    row(
        "  If-None-Match (304), 64 clients",
        fmt(result["media_get_304_per_s_64"], "/s"),
        (result["media_get_304_p50_ms_64"], result["media_get_304_p99_ms_64"]),
        static,
        "media_get_304_per_s_64_vs_static",
    )
    headers = ("figure", "value", "p50", "p99", "ceiling", "ratio")
    return render_table(headers, rows, right={1, 2, 3, 5})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    dl = d["delivery"]
    lines = [
        "ratio = value / ceiling (1.00 = at the ceiling).",
        *(f"{name}: {how}" for name, how in result["measured"].items()),
        f"users: uploads spread over {d['bench_users']} bench users, at most "
        f"{d['uploads_per_user_at_most']} uploads each (the standard perks' uploads per hour; "
        "the product's limit is not lifted)",
        f"worker: QUARK_MEDIA_PROCESSES={result['media_processes']} on {result['cpu_count']} "
        f"cores, engine {result['default_engine']}",
        "sources: "
        + ", ".join(
            f"{label} {s['megapixels']} MP, {s['bytes']:,} bytes"
            for label, s in d["sources"].items()
        ),
    ]
    for label in UPLOADED:
        for clients in UPLOAD_CLIENTS:
            u = d[f"uploads_{label}_{clients}"]
            lines.append(
                f"uploads {label}/{clients}: {u['requests']} in {u['seconds']}s "
                f"({u['errors']} errors{', first: ' + u['first_error'] if u['errors'] else ''}); "
                f"{u['ready']} ready, {u['failed']} failed, all within "
                f"{u['seconds_to_all_ready']}s of the first POST ({u['ready_per_s']}/s, "
                f"drained in {u['drain_seconds']}s); cores: "
                + ", ".join(f"{k} {v:.2f}" for k, v in u["cores_used"].items())
            )
    lines.append(
        f"delivery: thumbnail {dl['thumbnail_bytes']:,} bytes; static asset "
        f"{dl['static_asset']} {dl['static_asset_bytes']:,} bytes"
    )
    for name in ("media", "static", "media_304"):
        g = d[f"get_{name}_64"]
        lines.append(
            f"GET {name}: {g['requests']:,} answers, {g['non_expected_answers']} not "
            f"{'304' if name == 'media_304' else '200'}; rounds/s {g['rounds_per_s']}"
        )
    lines += [
        "cores used during media GETs: "
        + ", ".join(f"{k} {v:.2f}" for k, v in d["cores_used_during_media_get_64"].items()),
        "CPU ms per media GET: "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["cpu_ms_per_media_get_64"].items()),
        "CPU ms per static GET: "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["cpu_ms_per_static_get_64"].items()),
        *footer(result),
    ]
    return "\n".join(lines)
