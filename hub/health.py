"""The station's health (`GET /v1/hub/health`): the dependencies, every module, each read
model's lag and the dead letters, in one answer a person or a monitor can read.

States, strongest first: `down` (does not work: no instance answers, a dependency refuses),
`degraded` (works, but behind or failing part of the time: a read model lagging past the
thresholds, an HTTP module whose health check fails), `up`. Degraded is not down: the
station is down only when a dependency every request needs (NATS, PostgreSQL, Redis) is.

Lag is measured on the read model's live consumer (`<projection>_b<build>`): events not yet
applied are those pending plus those delivered and not yet acknowledged, and seconds are
how old the oldest of them is (its time in the stream), so a stopped read model's lag grows
in both while nothing else changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import nats.js.errors

from core.bootstrap import Infra
from core.metrics import MODULE_INSTANCES, MODULE_STATE
from core.natsutil import NATS_UNAVAILABLE
from hub.registry import HttpModules, Instance, discover, instance_status

STATES = ("up", "degraded", "down")
#: A probe taking longer than this counts as failed.
PROBE_TIMEOUT = 2.0


class Check(msgspec.Struct, kw_only=True):
    state: str
    reason: str = ""
    latency_ms: float | None = None
    details: dict[str, Any] = {}


class ConsumerHealth(msgspec.Struct, kw_only=True):
    stream: str
    name: str
    pending: int
    ack_pending: int
    redelivered: int


class StreamHealth(msgspec.Struct, kw_only=True):
    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumers: list[ConsumerHealth] = []


class ProjectionLag(msgspec.Struct, kw_only=True):
    name: str
    state: str
    events: int
    seconds: float
    reason: str = ""
    consumer: str | None = None


class ModuleHealth(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    state: str
    instances: int
    reason: str = ""


class Health(msgspec.Struct, kw_only=True):
    state: str
    checked_at: str
    dependencies: dict[str, Check]
    streams: list[StreamHealth]
    modules: list[ModuleHealth]
    projections: list[ProjectionLag]
    dead_letters: dict[str, int]


def worst(states: Iterable[str]) -> str:
    return max(states, key=STATES.index, default="up")


async def probe(run: Callable[[], Awaitable[dict[str, Any] | None]]) -> Check:
    """One dependency's check: its details, or `down` with the reason it failed."""
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(run(), PROBE_TIMEOUT)
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        return Check(state="down", reason=f"{type(exc).__name__}: {reason}"[:300])
    return Check(
        state="up",
        latency_ms=round((time.perf_counter() - started) * 1e3, 2),
        details=details or {},
    )


async def nats_check(infra: Infra) -> Check:
    async def run() -> dict[str, Any]:
        if not infra.nc.is_connected:
            raise ConnectionError("not connected")
        info = await infra.nc.jetstream().account_info()
        version = infra.nc.connected_server_version
        return {
            "server_version": f"{version.major}.{version.minor}.{version.patch}",
            "storage_bytes": info.storage,
            "memory_bytes": info.memory,
            "max_storage_bytes": info.limits.max_storage,
            "max_memory_bytes": info.limits.max_memory,
            "streams": info.streams,
            "consumers": info.consumers,
            "api_errors": info.api.errors,
        }

    return await probe(run)


async def postgres_check(infra: Infra) -> Check:
    async def run() -> dict[str, Any]:
        version = await infra.pool.fetchval("SHOW server_version")
        return {"server_version": version, "pool_size": infra.pool.get_size()}

    return await probe(run)


async def redis_check(infra: Infra) -> Check:
    async def run() -> dict[str, Any]:
        await infra.redis.ping()
        info = await infra.redis.info("server")
        memory = await infra.redis.info("memory")
        return {
            "server_version": info.get("redis_version"),
            "used_memory_bytes": memory.get("used_memory"),
        }

    return await probe(run)


async def storage_check(infra: Infra) -> Check:
    settings = infra.settings

    async def run() -> dict[str, Any]:
        store = await infra.blobstore()
        await store.stat("hub/probe")  # a missing key answers None; an unreachable store raises
        where = (
            f"s3 {settings.s3_endpoint}/{settings.s3_bucket}"
            if settings.s3_endpoint
            else (f"directory {settings.data_dir / 'media'}")
        )
        return {"store": where}

    return await probe(run)


async def stream_health(infra: Infra) -> list[StreamHealth]:
    js = infra.nc.jetstream()
    out: list[StreamHealth] = []
    for name in infra.decl.file.streams:
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            continue
        consumers = []
        with contextlib.suppress(nats.js.errors.APIError):
            for c in await js.consumers_info(name):
                consumers.append(
                    ConsumerHealth(
                        stream=name,
                        name=c.name,
                        pending=c.num_pending or 0,
                        ack_pending=c.num_ack_pending or 0,
                        redelivered=c.num_redelivered or 0,
                    )
                )
        out.append(
            StreamHealth(
                name=name,
                messages=info.state.messages,
                bytes=info.state.bytes,
                first_seq=info.state.first_seq,
                last_seq=info.state.last_seq,
                consumers=sorted(consumers, key=lambda c: c.name),
            )
        )
    return out


_BUILD = re.compile(r"^(?P<name>.+)_b(?P<build>\d+)$")


async def projection_lags(
    infra: Infra,
    streams: list[StreamHealth],
    projections: Iterable[str],
    *,
    max_events: int,
    max_seconds: float,
) -> list[ProjectionLag]:
    """Each read model's lag on its live consumers (the newest build's), summed over its
    source streams; `degraded` past either threshold, `down` with no consumer at all."""
    js = infra.nc.jetstream()
    live: dict[str, dict[str, tuple[int, ConsumerHealth]]] = {}
    for stream in streams:
        for c in stream.consumers:
            m = _BUILD.match(c.name)
            if m is None:
                continue
            build = int(m["build"])
            known = live.setdefault(m["name"], {}).get(stream.name)
            if known is None or known[0] < build:
                live[m["name"]][stream.name] = (build, c)
    out = []
    now = datetime.now(UTC)
    for name in projections:
        consumers = live.get(name, {})
        if not consumers:
            out.append(
                ProjectionLag(
                    name=name,
                    state="down",
                    events=0,
                    seconds=0.0,
                    reason="no live consumer: the read model has never run",
                )
            )
            continue
        events = 0
        oldest: datetime | None = None
        for stream, (_build, c) in consumers.items():
            behind = c.pending + c.ack_pending
            events += behind
            if behind:
                with contextlib.suppress(Exception):
                    info = await js.consumer_info(stream, c.name)
                    floor = info.ack_floor.stream_seq if info.ack_floor else 0
                    for subject in info.config.filter_subjects or [info.config.filter_subject]:
                        msg = await js.get_msg(stream, seq=floor + 1, subject=subject, next=True)
                        if msg.time is not None and (oldest is None or msg.time < oldest):
                            oldest = msg.time
        seconds = round(max(0.0, (now - oldest).total_seconds()), 3) if oldest else 0.0
        reasons = []
        if events > max_events:
            reasons.append(f"{events} events behind (more than {max_events})")
        if seconds > max_seconds:
            reasons.append(f"{seconds:.1f} s behind (more than {max_seconds:g} s)")
        out.append(
            ProjectionLag(
                name=name,
                state="degraded" if reasons else "up",
                events=events,
                seconds=seconds,
                reason="; ".join(reasons),
                consumer=",".join(sorted({c.name for _b, c in consumers.values()})),
            )
        )
    return out


async def dead_letters(infra: Infra) -> dict[str, int]:
    """Dead-lettered events by subject (`dlq.<projection or worker>…`)."""
    js = infra.nc.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError, *NATS_UNAVAILABLE):
        info = await js.stream_info("DLQ", subjects_filter="dlq.>")
        counts: dict[str, int] = {}
        for subject, n in (info.state.subjects or {}).items():
            key = subject.split(".")[1] if subject.count(".") >= 1 else subject
            counts[key] = counts.get(key, 0) + n
        return counts
    return {}


async def http_module_state(session: aiohttp.ClientSession, instance: Instance) -> tuple[str, str]:
    if not instance.health_url:
        return "up", ""
    try:
        async with session.get(
            instance.health_url, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        ) as r:
            if r.status < 300:
                return "up", ""
            return "degraded", f"health check answered {r.status}"
    except Exception as exc:
        return "degraded", f"health check failed: {type(exc).__name__}"


async def module_health(
    infra: Infra,
    instances: list[Instance],
    expected: dict[str, str],
    lags: dict[str, ProjectionLag],
) -> list[ModuleHealth]:
    """Every expected module and every module that announced itself, with its state."""
    by_module: dict[str, list[Instance]] = {}
    for i in instances:
        by_module.setdefault(i.module, []).append(i)
    names = sorted(set(expected) | set(by_module))
    out = []
    async with aiohttp.ClientSession() as session:
        for name in names:
            found = by_module.get(name, [])
            kind = found[0].kind if found else expected.get(name, "external")
            state, reason = "up", ""
            if not found:
                state, reason = "down", "no instance answers discovery"
            elif kind == "projection":
                lag = lags.get(name.removeprefix("projection-"))
                if lag is not None and lag.state != "up":
                    state, reason = "degraded", lag.reason
                else:
                    statuses = [await instance_status(infra.nc, i) or {} for i in found]
                    if not any(st.get("leading") for st in statuses):
                        state, reason = "degraded", "no instance holds the writer's lease"
            elif any(i.source == "http" for i in found):
                checks = [await http_module_state(session, i) for i in found]
                if all(s != "up" for s, _ in checks):
                    state, reason = "degraded", checks[0][1]
            out.append(
                ModuleHealth(name=name, kind=kind, state=state, instances=len(found), reason=reason)
            )
    return out


def record_module_states(modules: Iterable[ModuleHealth]) -> None:
    """The modules' states as the hub's gauges (only the hub's answers set them: the edge's
    station view and `quark status` read the same health without exporting it twice)."""
    for m in modules:
        MODULE_INSTANCES.labels(m.name, m.kind).set(m.instances)
        MODULE_STATE.labels(m.name).set({"up": 1.0, "degraded": 0.5}.get(m.state, 0.0))


async def station_health(
    infra: Infra,
    instances: list[Instance],
    expected: dict[str, str],
    projections: Iterable[str],
    *,
    max_lag_events: int,
    max_lag_seconds: float,
) -> Health:
    deps = dict(
        zip(
            ("nats", "postgres", "redis", "object_storage"),
            await asyncio.gather(
                nats_check(infra), postgres_check(infra), redis_check(infra), storage_check(infra)
            ),
            strict=True,
        )
    )
    streams = await stream_health(infra) if deps["nats"].state == "up" else []
    lags = (
        await projection_lags(
            infra, streams, projections, max_events=max_lag_events, max_seconds=max_lag_seconds
        )
        if streams
        else []
    )
    modules = await module_health(infra, instances, expected, {p.name: p for p in lags})
    core_down = any(deps[d].state == "down" for d in ("nats", "postgres", "redis"))
    state = (
        "down" if core_down else worst([deps["object_storage"].state, *(m.state for m in modules)])
    )
    if state == "down" and not core_down:
        state = "degraded"  # a module or the object store down: the rest still serves
    return Health(
        state=state,
        checked_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        dependencies=deps,
        streams=streams,
        modules=modules,
        projections=lags,
        dead_letters=await dead_letters(infra) if deps["nats"].state == "up" else {},
    )


async def survey(infra: Infra) -> tuple[list[Instance], Health]:
    """Everything running now and the station's health, asked of the station itself
    (discovery, the dependencies), not of the hub: `quark status` and the admins' station
    view in the web app (`GET /v1/admin/station`) both work while the hub is down, which
    then shows as a module that is down."""
    from station.catalogue import running_optional, station

    settings = infra.settings
    found = [*await discover(infra.nc)]
    with contextlib.suppress(Exception):  # the registrations' bucket may not exist yet
        found += await HttpModules(infra.nc, settings.hub_module_ttl_seconds).instances()
    expected = station(running_optional(settings.without_module_names()))
    report = await station_health(
        infra,
        found,
        expected.expected,  # type: ignore[attr-defined]
        expected.projections,  # type: ignore[attr-defined]
        max_lag_events=settings.hub_lag_degraded_events,
        max_lag_seconds=settings.hub_lag_degraded_seconds,
    )
    return found, report
