"""Administration: roles, suspension (until a time, or indefinitely), VIP, the user list with
each account's standing. Every change names its reason and is an event with the acting
admin; the handlers check the permissions again inside `decide`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web

from core.commands import CommandReply
from core.errors import FieldError, ValidationError
from core.ids import is_uuid
from core.text import MULTILINE
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, infra, wait_for_position
from edge.cursors import BadCursor
from edge.params import IntQuery, query_text
from edge.routes.profiles import ACTIVITY_CURSOR, ACTIVITY_LIMIT, ActivityPage, activity_of
from edge.routing import Param, Route
from handlers.accounts.commands import (
    GrantRole,
    GrantVip,
    RevokeRole,
    SuspendAccount,
    UnsuspendAccount,
)
from handlers.accounts.errors import AccountNotFound, UnknownRole
from projections import profiles as model

_encoder = msgspec.json.Encoder()
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=MULTILINE)]
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class RoleBody(msgspec.Struct, forbid_unknown_fields=True):
    role: RoleName
    reason: Reason


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class SuspendBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    #: When the suspension ends by itself (RFC 3339 with an offset, in the future); left
    #: out: indefinitely. Suspending a suspended account again replaces its end.
    until: datetime | None = None


class VipBody(msgspec.Struct, forbid_unknown_fields=True):
    until: datetime
    reason: Reason


class VipChanged(msgspec.Struct):
    id: str
    vip_until: datetime
    position: str


class RolesChanged(msgspec.Struct):
    id: str
    roles: list[str]
    position: str


class StatusChanged(msgspec.Struct):
    id: str
    suspended: bool
    position: str
    #: With `suspended`: when it ends (null: indefinitely).
    suspended_until: datetime | None = None


class AdminUser(msgspec.Struct):
    id: str
    handle: str | None
    display_name: str
    roles: list[str]
    #: Suspended now (a suspension whose end has passed is over).
    suspended: bool
    created_at: datetime | None
    #: With `suspended`: when it ends (null: indefinitely).
    suspended_until: datetime | None
    #: Limited by a moderator's decision: their posts reach only their followers.
    limited: bool
    #: VIP until then (a time passed: VIP no more; null: never granted).
    vip_until: datetime | None = None


class AdminUserPage(msgspec.Struct):
    items: list[AdminUser]
    next_before: str | None


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def _user_id(request: web.Request) -> str:
    user_id = request.match_info["user_id"]
    if not is_uuid(user_id):
        raise AccountNotFound()
    return user_id


async def grant_role(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = _user_id(request)
    body = await read_json(request, RoleBody, max_bytes=4096)
    reply = await send_as(
        request, GrantRole(user_id=user_id, role=body.role, reason=body.reason), who
    )
    result = reply.result or {}
    return _json(
        200,
        RolesChanged(user_id, result.get("roles", []), reply.position or ""),
        command_headers(reply),
    )


async def revoke_role(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = _user_id(request)
    reason = query_text(request, "reason", max_length=500)
    if not reason:
        raise ValidationError("say why", errors=[FieldError("reason", "1-500 characters")])
    role = request.match_info["role"][:32]
    reply = await send_as(request, RevokeRole(user_id=user_id, role=role, reason=reason), who)
    result = reply.result or {}
    return _json(
        200,
        RolesChanged(user_id, result.get("roles", []), reply.position or ""),
        command_headers(reply),
    )


def _status(user_id: str, reply: CommandReply) -> web.Response:
    result = reply.result or {}
    ends = result.get("suspended_until")
    status = StatusChanged(
        user_id,
        bool(result.get("suspended")),
        reply.position or "",
        datetime.fromisoformat(ends) if ends else None,
    )
    return _json(200, status, command_headers(reply))


async def suspend(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = _user_id(request)
    body = await read_json(request, SuspendBody, max_bytes=4096)
    command = SuspendAccount(user_id=user_id, reason=body.reason, until=body.until)
    return _status(user_id, await send_as(request, command, who))


async def unsuspend(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = _user_id(request)
    body = await read_json(request, ReasonBody, max_bytes=4096)
    command = UnsuspendAccount(user_id=user_id, reason=body.reason)
    return _status(user_id, await send_as(request, command, who))


async def grant_vip(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = _user_id(request)
    body = await read_json(request, VipBody, max_bytes=4096)
    reply = await send_as(
        request, GrantVip(user_id=user_id, until=body.until, reason=body.reason), who
    )
    until = datetime.fromisoformat((reply.result or {})["vip_until"])
    return _json(200, VipChanged(user_id, until, reply.position or ""), command_headers(reply))


async def user_activity(request: web.Request) -> web.Response:
    return await activity_of(request, _user_id(request))


def _flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ValidationError(f"{name} is true or false", errors=[FieldError(name, "true/false")])
    return raw == "true"


async def list_users(request: web.Request) -> web.Response:
    limit = _USERS_LIMIT.read(request)
    before = request.query.get("before")
    if before is not None and not is_uuid(before):
        raise ValidationError("before is a user id", errors=[FieldError("before", "a user id")])
    query = query_text(request, "query", max_length=64)
    await wait_for_position(request, "profiles")
    rows = await model.admin_list(
        infra(request).pool,
        query=query,
        role=query_text(request, "role", max_length=32),
        suspended=_flag(request, "suspended"),
        limited=_flag(request, "limited"),
        before=before,
        limit=limit,
    )
    items = [
        AdminUser(
            r.profile.user_id,
            r.profile.handle,
            r.profile.display_name,
            r.roles,
            r.profile.suspended,
            r.profile.created_at,
            r.profile.suspended_until,
            r.profile.limited,
            r.profile.vip_until,
        )
        for r in rows
    ]
    next_before = items[-1].id if len(items) == limit else None
    return _json(200, AdminUserPage(items, next_before))


_ID = Param("user_id", "path", "User id", {"type": "string", "format": "uuid"})
_USERS_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=200, default=50)

ROUTES: list[Route] = [
    Route("POST", "/v1/admin/users/{user_id}/roles", grant_role, "Grant a role (admins)",
          "admin", request=RoleBody, response=RolesChanged, auth="bearer",
          raises=(AccountNotFound, UnknownRole), params=(_ID,), permission="roles.grant"),
    Route("DELETE", "/v1/admin/users/{user_id}/roles/{role}", revoke_role,
          "Revoke a role (admins)", "admin", response=RolesChanged, auth="bearer",
          raises=(AccountNotFound, UnknownRole),
          params=(_ID, Param("role", "path", "user, moderator or admin"),
                  Param("reason", "query", "Why (kept in the security log)",
                        {"type": "string", "minLength": 1, "maxLength": 500}, required=True)),
          permission="roles.grant"),
    Route("POST", "/v1/admin/users/{user_id}/suspend", suspend,
          "Suspend an account until a time or indefinitely: every session ends at once, and "
          "signing in gives only a restricted session (admins)", "admin",
          request=SuspendBody, response=StatusChanged, auth="bearer", raises=(AccountNotFound,),
          params=(_ID,), permission="users.manage"),
    Route("POST", "/v1/admin/users/{user_id}/unsuspend", unsuspend,
          "Lift a suspension (admins)", "admin", request=ReasonBody, response=StatusChanged,
          auth="bearer", raises=(AccountNotFound,), params=(_ID,), permission="users.manage"),
    Route("POST", "/v1/admin/users/{user_id}/vip", grant_vip,
          "Grant or extend VIP until a time (admins)", "admin", request=VipBody,
          response=VipChanged, auth="bearer", raises=(AccountNotFound,), params=(_ID,),
          permission="users.manage"),
    Route("GET", "/v1/admin/users/{user_id}/activity", user_activity,
          "Anyone's activity history (admins)", "admin", response=ActivityPage,
          auth="bearer", after=True, raises=(AccountNotFound, BadCursor),
          params=(_ID, ACTIVITY_CURSOR, ACTIVITY_LIMIT.param),
          permission="users.manage"),
    Route("GET", "/v1/admin/users", list_users, "Accounts with filters (moderators, admins)",
          "admin", response=AdminUserPage, auth="bearer", after=True,
          params=(Param("query", "query", "Handle or name prefix", {"type": "string",
                                                                     "maxLength": 64}),
                  Param("role", "query", "Only accounts with this role",
                        {"type": "string", "maxLength": 32}),
                  Param("suspended", "query", "Suspended now: true or false",
                        {"type": "boolean"}),
                  Param("limited", "query", "Limited: true or false", {"type": "boolean"}),
                  Param("before", "query", "Page on from next_before",
                        {"type": "string", "format": "uuid"}),
                  _USERS_LIMIT.param),
          permission="users.view"),
]  # fmt: skip
