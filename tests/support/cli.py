"""Running `quark …` commands in-process against a test's servers."""

from __future__ import annotations

import asyncio
import os

import pytest

from core.settings import Settings
from station import cli
from tests.conftest import ROOT


def quark_env(settings: Settings) -> dict[str, str]:
    """The `QUARK_*` variables that point a `quark` command at this test's servers."""
    return {
        "QUARK_ENV": "test",
        "QUARK_NATS_URL": settings.nats_url,
        "QUARK_DATABASE_URL": settings.database_url,
        "QUARK_REDIS_URL": settings.redis_url,
        "QUARK_REDIS_PREFIX": settings.redis_prefix,
        "QUARK_DATA_DIR": str(settings.data_dir),
        "QUARK_STREAMS_FILE": str(ROOT / "streams.yaml"),
        "QUARK_LOG_LEVEL": "warning",
        "QUARK_WITHOUT_MODULES": settings.without_modules,
    }


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """This process's environment as `quark_env`, for commands run in-process."""
    for name in [k for k in os.environ if k.startswith("QUARK_")]:
        monkeypatch.delenv(name)
    for name, value in quark_env(settings).items():
        monkeypatch.setenv(name, value)
    # Logging is configured once per process; the test process keeps its own.
    monkeypatch.setattr("core.logging.configure_logging", lambda settings, **_: None)


async def run_quark(*argv: str) -> int:
    """`quark <argv>`; main() runs its own event loop, so in a thread beside the test's."""
    return await asyncio.to_thread(cli.main, list(argv))
