"""`quark replay chat` rebuilds the chat read model from the log into the same answers:
conversation lists with their unread and mention counts, histories with tombstones, edit
histories, members and roles, mutes and read receipts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.projection_worker import sink_for
from core.settings import Settings
from projections import projections
from tests.e2e.chat.support import Person, group, person
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.platform import Platform


async def _seen(people: list[Person], conversations: list[str], after: str) -> str:
    parts: dict[str, Any] = {}
    for p in people:
        parts[p.id] = [await p.call("GET", "/v1/conversations?limit=100", after=after)]
        for cid in conversations:
            status, page = await p.call(
                "GET", f"/v1/conversations/{cid}/messages?limit=100", after=after
            )
            details = []
            if status == 200:
                for m in page["items"]:
                    details.append(
                        await p.call(
                            "GET", f"/v1/conversations/{cid}/messages/{m['id']}", after=after
                        )
                    )
            parts[p.id].append(
                [
                    status,
                    page,
                    details,
                    await p.call("GET", f"/v1/conversations/{cid}", after=after),
                ]
            )
    return json.dumps(parts, sort_keys=True)


async def test_replaying_the_chat_read_model_gives_the_same_answers(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ann, bob, cy = [await person(client) for _ in range(3)]
    status, _ = await bob.call("PATCH", "/v1/me", {"handle": f"r_{bob.id[:8]}"})
    assert status == 200
    status, dm = await ann.start("direct", [bob])
    assert status == 201
    gid = await group(ann, [bob, cy], "replayed")
    status, channel = await ann.start("channel", name="news")
    assert status == 201
    status, _ = await cy.call("POST", f"/v1/conversations/{channel['id']}/join")
    sent = []
    for where, who, text in (
        (dm["id"], ann, "hi"),
        (dm["id"], bob, "hello"),
        (gid, cy, f"ping @r_{bob.id[:8]}"),
        (gid, ann, "to be edited"),
        (gid, bob, "to be deleted"),
        (channel["id"], ann, "news"),
    ):
        status, message = await who.send(where, text)
        assert status == 201, message
        sent.append(message)
    status, _ = await ann.call(
        "PATCH", f"/v1/conversations/{gid}/messages/{sent[3]['id']}", {"body": "edited"}
    )
    assert status == 200
    status, _ = await bob.call("DELETE", f"/v1/conversations/{gid}/messages/{sent[4]['id']}")
    assert status == 200
    status, _ = await ann.call(
        "PUT", f"/v1/conversations/{gid}/members/{bob.id}/role", {"role": "admin"}
    )
    status, _ = await ann.call("DELETE", f"/v1/conversations/{gid}/members/{cy.id}")
    assert status == 200
    status, _ = await bob.call(
        "POST", f"/v1/conversations/{dm['id']}/read", {"up_to": sent[0]["id"]}
    )
    assert status == 200
    status, _ = await bob.call("PUT", f"/v1/conversations/{gid}/mute", {})
    assert status == 200
    status, _ = await ann.call(
        "PUT", f"/v1/conversations/{dm['id']}/mute", {"until": "2999-01-01T00:00:00Z"}
    )
    assert status == 200
    head = await head_position(platform.infra, "CHAT")
    await platform.wait("chat", head)
    before = await _seen([ann, bob, cy], [dm["id"], gid, channel["id"]], head)

    sink = sink_for(projections()["chat"], platform.infra)
    old = await sink.active_build()
    use_settings(monkeypatch, settings)
    assert await run_quark("replay", "chat") == 0
    new = await sink.active_build()
    assert old is not None and new is not None and new[0] > old[0]
    after = await _seen([ann, bob, cy], [dm["id"], gid, channel["id"]], head)
    assert after == before
