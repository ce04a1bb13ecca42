"""Who is told live of a person's presence (`projections.chat.watchers`): the partners of
their direct conversations, as the chat, follows and profiles read models say."""

from __future__ import annotations

from core.bootstrap import Infra
from projections.chat import watchers
from tests.e2e.presence.support import Someone, someone
from tests.support.identity import IdentityClient
from tests.support.platform import Platform


async def _direct(starter: Someone, other: Someone, *, message: str | None) -> str:
    """A direct conversation (with a first message, or none): the chat commit's position."""
    status, started, _ = await starter.call(
        "POST", "/v1/conversations", {"kind": "direct", "members": [other.id]}
    )
    assert status == 201, started
    if message is None:
        return str(started["position"])
    status, sent, _ = await starter.call(
        "POST", f"/v1/conversations/{started['id']}/messages", {"body": message}
    )
    assert status == 201, sent
    return str(sent["position"])


async def test_direct_partners_watch_a_person_unless_blocked_or_hidden_from(
    client: IdentityClient, platform: Platform, infra: Infra
) -> None:
    ann, bob, cy, dee, eve = [await someone(client, platform) for _ in range(5)]
    # Bob and Ann talk; Ann wrote to Eve; Ann opened a conversation with Cy, still empty.
    positions = [
        await _direct(ann, bob, message="hi Bob"),
        await _direct(ann, eve, message="hi Eve"),
        await _direct(ann, cy, message=None),
    ]
    # Dee shares only a group with Ann: groups do not carry presence.
    status, group, _ = await ann.call(
        "POST", "/v1/conversations", {"kind": "group", "members": [dee.id], "name": "g"}
    )
    assert status == 201, group
    for position in [*positions, group["position"]]:
        await platform.wait("chat", position)
    # Cy has not been written to: Cy does not see the conversation, so is not told of Ann;
    # Ann, who opened it, is told of Cy.
    assert await watchers(infra.pool, ann.id) == sorted([bob.id, eve.id])
    assert await watchers(infra.pool, cy.id) == [ann.id]
    assert await watchers(infra.pool, bob.id) == [ann.id]
    assert await watchers(infra.pool, dee.id) == []
    # A block either way ends it for both.
    status, blocked, _ = await eve.call("POST", f"/v1/users/{ann.handle}/block")
    assert status == 200, blocked
    await platform.wait("follows", blocked["position"])
    assert await watchers(infra.pool, ann.id) == [bob.id]
    assert await watchers(infra.pool, eve.id) == []
    # Hidden presence: nobody is told; shown again: the partners are.
    hidden = await ann.hide()
    await platform.wait("profiles", hidden)
    assert await watchers(infra.pool, ann.id) == []
    assert await watchers(infra.pool, bob.id) == [ann.id]  # hiding is not unwatching
    shown = await ann.hide(False)
    await platform.wait("profiles", shown)
    assert await watchers(infra.pool, ann.id) == [bob.id]
