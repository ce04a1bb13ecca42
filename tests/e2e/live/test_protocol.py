"""The live channel's protocol as a client sees it (docs/websocket.md): authentication by
the first frame, every kind of bad input answered by an error frame or a documented close
that changes nothing, resets, several sockets per person, and slow clients."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
import pytest

from core import inbox
from core.ids import new_id
from core.settings import Settings
from edge import live_connection
from edge.routes import live
from tests.e2e.live.test_websocket import auth_frame, connect, next_item, send
from tests.support.auth import Tokens
from tests.support.platform import Platform
from tests.support.processes import edge_process

pytestmark = pytest.mark.usefixtures("signed_in")


async def heads(platform: Platform) -> dict[str, int]:
    """The last sequence of every stream: what "nothing was written" compares."""
    js = platform.infra.nc.jetstream()
    return {info.config.name: info.state.last_seq for info in await js.streams_info()}


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server's close; its code."""
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code


async def test_ready_names_the_person_the_session_and_the_cursor(
    http: aiohttp.ClientSession, platform: Platform, signed_in: Tokens
) -> None:
    alice = new_id()
    token = signed_in.token(alice)
    claims = await signed_in.service.verify(token, int(time.time()))
    ws = await http.ws_connect("/v1/ws")
    await ws.send_json({"type": "auth", "token": token, "cursor": 0})
    ready = await ws.receive_json(timeout=5)
    assert ready == {"type": "ready", "user_id": alice, "session_id": claims.sid, "cursor": 0}
    await ws.close()


async def test_a_client_without_an_auth_frame_in_time_is_closed_4408(
    http: aiohttp.ClientSession, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "AUTH_DEADLINE_SECONDS", 0.2)
    ws = await http.ws_connect("/v1/ws")
    assert await closed_with(ws) == live_connection.CLOSE_AUTH_TIMEOUT


@pytest.mark.parametrize(
    "first",
    [
        '{"type": "ping"}',
        "{not json",
        '{"type": "auth"}',
        '{"type": "auth", "token": ""}',
        '{"type": "auth", "token": "t", "cursor": -1}',
        '{"type": "auth", "token": "t", "cursor": "12"}',
        '{"type": "auth", "token": "t", "extra": 1}',
        '["auth"]',
        b'{"type": "auth"}',
    ],
)
async def test_a_first_frame_that_is_not_a_valid_auth_is_closed_4400(
    http: aiohttp.ClientSession, platform: Platform, first: str | bytes
) -> None:
    before = await heads(platform)
    ws = await http.ws_connect("/v1/ws")
    await (ws.send_bytes(first) if isinstance(first, bytes) else ws.send_str(first))
    assert await closed_with(ws) == live_connection.CLOSE_BAD_FIRST_FRAME
    assert await heads(platform) == before


@pytest.mark.parametrize("token", ["not.a.token", "x" * 2000])
async def test_an_invalid_token_is_closed_4401(
    http: aiohttp.ClientSession, platform: Platform, token: str
) -> None:
    ws = await http.ws_connect("/v1/ws")
    await ws.send_json({"type": "auth", "token": token})
    assert await closed_with(ws) == live_connection.CLOSE_UNAUTHORIZED


async def test_a_handshake_authorization_header_is_not_enough(
    http: aiohttp.ClientSession,
    platform: Platform,
    signed_in: Tokens,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "AUTH_DEADLINE_SECONDS", 0.2)
    ws = await http.ws_connect("/v1/ws", headers=signed_in.headers(new_id()))
    assert await closed_with(ws) == live_connection.CLOSE_AUTH_TIMEOUT


async def test_a_cursor_ahead_of_the_inbox_is_closed_4422(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    ws = await http.ws_connect("/v1/ws")
    await ws.send_json(auth_frame(new_id(), cursor=2**62))
    assert await closed_with(ws) == live_connection.CLOSE_BAD_CURSOR


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad-frame"),
        ("42", "bad-frame"),
        ('{"kind": "ping"}', "bad-frame"),
        ('{"type": "ping", "extra": 1}', "bad-frame"),
        ('{"type": "shout"}', "unknown-type"),
        ('{"type": "send", "text": "hi"}', "bad-frame"),  # a known type, a wrong shape
        ('{"type": "typing"}', "bad-frame"),
        ('{"type": "edit", "id": "x"}', "unknown-type"),
        (b"\x00\x01", "bad-frame"),
        ('{"type": "auth", "token": "again"}', "already-authenticated"),
    ],
)
async def test_a_bad_frame_after_auth_is_answered_with_an_error_and_changes_nothing(
    http: aiohttp.ClientSession, platform: Platform, frame: str | bytes, code: str
) -> None:
    user = new_id()
    ws = await connect(http, user)
    before = await heads(platform)
    await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
    error = await ws.receive_json(timeout=5)
    assert (error["type"], error["code"]) == ("error", code), error
    assert await heads(platform) == before
    await ws.send_json({"type": "ping"})  # the connection carries on
    assert (await ws.receive_json(timeout=5)) == {"type": "pong"}
    sent = await send(platform, user, "still here")
    assert (await next_item(ws))["cursor"] == sent
    await ws.close()


async def test_an_oversized_frame_is_closed_1009(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    ws = await connect(http, new_id())
    before = await heads(platform)
    await ws.send_str(json.dumps({"type": "ping", "pad": "x" * live.MAX_CLIENT_FRAME}))
    assert await closed_with(ws) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert await heads(platform) == before


async def test_a_flood_of_frames_gets_an_error_then_a_4429_close(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    ws = await connect(http, new_id())
    before = await heads(platform)
    for _ in range(live_connection.FRAME_BURST + live_connection.FLOOD_STRIKES + 20):
        await ws.send_json({"type": "ping"})
    frames = []
    while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
        frames.append(json.loads(msg.data))
    assert ws.close_code == live_connection.CLOSE_FLOOD
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["rate-limited"]
    assert len([f for f in frames if f["type"] == "pong"]) >= live_connection.FRAME_BURST
    assert await heads(platform) == before
    async with http.get("/metrics") as resp:
        assert 'quark_websocket_closes_total{code="4429"}' in await resp.text()


async def test_a_person_connected_twice_gets_every_item_on_both_sockets(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    user = new_id()
    phone, laptop = await connect(http, user), await connect(http, user)
    sent = [await send(platform, user, f"both {i}") for i in range(3)]
    for ws in (phone, laptop):
        assert [(await next_item(ws))["cursor"] for _ in sent] == sent
        await ws.close()


async def test_a_person_connected_to_two_edge_processes_gets_every_item_on_both(
    http: aiohttp.ClientSession, platform: Platform, settings: Settings
) -> None:
    user = new_id()
    here = await connect(http, user)
    async with edge_process(settings) as edge, aiohttp.ClientSession(edge.base_url) as other:
        there = await connect(other, user)
        sent = [await send(platform, user, f"everywhere {i}") for i in range(3)]
        for ws in (here, there):
            assert [(await next_item(ws))["cursor"] for _ in sent] == sent
            await ws.close()


async def test_a_cursor_whose_items_were_purged_gets_a_reset_then_what_is_kept(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    user = new_id()
    seen = await send(platform, user, "seen")
    await send(platform, user, "dropped")
    kept = await send(platform, user, "kept")
    js = platform.infra.nc.jetstream()
    await js.purge_stream(inbox.STREAM, subject=inbox.subject(user), seq=kept)
    ws = await connect(http, user, cursor=seen)
    reset = await ws.receive_json(timeout=5)
    assert reset["type"] == "reset" and reset["reason"] == "cursor-expired"
    assert seen <= reset["cursor"] < kept
    item = await next_item(ws)
    assert (item["cursor"], item["item"]["text"]) == (kept, "kept")
    await ws.close()


async def test_a_cursor_whose_items_are_all_kept_gets_no_reset(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    user = new_id()
    seen = await send(platform, user, "seen")
    await send(platform, new_id(), "someone else")
    nxt = await send(platform, user, "next")
    ws = await connect(http, user, cursor=seen)
    assert (await next_item(ws))["cursor"] == nxt
    await ws.close()


async def test_a_client_that_stops_reading_is_closed_with_its_cursor_and_resumes_gapless(
    http: aiohttp.ClientSession, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_connection, "MAX_QUEUED_FRAMES", 16)
    user = new_id()
    ws = await connect(http, user)
    sock = ws.get_extra_info("socket")
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVBUF, 65536
    )  # no autotuned MiBs of kernel buffer
    pad = "x" * 8192
    sent = [await send(platform, user, f"{i} {pad}") for i in range(400)]
    # Not reading, the client lets the server's queue fill: it is closed as too slow.
    got = []
    while (msg := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
        got.append(json.loads(msg.data)["cursor"])
    assert ws.close_code == live_connection.CLOSE_TOO_SLOW
    assert len(got) < len(sent)
    reason = json.loads(msg.extra)
    assert reason == {"reason": "too-slow", "cursor": got[-1]}
    ws = await connect(http, user, cursor=reason["cursor"])
    while len(got) < len(sent):
        got.append((await next_item(ws))["cursor"])
    assert got == sent
    await ws.close()


async def test_heartbeats_are_websocket_pings(
    http: aiohttp.ClientSession, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.1)
    ws = await http.ws_connect("/v1/ws", autoping=False)
    await ws.send_json(auth_frame(new_id()))
    # The heartbeat runs from the upgrade, so on a busy machine a ping may come
    # before the answer to the auth frame: skip those, then expect another.
    while (first := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.PING:
        pass
    assert first.type == aiohttp.WSMsgType.TEXT
    assert json.loads(first.data)["type"] == "ready"
    assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.PING
    await asyncio.wait_for(ws.close(), 5)
