"""Roles: the first admin from the console, roles in tokens, authorisation in the handlers."""

from __future__ import annotations

import pytest

from core.errors import RemoteError
from core.settings import Settings
from handlers.accounts.commands import GrantRole
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient, new_phone
from tests.support.log import head_position
from tests.support.platform import Platform


async def _post(client: IdentityClient, token: str) -> str:
    status, body, _ = await client.post("/v1/posts", {"title": "t", "body": "b"}, token)
    assert status == 201, body
    return body["id"]


async def test_only_the_author_or_a_moderator_changes_a_post(
    client: IdentityClient,
    platform: Platform,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    author = await client.sign_up()
    other = await client.sign_up()
    post_id = await _post(client, author["access_token"])
    edit = {"title": "changed"}
    hdrs = {"Authorization": f"Bearer {other['access_token']}"}
    async with client.http.patch(f"/v1/posts/{post_id}", json=edit, headers=hdrs) as resp:
        assert resp.status == 403

    use_settings(monkeypatch, settings)
    assert await run_quark("admin", "grant", other["phone"], "moderator", "--reason", "t") == 0
    assert await run_quark("admin", "grant", new_phone(), "moderator") == 1  # nobody has it

    # Roles travel in access tokens: the next refresh carries the new one.
    status, refreshed, _ = await client.post(
        "/v1/auth/refresh", {"refresh_token": other["refresh_token"]}
    )
    assert status == 200
    hdrs = {"Authorization": f"Bearer {refreshed['access_token']}"}
    async with client.http.patch(f"/v1/posts/{post_id}", json=edit, headers=hdrs) as resp:
        assert resp.status == 200, await resp.text()
    async with client.http.delete(f"/v1/posts/{post_id}", headers=hdrs) as resp:
        assert resp.status == 200
    # And it is in the moderator's security log, with who did it and why.
    position = await head_position(platform.infra, "ACCOUNTS")
    status, log = await client.get(
        "/v1/me/security-log", refreshed["access_token"], **{"Quark-After": position}
    )
    granted = [e for e in log["items"] if e["kind"] == "role-granted"]
    assert granted and granted[0]["detail"] == {"role": "moderator", "by": "system", "reason": "t"}


async def test_granting_roles_needs_the_permission(
    client: IdentityClient, platform: Platform
) -> None:
    person = await client.sign_up()
    bus = platform.infra.bus
    for roles in (frozenset({"user"}), frozenset({"user", "moderator"})):
        with pytest.raises(RemoteError) as info:
            await bus.send(
                GrantRole(user_id=person["user_id"], role="admin"),
                actor=person["user_id"],
                roles=roles,
            )
        assert info.value.status == 403 and info.value.code == "permission-denied"
    with pytest.raises(RemoteError) as info:
        await bus.send(
            GrantRole(user_id=person["user_id"], role="emperor"), actor=None, roles={"admin"}
        )
    assert info.value.status == 422
    reply = await bus.send(
        GrantRole(user_id=person["user_id"], role="moderator"), actor=None, roles={"admin"}
    )
    assert reply.result == {"roles": ["user", "moderator"]}
