"""Every route that needs a permission, walked as each role (the route table is the list,
so a route added later is walked too): a moderator reaches none of the admins' operations
and a user none of the moderators' or the admins', each answered 403 `permission-denied`
before anything is read or written, and without a token 401."""

from __future__ import annotations

import re

from core.permissions import allowed
from edge.app import all_routes
from tests.support.identity import IdentityClient, WithRole

#: Any syntactically valid id: the permission is checked before the path is looked up.
_ANY_ID = "0190e4c2-0000-7000-8000-000000000001"


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", _ANY_ID, template)


async def test_no_role_reaches_the_operations_of_a_stronger_one(
    client: IdentityClient, with_role: WithRole
) -> None:
    guarded = [r for r in all_routes() if r.permission is not None]
    assert {r.permission for r in guarded} >= {"moderation.act", "moderation.audit", "users.manage"}
    tokens = {
        "user": (await client.sign_up())["access_token"],
        "moderator": (await with_role("moderator"))["access_token"],
    }
    refused = 0
    for role, token in tokens.items():
        for route in guarded:
            assert route.permission is not None
            if allowed({role}, route.permission):
                continue
            body = None if route.method in ("GET", "DELETE") else {}
            status, problem = await client.call(route.method, _path(route.path), token, body)
            assert (status, problem["type"]) == (403, "quark:permission-denied"), (role, route.path)
            refused += 1
            async with client.http.request(route.method, _path(route.path)) as resp:
                assert resp.status == 401, route.path
    # The moderators' queue and decisions are out of users' reach; the log, roles, people
    # and statistics out of moderators'.
    assert refused >= 15
