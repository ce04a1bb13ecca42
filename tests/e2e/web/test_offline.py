"""The messenger offline, in real Chromium: Ann loses the network and writes a message, shown
as "sending…" from the gateway's outbox (IndexedDB); meanwhile Bob writes twice. Back online,
Ann's message is delivered exactly once (Bob sees it once, the history over the API holds
it once, even after another reconnect flushes the outbox again) and Bob's messages appear in
her conversation without a reload: the gateway resumed from her cursor."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from tests.e2e.web.people_support import open_nav, person, signed_in, write
from tests.support.browser import chromium
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.platform import Platform

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings)


def bubbles(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("li.message .message-body").filter(has_text=text)


async def test_a_message_written_offline_is_delivered_once_and_missed_ones_arrive(
    platform: Platform, client: IdentityClient
) -> None:
    ann, bob = await person(client, "Ann Archer"), await person(client, "Bob Baker")
    status, started = await ann.call(
        "POST", "/v1/conversations", {"kind": "direct", "members": [bob.id]}
    )
    assert status == 201, started
    cid = started["id"]
    status, sent = await ann.call("POST", f"/v1/conversations/{cid}/messages", {"body": "Hi Bob"})
    assert status == 201
    # Bob's reads come after it (his browser then finds the conversation in his list).
    status, listed = await bob.call("GET", "/v1/conversations", after=sent["position"])
    assert [c["id"] for c in listed["items"]] == [cid]
    async with chromium() as browser:
        ann_w = await signed_in(browser, platform.base_url, ann)
        bob_w = await signed_in(browser, platform.base_url, bob)
        a, b = ann_w.page, bob_w.page
        for page, other in ((a, "Bob Baker"), (b, "Ann Archer")):
            await open_nav(page, "Messages")
            await page.locator(f'a[data-conversation="{cid}"]').click()
            await expect(page.get_by_role("heading", name=other, level=1)).to_be_visible()
            await expect(bubbles(page, "Hi Bob")).to_have_count(1)

        # Ann loses the network: what she writes waits in the outbox, shown as sending.
        await a.context.set_offline(True)
        await expect(a.locator("#offline-state")).to_be_visible()
        await write(a, "Written offline")
        queued = a.locator("li.message.pending").filter(has_text="Written offline")
        await expect(queued.locator(".message-status")).to_have_text("Sending…")
        outbox = await a.evaluate(
            """() => new Promise((resolve) => {
                const open = indexedDB.open("quark");
                open.onsuccess = () => {
                  const read = open.result.transaction("outbox").objectStore("outbox").getAll();
                  read.onsuccess = () => resolve(read.result.map((m) => m.body));
                };
            })"""
        )
        assert outbox == ["Written offline"]

        # Meanwhile Bob writes twice; Ann, offline, sees neither.
        await write(b, "Missed one")
        await expect(bubbles(b, "Missed one")).to_have_count(1)
        await write(b, "Missed two")
        await expect(bubbles(b, "Missed two")).to_have_count(1)
        await expect(bubbles(a, "Missed one")).to_have_count(0)

        # Back online: the outbox is sent once, and the gateway brings what she missed.
        await a.context.set_offline(False)
        await expect(bubbles(a, "Missed one")).to_have_count(1)
        await expect(bubbles(a, "Missed two")).to_have_count(1)
        await expect(a.locator("li.message.pending")).to_have_count(0)
        await expect(bubbles(a, "Written offline")).to_have_count(1)
        await expect(bubbles(b, "Written offline")).to_have_count(1)
        # Her messages and Bob's stand in the order they were sent in.
        texts = await a.locator("li.message .message-body").all_inner_texts()
        assert texts[0] == "Hi Bob" and set(texts[1:]) == {
            "Written offline",
            "Missed one",
            "Missed two",
        }

        # Another loss and return of the network flushes the (empty) outbox again: still once.
        await a.context.set_offline(True)
        await expect(a.locator("#offline-state")).to_be_visible()
        await a.context.set_offline(False)
        await expect(a.locator("#offline-state")).to_be_hidden()
        await write(a, "Back for good")
        await expect(bubbles(b, "Back for good")).to_have_count(1)
        await expect(bubbles(b, "Written offline")).to_have_count(1)
        status, history = await ann.call("GET", f"/v1/conversations/{cid}/messages")
        assert status == 200
        bodies = [m["body"] for m in history["items"]]
        assert bodies.count("Written offline") == 1, bodies
        assert sorted(bodies) == sorted(
            ["Hi Bob", "Written offline", "Missed one", "Missed two", "Back for good"]
        )
        ann_w.assert_clean()
        bob_w.assert_clean()
