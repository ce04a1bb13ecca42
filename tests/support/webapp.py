"""Driving the web app in Debian's Chromium: a page that records console errors, page errors
and CSP violations (a screen test fails on any), and the steps every screen test repeats
(signing up through the app with the code from the SMS outbox)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page

from tests.support.identity import PASSWORD, IdentityClient, new_phone

#: Phone (360 px) and desktop (1280 px), the widths the app is drawn for.
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}


@dataclass
class Watched:
    page: Page
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.problems == [], self.problems


async def open_page(
    browser: Browser | BrowserContext,
    base_url: str,
    *,
    viewport: dict[str, int] = DESKTOP,
    locale: str = "en-US",
    color_scheme: str = "light",
) -> Watched:
    if isinstance(browser, BrowserContext):
        page = await browser.new_page()
    else:
        context = await browser.new_context(
            base_url=base_url, viewport=viewport, locale=locale, color_scheme=color_scheme
        )
        page = await context.new_page()
    watched = Watched(page)

    def console(message: Any) -> None:
        # A failed fetch while the test is offline on purpose is the app's business.
        if message.type == "error" and "ERR_INTERNET_DISCONNECTED" not in message.text:
            watched.problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    return watched


async def sign_up_in_app(
    page: Page, client: IdentityClient, name: str = "Ann Example", phone: str | None = None
) -> str:
    """Sign up through the app's screens; the phone number used."""
    phone = phone or new_phone()
    await page.goto("/signup")
    await page.get_by_label(re.compile("Phone number|Номер телефона")).fill(phone)
    await page.get_by_role("button", name=re.compile("Send the code|Отправить код")).click()
    code = await client.sms_code(phone)
    await page.get_by_label(re.compile("^Code$|^Код$")).fill(code)
    await page.get_by_role("button", name=re.compile("Check the code|Проверить код")).click()
    await page.get_by_label(re.compile("Your name|Ваше имя")).fill(name)
    await page.get_by_label(re.compile("^Password$|^Пароль$")).fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("Create the account|Создать")).click()
    await page.wait_for_url(re.compile(r"/(home|profile/edit)"))
    return phone
