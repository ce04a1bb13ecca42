"""Profiles and settings in real Chromium, driven as a person would: editing the profile (the
API's refusals on their fields, a picture cropped on a canvas and uploaded), profiles of
oneself and others with follow, unfollow and block, followers lists; and every settings
section — devices, password and two-factor set-up, the security log, privacy, language and
theme, the data export and erasing the account. Each screen is shot at both widths, in
both themes and languages, its text checked against the catalog."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import re
import secrets
import struct
import time
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.async_api import Page

from tests.support.browser import chromium, screenshots
from tests.support.identity import PASSWORD, IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform
from tests.support.webapp import open_page, shoot_screen, sign_up_in_app


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, six digits), as an authenticator app computes it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def picture() -> bytes:
    """A 300x200 PNG: red on the left, blue on the right (a crop shows in its colours)."""
    image = Image.new("RGB", (300, 200), (200, 30, 30))
    image.paste((30, 60, 200), (150, 0, 300, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def visit(page: Page, path: str) -> None:
    """Open `path` inside the app (history and popstate, as the back button does), without
    reloading the page."""
    await page.evaluate(
        "path => { history.pushState(null, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
        path,
    )


async def someone(client: IdentityClient, name: str) -> dict[str, Any]:
    person = await client.sign_up(name=name)
    handle = f"{name.split()[0].lower()}_{secrets.token_hex(3)}"
    status, body = await client.call("PATCH", "/v1/me", person["access_token"], {"handle": handle})
    assert status == 200, body
    return {**person, "handle": handle}


async def test_profile_editing_avatar_follow_block_and_lists(
    platform: Platform, client: IdentityClient
) -> None:
    out = screenshots("web")
    bob = await someone(client, "Bob Other")
    status, _, _ = await client.post(
        "/v1/posts", {"body": "Bob's first post, about **boats**."}, bob["access_token"]
    )
    assert status == 201
    async with chromium() as browser:
        watched = await open_page(browser, platform.base_url)
        page = watched.page
        phone = await sign_up_in_app(page, client, name="Ann Example")
        # Sign-up lands on the profile editor with a welcome; no handle yet.
        await page.wait_for_url(re.compile(r"/profile/edit\?welcome=1$"))
        await page.get_by_text("Welcome to Quark!").wait_for()
        assert await page.get_by_label("Name", exact=True).input_value() == "Ann Example"
        await shoot_screen(page, "profile-edit", out)

        # The API's refusals, on the handle field: taken, then not a handle at all.
        handle_field = page.get_by_label("Handle")
        await handle_field.fill(bob["handle"])
        await page.get_by_role("button", name="Save").click()
        error = page.locator("#handle-error")
        await error.filter(has_text="Someone already has this handle.").wait_for()
        assert await handle_field.get_attribute("aria-invalid") == "true"
        await handle_field.fill("a!")
        await page.get_by_role("button", name="Save").click()
        await error.filter(has_text="3 to 30 characters").wait_for()

        mine = f"ann_{secrets.token_hex(3)}"
        await page.get_by_label("Name", exact=True).fill("Ann Edited")
        await handle_field.fill(mine)
        await page.get_by_label("About me").fill("Writes about cats.\nAnd dogs.")
        await page.get_by_role("button", name="Save").click()
        await page.get_by_text("Profile saved.").wait_for()
        assert await error.is_hidden()

        # A picture: chosen, moved with the keyboard and the mouse, zoomed, cropped here.
        await page.get_by_label("Choose a picture").set_input_files(
            {"name": "me.png", "mimeType": "image/png", "buffer": picture()}
        )
        canvas = page.get_by_role("application", name="The square of the picture to keep")
        await canvas.wait_for()
        assert await canvas.evaluate("el => el === document.activeElement")
        for key in ("ArrowRight", "ArrowRight", "+", "+", "ArrowDown"):
            await page.keyboard.press(key)
        box = await canvas.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] / 2 - 30, box["y"] + box["height"] / 2)
        await page.mouse.up()
        await page.screenshot(path=out / "profile-edit-crop.png")
        await page.get_by_role("button", name="Use this picture").click()
        await page.get_by_text("Picture saved.").wait_for(timeout=30_000)
        await page.locator(".avatar-preview img").wait_for()
        # What was uploaded is the square the canvas made, not the 300x200 original.
        status, tokens = await client.log_in(phone)
        assert status == 200, tokens
        status, me = await client.get("/v1/me", tokens["access_token"])
        assert me["handle"] == mine and me["bio"] == "Writes about cats.\nAnd dogs."
        status, media = await client.get(f"/v1/media/{me['avatar_media_id']}")
        assert status == 200 and (media["width"], media["height"]) == (512, 512)

        # Bob mentions her: the mention links to her profile (once her handle is known).
        await platform.wait("profiles", await head_position(platform.infra, "PEOPLE"))
        status, _, _ = await client.post(
            "/v1/posts", {"body": f"Say hello to @{mine}!"}, bob["access_token"]
        )
        assert status == 201

        # The nav's "Profile" now names the handle; Bob follows Ann meanwhile.
        status, followed = await client.call(
            "POST", f"/v1/users/{mine}/follow", bob["access_token"]
        )
        assert status == 200
        await platform.wait("follows", followed["position"])  # Bob's write, not Ann's
        await page.get_by_role("link", name="View your profile").click()
        await page.get_by_role("heading", name="Ann Edited").wait_for()
        assert page.url.endswith(f"/people/{mine}")
        await page.get_by_text("Writes about cats.").wait_for()
        await page.locator(".profile-head .avatar img").wait_for()
        await page.get_by_role("link", name="Edit profile").wait_for()
        await page.get_by_text("No posts yet.").wait_for()
        await shoot_screen(page, "profile-mine", out)
        profile_link = page.get_by_role("link", name="Profile", exact=True)
        assert await profile_link.get_attribute("href") == f"/people/{mine}"

        # Her followers: Bob, linked to his profile.
        await page.get_by_role("link", name="1 follower").click()
        await page.get_by_role("heading", name="Followers").wait_for()
        await shoot_screen(page, "people-list", out)
        await page.get_by_role("list").get_by_role("link", name="Bob Other").click()

        # Bob's profile: presence (never online), follow, unfollow, the count each time.
        await page.get_by_role("heading", name="Bob Other").wait_for()
        await page.locator(".presence", has_text="Offline").wait_for()
        await page.get_by_text("Follows you").wait_for()
        post = page.get_by_role("article").filter(has_text="Bob's first post, about boats.")
        await post.locator("strong", has_text="boats").wait_for()
        followers = page.locator("#followers-count")
        assert await followers.text_content() == "0 followers"
        await page.get_by_role("button", name="Follow", exact=True).click()
        await followers.filter(has_text="1 follower").wait_for()
        await shoot_screen(page, "profile-other", out)
        await page.get_by_role("button", name="Unfollow").click()
        await followers.filter(has_text="0 followers").wait_for()
        await page.get_by_role("button", name="Follow", exact=True).click()
        await followers.filter(has_text="1 follower").wait_for()

        # The mention in his post opens her profile, at the address the API links it to.
        hello = page.get_by_role("article").filter(has_text="Say hello to")
        await hello.get_by_role("link", name=f"@{mine}").click()
        await page.get_by_role("heading", name="Ann Edited").wait_for()
        assert page.url.endswith(f"/@{mine}")
        await page.go_back()
        await page.get_by_role("heading", name="Bob Other").wait_for()

        # Blocking asks first; cancelling changes nothing; confirming ends both follows.
        await page.get_by_role("button", name="Block").click()
        dialog = page.get_by_role("dialog", name="Block this person?")
        await dialog.wait_for()
        await dialog.get_by_role("button", name="Cancel").click()
        await dialog.wait_for(state="detached")
        await page.get_by_role("button", name="Block").click()
        await dialog.get_by_role("button", name="Block").click()
        await page.get_by_text("You blocked this person.").wait_for()
        await followers.filter(has_text="0 followers").wait_for()
        status, seen_by_bob = await client.get(f"/v1/users/{mine}", bob["access_token"])
        assert seen_by_bob["relationship"]["blocked_by"] is True
        assert seen_by_bob["followers"] == 0
        await page.get_by_role("button", name="Unblock").click()
        await page.get_by_role("button", name="Follow", exact=True).wait_for()

        # The nav's link by id (before a handle is chosen) finds the profile too.
        await visit(page, f"/people/{me['id']}")
        await page.wait_for_url(re.compile(f"/people/{mine}$"))
        await page.get_by_role("heading", name="Ann Edited").wait_for()
        watched.assert_clean()


async def test_settings_sections_from_devices_to_erasure(
    platform: Platform, client: IdentityClient
) -> None:
    out = screenshots("web")
    async with chromium() as browser:
        watched = await open_page(browser, platform.base_url)
        page = watched.page
        phone = await sign_up_in_app(page, client, name="Cleo Settings")
        # The same person signs in elsewhere too (through the API: "Python" is its device).
        status, elsewhere = await client.log_in(phone)
        assert status == 200

        # Without a handle the nav's "Profile" (by id) leads to choosing one.
        await page.get_by_role("link", name="Profile", exact=True).click()
        await page.wait_for_url(re.compile(r"/profile/edit$"))
        await page.get_by_text("Your profile gets its address once you choose a handle.").wait_for()

        # Devices: both sessions, this one marked; rename the other, then end it.
        await page.get_by_role("link", name="Settings").click()
        await page.get_by_role("heading", name="Where you are signed in").wait_for()
        devices = page.locator("li.device")
        await devices.nth(1).wait_for()
        assert await devices.count() == 2
        current = page.locator("li.device[data-current]")
        await current.get_by_text("This device").wait_for()
        await shoot_screen(page, "settings-sessions", out)
        other = page.locator("li.device:not([data-current])")
        await other.get_by_role("button", name="Rename").click()
        await other.get_by_label("Name of this device").fill("Work laptop")
        await other.get_by_role("button", name="Save").click()
        await page.locator("li.device:not([data-current])", has_text="Work laptop").wait_for()
        await other.get_by_role("button", name="Sign out there").click()
        await page.get_by_text("That device is signed out.").wait_for()
        assert await devices.count() == 1
        status, _ = await client.get("/v1/auth/sessions", elsewhere["access_token"])
        assert status == 401
        status, api_session = await client.log_in(phone)
        token = api_session["access_token"]

        # Privacy: hide presence.
        await page.get_by_role("link", name="Privacy").click()
        await page.get_by_label("Hide it").check()
        await page.get_by_text("Saved.").wait_for()
        status, privacy = await client.get("/v1/me/privacy", token)
        assert privacy == {"show_presence": False}
        await shoot_screen(page, "settings-privacy", out)

        # Appearance: the language, on the page and on the profile; then back.
        await page.get_by_role("link", name="Appearance").click()
        await page.get_by_role("heading", name="Appearance").wait_for()
        await shoot_screen(page, "settings-appearance", out)
        await page.get_by_label("Language").select_option("ru")
        await page.wait_for_function("() => document.documentElement.lang === 'ru'")
        await page.get_by_role("heading", name="Оформление").wait_for()
        status, me = await client.get("/v1/me", token)
        assert me["locale"] == "ru"
        await page.get_by_label("Язык").select_option("en")
        await page.get_by_role("heading", name="Appearance").wait_for()

        # Security: change the password (the API session ends), set up two factors.
        await page.get_by_role("link", name="Security", exact=True).click()
        await page.get_by_role("button", name="Set up two-factor authentication").wait_for()
        await shoot_screen(page, "settings-security", out)
        new_password = "a quite different horse battery"
        await page.get_by_label("Current password").fill("not my password")
        await page.get_by_label("New password").fill(new_password)
        await page.get_by_role("button", name="Change the password").click()
        await page.locator("#old_password-error", has_text="That is not your password.").wait_for()
        await page.get_by_label("Current password").fill(PASSWORD)
        await page.get_by_role("button", name="Change the password").click()
        await page.get_by_text("Password changed.").wait_for()
        status, _ = await client.get("/v1/me", token)
        assert status == 401

        await page.get_by_role("button", name="Set up two-factor authentication").click()
        qr = page.get_by_role("img", name="QR code for your authenticator app")
        await qr.wait_for()
        assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml")
        assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
        await page.screenshot(path=out / "settings-2fa-setup.png", full_page=True)
        secret = (await page.locator("#totp-secret").text_content() or "").replace(" ", "")
        await page.get_by_label("Code from the app").fill(
            "000000" if totp(secret) != "000000" else "111111"
        )
        await page.get_by_role("button", name="Turn on").click()
        await page.locator("#code-error", has_text="That code is not right.").wait_for()
        await page.get_by_label("Code from the app").fill(totp(secret))
        await page.get_by_role("button", name="Turn on").click()
        await page.get_by_role("heading", name="Your recovery codes").wait_for()
        await page.screenshot(path=out / "settings-2fa-codes.png", full_page=True)
        codes = await page.locator("ol.codes li").all_text_contents()
        assert len(codes) == 10 and len(set(codes)) == 10
        async with page.expect_download() as saving:
            await page.get_by_role("button", name="Download").click()
        saved = await (await saving.value).path()
        assert (await asyncio.to_thread(Path(saved).read_text)).split() == codes
        await page.get_by_role("button", name="I have saved them").click()
        # Turning it off takes a code too (a wrong one is refused, on its field).
        await page.get_by_label("Code from the app, or a recovery code").fill("123 456")
        await page.get_by_role("button", name="Turn off").click()
        await page.locator("#code-error", has_text="That code is not right.").wait_for()
        # Signing in now asks for the second factor.
        status, login = await client.log_in(phone, new_password)
        assert status == 200 and login["mfa_required"] is True

        # The security log says what happened, newest first.
        await page.get_by_role("link", name="Security log").click()
        log = page.locator("ol.log")
        await log.get_by_text("Signed out from another device").wait_for()
        await log.get_by_text("Two-factor authentication turned on").wait_for()
        await log.get_by_text("Password changed").wait_for()
        await log.get_by_text("Account created").wait_for()
        await shoot_screen(page, "settings-log", out)

        # Your data: the export is a JSON download.
        await page.get_by_role("link", name="Your data").click()
        await shoot_screen(page, "settings-data", out)
        async with page.expect_download() as exporting:
            await page.get_by_role("button", name="Download my data").click()
        export = await exporting.value
        assert export.suggested_filename == "quark-export.json"
        document = json.loads(await asyncio.to_thread(Path(await export.path()).read_text))
        assert document["profile"]["display_name"] == "Cleo Settings"
        await page.get_by_text("Your data is downloaded.").wait_for()

        # The theme is this browser's: pinned dark, it outlives a reload (below).
        await page.get_by_role("link", name="Appearance").click()
        await page.get_by_role("radio", name="Dark").check()
        await page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        await page.reload()  # the session comes back from the refresh cookie
        await page.get_by_role("heading", name="Appearance").wait_for()
        assert await page.get_by_role("radio", name="Dark").is_checked()
        assert await page.evaluate("document.documentElement.dataset.theme") == "dark"

        # Erasing: the dialog names what goes; a wrong password stays in it; then gone.
        await page.get_by_role("link", name="Your data").click()
        await page.get_by_role("button", name="Erase my account…").click()
        dialog = page.get_by_role("dialog", name="Erase your account")
        await dialog.get_by_text("every session: all your devices are signed out;").wait_for()
        await dialog.get_by_text("Your posts stay").wait_for()
        await page.screenshot(path=out / "settings-erase-dialog.png")
        await dialog.get_by_label("Your password").fill("not it at all")
        await dialog.get_by_label("Code from the app, or a recovery code").fill(codes[0])
        await dialog.get_by_role("button", name="Erase my account").click()
        await dialog.get_by_text("That is not your password.").wait_for()
        await dialog.get_by_label("Your password").fill(new_password)
        await dialog.get_by_role("button", name="Erase my account").click()
        await page.wait_for_url(re.compile(r"/public$"))
        await page.get_by_text("Your account is erased.").wait_for()
        await page.get_by_role("link", name="Sign in").wait_for()
        status, _ = await client.log_in(phone, new_password)
        assert status == 401

        # A reload stays signed out (the erased session's cookie opens nothing), still dark.
        await page.reload()
        await page.get_by_role("heading", name="Public posts").wait_for()
        await page.get_by_role("link", name="Sign in").wait_for()
        assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert await page.locator("#theme-toggle").get_attribute("aria-pressed") == "true"
        watched.assert_clean()
