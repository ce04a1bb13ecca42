"""Administration through HTTP: the authorisation matrix, roles, suspension, the user list."""

from __future__ import annotations

from tests.support.identity import IdentityClient, WithRole
from tests.support.platform import Platform


async def test_the_authorisation_matrix(client: IdentityClient, with_role: WithRole) -> None:
    user = await client.sign_up()
    moderator = await with_role("moderator")
    target = await client.sign_up()
    grant = (
        "POST",
        f"/v1/admin/users/{target['user_id']}/roles",
        {"role": "moderator", "reason": "r"},
    )
    suspend = ("POST", f"/v1/admin/users/{target['user_id']}/suspend", {"reason": "r"})
    listing = ("GET", "/v1/admin/users", None)
    for method, path, body in (grant, suspend, listing):
        status, problem = await client.call(method, path, user["access_token"], body)
        assert status == 403 and problem["type"] == "quark:permission-denied", (path, problem)
    # A moderator may see the list, not grant roles nor suspend.
    for method, path, body in (grant, suspend):
        status, problem = await client.call(method, path, moderator["access_token"], body)
        assert status == 403, (path, problem)
    status, page = await client.call(*listing[:2], moderator["access_token"])
    assert status == 200 and isinstance(page["items"], list)
    # Without a token: 401 everywhere.
    async with client.http.get("/v1/admin/users") as resp:
        assert resp.status == 401


async def test_an_admin_grants_revokes_suspends_and_lifts(
    client: IdentityClient,
    platform: Platform,
    with_role: WithRole,
) -> None:
    admin = await with_role("admin")
    target = await client.sign_up(name="Target Person")
    uid = target["user_id"]
    token = admin["access_token"]

    status, granted = await client.call(
        "POST",
        f"/v1/admin/users/{uid}/roles",
        token,
        {"role": "moderator", "reason": "helps"},
    )
    assert status == 200 and granted["roles"] == ["user", "moderator"]
    status, listed = await client.get(
        "/v1/admin/users?role=moderator", token, **{"Quark-After": granted["position"]}
    )
    assert [u["id"] for u in listed["items"]] == [uid]
    status, revoked = await client.call(
        "DELETE", f"/v1/admin/users/{uid}/roles/moderator?reason=done", token
    )
    assert status == 200 and revoked["roles"] == ["user"]

    # Suspension: the token stops working on the next request; signing in gives only a
    # restricted session, refused (403 account-suspended) beyond what it may still do.
    status, _ = await client.get("/v1/auth/sessions", target["access_token"])
    assert status == 200
    status, suspended = await client.call(
        "POST", f"/v1/admin/users/{uid}/suspend", token, {"reason": "spam"}
    )
    assert status == 200 and suspended["suspended"] is True
    assert suspended["suspended_until"] is None  # indefinitely
    status, _ = await client.get("/v1/auth/sessions", target["access_token"])
    assert status == 401
    status, restricted = await client.log_in(target["phone"])
    assert status == 200 and restricted["restricted"] is True
    status, refused = await client.get("/v1/notifications", restricted["access_token"])
    assert status == 403 and refused["type"] == "quark:account-suspended"
    assert refused["suspended_until"] is None
    status, _ = await client.get("/v1/auth/sessions", restricted["access_token"])
    assert status == 200
    status, _, _ = await client.post("/v1/auth/refresh", {"refresh_token": target["refresh_token"]})
    assert status == 401
    status, listed = await client.get(
        "/v1/admin/users?suspended=true", token, **{"Quark-After": suspended["position"]}
    )
    assert [u["id"] for u in listed["items"]] == [uid]

    status, lifted = await client.call(
        "POST", f"/v1/admin/users/{uid}/unsuspend", token, {"reason": "appeal granted"}
    )
    assert status == 200 and lifted["suspended"] is False
    status, back = await client.log_in(target["phone"])
    assert status == 200
    # Every admin action is in the person's security log, with who and why.
    status, log = await client.get(
        "/v1/me/security-log", back["access_token"], **{"Quark-After": lifted["position"]}
    )
    entries = {e["kind"]: e["detail"] for e in log["items"]}
    assert entries["suspended"] == {"by": admin["user_id"], "reason": "spam"}
    assert entries["unsuspended"] == {"by": admin["user_id"], "reason": "appeal granted"}
    assert entries["role-revoked"] == {
        "role": "moderator",
        "by": admin["user_id"],
        "reason": "done",
    }


async def test_admin_input_is_checked(client: IdentityClient, with_role: WithRole) -> None:
    admin = await with_role("admin")
    target = await client.sign_up()
    token = admin["access_token"]
    uid = target["user_id"]
    for method, path, body, status_wanted in (
        ("POST", f"/v1/admin/users/{uid}/roles", {"role": "emperor", "reason": "r"}, 422),
        ("POST", f"/v1/admin/users/{uid}/roles", {"role": "moderator"}, 422),
        ("POST", f"/v1/admin/users/{uid}/suspend", {"reason": ""}, 422),
        ("POST", f"/v1/admin/users/{uid}/suspend", {"reason": "   "}, 422),
        ("POST", f"/v1/admin/users/{admin['user_id']}/suspend", {"reason": "me"}, 422),
        (
            "POST",
            "/v1/admin/users/0192f0a0-0000-7000-8000-00000000abcd/suspend",
            {"reason": "r"},
            404,
        ),
        ("POST", "/v1/admin/users/not-an-id/suspend", {"reason": "r"}, 404),
        ("DELETE", f"/v1/admin/users/{uid}/roles/moderator", None, 422),
        ("GET", "/v1/admin/users?suspended=maybe", None, 422),
        ("GET", "/v1/admin/users?limit=0", None, 422),
    ):
        status, problem = await client.call(method, path, token, body)
        assert status == status_wanted, (method, path, body, problem)
