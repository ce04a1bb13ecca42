"""Our own NATS, PostgreSQL and Redis as child processes in a data directory: what the three
servers share (the server handle, ports, spawning, waiting, stopping leftovers). Each server's
own start is in `embedded_nats`, `embedded_postgres` and `embedded_redis`.

`quark up` (the dev runner) and the integration-test fixtures both start servers from
pip-installed binaries, so a checkout runs with no system services and never talks to the
machine's own (possibly too old) servers on the default ports.

Layout of the data dir (each server in its own folder, so one can be wiped alone)::

    <data_dir>/nats/      nats.conf, nats.log, nats.pid, port, jetstream/
    <data_dir>/postgres/  port, cluster/ (pgdata/, postgres.log, unix socket)
    <data_dir>/redis/     appendonly.aof, redis.log, redis.pid, port

Decisions worth knowing before changing these modules:

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
* **PostgreSQL runs as `nobody` when we are root** (it refuses root): see `embedded_postgres`.
* **Durability over speed.** NATS syncs every write (`sync_interval: always`), PostgreSQL
  runs with `fsync=on`, Redis appends with `everysec`: a dev box that loses power should
  behave like production, not invent a class of bugs of its own.

Measured on the 2-core dev container (PostgreSQL 18.6 from the wheel, run as nobody):
PostgreSQL cold start (initdb + start + create database) 0.8-1.8 s, warm start 0.13 s,
stop 0.12 s; nats-server 0.03 s; Redis 0.02 s (time until each answers).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: How long a start waits for the server to answer before giving up with its log tail.
START_TIMEOUT = 10.0


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be found, started or stopped.

    Not a `QuarkError`: it never reaches a client, it stops `quark up` or a test fixture
    with a message (and the server's log tail) a developer can act on.
    """


@dataclass
class ManagedServer:
    """A server we started, with what it takes to stop it in order.

    NATS and Redis are our direct children (`process`). PostgreSQL is daemonized by
    `pg_ctl`: its handle is an `embedded_postgres.PostgresServer`, which stops it that way.
    """

    name: str
    url: str
    process: subprocess.Popen[bytes] | None
    port: int
    log_path: Path

    def stop(self, timeout: float = 10) -> None:
        """Stops the server gracefully so it flushes its data, killing it after `timeout`.

        Safe to call twice or on a server that already died.
        """
        if self.process is not None:
            _terminate(self.process, timeout)

    def is_running(self) -> bool:
        """Whether the server process is alive, so a runner can tell a crashed dependency
        from a slow one."""
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


def choose_port(port_file: Path, requested: int | None) -> int:
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


def spawn(command: list[str], *, cwd: Path, log_path: Path) -> subprocess.Popen[bytes]:
    # Our own session: Ctrl-C in the terminal reaches only the runner, which then stops the
    # servers in order instead of having them die under running workers.
    # cwd is the server's folder: it is how stop_leftover recognises the process later.
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(server: ManagedServer, answers: Callable[[], bool]) -> None:
    process = server.process
    if process is None:
        raise TypeError(f"{server.name} is not our child process; nothing to wait for")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServerError(
                f"{server.name} exited with {process.returncode} while starting:\n"
                + log_tail(server.log_path)
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
        + log_tail(server.log_path)
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


def stop_leftover(pid_file: Path, binary_name: str, server_dir: Path) -> None:
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


def log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {log_path}: {exc.strerror})"
    return f"--- last lines of {log_path} ---\n" + "\n".join(text.splitlines()[-lines:])
