"""Roles and what they may do, in one table. Handlers call `require` inside `decide`:
authorisation is a domain rule, so it holds whichever edge, CLI or job sent the command.

The table is extensible: a new module adds its permissions to the roles that get them here.
"""

from __future__ import annotations

from typing import Final

from core.errors import ForbiddenError

USER: Final = "user"
MODERATOR: Final = "moderator"
ADMIN: Final = "admin"
#: Every role a person can hold, least powerful first.
ROLES: Final = (USER, MODERATOR, ADMIN)

_USER = frozenset({"posts.write", "account.manage_own"})
_MODERATOR = _USER | {"posts.moderate", "users.view", "moderation.act"}
_ADMIN = _MODERATOR | {
    "roles.grant",
    "users.manage",
    "categories.manage",
    "moderation.audit",
    # The platform's figures (`GET /v1/admin/stats`): how many sign up, post, report.
    "stats.read",
    # The station (the hub): its modules, health and dashboard; retrying dead letters.
    "station.view",
    "station.manage",
    # The server-wide word filter's rules (`/v1/admin/word-filters`): what every write of
    # every person is screened with, so admins only, not moderators.
    "moderation.rules",
}

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    USER: _USER,
    MODERATOR: _MODERATOR,
    ADMIN: _ADMIN,
}


class PermissionDenied(ForbiddenError):
    code = "permission-denied"
    title = "You are not allowed to do this"


def permissions_of(roles: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for role in roles:
        out |= PERMISSIONS.get(role, frozenset())
    return out


def allowed(roles: frozenset[str] | set[str] | tuple[str, ...], permission: str) -> bool:
    return permission in permissions_of(roles)


def require(roles: frozenset[str] | set[str] | tuple[str, ...], permission: str) -> None:
    """Raises `PermissionDenied` (403) unless one of `roles` grants `permission`."""
    if permission not in permissions_of(roles):
        raise PermissionDenied(f"needs the {permission} permission")
