"""The live channel as a client sees it: items with cursors, resume without gaps, only
one's own items."""

from __future__ import annotations

import time

import aiohttp
import pytest

from core import inbox
from core.access import publish_revocations
from core.ids import new_id
from edge import live_connection
from edge.routes import live
from tests.support.auth import Tokens, as_user
from tests.support.platform import Platform

ALICE = new_id()
BOB = new_id()


pytestmark = pytest.mark.usefixtures("signed_in")


def auth_frame(user: str, cursor: int | None = None) -> dict:
    token = as_user(user)["Authorization"].removeprefix("Bearer ")
    return {"type": "auth", "token": token} | ({} if cursor is None else {"cursor": cursor})


async def connect(
    http: aiohttp.ClientSession, user: str, cursor: int | None = None
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect("/v1/ws")
    await ws.send_json(auth_frame(user, cursor))
    ready = await ws.receive_json(timeout=5)
    assert ready["type"] == "ready", ready
    return ws


async def send(platform: Platform, user: str, text: str) -> int:
    js = platform.infra.nc.jetstream()
    return await inbox.deliver(js, user, {"type": "note", "text": text}, item_id=new_id())


async def next_item(ws: aiohttp.ClientWebSocketResponse) -> dict:
    frame = await ws.receive_json(timeout=5)
    assert frame["type"] == "item", frame
    return frame


async def test_items_arrive_live_with_increasing_cursors(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    ws = await connect(http, ALICE)
    sent = [await send(platform, ALICE, f"hello {i}") for i in range(3)]
    got = [await next_item(ws) for _ in range(3)]
    assert [g["cursor"] for g in got] == sent
    assert [g["item"]["text"] for g in got] == ["hello 0", "hello 1", "hello 2"]
    await ws.send_json({"type": "ping"})
    assert (await ws.receive_json(timeout=5))["type"] == "pong"
    await ws.close()


async def test_a_client_resuming_from_its_cursor_gets_what_it_missed_then_live(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    ws = await connect(http, ALICE)
    await send(platform, ALICE, "seen")
    last = (await next_item(ws))["cursor"]
    await ws.close()

    missed = [await send(platform, ALICE, f"missed {i}") for i in range(2)]
    await send(platform, BOB, "not for alice")

    ws = await connect(http, ALICE, cursor=last)
    assert [(await next_item(ws))["cursor"] for _ in missed] == missed
    live = await send(platform, ALICE, "live")
    item = await next_item(ws)
    assert (item["cursor"], item["item"]["text"]) == (live, "live")
    await ws.close()


async def test_nobody_receives_another_persons_items(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    bob = await connect(http, BOB, cursor=0)
    await send(platform, ALICE, "private to alice")
    mine = await send(platform, BOB, "for bob")
    item = await next_item(bob)
    assert (item["cursor"], item["item"]["text"]) == (mine, "for bob")
    await bob.close()


async def test_a_cursor_past_what_was_kept_is_reported_as_a_reset(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    first = await send(platform, ALICE, "old")
    await platform.infra.nc.jetstream().purge_stream(inbox.STREAM)  # as if max_age removed it
    await send(platform, ALICE, "new")
    ws = await connect(http, ALICE, cursor=first - 1)
    assert (await ws.receive_json(timeout=5))["type"] == "reset"
    assert (await next_item(ws))["item"]["text"] == "new"
    await ws.close()


@pytest.mark.parametrize(
    "params", [{"access_token": "not.a.token"}, {"cursor": "1"}], ids=["token", "cursor"]
)
async def test_a_handshake_with_a_query_is_refused_before_the_upgrade(
    http: aiohttp.ClientSession, params: dict
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect("/v1/ws", params=params)
    assert info.value.status == 400
    async with http.get("/v1/ws", params=params) as resp:
        assert (await resp.json())["type"] == "quark:websocket-query"


async def test_an_item_delivered_while_the_session_starts_is_not_lost(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """An item is either covered by the `ready` cursor (the client's state fetched after
    connecting holds it) or delivered on the socket: never neither."""
    for attempt in range(5):  # the window is small: probe it several times
        ws = await http.ws_connect("/v1/ws")
        await ws.send_json(auth_frame(ALICE))
        sent = await send(platform, ALICE, f"during start {attempt}")
        ready = await ws.receive_json(timeout=5)
        assert ready["type"] == "ready"
        if sent > ready["cursor"]:
            item = await next_item(ws)
            assert (item["cursor"], item["item"]["text"]) == (sent, f"during start {attempt}")
        await ws.close()


async def test_a_socket_of_an_ended_session_is_closed(
    http: aiohttp.ClientSession,
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    signed_in: Tokens,
) -> None:
    monkeypatch.setattr(live, "SESSION_CHECK_SECONDS", 0.05)
    token = signed_in.token(ALICE)
    claims = await signed_in.service.verify(token, int(time.time()))
    ws = await http.ws_connect("/v1/ws")
    await ws.send_json({"type": "auth", "token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "ready"
    infra = platform.infra
    await publish_revocations(infra.nc.jetstream(), ALICE, [claims.sid])
    closing = await ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == live_connection.CLOSE_UNAUTHORIZED
