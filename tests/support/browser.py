"""Debian's Chromium driven by Playwright for Python (Playwright's own browser download
cannot work here), and where screenshots go: `test-output/<run>/` at the checkout's root
(`QUARK_TEST_OUTPUT` to choose another folder), never committed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: One folder per test run (the xdist workers of one run share it).
RUN = os.environ.get("QUARK_TEST_RUN") or time.strftime("%Y%m%d-%H%M%S")


def screenshots(suite: str) -> Path:
    base = Path(os.environ.get("QUARK_TEST_OUTPUT", ROOT / "test-output"))
    folder = base / RUN / suite
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    # `./dev test` installs Debian's chromium (as root); without it browser tests must fail.
    assert CHROMIUM is not None, "install Debian's chromium (./dev test does it as root)"
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def chromium_profile(profile: Path, base_url: str, **options: Any) -> AsyncIterator[Any]:
    """A Chromium with a profile on disk (a persistent context): what installability needs,
    as Chromium refuses to install an app from an incognito context, which every
    `browser.new_context()` is."""
    assert CHROMIUM is not None, "install Debian's chromium (./dev test does it as root)"
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            base_url=base_url,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            **options,
        )
        try:
            yield context
        finally:
            await context.close()
