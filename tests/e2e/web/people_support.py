"""People of the messenger's and notifications' browser tests: each signed up over the API
(the sign-up screens have their own test) and signed in through the app's /signin screen,
in a browser context of their own, as two people on two devices would be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Page

from tests.support.identity import PASSWORD, IdentityClient
from tests.support.webapp import Watched, open_page


@dataclass
class Person:
    name: str
    id: str
    phone: str
    token: str
    client: IdentityClient

    async def call(
        self, method: str, path: str, body: Any = None, *, after: str | None = None
    ) -> tuple[int, Any]:
        """A request as this person, over the API (after the write at position `after`,
        as someone told of it would read)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if after:
            headers["Quark-After"] = after
        async with self.client.http.request(method, path, json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


async def person(client: IdentityClient, name: str) -> Person:
    tokens = await client.sign_up(name=name)
    return Person(name, tokens["user_id"], tokens["phone"], tokens["access_token"], client)


async def sign_in(page: Page, who: Person) -> None:
    """Through the app's sign-in screen; lands on the home timeline, gateway connecting."""
    await page.goto("/signin")
    await page.get_by_label("Phone number").fill(who.phone)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/home$"))


async def signed_in(browser: Browser, base_url: str, who: Person) -> Watched:
    """A new browser context (its own storage: outbox, cursor) signed in as `who`."""
    watched = await open_page(browser, base_url)
    await sign_in(watched.page, who)
    return watched


async def open_nav(page: Page, name: str) -> None:
    """Follow a link of the app's navigation (in-app, no reload)."""
    await page.get_by_role("navigation").get_by_role("link", name=name).click()


async def write(page: Page, text: str) -> None:
    """Write a message in the open conversation and send it with Enter."""
    box = page.get_by_label("Message", exact=True)
    await box.fill(text)
    await box.press("Enter")
