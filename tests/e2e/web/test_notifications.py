"""Notifications in real Chromium: a follow, a comment and a reaction by someone else appear
live on Ann's notifications screen and in the nav's badge; "mark all as read" clears the
badge; with "only from people I follow" set on the settings screen, a stranger's follow is
not shown while someone she follows still reaches her."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from core.settings import Settings
from tests.e2e.web.people_support import Person, open_nav, person, signed_in
from tests.support.browser import chromium, screenshots
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.platform import Platform
from tests.support.webapp import shoot_screen

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


async def named(client: IdentityClient, name: str, handle: str) -> tuple[Person, str]:
    """Someone with a handle (people are followed by handle); the handle's position."""
    who = await person(client, name)
    status, body = await who.call("PATCH", "/v1/me", {"handle": handle})
    assert status == 200, body
    return who, body["position"]


async def test_notifications_arrive_live_are_read_and_filtered(
    platform: Platform, client: IdentityClient
) -> None:
    out = screenshots("web")
    ann, ann_at = await named(client, "Ann Archer", "ann_archer")
    bob, bob_at = await named(client, "Bob Baker", "bob_baker")
    cy, _ = await named(client, "Cy Clark", "cy_clark")
    async with chromium() as browser:
        watched = await signed_in(browser, platform.base_url, ann)
        page = watched.page
        await open_nav(page, "Notifications")
        await expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
        await expect(page.get_by_text("Nothing yet")).to_be_visible()
        badge = page.locator('a[data-nav="nav.notifications"] .badge')
        items = page.get_by_role("list", name="Notifications")

        # A follow, a comment and a reaction by Bob arrive live, each unread.
        status, _ = await bob.call("POST", "/v1/users/ann_archer/follow", after=ann_at)
        assert status == 200
        await expect(items).to_contain_text("Bob Baker followed you")
        await expect(badge).to_have_text("1")
        status, post = await ann.call("POST", "/v1/posts", {"body": "My first post"})
        assert status == 201, post
        status, _ = await bob.call(
            "POST", f"/v1/posts/{post['id']}/comments", {"body": "Welcome!"}, after=post["position"]
        )
        assert status == 201
        await expect(items).to_contain_text("Bob Baker replied to you")
        status, _ = await bob.call(
            "PUT", f"/v1/posts/{post['id']}/reactions/like", after=post["position"]
        )
        assert status == 200
        await expect(items).to_contain_text("Bob Baker reacted to your post")
        await expect(badge).to_have_text("3")
        await expect(items.locator("li.notification.unread")).to_have_count(3)
        await shoot_screen(page, "notifications", out)

        # Marking them all read clears the badge.
        await page.get_by_role("button", name="Mark all as read").click()
        await expect(badge).to_have_count(0)
        await expect(items.locator("li.notification.unread")).to_have_count(0)

        # Only from people I follow: Ann follows Bob, not Cy.
        status, _ = await ann.call("POST", "/v1/users/bob_baker/follow", after=bob_at)
        assert status == 200
        await page.get_by_role("main").get_by_role("link", name="Settings").click()
        await expect(page.get_by_role("heading", name="Notification settings")).to_be_visible()
        only = page.get_by_label("Only from people I follow")
        await expect(only).not_to_be_checked()
        await expect(page.get_by_label("New followers")).to_be_checked()
        await shoot_screen(page, "notification-settings", out)
        await only.check()
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
        status, chosen = await ann.call("GET", "/v1/notifications/settings")
        assert chosen == {"disabled": [], "only_following": True}, (status, chosen)

        # A stranger's follow is not shown; Bob, followed, still reaches Ann live.
        status, _ = await cy.call("POST", "/v1/users/ann_archer/follow", after=ann_at)
        assert status == 200
        status, _ = await bob.call(
            "POST", f"/v1/posts/{post['id']}/comments", {"body": "Again!"}, after=post["position"]
        )
        assert status == 201
        await expect(items.locator("li.notification.unread")).to_have_count(1)
        await expect(items.locator("li.notification.unread")).to_contain_text("Bob Baker")
        await expect(badge).to_have_text("1")
        await expect(items).not_to_contain_text("Cy Clark")
        status, listed = await ann.call("GET", "/v1/notifications")
        assert "Cy Clark" not in str(listed)

        # Marking one read by its own button.
        await (
            items.locator("li.notification.unread")
            .get_by_role("button", name="Mark as read")
            .click()
        )
        await expect(badge).to_have_count(0)
        watched.assert_clean()
