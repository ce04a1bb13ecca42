"""The station's catalogue with its optional modules, and what a module in its own process
is given: the settings it reads, nothing else (secrets stay with the Python modules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings
from handlers import contexts, served_by
from station.catalogue import OPTIONAL, ProcessModule, modules, running_optional
from station.process_modules import ModuleProcess, child_environment


def test_a_context_served_in_another_language_is_that_modules_not_a_python_handlers() -> None:
    assert served_by(contexts()["links"]) == "link-preview"
    assert served_by(contexts()["posts"]) is None
    assert "links" not in modules()
    assert modules(["link-preview"])["link-preview"] == "handler"


def test_optional_modules_run_unless_the_station_does_without_them() -> None:
    assert running_optional([]) == list(OPTIONAL)
    assert running_optional(["link-preview"]) == []
    with pytest.raises(ConfigError, match=r"QUARK_WITHOUT_MODULES.*no-such-module"):
        running_optional(["no-such-module"])


def test_a_child_gets_the_settings_it_reads_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARK_S3_SECRET_KEY", "do-not-pass")
    monkeypatch.setenv("PATH", "/usr/bin")
    settings = Settings(
        env="test",
        nats_url="nats://127.0.0.1:4222",
        s3_secret_key="do-not-pass",
        link_preview_networks="127.0.0.0/8",
    )
    env = child_environment(settings)
    quark = {k: v for k, v in env.items() if k.startswith("QUARK_")}
    assert quark == {
        "QUARK_ENV": "test",
        "QUARK_NATS_URL": "nats://127.0.0.1:4222",
        "QUARK_LOG_LEVEL": "info",
        "QUARK_HANDLER_CONCURRENCY": "512",
        "QUARK_LINK_PREVIEW_NETWORKS": "127.0.0.0/8",
    }
    assert env["PATH"] == "/usr/bin"


def test_a_module_that_cannot_start_here_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(env="test")
    child = ModuleProcess("link-preview", OPTIONAL["link-preview"], settings)
    monkeypatch.setenv("PATH", str(tmp_path))  # no node here
    assert child.problem() == "`node` is not on PATH"
    elsewhere = ProcessModule(
        kind="handler",
        directory=str(tmp_path / "module"),
        command=("sh", "main.sh"),
        installed="node_modules",
        install="npm ci",
    )
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    problem = ModuleProcess("x", elsewhere, settings).problem()
    assert problem is not None and "is not installed: run `npm ci` there" in problem


def test_compose_commands_name_a_module_in_another_language_by_its_service() -> None:
    from station.manage import compose_equivalent

    assert compose_equivalent("restart", "link-preview", None, False) == [
        "docker compose restart link-preview"
    ]
    assert compose_equivalent("stop", "posts", None, False) == [
        "docker compose stop handlers-posts"
    ]
