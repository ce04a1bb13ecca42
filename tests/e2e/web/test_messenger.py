"""The messenger in real Chromium, two people in two browser contexts: Ann starts a direct
conversation with Bob, who sees it arrive live in his list with its unread count and the nav
badge; they write to each other live; Bob typing shows to Ann, Bob reading shows her a read
receipt; a reply quotes its message, an edit and a delete reach the other side; a group
made over the API with a third person is renamed and loses a member from its settings."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from tests.e2e.web.people_support import Person, open_nav, person, signed_in, write
from tests.support.browser import chromium, screenshots
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.media import photo
from tests.support.platform import Platform
from tests.support.webapp import shoot_screen

# Two browsers' worth of live traffic, and every screen shot at two widths, two themes and
# two languages.
pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


def bubble(page: Page, text: str):  # type: ignore[no-untyped-def]
    """The message whose text is `text`."""
    return page.locator("li.message").filter(
        has=page.locator(".message-body").get_by_text(text, exact=True)
    )


async def test_two_people_write_to_each_other_live(
    platform: Platform, client: IdentityClient
) -> None:
    out = screenshots("web")
    ann, bob = await person(client, "Ann Archer"), await person(client, "Bob Baker")
    async with chromium() as browser:
        ann_w = await signed_in(browser, platform.base_url, ann)
        bob_w = await signed_in(browser, platform.base_url, bob)
        a, b = ann_w.page, bob_w.page
        await open_nav(b, "Messages")
        await expect(b.get_by_role("heading", name="Messages", level=1)).to_be_visible()
        await expect(b.get_by_text("No conversations yet.")).to_be_visible()

        # Ann starts a direct conversation with Bob, found by name.
        await open_nav(a, "Messages")
        await a.get_by_role("button", name="New conversation").click()
        dialog = a.get_by_role("dialog", name="New conversation")
        await dialog.get_by_label("Find people").fill("Bob")
        await dialog.get_by_role("button", name="Choose Bob Baker").click()
        await expect(dialog.get_by_role("list", name="Chosen people")).to_contain_text("Bob Baker")
        await dialog.get_by_role("button", name="Start").click()
        await expect(a.get_by_role("heading", name="Bob Baker", level=1)).to_be_visible()
        await write(a, "Hello Bob!")
        await expect(bubble(a, "Hello Bob!")).to_contain_text("Sent")

        # Bob's list shows it live, unread, and so does his nav badge.
        row = b.locator("a[data-conversation]").filter(has_text="Ann Archer")
        await expect(row).to_contain_text("Hello Bob!")
        await expect(row.locator(".badge.unread")).to_contain_text("1")
        await expect(b.locator('a[data-nav="nav.messages"] .badge')).to_have_text("1")
        await shoot_screen(b, "messages-list", out)

        # Bob opens it: it is read (the badge goes), and Ann sees her message read.
        await row.click()
        await expect(b.get_by_role("heading", name="Ann Archer", level=1)).to_be_visible()
        await expect(bubble(b, "Hello Bob!")).to_be_visible()
        await expect(b.locator('a[data-nav="nav.messages"] .badge')).to_have_count(0)
        await expect(bubble(a, "Hello Bob!").locator(".message-status")).to_have_text("Read")

        # Bob typing shows to Ann; his message reaches her live.
        box = b.get_by_label("Message", exact=True)
        await box.press_sequentially("Hi Ann", delay=30)
        await expect(a.locator(".typing")).to_have_text("Bob Baker is typing…")
        await box.press("Enter")
        await expect(bubble(a, "Hi Ann")).to_be_visible()
        await expect(a.locator(".typing")).to_have_text("")

        # Ann replies to it: the reply quotes it on both sides.
        await bubble(a, "Hi Ann").get_by_role("button", name="Reply").click()
        await expect(a.locator(".composer-reply")).to_contain_text("Replying to Bob Baker")
        await write(a, "Nice to see you")
        reply = bubble(b, "Nice to see you")
        await expect(reply.locator(".quote")).to_contain_text("Hi Ann")
        await expect(bubble(a, "Nice to see you").locator(".quote")).to_contain_text("Bob Baker")

        # An edit and a delete reach Bob live.
        mine = bubble(a, "Nice to see you")
        await mine.get_by_role("button", name="Edit").click()
        editor = a.get_by_label("Edit the message")
        await editor.fill("Nice to see you again")
        await a.get_by_role("button", name="Save").click()
        await expect(bubble(b, "Nice to see you again")).to_contain_text("edited")
        await bubble(a, "Hello Bob!").get_by_role("button", name="Delete").click()
        await a.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(b.locator("li.message.deleted .tombstone")).to_have_text(
            "This message was deleted"
        )
        await expect(bubble(b, "Hello Bob!")).to_have_count(0)
        await expect(a.locator("li.message.deleted")).to_have_count(1)

        # A picture: uploaded while the message is written, sent once it is ready.
        await a.locator("#composer-file").set_input_files(
            files=[{"name": "beach.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
        )
        await write(a, "The beach")
        await expect(bubble(b, "The beach").locator(".attachments img")).to_have_count(1)

        # Bob mutes the conversation: it says so in his list and no longer counts for the badge.
        await b.get_by_role("button", name="Mute").click()
        await expect(b.get_by_role("button", name="Unmute")).to_have_attribute(
            "aria-pressed", "true"
        )
        await expect(
            b.locator("a[data-conversation]").filter(has_text="Ann Archer")
        ).to_contain_text("Muted")
        await shoot_screen(a, "messages-direct", out)
        # Drawn again from the history (the language changed twice): the reply still quotes.
        await expect(bubble(a, "Nice to see you again").locator(".quote")).to_contain_text("Hi Ann")
        ann_w.assert_clean()
        bob_w.assert_clean()


async def group_of(owner: Person, members: list[Person], name: str) -> tuple[str, str]:
    """A group made over the API: its id and the position to read it after."""
    status, body = await owner.call(
        "POST",
        "/v1/conversations",
        {"kind": "group", "members": [m.id for m in members], "name": name},
    )
    assert status == 201, body
    return str(body["id"]), str(body["position"])


async def test_a_group_is_renamed_and_loses_a_member_from_its_settings(
    platform: Platform, client: IdentityClient
) -> None:
    out = screenshots("web")
    ann, bob = await person(client, "Ann Archer"), await person(client, "Bob Baker")
    cy = await person(client, "Cy Clark")
    async with chromium() as browser:
        ann_w = await signed_in(browser, platform.base_url, ann)
        bob_w = await signed_in(browser, platform.base_url, bob)
        a, b = ann_w.page, bob_w.page
        await open_nav(a, "Messages")
        await open_nav(b, "Messages")
        await expect(b.get_by_text("No conversations yet.")).to_be_visible()

        # A group made over the API arrives live in Bob's list (he was added to it).
        gid, made = await group_of(ann, [bob, cy], "Weekend plans")
        for n in range(1, 36):
            status, _ = await cy.call(
                "POST", f"/v1/conversations/{gid}/messages", {"body": f"Line {n}"}, after=made
            )
            assert status == 201
        status, _ = await cy.call(
            "POST", f"/v1/conversations/{gid}/messages", {"body": "Count me in"}
        )
        assert status == 201
        row = b.locator(f'a[data-conversation="{gid}"]')
        await expect(row).to_contain_text("Weekend plans")
        await row.click()
        await expect(bubble(b, "Count me in")).to_contain_text("Cy Clark")
        await expect(b.get_by_text("3 members")).to_be_visible()
        # The latest page first; scrolling up loads the older ones.
        await expect(bubble(b, "Line 35")).to_be_visible()
        await expect(bubble(b, "Line 1")).to_have_count(0)
        await b.locator(".chat-scroll").hover()
        await b.mouse.wheel(0, -20_000)
        await expect(bubble(b, "Line 1")).to_have_count(1)

        # Ann, its owner, renames it from its settings and removes Cy.
        await a.locator(f'a[data-conversation="{gid}"]').click()
        await a.get_by_role("link", name="Group settings").click()
        await expect(a.get_by_role("heading", name="Group settings")).to_be_visible()
        members = a.get_by_role("list", name="3 members")
        await expect(members.locator("li")).to_have_count(3)
        await expect(members).to_contain_text("Owner")
        await a.get_by_label("Group name").fill("Weekend trip")
        await a.get_by_role("button", name="Save").click()
        await expect(a.get_by_role("heading", name="Weekend trip", level=1)).to_be_visible()
        await expect(b.get_by_role("heading", name="Weekend trip", level=1)).to_be_visible()
        await expect(row).to_contain_text("Weekend trip")
        await a.get_by_role("button", name="Remove Cy Clark").click()
        await a.get_by_role("dialog").get_by_role("button", name="Remove").click()
        members = a.get_by_role("list", name="2 members")
        await expect(members.locator("li")).to_have_count(2)
        await expect(members).not_to_contain_text("Cy Clark")
        await expect(b.get_by_text("2 members")).to_be_visible()
        # The owner's own reads see her change (read-your-writes): Cy is out.
        status, detail = await ann.call("GET", f"/v1/conversations/{gid}")
        assert status == 200 and set(detail["members"]) == {ann.id, bob.id}
        assert detail["conversation"]["name"] == "Weekend trip"
        await shoot_screen(a, "messages-group-settings", out)

        # Bob becomes an admin; Cy is invited back; Bob, a member, sees no controls of his own.
        await a.get_by_label("Role of Bob Baker").select_option("admin")
        await expect(a.get_by_label("Role of Bob Baker")).to_have_value("admin")
        await a.get_by_label("Find people").fill("Cy")
        await a.get_by_role("button", name="Choose Cy Clark").click()
        await expect(a.get_by_role("list", name="3 members")).to_contain_text("Cy Clark")
        await expect(b.get_by_text("3 members")).to_be_visible()

        # Bob leaves from his own settings: back on his list, without the group.
        await b.get_by_role("link", name="Group settings").click()
        await expect(b.get_by_role("list", name="3 members")).to_contain_text("Admin")
        await b.get_by_role("button", name="Leave the group").click()
        await b.get_by_role("dialog").get_by_role("button", name="Leave").click()
        await expect(b.get_by_role("heading", name="Messages", level=1)).to_be_visible()
        await expect(b.locator(f'a[data-conversation="{gid}"]')).to_have_count(0)
        await expect(a.get_by_role("list", name="2 members")).not_to_contain_text("Bob Baker")

        await a.get_by_role("link", name="Back to the conversation").click()
        await expect(bubble(a, "Count me in")).to_be_visible()
        await shoot_screen(a, "messages-group", out)
        ann_w.assert_clean()
        bob_w.assert_clean()
