"""Web push from the app in real Chromium: Ann turns pushes on in her notification settings
(the app asks for permission, subscribes with the key `GET /v1/push/key` publishes and
stores the subscription on her session); with the app closed, Bob's follow reaches her as
an encrypted push, which her service worker shows as a notification; turned off, her
session holds no subscription any more.

Chromium cannot reach a browser vendor's push service from here, so one thing is replaced:
`PushManager.subscribe` answers a subscription on the local push service of
tests/support/fake_push.py (RFC 8030 and 8291, keys made as a browser makes them), the push
service the platform's sender is tested against. The push the platform sent is handed to the
real service worker through the DevTools protocol (`ServiceWorker.deliverPushMessage`), as
the browser hands it a push it received."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from core.settings import Settings
from tests.e2e.push.test_delivery import offline
from tests.e2e.web.people_support import person, sign_in
from tests.support.browser import chromium, screenshots
from tests.support.fake_push import FakePushService, push_service
from tests.support.identity import IdentityClient, lifted_limits
from tests.support.log import head_position
from tests.support.platform import Platform
from tests.support.webapp import open_page, shoot_screen

__all__ = ["push_service"]

pytestmark = pytest.mark.timeout(300)

#: The browser's side of subscribing, answering `subscription` (kept in localStorage, so
#: later pages of the context have it, as a browser keeps it); the key the app subscribed
#: with is noted in `quark-test-push-key`.
FAKE_SUBSCRIBE = """(subscription) => {
  const KEPT = "quark-test-push";
  const made = (key) => ({
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: key },
    toJSON: () => subscription,
    unsubscribe: async () => { localStorage.removeItem(KEPT); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    const text = btoa(String.fromCharCode(...key)).replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
    localStorage.setItem("quark-test-push-key", text);
    localStorage.setItem(KEPT, "1");
    return made(key.buffer);
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem(KEPT) ? made(null) : null;
  };
}"""

SHOWN = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, url: n.data && n.data.url }));
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, push_allow_local_endpoints=True)


async def until(ready: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """Until `ready()` (awaited when it is a coroutine function) is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def settled_sessions(platform: Platform) -> None:
    """Until the sessions read model holds every account write so far (the browser's)."""
    await platform.wait("sessions", await head_position(platform.infra, "ACCOUNTS"))


async def deliver(context: BrowserContext, page: Page, base_url: str, payload: Any) -> None:
    """Hand `payload` to the page's service worker, once it is activated, as a push it
    received."""
    cdp = await context.new_cdp_session(page)
    versions: dict[str, dict[str, Any]] = {}
    cdp.on(
        "ServiceWorker.workerVersionUpdated",
        lambda e: versions.update({v["versionId"]: v for v in e["versions"]}),
    )
    await cdp.send("ServiceWorker.enable")

    def activated() -> list[str]:
        return [v["registrationId"] for v in versions.values() if v["status"] == "activated"]

    await until(activated, f"no activated service worker: {versions}")
    (registration,) = set(activated())
    # The worker's script has run to its end (its listeners are in place) once it answers.
    await until(lambda: context.service_workers, "the service worker is not attached")
    (worker,) = context.service_workers
    assert await worker.evaluate("() => self.registration.active !== null")
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base_url, "registrationId": registration, "data": json.dumps(payload)},
    )


async def test_push_is_turned_on_received_while_closed_shown_and_turned_off(
    platform: Platform, client: IdentityClient, push_service: FakePushService
) -> None:
    out = screenshots("web")
    ann, bob = await person(client, "Ann Archer"), await person(client, "Bob Baker")
    status, body = await bob.call("PATCH", "/v1/me", {"handle": "bob_baker"})
    assert status == 200, body
    status, body = await ann.call("PATCH", "/v1/me", {"handle": "ann_archer"})
    assert status == 200, body
    ann_at = body["position"]
    device = push_service.device()
    async with chromium() as browser:
        watched = await open_page(browser, platform.base_url)
        page = watched.page
        context = page.context
        await context.grant_permissions(["notifications"], origin=platform.base_url)
        await context.add_init_script(f"({FAKE_SUBSCRIBE})({json.dumps(device.subscription())})")
        await sign_in(page, ann)

        # Off at first; turned on, the subscription is on her session.
        await page.goto("/notifications?view=settings")
        state = page.locator("#push-state")
        await expect(state).to_have_text("Push notifications are off for this device.")
        await shoot_screen(page, "notification-settings-push", out)
        await page.get_by_role("button", name="Turn on").click()
        await expect(state).to_have_text("Push notifications are on for this device.")
        key = await page.evaluate("() => localStorage.getItem('quark-test-push-key')")
        assert key == push_service.application_server_key
        await settled_sessions(platform)
        status, devices = await ann.call("GET", "/v1/me/devices")
        assert status == 200, devices
        (mine,) = [d for d in devices["items"] if d["push_subscription"]]
        assert mine["push_subscription"]["endpoint"] == device.endpoint

        # The app closed: Bob's follow is pushed to her, encrypted for this browser.
        await page.goto("about:blank")
        await offline(platform, ann.id)
        status, _ = await bob.call("POST", "/v1/users/ann_archer/follow", after=ann_at)
        assert status == 200
        (push,) = await push_service.pushed(device)
        assert (push.payload["title"], push.payload["body"]) == (
            "New follower", "Bob Baker started following you",
        )  # fmt: skip
        assert push_service.refused == []

        # The service worker shows what was pushed; opening it goes to Bob's profile.
        await page.goto("/notifications?view=settings")
        await expect(state).to_have_text("Push notifications are on for this device.")
        shown: list[Any] = []

        async def notifications() -> list[Any]:
            shown[:] = await page.evaluate(SHOWN)
            return shown

        # A push handed over through the DevTools protocol is now and then dropped by
        # Chromium on a loaded machine; handing it over again is harmless (the
        # notification's tag makes a second one replace the first).
        for _ in range(5):
            await deliver(context, page, platform.base_url, push.payload)
            with contextlib.suppress(AssertionError):
                await until(notifications, "nothing shown", timeout=3.0)
                break
        assert shown == [
            {"title": "New follower", "body": "Bob Baker started following you", "url": "/people/bob_baker"}
        ]  # fmt: skip

        # Turned off: the session holds no subscription, the browser none either.
        await page.get_by_role("button", name="Turn off").click()
        await expect(state).to_have_text("Push notifications are off for this device.")
        await settled_sessions(platform)
        status, devices = await ann.call("GET", "/v1/me/devices")
        assert [d["push_subscription"] for d in devices["items"]] == [None, None]
        assert await page.evaluate("() => localStorage.getItem('quark-test-push')") is None
        watched.assert_clean()
