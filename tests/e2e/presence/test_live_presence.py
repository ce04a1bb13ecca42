"""Presence over the live channel: contacts are told when a person comes online (first
connection anywhere) and goes offline (last one closed), and not at all while they hide it."""

from __future__ import annotations

import aiohttp

from core import inbox
from core.ids import new_id
from tests.e2e.chat.support import person
from tests.support.identity import IdentityClient
from tests.support.live import LiveClient
from tests.support.platform import Platform


async def next_presence(live: LiveClient) -> dict:
    while True:
        frame = await live.frame()
        if frame["type"] == "presence":
            return frame


async def test_contacts_see_a_person_come_online_and_go_offline(
    client: IdentityClient, http: aiohttp.ClientSession, platform: Platform
) -> None:
    ann, bob = await person(client), await person(client)
    status, dm = await ann.start("direct", [bob])
    assert status == 201
    status, sent = await ann.send(dm["id"], "hello")
    assert status == 201
    await platform.wait("chat", sent["position"])
    b = await LiveClient.open(http, bob.token)

    first = await LiveClient.open(http, ann.token)
    online = await next_presence(b)
    assert online == {"type": "presence", "user_id": ann.id, "online": True, "last_seen": None}
    second = await LiveClient.open(http, ann.token)  # already online: nobody is told again
    await first.close()  # still online on the other connection
    await second.close()
    offline = await next_presence(b)
    assert (offline["user_id"], offline["online"]) == (ann.id, False)
    assert offline["last_seen"] is not None

    # Hidden: nothing is told, and the presence route shows nobody.
    status, changed = await ann.call("PUT", "/v1/me/privacy", {"show_presence": False})
    assert status == 200, changed
    await platform.wait("profiles", changed["position"])
    hidden = await LiveClient.open(http, ann.token)
    js = platform.infra.nc.jetstream()
    await inbox.deliver(js, bob.id, {"type": "marker"}, item_id=new_id())
    while (frame := await b.frame()).get("item", {}).get("type") != "marker":
        assert frame["type"] != "presence", frame
    status, shown = await bob.call("GET", f"/v1/users/{ann.id}/presence")
    assert (status, shown) == (200, {"online": None, "last_seen": None})
    await hidden.close()
    await b.close()
