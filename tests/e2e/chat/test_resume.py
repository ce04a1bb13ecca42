"""Gapless resume across an edge's death: what a client missed while away comes from the
stream, whichever edge process it reconnects to."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core.ids import new_id
from core.settings import Settings
from tests.e2e.chat.support import group, person
from tests.support.auth import Tokens
from tests.support.identity import IdentityClient
from tests.support.live import LiveClient
from tests.support.log import head_position
from tests.support.platform import Platform
from tests.support.processes import edge_process

pytestmark = [pytest.mark.usefixtures("signed_in"), pytest.mark.timeout(300)]

MISSED = 500
CHANNEL_MEMBERS = 1000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two people send 500 messages within the minute: room for them under the quota."""
    return settings.with_(perks_quota_scale=100.0)


async def test_a_client_resumes_500_missed_messages_on_another_edge_after_its_edge_died(
    client: IdentityClient,
    http: aiohttp.ClientSession,
    tokens: Tokens,
    settings: Settings,
    platform: Platform,
) -> None:
    ann, bob, cy = await person(client), await person(client), await person(client)
    status, dm = await bob.start("direct", [ann])
    assert status == 201, dm
    gid = await group(cy, [ann, bob])
    status, channel = await bob.start("channel", name="a thousand")
    assert status == 201, channel
    cid = channel["id"]
    status, _ = await ann.call("POST", f"/v1/conversations/{cid}/join")
    assert status == 200
    others = [new_id() for _ in range(CHANNEL_MEMBERS - 2)]

    async def join(user_id: str) -> None:
        headers = tokens.headers(user_id)
        async with http.post(f"/v1/conversations/{cid}/join", headers=headers) as resp:
            assert resp.status == 200, await resp.text()

    for chunk in range(0, len(others), 25):
        await asyncio.gather(*(join(u) for u in others[chunk : chunk + 25]))
    # Others joined: Bob reads the channel once the read model has every join.
    await platform.wait("chat", await head_position(platform.infra, "CHAT"))
    status, detail = await bob.call("GET", f"/v1/conversations/{cid}")
    assert detail["conversation"]["member_count"] == CHANNEL_MEMBERS

    async with edge_process(settings) as edge, aiohttp.ClientSession(edge.base_url) as there:
        first = await LiveClient.open(there, ann.token)
        status, _ = await bob.send(dm["id"], "before")
        assert status == 201
        seen = await first.item(type="message.new")
        assert seen["message"]["body"] == "before"
        cursor = first.cursor
        await first.close()

        # Away: 500 messages in a direct conversation, a group and the channel, interleaved.
        targets = [(bob, dm["id"]), (cy, gid), (bob, cid)]
        sent = []
        for i in range(MISSED):
            who, conversation = targets[i % 3]
            text = f"missed {i}"
            status, answer = await who.send(conversation, text)
            assert status == 201, answer
            sent.append(text)
        # Its edge dies (no goodbye) and comes back.
        edge.kill()
        await edge.proc.wait()  # type: ignore[union-attr]
        await edge.start()
        await edge.wait_ready()

    # It resumes on another edge process (this test's own) with its cursor.
    back = await LiveClient.open(http, ann.token, cursor)
    assert back.ready["cursor"] == cursor
    got = [(await back.item(type="message.new"))["message"]["body"] for _ in range(MISSED)]
    assert got == sent  # every one, in order, none twice
    status, _ = await bob.send(cid, "live again")
    assert status == 201
    assert (await back.item(type="message.new"))["message"]["body"] == "live again"
    await back.close()
