"""The `quark` command line.

quark up                      run the whole platform (embedded servers where none is configured)
quark run edge                run one worker kind (as compose does)
quark run handler posts
quark run projection posts
quark streams apply           create/update streams, buckets (idempotent)
quark streams show            what the server has, with message counts
quark keys rotate             new access token signing key; older keys retire later
quark keys show               signing keys: created, retire_at, state
quark replay posts            rebuild a read model from the log, switch atomically
quark replay --all
quark status                  every module, its instances, health and lag
quark restart posts --rolling replace a module's instances while it keeps serving
quark scale posts 3           run three instances of the posts handlers
quark logs edge -f            a module's log lines
quark doctor                  versions, ports, disk, NATS fsync, clock skew
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import AsyncExitStack
from typing import Any

from core.errors import ConfigError, UnavailableError
from core.settings import Settings, load_settings
from station.servers import (
    apply_streams,
    open_infra_for,
    remember_servers,
    require_external,
    start_embedded,
)
from station.upkeep import cmd_admin, cmd_keys, cmd_replay, cmd_streams

EXAMPLES = __doc__ or ""


def _sub(sub: Any, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with examples."""
    return sub.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="quark",
        description="Quark: an event-sourced social platform on NATS JetStream.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    _sub(
        sub,
        "up",
        "run everything; start embedded NATS/PostgreSQL/Redis if not configured",
        "  quark up\n  QUARK_HTTP_PORT=9000 QUARK_HUB_PORT=3901 quark up\n",
    )
    run = _sub(
        sub,
        "run",
        "run one worker kind (as compose does)",
        "  quark run edge\n  quark run handler posts\n  quark run projection posts,comments\n"
        "  quark run worker media-worker\n  quark run hub\n",
    )
    run.add_argument("kind", choices=["edge", "handler", "projection", "worker", "hub", "all"])
    run.add_argument("name", nargs="?", help="context (handler), read model or worker")
    streams = _sub(
        sub,
        "streams",
        "apply or show streams.yaml",
        "  quark streams apply\n  quark streams show --json\n",
    )
    streams.add_argument("action", choices=["apply", "show"])
    streams.add_argument("--json", action="store_true", help="machine-readable output")
    keys = _sub(
        sub,
        "keys",
        "rotate or show the access token signing keys",
        "  quark keys show\n  quark keys rotate\n",
    )
    keys.add_argument("action", choices=["rotate", "show"])
    admin = _sub(
        sub,
        "admin",
        "grant or revoke a role (e.g. the first admin)",
        "  quark admin grant +79161234567 admin\n"
        "  quark admin revoke 0190f1c2-0000-7000-8000-000000000001 moderator "
        "--reason 'left the team'\n",
    )
    admin.add_argument("action", choices=["grant", "revoke"])
    admin.add_argument("who", help="a user id or the account's phone number (+79161234567)")
    admin.add_argument("role", choices=["user", "moderator", "admin"])
    admin.add_argument("--reason", default="", help="kept in the security log")
    replay = _sub(
        sub,
        "replay",
        "rebuild read models from the log",
        "  quark replay posts\n  quark replay --all\n",
    )
    replay.add_argument("projection", nargs="?")
    replay.add_argument("--all", action="store_true", help="every read model")
    _sub(sub, "infra", "start only the embedded servers and print their URLs", "  quark infra\n")
    status = _sub(
        sub,
        "status",
        "every module, its instances, health and lag",
        "  quark status\n  quark status --json | jq .state\n",
    )
    status.add_argument("--json", action="store_true", help="the hub's health report as JSON")
    for op, text in (
        ("start", "start a module (or all) and wait until it serves"),
        ("stop", "stop a module (or all): it drains before it goes"),
        ("restart", "restart a module (or all); --rolling keeps it serving"),
    ):
        cmd = _sub(
            sub,
            op,
            text,
            f"  quark {op} posts\n  quark {op} projection-posts\n"
            f"  quark {op} all\n" + ("  quark restart edge --rolling\n" if op == "restart" else ""),
        )
        cmd.add_argument("module", help="a module name (quark status lists them) or all")
        if op == "restart":
            cmd.add_argument(
                "--rolling",
                action="store_true",
                help="start the new instance, wait until it serves, then drain the old one",
            )
    scale = _sub(
        sub,
        "scale",
        "run N instances of a module",
        "  quark scale posts 3\n  quark scale projection-posts 2   (a standby)\n"
        "  quark scale media-worker 0\n",
    )
    scale.add_argument("module")
    scale.add_argument("count", type=int)
    logs = _sub(
        sub,
        "logs",
        "a module's recent log lines (from this checkout's quark up)",
        "  quark logs posts\n  quark logs edge -f\n  quark logs projection-posts -n 200\n",
    )
    logs.add_argument("module")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many lines (50)")
    _sub(
        sub,
        "doctor",
        "check versions, ports, disk space, the NATS fsync setting, clock skew",
        "  quark doctor\n",
    )
    hub = _sub(
        sub,
        "hub",
        "the hub's tools: a module token for an HTTP module",
        "  quark hub token link-preview\n",
    )
    hub.add_argument("action", choices=["token"])
    hub.add_argument("module")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"quark: configuration error: {exc}", file=sys.stderr)
        return 2
    from core.logging import configure_logging

    configure_logging(
        settings,
        also_to=settings.data_dir / "logs" / "quark-up.log" if args.command == "up" else None,
    )
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - non-Linux
        runner = asyncio.run
    try:
        return runner(_dispatch(args, settings))
    except ConfigError as exc:
        print(f"quark: {exc}", file=sys.stderr)
        return 2
    except UnavailableError as exc:
        print(f"quark: {exc.detail}", file=sys.stderr)
        return 3
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("quark: stopped before it was up", file=sys.stderr)
        return 130
    except (OSError, TimeoutError) as exc:
        print(f"quark: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # never a traceback at the console: the reason, and where
        import nats.errors

        if isinstance(exc, nats.errors.Error):
            print(f"quark: NATS: {exc} (is the station running? `quark doctor`)", file=sys.stderr)
            return 3
        print(f"quark: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from station import manage

    if args.command == "up":
        return await cmd_up(settings)
    if args.command == "infra":
        return await cmd_infra(settings)
    if args.command == "run":
        return await cmd_run(settings, args.kind, args.name)
    if args.command == "streams":
        return await cmd_streams(settings, args.action, as_json=args.json)
    if args.command == "keys":
        return await cmd_keys(settings, args.action)
    if args.command == "admin":
        return await cmd_admin(settings, args.action, args.who, args.role, args.reason)
    if args.command == "replay":
        if not args.all and not args.projection:
            print("quark replay: name a projection or pass --all", file=sys.stderr)
            return 2
        return await cmd_replay(settings, None if args.all else args.projection)
    if args.command == "status":
        return await manage.status(settings, as_json=args.json)
    if args.command in ("start", "stop", "restart"):
        return await manage.manage(
            settings, args.command, args.module, rolling=getattr(args, "rolling", False)
        )
    if args.command == "scale":
        return await manage.manage(settings, "scale", args.module, count=args.count)
    if args.command == "logs":
        return await manage.logs(settings, args.module, follow=args.follow, lines=args.lines)
    if args.command == "doctor":
        return await manage.doctor(settings)
    if args.command == "hub":
        return manage.hub_token(settings, args.module)
    return 2


def _startable(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """The settings without the optional modules that cannot start here (the hub then
    does not expect them), and why each of those cannot."""
    from station.catalogue import running_optional
    from station.process_modules import process_modules

    without = settings.without_module_names()
    problems = {
        child.name: problem
        for child in process_modules(running_optional(without), settings)
        if (problem := child.problem()) is not None
    }
    return settings.with_(without_modules=",".join([*without, *problems])), problems


def _say_not_started(problems: dict[str, str]) -> None:
    from station.catalogue import OPTIONAL

    for name, problem in problems.items():
        print(
            f"  {name}: not started: {problem}. Its commands answer 503 until it runs "
            f"({OPTIONAL[name].directory}, {' '.join(OPTIONAL[name].command)}); "
            f"QUARK_WITHOUT_MODULES={name} leaves it out.",
            file=sys.stderr,
        )


async def cmd_up(settings: Settings) -> int:
    from handlers import contexts
    from projections import projections
    from station.catalogue import running_optional
    from station.runner import Workers, install_signal_handlers, serve_until_stopped

    stop = asyncio.Event()
    started = install_signal_handlers(stop)
    async with AsyncExitStack() as stack:
        print("quark: starting", file=sys.stderr)
        settings = await start_embedded(settings, stack)
        if not await apply_streams(settings):
            return 1
        settings, problems = _startable(settings)
        infra = await open_infra_for(settings, stack, "quark-up")
        remember_servers(settings, stack)
        workers = Workers(infra)
        await workers.start_handlers(contexts())
        await workers.start_projections(projections())
        await workers.start_edge(settings.http_host, settings.http_port)
        await workers.start_hub(settings.hub_host, settings.hub_port)
        optional = running_optional(settings.without_module_names())
        problems.update(await workers.start_process_modules(optional))
        _say_not_started(problems)
        children = "".join(
            f"  {c.name:<10} pid {c.pid}: {' '.join(c.module.command)} in {c.module.directory}\n"
            for c in workers.children
            if c.name not in problems
        )
        # The manager's hands: `quark start|stop|restart|scale` from another terminal.
        from station.control import ProcessControl
        from station.supervisor import Supervisor, allow_edge_handover

        control = ProcessControl(infra.nc, workers)
        await control.start()
        stack.push_async_callback(control.stop)
        supervisor = Supervisor(infra.nc, settings)
        await supervisor.start()
        stack.push_async_callback(supervisor.stop)
        allow_edge_handover()
        base = workers.urls[0]
        sms = (
            settings.data_dir / "sms-outbox.jsonl"
            if settings.sms_provider == "outbox"
            else f"sent through {settings.sms_provider}"
        )
        media = (
            f"S3 {settings.s3_endpoint}, bucket {settings.s3_bucket}"
            if settings.s3_endpoint
            else settings.data_dir / "media"
        )
        print(
            f"\nquark is up:\n  web app    {base}/\n  API        {base}/v1/posts\n"
            f"  API docs   {base}/docs\n"
            f"  OpenAPI    {base}/openapi.json\n  health     {base}/readyz\n"
            f"  metrics    {base}/metrics\n  sign-up    POST {base}/v1/auth/phone/start\n"
            f"  hub        {workers.hub_url}/ (the dashboard; admins sign in)\n{children}"
            f"  SMS codes  {sms}\n  media      {media}\n  NATS       {settings.nats_url}\n"
            f"  PostgreSQL {settings.database_url}\n  Redis      {settings.redis_url}\n"
            "Press Ctrl-C to stop.",
            file=sys.stderr,
            flush=True,
        )
        started()
        await serve_until_stopped(workers, stop, stack)
    print("quark: stopped", file=sys.stderr)
    return 0


async def cmd_infra(settings: Settings) -> int:
    from station.runner import install_signal_handlers

    stop = asyncio.Event()
    started = install_signal_handlers(stop)
    async with AsyncExitStack() as stack:
        settings = await start_embedded(settings, stack)
        await apply_streams(settings)
        print(
            json.dumps(
                {
                    "QUARK_NATS_URL": settings.nats_url,
                    "QUARK_DATABASE_URL": settings.database_url,
                    "QUARK_REDIS_URL": settings.redis_url,
                }
            ),
            flush=True,
        )
        started()
        await stop.wait()
    return 0


async def cmd_run(settings: Settings, kind: str, name: str | None) -> int:
    from handlers import contexts, served_by
    from projections import projections
    from station.runner import Workers, install_signal_handlers, serve_until_stopped

    settings = require_external(settings)
    from station.catalogue import WORKERS
    from station.control import ProcessControl

    if kind in ("handler", "projection", "worker") and not name:
        raise ConfigError(f"quark run {kind} needs a name")
    known: dict[str, object] = {
        "handler": contexts(),
        "projection": projections(),
        "worker": dict(WORKERS),
    }.get(kind, {})
    # Several names, comma-separated, run in one process (small read models together).
    names = name.split(",") if name else []
    for one in names if kind in ("handler", "projection", "worker") else []:
        if one not in known:
            raise ConfigError(f"no {kind} named {one!r}; known: {', '.join(sorted(known))}")
        if kind == "handler" and (elsewhere := served_by(known[one])) is not None:
            raise ConfigError(
                f"the {one} context's commands are served by the {elsewhere} module "
                f"(modules/{elsewhere}, not Python): run it there, or as its compose service"
            )
    stop = asyncio.Event()
    started = install_signal_handlers(stop)
    async with AsyncExitStack() as stack:
        infra = await open_infra_for(settings, stack, f"quark-{kind}-{name or 'all'}")
        workers = Workers(infra)
        if kind in ("handler", "all"):
            await workers.start_handlers(names if names and kind == "handler" else contexts())
        if kind in ("projection", "all"):
            await workers.start_projections(
                names if names and kind == "projection" else projections()
            )
        if kind in ("edge", "all"):
            await workers.start_edge(settings.http_host, settings.http_port)
        if kind in ("hub", "all"):
            await workers.start_hub(settings.hub_host, settings.hub_port)
        for worker in names if kind == "worker" else []:
            await workers.start_worker(worker)
        if settings.metrics_port and kind not in ("edge", "hub", "all"):
            await serve_metrics(stack, settings.http_host, settings.metrics_port)
        # The manager may stop this process's modules one by one; it exits with the last.
        control = ProcessControl(infra.nc, workers, exit_when_empty=stop)
        await control.start()
        stack.push_async_callback(control.stop)
        started()
        await serve_until_stopped(workers, stop, stack)
    return 0


async def serve_metrics(stack: AsyncExitStack, host: str, port: int) -> None:
    """Prometheus metrics of a process that has no HTTP server of its own."""
    from aiohttp import web

    from core.metrics import render

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=render(), headers={"Content-Type": "text/plain; version=0.0.4"})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    stack.push_async_callback(runner.cleanup)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
