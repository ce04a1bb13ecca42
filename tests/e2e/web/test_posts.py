"""The posts screens in real Chromium, driven as a person would: writing a post with a
picture (uploaded with a progress bar, described for people who cannot see it) on the home
timeline, finding it on home and public, opening it, reacting, commenting, replying, editing
a comment and the post (and reading its history), finding it in search with the word
highlighted; the composer showing the word filter's refusal by its rule; and a second
person's post making the "new posts" banner appear."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from edge.web import WEB_DIR
from tests.support.browser import chromium, screenshots
from tests.support.identity import IdentityClient
from tests.support.media import picture
from tests.support.platform import Platform
from tests.support.webapp import Watched, open_page, shoot_screen, sign_up_in_app

ALT = "A grey heron standing in shallow water"


def assert_clean(watched: Watched) -> None:
    """No console or page errors. Signing up through the app ends on the profile editor:
    until that screen exists (another of issue 14's, built beside these) loading it fails,
    and that one failure is not these screens'."""
    if not (WEB_DIR / "app" / "screens" / "profile-edit.js").exists():
        watched.problems[:] = [p for p in watched.problems if "/screens/profile-edit.js" not in p]
    watched.assert_clean()


async def open_home(page: Page) -> None:
    await page.get_by_role("navigation").get_by_role("link", name="Home").click()
    await page.get_by_role("heading", name="Home", level=1).wait_for()


async def test_a_post_is_written_read_reacted_to_discussed_edited_and_found(
    platform: Platform, client: IdentityClient
) -> None:
    out = screenshots("web")
    async with chromium() as browser:
        watched = await open_page(browser, platform.base_url)
        page = watched.page
        await sign_up_in_app(page, client, name="Ann Example")
        await open_home(page)

        # Writing: a title, Markdown previewed by the server's renderer, a picture.
        composer = page.locator('form[data-composer="inline"]')
        await composer.get_by_label("Title (optional)").fill("Morning walk")
        await composer.get_by_label("What is new?").fill(
            "Saw a heron by the river, **today**. #birds"
        )
        await expect(
            composer.get_by_text(re.compile(r"^19,9\d\d characters left$"))
        ).to_be_visible()
        await composer.get_by_role("button", name="Preview").click()
        preview = composer.get_by_role("region", name="Preview")
        await expect(preview.locator("strong")).to_have_text("today")
        await expect(preview.locator("a.hashtag")).to_have_attribute("href", "/tags/birds")
        await composer.get_by_role("button", name="Write", exact=True).click()
        await composer.get_by_label("Add pictures or files").set_input_files(
            {"name": "heron.png", "mimeType": "image/png", "buffer": picture("PNG", 900, 600)}
        )
        upload = composer.locator(".upload")
        await expect(
            upload.get_by_role("progressbar", name="Uploading heron.png")
        ).to_have_js_property("value", 1)
        await expect(upload).to_have_attribute("data-state", "ready", timeout=30_000)
        await expect(upload.get_by_text("Ready")).to_be_visible()
        await upload.get_by_label("Description for people who cannot see it").fill(ALT)

        # The open composer in both languages and themes: its draft (attachment and alt
        # text included) outlives the redraw each language switch makes.
        await shoot_screen(page, "composer", out)
        composer = page.locator('form[data-composer="inline"]')
        await expect(composer.get_by_label("Title (optional)")).to_have_value("Morning walk")
        await expect(composer.locator(".upload")).to_have_attribute("data-state", "ready")
        await expect(
            composer.get_by_label("Description for people who cannot see it")
        ).to_have_value(ALT)
        await composer.get_by_role("button", name="Publish").click()

        # On home at once, the picture described; then on the public timeline.
        card = page.locator("article.post").filter(has_text="Morning walk")
        await expect(card.get_by_role("img", name=ALT)).to_be_visible()
        await expect(composer.get_by_label("Title (optional)")).to_have_value("")
        await page.get_by_role("navigation").get_by_role("link", name="Public").click()
        await page.get_by_role("heading", name="Public posts").wait_for()
        await expect(page.locator("article.post").filter(has_text="Morning walk")).to_be_visible()
        await open_home(page)
        await expect(card).to_be_visible()
        await shoot_screen(page, "timeline-home", out)

        # The post page: a reaction, kept by the API (it is still there after a reload).
        await card.get_by_role("link", name="Morning walk").click()
        await page.get_by_role("heading", name="Morning walk", level=1).wait_for()
        post_url = page.url
        like = page.locator(".post-page .reactions [data-kind=like]")
        await like.click()
        await expect(like).to_have_attribute("aria-pressed", "true")
        await page.reload()
        await expect(like).to_have_attribute("aria-pressed", "true")
        await expect(like).to_contain_text("1")

        # A comment, a reply under it, the comment edited.
        await page.get_by_label("Your comment").fill("Lovely bird")
        await page.get_by_role("button", name="Comment", exact=True).click()
        comment = page.locator(".thread > li").first
        await expect(comment.locator(":scope > article .body")).to_have_text("Lovely bird")
        await expect(page.get_by_role("heading", name="1 comment")).to_be_visible()
        await comment.get_by_role("button", name="Reply").first.click()
        await comment.get_by_label("Your reply").fill("It comes every morning")
        await comment.locator("form").get_by_role("button", name="Reply").click()
        reply = comment.locator(".replies > li")
        await expect(reply.locator(".body")).to_have_text("It comes every morning")
        await expect(page.get_by_role("heading", name="2 comments")).to_be_visible()
        await comment.locator(":scope > article").get_by_role("button", name="Edit").click()
        await comment.get_by_label("Edit your comment").fill("Lovely bird, a grey heron")
        await comment.get_by_role("button", name="Save").click()
        await expect(comment.locator(":scope > article .body")).to_have_text(
            "Lovely bird, a grey heron"
        )
        await expect(comment.locator(":scope > article").get_by_text("edited")).to_be_visible()

        # The post edited, and its history: both versions.
        article = page.locator("article.post-page")
        await article.get_by_role("button", name="Edit", exact=True).click()
        await page.get_by_label("What is new?").fill(
            "Saw a heron and a kingfisher <by the river>, **today**. #birds"
        )
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(article.locator(".body")).to_contain_text("a kingfisher")
        await article.get_by_role("button", name="Edit history").click()
        history = page.get_by_role("dialog", name="Edit history")
        await expect(history.get_by_role("heading", name=re.compile("^Version 2"))).to_be_visible()
        await expect(history.get_by_role("heading", name=re.compile("^Version 1"))).to_be_visible()
        await expect(history.locator(".version").last).to_contain_text("Saw a heron by the river")
        await history.get_by_role("button", name="Close").click()
        await expect(history).to_have_count(0)
        await shoot_screen(page, "post", out)

        # Search: trending tags while the query is empty, then the post with the word marked.
        await page.get_by_role("navigation").get_by_role("link", name="Search").click()
        await page.get_by_role("heading", name="Search", level=1).wait_for()
        trending = page.get_by_role("region", name="Trending tags")
        await expect(trending.get_by_role("link", name=re.compile("#birds"))).to_be_visible()
        await page.get_by_label("Search posts, people and tags").fill("kingfisher")
        hit = page.locator(".post-hit").first
        await expect(hit.locator(".snippet mark")).to_have_text("kingfisher")
        # The snippet is text with marks, never HTML: what looks like a tag stays text.
        await expect(hit.locator(".snippet")).to_contain_text("kingfisher <by the river>")
        assert await hit.locator(".snippet *").count() == 1
        await expect(page.get_by_role("status").filter(has_text="1 post found")).to_be_visible()
        assert "q=kingfisher" in page.url
        await shoot_screen(page, "search", out)
        search = page.get_by_label("Search posts, people and tags")
        await page.get_by_text("People", exact=True).click()
        await search.fill("Ann")
        await expect(page.locator(".person-hit")).to_contain_text("Ann Example")
        await page.get_by_text("Tags", exact=True).click()
        await search.fill("bir")
        await expect(page.locator(".tag-hit")).to_contain_text("#birds")
        await expect(page.locator(".tag-hit")).to_contain_text("1 post")
        await page.get_by_text("Posts", exact=True).click()
        await search.fill("kingfisher")
        await page.locator(".post-hit").first.get_by_role("link", name="Morning walk").click()
        await page.get_by_role("heading", name="Morning walk", level=1).wait_for()
        assert page.url == post_url
        assert_clean(watched)


async def test_refusals_dialogs_category_and_tag_timelines_reports_deletions_and_new_posts(
    platform: Platform, client: IdentityClient, with_role: Any
) -> None:
    admin = (await with_role("admin"))["access_token"]
    status, rule, _ = await client.post(
        "/v1/admin/word-filters",
        {"pattern": "casino", "action": "block", "contexts": ["posts"]},
        admin,
    )
    assert status == 201, rule
    status, made, _ = await client.post(
        "/v1/admin/categories",
        {"slug": "nature", "name_en": "Nature", "name_ru": "Природа", "position": 1},
        admin,
    )
    assert status == 201, made
    await platform.wait("word_filters", rule["position"])
    async with chromium() as browser:
        watched = await open_page(browser, platform.base_url)
        page = watched.page
        # The timeline checks for new posts every 30 s: the test moves the page's clock.
        await page.clock.install()
        await sign_up_in_app(page, client, name="Ann Example")
        await open_home(page)

        # The word filter's refusal, on the field, naming its rule; then a post that passes.
        composer = page.locator('form[data-composer="inline"]')
        body = composer.get_by_label("What is new?")
        await body.fill("Come to my casino tonight")
        await composer.get_by_role("button", name="Publish").click()
        refusal = composer.locator("#compose-body-error")
        await expect(refusal).to_have_text(f"Not allowed here by rule {rule['id']}: “casino”.")
        await expect(body).to_have_attribute("aria-invalid", "true")
        await body.fill("Come to my garden tonight")
        await composer.get_by_role("button", name="Publish").click()
        await expect(page.locator("article.post").filter(has_text="my garden")).to_be_visible()
        await expect(refusal).to_be_hidden()

        # Writing from another screen: the composer in a dialog, with a category; the post
        # opens, and its category and its tag lead to their timelines.
        await page.get_by_role("navigation").get_by_role("link", name="Public").click()
        await page.get_by_role("heading", name="Public posts").wait_for()
        await page.get_by_role("button", name="Write").click()
        dialog = page.get_by_role("dialog", name="New post")
        await dialog.get_by_label("What is new?").fill("Tomatoes are ripe #garden")
        await dialog.get_by_label("Category").select_option(label="Nature")
        await dialog.get_by_role("button", name="Publish").click()
        await page.get_by_role("heading", name="Post by Ann Example", level=1).wait_for()
        await expect(dialog).to_have_count(0)
        await page.locator("article.post-page").get_by_role("link", name="Nature").click()
        await page.get_by_role("heading", name="Nature", level=1).wait_for()
        tomatoes = page.locator("article.post").filter(has_text="Tomatoes are ripe")
        await expect(tomatoes).to_be_visible()
        await expect(page.locator("article.post").filter(has_text="my garden")).to_have_count(0)
        await tomatoes.get_by_role("link", name="#garden").click()
        await page.get_by_role("heading", name="#garden", level=1).wait_for()
        await expect(
            page.locator("article.post").filter(has_text="Tomatoes are ripe")
        ).to_be_visible()

        # Someone else publishes: after the next check, the banner says so, and shows it.
        await page.get_by_role("navigation").get_by_role("link", name="Public").click()
        await page.get_by_role("heading", name="Public posts").wait_for()
        bob = await client.sign_up(name="Bob Other")
        status, created, _ = await client.post(
            "/v1/posts", {"body": "Fresh bread at the corner bakery"}, bob["access_token"]
        )
        assert status == 201, created
        status, seen = await client.get(
            "/v1/timelines/public", **{"Quark-After": created["position"]}
        )
        assert seen["items"][0]["id"] == created["id"]
        banner = page.get_by_role("button", name="1 new post: show it")
        await expect(banner).to_be_hidden()
        await page.clock.run_for(31_000)
        await banner.click()
        first = page.locator("article.post").first
        await expect(first).to_contain_text("Fresh bread at the corner bakery")
        await expect(first).to_be_focused()
        await expect(banner).to_be_hidden()

        # Bob's post: reported; a comment written and deleted (its place stays).
        await first.get_by_role("link", name="0 comments").click()
        await page.get_by_role("heading", name="Post by Bob Other", level=1).wait_for()
        await page.locator("article.post-page").get_by_role("button", name="Report").click()
        report = page.get_by_role("dialog", name="Report this post")
        await report.get_by_label("Spam").check()
        await report.get_by_label("Anything moderators should know (optional)").fill("Ads")
        await report.get_by_role("button", name="Send the report").click()
        await expect(page.get_by_text("Thank you: moderators will look at it.")).to_be_visible()
        await expect(report).to_have_count(0)
        await page.get_by_label("Your comment").fill("Looks tasty")
        await page.get_by_role("button", name="Comment", exact=True).click()
        comment = page.locator(".thread > li").first
        await expect(comment.locator(".body")).to_have_text("Looks tasty")
        await comment.get_by_role("button", name="Delete").click()
        confirm = page.get_by_role("dialog", name="Delete this comment?")
        await confirm.get_by_role("button", name="Delete").click()
        await expect(comment).to_contain_text("This comment was deleted.")
        await expect(page.get_by_role("heading", name="0 comments")).to_be_visible()

        # My own post, deleted: gone from home.
        await open_home(page)
        garden = page.locator("article.post").filter(has_text="my garden")
        await garden.get_by_role("link", name="0 comments").click()
        await page.get_by_role("heading", name="Post by Ann Example", level=1).wait_for()
        await page.locator("article.post-page").get_by_role("button", name="Delete").click()
        await (
            page.get_by_role("dialog", name="Delete this post?")
            .get_by_role("button", name="Delete")
            .click()
        )
        await page.get_by_role("heading", name="Home", level=1).wait_for()
        await expect(page.get_by_text("The post was deleted.")).to_be_visible()
        await expect(page.locator("article.post").filter(has_text="my garden")).to_have_count(0)
        await expect(page.locator("article.post").filter(has_text="Tomatoes")).to_be_visible()
        assert_clean(watched)
