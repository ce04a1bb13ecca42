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
        # An API answer of 4xx is logged by Chromium as "Failed to load resource": the app
        # handles those; anything else (a script error, a CSP violation) is a problem.
        expected = "ERR_INTERNET_DISCONNECTED" in message.text or re.match(
            r"Failed to load resource: the server responded with a status of 4\d\d", message.text
        )
        if message.type == "error" and not expected:
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


#: Text nodes on a screen that are not the catalog's: what people wrote (`data-user`),
#: formatted dates and numbers (`data-fmt`, `<time>`), decorations (`aria-hidden`), words that
#: are never translated (`translate="no"`). Everything else must match a catalog entry.
_SCREEN_TEXTS = """() => {
  const skip = (el) => el.closest('[data-user], [data-fmt], time, [aria-hidden="true"], [translate="no"], script, style, noscript, [hidden]');
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text && /\\p{L}/u.test(text) && !skip(node.parentElement)) texts.push(text);
  }
  for (const el of document.querySelectorAll('[aria-label], [placeholder], [title], img[alt]')) {
    if (skip(el)) continue;
    for (const name of ['aria-label', 'placeholder', 'title', 'alt']) {
      const value = (el.getAttribute(name) || '').trim();
      if (value && /\\p{L}/u.test(value)) texts.push(value);
    }
  }
  return texts;
}"""


def catalog_patterns(lang: str) -> list[re.Pattern[str]]:
    from edge.web import catalogs

    entries = catalogs()[lang]
    values: list[str] = []
    for value in entries.values():
        values.extend(value.values() if isinstance(value, dict) else [value])
    patterns = []
    for value in values:
        parts = re.split(r"\{\w+\}", value)
        patterns.append(re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$", re.S))
    return patterns


async def assert_catalog_text(page: Page, lang: str) -> None:
    """Every piece of text on the screen that the app wrote is from `lang`'s catalog."""
    patterns = catalog_patterns(lang)
    texts = await page.evaluate(_SCREEN_TEXTS)
    strangers = sorted({t for t in texts if not any(p.match(t) for p in patterns)})
    assert strangers == [], f"{page.url} ({lang}): text not in the catalog: {strangers}"


async def set_language(page: Page, lang: str) -> None:
    """Switch the app's language with its own toggle (the session stays in memory)."""
    if await page.evaluate("document.documentElement.lang") != lang:
        await page.locator("#language-toggle").click()
        await page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang)
        await page.wait_for_load_state("networkidle")


async def shoot_screen(page: Page, name: str, folder: Any) -> None:
    """Screenshots of the screen shown now at both widths, in both themes and both
    languages (`<name>-<lang>-<theme>-<width>.png`), each language's text checked against
    its catalog; the page is left in English, light, at desktop width."""
    for lang in ("ru", "en"):
        await set_language(page, lang)
        await assert_catalog_text(page, lang)
        for scheme in ("dark", "light"):
            await page.emulate_media(color_scheme=scheme)
            for size in (PHONE, DESKTOP):
                await page.set_viewport_size(size)
                await page.screenshot(
                    path=folder / f"{name}-{lang}-{scheme}-{size['width']}.png", full_page=True
                )
