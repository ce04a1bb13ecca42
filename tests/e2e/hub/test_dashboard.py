"""The dashboard in real Chromium: an admin signs in with the platform's own sign-in, sees
every module and the dependencies, and a live figure changes while the test watches (people
post; the commands handled go up without a reload). Someone who is not an admin is told so
and sees nothing. No script or style breaks the page's CSP. Screenshots go to the run's
output folder."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.support.browser import chromium, screenshots
from tests.support.identity import IdentityClient, WithRole
from tests.support.platform import Platform


async def test_an_admin_watches_the_station_live(
    platform: Platform,
    hub_url: str,
    admin: dict[str, Any],
    client: IdentityClient,
    with_role: WithRole,
) -> None:
    out = screenshots("hub")
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(hub_url)
        await page.get_by_label("Phone").fill(admin["phone"])
        await page.get_by_label("Password").fill(admin["password"])
        await page.screenshot(path=out / "sign-in.png")
        await page.get_by_role("button", name="Sign in").click()
        modules = page.locator("#modules tbody")
        await modules.get_by_text("projection-posts", exact=True).wait_for(timeout=15_000)
        for name in ("posts", "edge", "hub", "media-worker", "sms-sender"):
            await modules.get_by_text(name, exact=True).first.wait_for()
        await page.locator("#deps tbody").get_by_text("postgres").wait_for(timeout=15_000)
        await page.locator("#analytics tbody").get_by_text("Posts").wait_for(timeout=15_000)
        await page.screenshot(path=out / "dashboard.png", full_page=True)
        before = int(
            (await page.locator("#commands-total").inner_text())
            .replace(",", "")
            .replace("\u00a0", "")
            or 0
        )
        token = admin["access_token"]

        async def post_some() -> None:
            for n in range(5):
                status, _, _ = await client.post("/v1/posts", {"body": f"live {n}"}, token)
                assert status == 201

        await post_some()
        # The figure moves by itself (server-sent events): no reload, no click.
        await page.wait_for_function(
            "before => Number(document.querySelector('#commands-total').textContent"
            ".replace(/\\D/g, '')) >= before + 5",
            arg=before,
            timeout=15_000,
        )
        await page.locator("#rates tbody").get_by_text("stream CONTENT").wait_for()
        await page.screenshot(path=out / "dashboard-live.png", full_page=True)
        assert problems == [], problems

        # Someone who is not an admin signs in and is refused.
        person = await with_role("moderator")
        other = await browser.new_page()
        await other.goto(hub_url)
        await other.get_by_label("Phone").fill(person["phone"])
        await other.get_by_label("Password").fill(person["password"])
        await other.get_by_role("button", name="Sign in").click()
        await other.get_by_role("alert").filter(has_text="permission").wait_for(timeout=10_000)
        assert await other.locator("#panels").is_hidden()
        await other.screenshot(path=out / "refused.png")

        # Signing out ends the page's access: the cookie is gone.
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("heading", name="Sign in as an admin").wait_for()
        cookies = await page.context.cookies()
        assert not [c for c in cookies if c["name"] == "quark_hub"]
    async with aiohttp.ClientSession() as s, s.get(hub_url + "/") as r:
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    await asyncio.sleep(0)
