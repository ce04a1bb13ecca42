"""Channel membership at scale: each person's membership of a channel is its own aggregate,
so any number of people join and leave one channel at once without conflicts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from core.ids import new_id
from handlers.chat.conversation import CONVERSATION
from handlers.chat.events import MembersAdded
from tests.e2e.chat.support import Person, person
from tests.support.auth import Tokens
from tests.support.identity import IdentityClient
from tests.support.platform import Platform

pytestmark = pytest.mark.usefixtures("signed_in")


async def _post(
    http: aiohttp.ClientSession, tokens: Tokens, user_id: str, path: str, method: str = "POST"
) -> tuple[int, Any]:
    async with http.request(method, path, headers=tokens.headers(user_id)) as resp:
        return resp.status, await resp.json(content_type=None)


def _latest(positions: list[str]) -> str:
    return max(positions, key=lambda p: int(p.split(":")[1]))


async def _channel(owner: Person, **extra: Any) -> str:
    status, created = await owner.start("channel", name="popular", **extra)
    assert status == 201, created
    return str(created["id"])


async def test_fifty_people_join_one_channel_at_once(
    client: IdentityClient, http: aiohttp.ClientSession, tokens: Tokens
) -> None:
    owner = await person(client)
    cid = await _channel(owner)
    people = [new_id() for _ in range(50)]
    answers = await asyncio.gather(
        *(_post(http, tokens, u, f"/v1/conversations/{cid}/join") for u in people)
    )
    assert [a[0] for a in answers] == [200] * 50, [a for a in answers if a[0] != 200][:3]
    after = _latest([a[1]["position"] for a in answers])
    # Joining again writes nothing: the answer is where the membership already is.
    again = await _post(http, tokens, people[0], f"/v1/conversations/{cid}/join")
    assert again[0] == 200
    assert int(again[1]["position"].split(":")[1]) <= int(after.split(":")[1])
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}", after=after)
    assert status == 200
    assert detail["conversation"]["member_count"] == 51
    for u in people[:5]:
        async with http.get(
            f"/v1/conversations/{cid}", headers=tokens.headers(u, **{"Quark-After": after})
        ) as resp:
            mine = await resp.json()
        assert mine["conversation"]["my_role"] == "member"
        assert mine["members"][u] == "member"


async def test_people_leave_and_join_one_channel_at_once(
    client: IdentityClient, http: aiohttp.ClientSession, tokens: Tokens
) -> None:
    owner = await person(client)
    cid = await _channel(owner)
    leavers, joiners = [new_id() for _ in range(20)], [new_id() for _ in range(20)]
    for u in leavers:
        status, _ = await _post(http, tokens, u, f"/v1/conversations/{cid}/join")
        assert status == 200
    answers = await asyncio.gather(
        *(
            _post(http, tokens, u, f"/v1/conversations/{cid}/members/{u}", "DELETE")
            for u in leavers
        ),
        *(_post(http, tokens, u, f"/v1/conversations/{cid}/join") for u in joiners),
    )
    assert [a[0] for a in answers] == [200] * 40
    after = _latest([a[1]["position"] for a in answers])
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}", after=after)
    assert detail["conversation"]["member_count"] == 21
    assert set(detail["members"]) == {owner.id, *joiners}
    # Whoever left themselves may come back.
    status, back = await _post(http, tokens, leavers[0], f"/v1/conversations/{cid}/join")
    assert status == 200
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}", after=back["position"])
    assert detail["conversation"]["member_count"] == 22


async def test_admins_remove_channel_members_who_then_stay_out_until_invited(
    client: IdentityClient,
) -> None:
    owner, admin, fan, other = [await person(client) for _ in range(4)]
    cid = await _channel(owner, everyone_posts=True)
    for p in (admin, fan, other):
        status, _ = await p.call("POST", f"/v1/conversations/{cid}/join")
        assert status == 200
    # Roles are given to people who joined (their membership is not the conversation's).
    status, _ = await owner.call(
        "PUT", f"/v1/conversations/{cid}/members/{admin.id}/role", {"role": "admin"}
    )
    assert status == 200
    status, detail = await fan.call("GET", f"/v1/conversations/{cid}")
    assert detail["members"][admin.id] == "admin"
    assert detail["conversation"]["member_count"] == 4
    # Ownership goes to an admin, never straight to someone who only joined.
    status, problem = await owner.call(
        "PUT", f"/v1/conversations/{cid}/members/{fan.id}/role", {"role": "owner"}
    )
    assert status == 422 and problem["type"] == "quark:bad-membership"
    # A member removes nobody; an admin removes members.
    status, problem = await fan.call("DELETE", f"/v1/conversations/{cid}/members/{other.id}")
    assert status == 403 and problem["type"] == "quark:chat-not-allowed"
    status, _ = await admin.call("DELETE", f"/v1/conversations/{cid}/members/{fan.id}")
    assert status == 200
    status, problem = await fan.send(cid, "still here?")
    assert status == 403
    # A removed person does not come back by themselves ...
    status, problem = await fan.call("POST", f"/v1/conversations/{cid}/join")
    assert status == 403 and problem["type"] == "quark:removed-from-channel"
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}")
    assert fan.id not in detail["members"] and detail["conversation"]["member_count"] == 3
    # ... but an owner's or admin's invitation lets them back in.
    status, _ = await admin.call("POST", f"/v1/conversations/{cid}/members", {"members": [fan.id]})
    assert status == 200
    status, _ = await fan.send(cid, "back")
    assert status == 201
    # An admin may not remove another admin; the owner may, and demotes as well.
    status, _ = await owner.call(
        "PUT", f"/v1/conversations/{cid}/members/{other.id}/role", {"role": "admin"}
    )
    assert status == 200
    status, _ = await admin.call("DELETE", f"/v1/conversations/{cid}/members/{other.id}")
    assert status == 403
    status, _ = await owner.call(
        "PUT", f"/v1/conversations/{cid}/members/{admin.id}/role", {"role": "member"}
    )
    assert status == 200
    status, _ = await owner.call("DELETE", f"/v1/conversations/{cid}/members/{other.id}")
    assert status == 200
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}")
    assert detail["members"] == {owner.id: "owner", admin.id: "member", fan.id: "member"}
    assert detail["conversation"]["member_count"] == 3
    # An admin who left themselves comes back as a member, role gone.
    status, _ = await admin.call("DELETE", f"/v1/conversations/{cid}/members/{admin.id}")
    assert status == 200
    status, _ = await admin.call("POST", f"/v1/conversations/{cid}/join")
    assert status == 200
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}")
    assert detail["members"][admin.id] == "member"
    assert detail["conversation"]["member_count"] == 3
    # Roles are for members; a channel always has its owner.
    stranger = await person(client)
    status, problem = await owner.call(
        "PUT", f"/v1/conversations/{cid}/members/{stranger.id}/role", {"role": "admin"}
    )
    assert status == 422 and problem["type"] == "quark:bad-membership"
    status, problem = await owner.call("DELETE", f"/v1/conversations/{cid}/members/{owner.id}")
    assert status == 422 and problem["type"] == "quark:bad-membership"


async def test_joins_recorded_on_the_conversation_before_memberships_stay_valid(
    client: IdentityClient, platform: Platform
) -> None:
    owner, old, banned = [await person(client) for _ in range(3)]
    cid = await _channel(owner)
    # Two joins as they were recorded before memberships had aggregates of their own.
    store = platform.infra.store
    for p in (old, banned):
        loaded = await store.load(CONVERSATION, cid)
        result = await store.append(
            loaded.ref,
            loaded.seq,
            [MembersAdded(conversation_id=cid, members=[p.id], by=p.id, at=datetime.now(UTC))],
            command_id=new_id(),
            actor=p.id,
        )
    after = f"{result.stream}:{result.seq}"
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}", after=after)
    assert detail["conversation"]["member_count"] == 3
    # Joining again writes nothing; leaving clears the older join; coming back is a new one.
    status, again = await old.call("POST", f"/v1/conversations/{cid}/join", after=after)
    assert status == 200 and again["position"] == after
    status, _ = await old.call("DELETE", f"/v1/conversations/{cid}/members/{old.id}")
    assert status == 200
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}")
    assert set(detail["members"]) == {owner.id, banned.id}
    status, _ = await old.call("POST", f"/v1/conversations/{cid}/join")
    assert status == 200
    # Someone removed by the owner stays out, whichever aggregate held their join.
    status, _ = await owner.call("DELETE", f"/v1/conversations/{cid}/members/{banned.id}")
    assert status == 200
    status, problem = await banned.call("POST", f"/v1/conversations/{cid}/join")
    assert status == 403 and problem["type"] == "quark:removed-from-channel"
    status, detail = await owner.call("GET", f"/v1/conversations/{cid}")
    assert detail["members"] == {owner.id: "owner", old.id: "member"}
    assert detail["conversation"]["member_count"] == 2
