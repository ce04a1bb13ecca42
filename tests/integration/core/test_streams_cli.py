"""`streams.yaml` applied to a real server, and the operator commands as an operator runs
them (`quark streams …`, `quark replay …` in a subprocess)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from core import streams as streams_mod
from core.bootstrap import Infra
from core.ids import new_id
from core.settings import Settings
from handlers.posts.commands import PublishPost
from tests.conftest import ROOT
from tests.support.cli import quark_env
from tests.support.platform import Platform


async def test_applying_the_same_file_twice_changes_nothing(infra: Infra) -> None:
    js = infra.nc.jetstream()
    report = await streams_mod.apply(js, infra.decl)
    assert report.ok and not report.created and not report.updated
    assert "stream CONTENT" in report.unchanged


async def test_a_changed_limit_is_updated_in_place(infra: Infra, tmp_path: Path) -> None:
    text = (ROOT / "streams.yaml").read_text().replace("max_age: 90d", "max_age: 30d")
    path = tmp_path / "streams.yaml"
    path.write_text(text)
    report = await streams_mod.apply(infra.nc.jetstream(), streams_mod.load(path))
    assert report.ok
    assert any(line.startswith("stream DLQ (max_age") for line in report.updated)
    info = await infra.nc.jetstream().stream_info("DLQ")
    assert info.config.max_age == 30 * 86400


async def test_a_change_the_server_cannot_make_in_place_is_reported(
    infra: Infra, tmp_path: Path
) -> None:
    text = (
        (ROOT / "streams.yaml")
        .read_text()
        .replace(
            '    subjects: ["ev.chat.>"]\n', '    subjects: ["ev.chat.>"]\n    storage: memory\n'
        )
    )
    path = tmp_path / "streams.yaml"
    path.write_text(text)
    report = await streams_mod.apply(infra.nc.jetstream(), streams_mod.load(path))
    assert not report.ok
    assert any("stream CHAT: storage cannot change in place" in line for line in report.refused)
    info = await infra.nc.jetstream().stream_info("CHAT")
    assert getattr(info.config.storage, "value", info.config.storage) == "file"


def _env(settings: Settings) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUARK_")},
        **quark_env(settings),
    }


async def quark(settings: Settings, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "station.cli",
        *args,
        env=_env(settings),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_streams_show_prints_message_counts(platform: Platform) -> None:
    for _ in range(3):
        await platform.infra.bus.send(
            PublishPost(post_id=new_id(), title="t", body="b"), actor=new_id()
        )
    code, out = await quark(platform.infra.settings, "streams", "show")
    assert code == 0, out
    content = next(line for line in out.splitlines() if line.startswith("CONTENT"))
    assert content.split()[2] == "3"
    assert "posts_b1" in content


async def test_quark_replay_rebuilds_with_progress_and_a_report(platform: Platform) -> None:
    infra = platform.infra
    last = ""
    for i in range(30):
        reply = await infra.bus.send(
            PublishPost(post_id=new_id(), title=f"t{i}", body="b"), actor=new_id()
        )
        last = reply.position or ""
    await platform.wait("posts", last)
    await platform.wait("author_stats", last)
    before = await infra.pool.fetch("SELECT * FROM posts.posts ORDER BY id")
    code, out = await quark(infra.settings, "replay", "--all")
    assert code == 0, out
    assert "posts: build 1 -> 2, 30 messages, 30 events applied" in out
    # A Redis build's number comes from a counter raised to the clock (never used twice).
    redis_build = re.search(r"author_stats: build (\d+) -> (\d+)", out)
    assert redis_build and int(redis_build[2]) > int(redis_build[1]), out
    assert "events/s" in out and "100.0%" in out
    assert await infra.pool.fetch("SELECT * FROM posts.posts ORDER BY id") == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [(("replay", "nope"), "no projection named 'nope'"), (("replay",), "name a projection")],
)
async def test_replay_of_an_unknown_read_model_is_a_clear_error(
    settings: Settings, args: tuple[str, ...], expected: str
) -> None:
    code, out = await quark(settings, *args)
    assert code == 2 and expected in out
