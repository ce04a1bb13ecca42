"""The manager command's operations: `quark status`, `start`, `stop`, `restart`, `scale`,
`logs`, `doctor` and `hub token` (the parser and the error handling are in `station.cli`).

`status` and `doctor` ask the station itself (discovery, the dependencies), so they work the
same against `quark up` and a compose deployment. `start`/`stop`/`restart`/`scale` are
carried out by `quark up`'s supervisor (`station.supervisor`) when one answers; against a
compose deployment there is none, and the command prints the compose commands that do the
same instead. Every operation is logged by the process that carries it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import platform
import shutil
import socket
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from core.settings import Settings

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

STYLE = {
    "up": "green",
    "degraded": "yellow",
    "down": "red",
    "ok": "green",
    "warn": "yellow",
    "fail": "red",
}


def styled(state: str) -> str:
    return f"[{STYLE.get(state, 'white')}]{state}[/]"


# -- status -----------------------------------------------------------------------------------


async def status(settings: Settings, *, as_json: bool) -> int:
    from hub.health import survey
    from station.catalogue import modules, running_optional
    from station.servers import open_infra_for, require_external

    settings = require_external(settings)
    optional = running_optional(settings.without_module_names())
    async with AsyncExitStack() as stack:
        with console.status("asking the station…"):
            infra = await open_infra_for(settings, stack, "quark-status")
            found, report = await survey(infra)
    if as_json:
        print(msgspec.json.encode(report).decode())
        return 0 if report.state != "down" else 1
    by_module: dict[str, list[Any]] = {}
    for i in found:
        by_module.setdefault(i.module, []).append(i)
    lags = {f"projection-{p.name}": p for p in report.projections}
    table = Table(title=f"Quark station: {styled(report.state)}", title_justify="left")
    for column in ("module", "kind", "state", "instances", "where", "lag", "reason"):
        table.add_column(column, overflow="fold")
    kinds = modules(optional)
    for m in report.modules:
        instances = by_module.get(m.name, [])
        where = ", ".join(f"{i.host}:{i.pid}" if i.pid else (i.url or i.host) for i in instances)
        lag = lags.get(m.name)
        table.add_row(
            m.name,
            kinds.get(m.name, m.kind),
            styled(m.state),
            str(m.instances),
            where,
            f"{lag.events} ev / {lag.seconds:.1f} s" if lag else "",
            m.reason,
        )
    console.print(table)
    deps = Table(title="Dependencies", title_justify="left")
    for column in ("dependency", "state", "latency", "details"):
        deps.add_column(column, overflow="fold")
    for name, check in report.dependencies.items():
        details = check.reason or " · ".join(f"{k} {v}" for k, v in check.details.items())
        latency = f"{check.latency_ms:.1f} ms" if check.latency_ms is not None else ""
        deps.add_row(name, styled(check.state), latency, details)
    console.print(deps)
    if report.dead_letters:
        console.print(
            "[yellow]dead letters:[/] "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.dead_letters.items()))
        )
    return 0 if report.state != "down" else 1


# -- start, stop, restart, scale ---------------------------------------------------------------


def compose_equivalent(op: str, module: str, count: int | None, rolling: bool) -> list[str]:
    """The compose commands that do what `quark <op> <module>` does with `quark up`."""
    from station.catalogue import OPTIONAL, modules

    kinds = modules(OPTIONAL)
    names = [m for m in kinds if kinds[m] != "hub"] if module == "all" else [module]

    def service(m: str) -> str:
        if m in OPTIONAL:
            return m  # a module in another language: its service has its name
        kind = kinds.get(m, "handler")
        if kind == "handler":
            return f"handlers-{m}"
        return m.replace("_", "-")

    services = " ".join(service(m) for m in names)
    if op == "start":
        return [f"docker compose up -d {services}"]
    if op == "stop":
        return [f"docker compose stop {services}"]
    if op == "restart" and rolling:
        return [
            f"docker compose up -d --no-deps --scale {service(m)}=2 --no-recreate {service(m)}"
            f" && docker compose up -d --no-deps --force-recreate {service(m)}"
            for m in names
        ]
    if op == "restart":
        return [f"docker compose restart {services}"]
    return [f"docker compose up -d --no-deps --scale {service(module)}={count} {service(module)}"]


async def manage(
    settings: Settings, op: str, module: str, *, count: int | None = None, rolling: bool = False
) -> int:
    import nats.errors

    from station.servers import require_external
    from station.supervisor import SUBJECT, Report

    settings = require_external(settings)
    import nats

    nc = await nats.connect(settings.nats_url, connect_timeout=5, max_reconnect_attempts=2)
    try:
        request = {"op": op, "module": module, "count": count, "rolling": rolling}
        label = f"{op} {module}" + (f" to {count}" if count is not None else "")
        label += " (rolling)" if rolling else ""
        started = time.monotonic()
        with console.status(f"quark {label}…"):
            try:
                answer = await nc.request(SUBJECT, msgspec.json.encode(request), timeout=600)
            except nats.errors.NoRespondersError:
                err.print(
                    "quark: no `quark up` supervisor answers on this NATS: for a compose "
                    "deployment, the same with compose is:"
                )
                for line in compose_equivalent(op, module, count, rolling):
                    print(f"  {line}")
                return 3
    finally:
        await nc.close()
    report = msgspec.json.decode(answer.data, type=Report)
    if report.steps:
        table = Table(title=f"quark {label}", title_justify="left")
        for column in ("step", "ok", "seconds", "detail"):
            table.add_column(column, overflow="fold")
        for step in report.steps:
            table.add_row(
                step.what, styled("ok" if step.ok else "fail"), f"{step.seconds:.2f}", step.detail
            )
        console.print(table)
    elapsed = time.monotonic() - started
    if report.ok:
        tail = f"; {report.instances} instance(s) now" if module != "all" else ""
        console.print(f"[green]done[/] in {elapsed:.1f} s{tail}. {report.message}".rstrip())
        return 0
    err.print(f"[red]failed[/]: {report.message or 'a step failed (above)'}")
    return 1


# -- logs -------------------------------------------------------------------------------------


def _lines(path: Path, start: int) -> tuple[list[str], int]:
    with path.open("rb") as f:
        f.seek(start)
        data = f.read()
    end = start + len(data)
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        end, data = start + cut, data[:cut]
    return data.decode(errors="replace").splitlines(), end


def _matches(line: str, module: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return True  # not a structured line (a traceback): keep it with its neighbours
    return event.get("module") in (None, module) if isinstance(event, dict) else True


async def logs(settings: Settings, module: str, *, follow: bool, lines: int) -> int:
    from station.catalogue import OPTIONAL, modules

    known = modules(OPTIONAL)
    if module not in known and module != "quark-up":
        err.print(f"quark logs: no module named {module!r}; known: {', '.join(sorted(known))}")
        return 2
    folder = settings.data_dir / "logs"
    own = sorted(folder.glob(f"{module}-*.log"))
    shared = folder / "quark-up.log"
    files = [*own, *([shared] if shared.exists() else [])]
    if not files:
        err.print(
            f"quark logs: no log of {module} in {folder} (is `quark up` running from this "
            "checkout? compose: docker compose logs -f " + module + ")"
        )
        return 1
    positions: dict[Path, int] = {}
    tail: list[tuple[str, str]] = []
    for path in files:
        got, positions[path] = _lines(path, 0)
        for line in got:
            if path in own or _matches(line, module):
                tail.append((path.name, line))
    for name, line in tail[-lines:]:
        print(f"{name}: {line}")
    while follow:
        await asyncio.sleep(0.3)
        for path in [*sorted(folder.glob(f"{module}-*.log")), shared]:
            if not path.exists():
                continue
            got, positions[path] = _lines(path, positions.get(path, 0))
            for line in got:
                if path.name != shared.name or _matches(line, module):
                    print(f"{path.name}: {line}", flush=True)
    return 0


# -- doctor -----------------------------------------------------------------------------------


class Finding(msgspec.Struct):
    check: str
    state: str
    detail: str


async def doctor(settings: Settings) -> int:
    from core.embedded_nats import nats_binary
    from station.servers import require_external

    findings: list[Finding] = []
    add = lambda c, s, d: findings.append(Finding(c, s, d))  # noqa: E731
    add("python", "ok" if sys.version_info >= (3, 11) else "fail", platform.python_version())
    from core.modules import version

    add("quark", "ok", version())
    with contextlib.suppress(Exception):
        proc = await asyncio.create_subprocess_exec(
            str(nats_binary()), "--version", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        add("nats-server (embedded)", "ok", out.decode().strip())
    _local_checks(settings, add)
    try:
        external = require_external(settings)
    except Exception as exc:
        add("servers", "warn", f"not running: {exc}")
        external = None
    if external is not None:
        await _server_checks(external, add)
    table = Table(title="quark doctor", title_justify="left")
    for column in ("check", "state", "detail"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f.check, styled(f.state), f.detail)
    console.print(table)
    return 1 if any(f.state == "fail" for f in findings) else 0


def _local_checks(settings: Settings, add: Any) -> None:
    """Disk, the NATS fsync setting, the edge hand-over and the ports: this machine's."""
    usage = shutil.disk_usage(settings.data_dir if settings.data_dir.exists() else Path.cwd())
    free_gib = usage.free / 2**30
    add(
        "disk space",
        "ok"
        if free_gib >= 2 and usage.free / usage.total >= 0.1
        else ("warn" if free_gib >= 0.5 else "fail"),
        f"{free_gib:.1f} GiB free of {usage.total / 2**30:.1f} GiB ({settings.data_dir})",
    )
    config = settings.data_dir / "nats" / "nats.conf"
    if config.exists():
        synced = "sync_interval: always" in config.read_text()
        add(
            "NATS fsync",
            "ok" if synced else "fail",
            "sync_interval: always (every write reaches the disk before it is acknowledged)"
            if synced
            else "sync_interval is not `always`: an acknowledged event can be lost",
        )
    else:
        add(
            "NATS fsync",
            "warn",
            "external NATS: make sure its jetstream block has `sync_interval: always`",
        )
    migrate = Path("/proc/sys/net/ipv4/tcp_migrate_req")
    if migrate.exists():
        on = migrate.read_text().strip() == "1"
        add(
            "edge hand-over",
            "ok" if on else "warn",
            "net.ipv4.tcp_migrate_req = 1"
            if on
            else "net.ipv4.tcp_migrate_req = 0: a rolling edge restart may reset queued connections "
            "(quark up sets it when run as root)",
        )
    for name, port in (("edge port", settings.http_port), ("hub port", settings.hub_port)):
        add(name, *_port(settings.http_host if name == "edge port" else settings.hub_host, port))
    from station.catalogue import running_optional
    from station.process_modules import process_modules

    for child in process_modules(running_optional(settings.without_module_names()), settings):
        problem = child.problem()
        add(
            f"module {child.name}",
            "warn" if problem else "ok",
            f"cannot start here: {problem} (QUARK_WITHOUT_MODULES={child.name} to do without)"
            if problem
            else f"{' '.join(child.module.command)} in {child.module.directory}",
        )


def _port(host: str, port: int) -> tuple[str, str]:
    with socket.socket() as s:
        s.settimeout(0.5)
        busy = s.connect_ex((host, port)) == 0
    return (
        ("ok", f"{host}:{port} in use (quark serving it?)")
        if busy
        else ("ok", f"{host}:{port} free")
    )


async def _server_checks(settings: Settings, add: Any) -> None:
    import asyncpg
    import nats
    import redis.asyncio as aioredis

    try:
        nc = await nats.connect(settings.nats_url, connect_timeout=3, max_reconnect_attempts=1)
        v = nc.connected_server_version
        add("NATS", "ok", f"{v.major}.{v.minor}.{v.patch} at {settings.nats_url}")
        await nc.close()
    except Exception as exc:
        add("NATS", "fail", f"{type(exc).__name__}: {exc}")
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=3)
        try:
            before = time.time()
            server = await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())")
            after = time.time()
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        skew = float(server) - (before + after) / 2
        add("PostgreSQL", "ok", f"{version}")
        add(
            "clock skew (PostgreSQL)",
            "ok" if abs(skew) < 0.5 else "warn",
            f"{skew * 1000:+.1f} ms against this machine (deadlines assume NTP-synchronised hosts)",
        )
    except Exception as exc:
        add("PostgreSQL", "fail", f"{type(exc).__name__}: {exc}")
    try:
        r = aioredis.from_url(settings.redis_url)
        before = time.time()
        seconds, micros = await r.time()
        after = time.time()
        info = await r.info("server")
        await r.aclose()
        skew = seconds + micros / 1e6 - (before + after) / 2
        add("Redis", "ok", str(info.get("redis_version")))
        add("clock skew (Redis)", "ok" if abs(skew) < 0.5 else "warn", f"{skew * 1000:+.1f} ms")
    except Exception as exc:
        add("Redis", "fail", f"{type(exc).__name__}: {exc}")


# -- hub token --------------------------------------------------------------------------------


def hub_token(settings: Settings, module: str) -> int:
    from core.bootstrap import secret_key
    from hub.registry import module_token

    print(module_token(secret_key(settings), module))
    return 0
