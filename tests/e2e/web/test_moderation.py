"""Moderation in real Chromium, driven as the people involved would: a post is reported
(through the API) and its author edits it afterwards; a moderator signs in, filters the
queue, opens the case and sees the reported version beside the current one, takes the case
and hides the post with a reason — and the post is gone for others (checked through the
API); two other cases get one decision together, answered case by case. The author sees the
decision on their standing page and appeals; the moderator approves the appeal and the
post is back. An admin reads the log of every decision. The queue, a case, the appeals, an
appeal, the log and the standing page are shot at both widths, themes and languages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from core.settings import Settings
from tests.e2e.moderation.test_reports import report
from tests.e2e.web.test_admin import shoot
from tests.support.browser import chromium, screenshots
from tests.support.identity import IdentityClient, WithRole, lifted_limits
from tests.support.log import head_position
from tests.support.moderation import carried_out
from tests.support.platform import Platform
from tests.support.webapp import Watched, open_page


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, limit_reports="1000/h")


async def sign_in(browser: Browser, platform: Platform, who: dict[str, Any], path: str) -> Watched:
    watched = await open_page(browser, platform.base_url)
    page = watched.page
    await page.goto(f"/signin?next={path}")
    await page.get_by_label("Phone number").fill(who["phone"])
    await page.get_by_label("Password").fill(who["password"])
    await page.get_by_role("button", name="Sign in").click()
    return watched


async def settled(platform: Platform) -> None:
    """Until the moderation read model has what others wrote (reports, appeals): the
    moderator's own reads wait only for the moderator's own writes."""
    await platform.wait("moderation", await head_position(platform.infra, "MODERATION"))


async def post_status(platform: Platform, client: IdentityClient, post_id: str, token: str) -> int:
    """What reading the post answers `token` once every decision so far is carried out."""
    head = await carried_out(platform, await head_position(platform.infra, "MODERATION"))
    status, _ = await client.get(f"/v1/posts/{post_id}", token, **{"Quark-After": head})
    return status


async def case_in_queue(page: Page, case_id: str) -> Any:
    item = page.locator(f'li.case-item[data-case-id="{case_id}"]')
    await item.wait_for()
    return item


async def test_reports_are_decided_appealed_and_the_appeal_approved_in_the_app(
    platform: Platform, client: IdentityClient, with_role: WithRole
) -> None:
    out = screenshots("web")
    author, reporter = await client.sign_up(name="Avery Author"), await client.sign_up()
    moderator = await with_role("moderator")
    a, r = author["access_token"], reporter["access_token"]
    posts = []
    for body in ("Buy cheap watches at my shop", "Hot pictures, ask me", "Followers for sale"):
        status, post, _ = await client.post("/v1/posts", {"body": body}, a)
        assert status == 201
        posts.append(post)
    await platform.wait("posts", posts[-1]["position"])
    cases = []
    for post, category in zip(posts, ("spam", "nsfw", "spam"), strict=True):
        status, filed = await report(client, r, "post", post["id"], category, "an advert")
        assert status == 201, filed
        cases.append(filed["case_id"])
    # The author tidies the post up after being reported: the moderator sees both.
    status, _ = await client.call(
        "PATCH", f"/v1/posts/{posts[0]['id']}", a, {"body": "Nothing to see here"}
    )
    assert status == 200
    await settled(platform)

    async with chromium() as browser:
        watched = await sign_in(browser, platform, moderator, "/moderation")
        page = watched.page
        await page.get_by_role("heading", name="Moderation", level=1).wait_for()
        for case in cases:
            await case_in_queue(page, case)

        # Only spam: the adult-content case leaves the list.
        await page.get_by_label("Category").select_option("spam")
        await page.get_by_role("button", name="Apply").click()
        await page.wait_for_url(re.compile(r"category=spam"))
        await case_in_queue(page, cases[2])
        await page.locator(f'li.case-item[data-case-id="{cases[1]}"]').wait_for(state="detached")
        await shoot(page, "moderation-queue", out)

        # The case: as reported beside as it is now.
        await (await case_in_queue(page, cases[0])).get_by_role("link").click()
        await page.get_by_role("heading", name="Case: Post", level=1).wait_for()
        # People by name, not by id.
        await page.locator(".case-head .person-ref").filter(has_text="Avery Author").wait_for()
        await page.locator(".version.reported").get_by_text("Buy cheap watches").wait_for()
        await page.locator(".version.current").get_by_text("Nothing to see here").wait_for()
        await page.get_by_text("1 change since the report").wait_for()
        await page.get_by_role("button", name="Assign to me").click()
        await page.locator(".assignee").filter(has_text="Assigned to you").wait_for()
        await shoot(page, "moderation-case", out)

        # Decided: hidden, with a reason and a rule; nobody else sees it any more.
        await page.get_by_role("button", name="Decide", exact=True).click()
        await page.locator("#case-actions-error").filter(has_text="at least one").wait_for()
        await page.locator("#case-action-hide").check()
        await page.get_by_label("Reason").fill("Adverts are not allowed")
        await page.get_by_label("Rule broken (optional)").fill("2. No adverts")
        await page.get_by_role("button", name="Decide", exact=True).click()
        decided = page.locator(".decision-list .decision").filter(
            has_text="Adverts are not allowed"
        )
        await decided.wait_for()
        assert await post_status(platform, client, posts[0]["id"], r) == 404
        assert (
            await post_status(platform, client, posts[0]["id"], a) == 200
        )  # its author still sees it

        # The two others, decided together and answered case by case.
        await page.get_by_role("link", name="Back to the queue").click()
        await case_in_queue(page, cases[1])
        await page.locator(f'li.case-item[data-case-id="{cases[0]}"]').wait_for(state="detached")
        for case in cases[1:]:
            await (await case_in_queue(page, case)).get_by_role("checkbox").check()
        await page.get_by_text("2 cases selected").wait_for()
        await page.locator("#bulk-action-warn").check()
        await page.locator("#bulk-reason").fill("Please keep it clean")
        await page.get_by_role("button", name="Decide the selected cases").click()
        await page.locator(".bulk-results").get_by_text("2 cases decided.").wait_for()
        assert await page.locator(".result-list li.ok").count() == 2
        await page.get_by_text("Nothing to review.").wait_for()

        # The author sees the decisions and appeals the hiding.
        author_watched = await sign_in(browser, platform, author, "/standing")
        author_page = author_watched.page
        await author_page.get_by_role("heading", name="Your standing").wait_for()
        hidden = author_page.locator(".decision").filter(has_text="Adverts are not allowed")
        await hidden.get_by_text("Hide", exact=True).wait_for()
        await expect(author_page.locator(".decision")).to_have_count(3)
        await hidden.get_by_role("button", name="Appeal").click()
        await hidden.get_by_label("Why should it be reversed?").fill("I edited it: no advert now.")
        await hidden.get_by_role("button", name="Send the appeal").click()
        await hidden.get_by_text("Your appeal is waiting for a moderator.").wait_for()
        await shoot(author_page, "standing", out)
        await settled(platform)

        # The moderator approves the appeal: the post is back for everyone.
        await page.get_by_role("link", name="Appeals").click()
        appeal = page.locator(".appeal").filter(has_text="I edited it: no advert now.")
        await appeal.wait_for()
        await shoot(page, "moderation-appeals", out)
        await appeal.get_by_role("link", name="Open the appeal").click()
        await page.get_by_role("heading", name="An appeal").wait_for()
        await page.locator(".decision").filter(has_text="Adverts are not allowed").wait_for()
        await shoot(page, "moderation-appeal", out)
        await page.get_by_label("Reason").fill("Fair: the advert is gone")
        await page.get_by_role("button", name="Approve: reverse the decision").click()
        await page.get_by_text("Appeal approved", exact=True).first.wait_for()
        assert await post_status(platform, client, posts[0]["id"], r) == 200

        # The author is told.
        await author_page.get_by_role("link", name="Standing").click()
        await author_page.get_by_text("Your appeal was approved").wait_for()
        await author_page.get_by_text("Fair: the advert is gone").wait_for()

        # An admin reads every decision in the log.
        admin = await with_role("admin")
        admin_watched = await sign_in(browser, platform, admin, "/moderation/log")
        admin_page = admin_watched.page
        await admin_page.get_by_role("heading", name="Every decision").wait_for()
        entries = admin_page.locator(".decision-list .decision")
        await entries.filter(has_text="Adverts are not allowed").wait_for()
        assert await entries.count() == 3
        await shoot(admin_page, "moderation-log", out)
        for w in (watched, author_watched, admin_watched):
            w.assert_clean()
