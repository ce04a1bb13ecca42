"""The admin panel in real Chromium, driven as an admin would: signed in through the app,
they find a person and make them a moderator, grant them VIP, suspend them for a while and
lift it (each checked through the API too); create a category (a bad address refused on
its field first), change and delete it; add a word filter rule (a pattern with no letter
refused on its field first) and change it; see the statistics charts with bars for the
posts just written, and the station's health with the hub's dashboard link. Every section
is shot at both widths, both themes and both languages, its text checked against the
catalogs."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page

from core import embedded
from core.settings import Settings
from tests.support.browser import chromium, screenshots
from tests.support.identity import IdentityClient, WithRole, lifted_limits
from tests.support.platform import Platform
from tests.support.webapp import DESKTOP, PHONE, open_page, shoot_screen


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


async def shoot(page: Page, name: str, out: Path) -> None:
    """`shoot_screen`, and the screen's own content fits a phone's width (wide tables
    and tab bars scroll inside their own box, never the page)."""
    await shoot_screen(page, name, out)
    await page.set_viewport_size(PHONE)
    wider = await page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(el => !el.closest('.table-scroll, .tabs') && el.getBoundingClientRect().right > innerWidth + 1)
            .map(el => el.tagName + '.' + el.className)"""
    )
    await page.set_viewport_size(DESKTOP)
    assert wider == [], f"{name}: wider than a phone: {wider}"


async def test_an_admin_runs_the_platform_from_the_app(
    platform: Platform, client: IdentityClient, with_role: WithRole
) -> None:
    out = screenshots("web")
    admin = await with_role("admin")
    token = admin["access_token"]
    for n in range(3):
        status, _, _ = await client.post("/v1/posts", {"body": f"figures {n}"}, token)
        assert status == 201
    person = await client.sign_up(name="Zelda Managed")
    await platform.wait("profiles", person["position"])
    await platform.workers.start_hub("127.0.0.1", embedded.free_port())

    async with chromium() as browser:
        watched = await open_page(browser, platform.base_url)
        page = watched.page
        await page.goto("/signin?next=/admin")
        await page.get_by_label("Phone number").fill(admin["phone"])
        await page.get_by_label("Password").fill(admin["password"])
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Administration", level=1).wait_for()

        # People: find them, open them.
        await page.get_by_label("Name or handle").fill("Zelda")
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("button", name="Zelda Managed").click()
        await page.get_by_role("heading", name="Zelda Managed", level=2).wait_for()

        # A role needs a reason: refused on its field, then granted.
        await page.get_by_role("button", name="Make moderator").click()
        await page.locator("#role-reason-error").filter(has_text="Say why").wait_for()
        await page.locator("#role-reason").fill("Helps with the queue")
        await page.get_by_role("button", name="Make moderator").click()
        await page.get_by_role("button", name="Remove the moderator role").wait_for()
        await page.locator("p.chips .role").filter(has_text="Moderator").wait_for()
        status, listed = await client.get("/v1/admin/users?role=moderator", token)
        assert person["user_id"] in [u["id"] for u in listed["items"]]

        # VIP until a date.
        vip_day = (datetime.now() + timedelta(days=10)).date().isoformat()
        await page.locator("#vip-until").fill(vip_day)
        await page.locator("#vip-reason").fill("Early supporter")
        await page.get_by_role("button", name="Grant VIP").click()
        await page.get_by_role("button", name="Extend VIP").wait_for()
        status, listed = await client.get("/v1/admin/users?query=Zelda", token)
        assert listed["items"][0]["vip_until"].startswith(vip_day), listed

        # Suspended for two days, then lifted.
        until = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        await page.locator("#suspend-until").fill(until)
        await page.locator("#suspend-reason").fill("Cooling off")
        await page.get_by_role("button", name="Suspend the account").click()
        await page.locator(".state-line").filter(has_text="Suspended until").wait_for()
        status, listed = await client.get("/v1/admin/users?suspended=true", token)
        assert person["user_id"] in [u["id"] for u in listed["items"]]
        # Signing in while suspended leads to their standing, where they can appeal.
        suspended = await open_page(browser, platform.base_url)
        await suspended.page.goto("/signin")
        await suspended.page.get_by_label("Phone number").fill(person["phone"])
        await suspended.page.get_by_label("Password").fill(person["password"])
        await suspended.page.get_by_role("button", name="Sign in").click()
        await suspended.page.get_by_role("heading", name="Your standing").wait_for()
        await suspended.page.get_by_text("Your account is suspended until").wait_for()
        suspended.assert_clean()
        await suspended.page.context.close()
        await page.locator("#unsuspend-reason").fill("Talked it over")
        await page.get_by_role("button", name="Lift the suspension").click()
        await page.get_by_text("Not suspended.").wait_for()
        status, listed = await client.get("/v1/admin/users?suspended=false", token)
        assert person["user_id"] in [u["id"] for u in listed["items"]]
        activity = page.locator(".activity-list")
        for kind in ("Role granted", "VIP granted", "Suspended", "Suspension lifted"):
            await activity.get_by_text(kind, exact=True).first.wait_for()
        await shoot(page, "admin-person", out)
        await page.get_by_role("button", name="Back to the list").click()
        await page.get_by_role("heading", name="People", level=2).wait_for()
        await shoot(page, "admin-people", out)

        # Categories: a bad address is refused on its field; created, changed, deleted.
        await page.get_by_role("link", name="Categories").click()
        await page.get_by_role("button", name="New category").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("Address").fill("Bad Address!")
        await dialog.get_by_label("Name in English").fill("Gardens")
        await dialog.get_by_label("Name in Russian").fill("Сады")
        await dialog.get_by_label("Position", exact=True).fill("5")
        await dialog.get_by_role("button", name="New category").click()
        await dialog.locator("#slug-error").filter(has_text="Latin letters").wait_for()
        await page.screenshot(path=out / "admin-category-refused.png")
        await dialog.get_by_label("Address").fill("gardens")
        await dialog.get_by_role("button", name="New category").click()
        await dialog.wait_for(state="detached")
        row = page.locator('li[data-slug="gardens"]')
        await row.get_by_text("Gardens", exact=True).wait_for()
        await row.get_by_role("button", name="Change Gardens").click()
        await dialog.get_by_label("Name in English").fill("Gardens and parks")
        await dialog.get_by_role("button", name="Save").click()
        await row.get_by_text("Gardens and parks", exact=True).wait_for()
        status, category = await client.get("/v1/categories/gardens")
        assert category["name_ru"] == "Сады"
        await shoot(page, "admin-categories", out)
        await row.get_by_role("button", name="Delete Gardens and parks").click()
        await dialog.get_by_role("button", name="Delete").click()
        await row.wait_for(state="detached")

        # The word filter: a pattern with no letter refused on its field; added, changed.
        await page.get_by_role("link", name="Word filter").click()
        await page.get_by_role("button", name="Add a rule").click()
        await dialog.get_by_label("Pattern").fill("!!!")
        await dialog.get_by_role("button", name="Add a rule").click()
        await dialog.locator("#pattern-error").filter(has_text="letter or a digit").wait_for()
        await page.screenshot(path=out / "admin-word-filter-refused.png")
        await dialog.get_by_label("Pattern").fill("cheapwatches")
        await dialog.get_by_label("What it does").select_option("flag")
        await dialog.get_by_label("Note (optional)").fill("The watch spammers")
        await dialog.get_by_role("button", name="Add a rule").click()
        await dialog.wait_for(state="detached")
        rule = page.locator(".rule").filter(has_text="cheapwatches")
        await rule.get_by_text("Flag", exact=True).wait_for()
        await rule.get_by_role("button", name="Change the rule cheapwatches").click()
        await dialog.get_by_label("What it does").select_option("censor")
        await dialog.get_by_role("button", name="Save").click()
        await rule.get_by_text("Censor", exact=True).wait_for()
        status, rules = await client.get("/v1/admin/word-filters", token)
        assert [(r["pattern"], r["action"]) for r in rules["items"]] == [("cheapwatches", "censor")]
        await shoot(page, "admin-word-filters", out)

        # Statistics: the posts written above are bars in the posts chart.
        await page.get_by_role("link", name="Statistics").click()
        chart = page.locator('svg[data-metric="posts"]')
        await chart.wait_for()
        heights = await chart.locator("rect.bar").evaluate_all(
            "bars => bars.map(b => Number(b.getAttribute('height')))"
        )
        assert len(heights) == 30 and heights[-1] > 0, heights
        await page.get_by_text(re.compile(r"^3 in total$")).first.wait_for()
        await shoot(page, "admin-stats", out)

        # The station: modules with their states, and the hub's dashboard.
        await page.get_by_role("link", name="Station").click()
        await page.locator('tr[data-module="posts"]').wait_for(timeout=15_000)
        await page.locator('tr[data-dependency="postgres"]').get_by_text("up").wait_for()
        link = page.get_by_role("link", name="Open the hub dashboard")
        assert await link.get_attribute("href") == f"{platform.workers.hub_url}/"
        await shoot(page, "admin-station", out)
        watched.assert_clean()
