"""What admins do to accounts: roles, suspensions (until a time, or indefinitely) and VIP;
and finding an account by phone (operator tools). Every change names its reason and its
admin, and checks the admin's permission again here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.access import publish_roles
from core.bootstrap import Infra
from core.bus import transact
from core.commands import CommandMeta, CommandReply, parse_position
from core.errors import FieldError, ValidationError
from core.ids import is_uuid
from core.permissions import require
from handlers.accounts.account import ACCOUNT, decide_role, decide_vip
from handlers.accounts.commands import (
    GrantRole,
    GrantVip,
    RevokeRole,
    SuspendAccount,
    UnsuspendAccount,
)
from handlers.accounts.common import (
    command_reply,
    hash_phone,
    normalise_phone,
    phone_claim_id,
    publish_ended_sessions,
)
from handlers.accounts.errors import AccountNotFound
from handlers.accounts.phone_claim import PHONE_CLAIM
from handlers.accounts.standing import decide_suspension, suspended_now, suspended_until


async def user_of_phone(infra: Infra, raw_phone: str) -> str:
    """The id of the account holding this phone number, or "" (operator tools)."""
    phone_hash = hash_phone(infra, normalise_phone(raw_phone))
    claim = await infra.store.load(PHONE_CLAIM, phone_claim_id(infra, phone_hash))
    return claim.state.user_id


# -- roles and suspensions ---------------------------------------------------------------------


async def _change_role(
    infra: Infra, command: GrantRole | RevokeRole, meta: CommandMeta, grant: bool
) -> CommandReply:
    require(meta.roles, "roles.grant")
    by = meta.actor or "system"
    outcome = await transact(
        infra.store,
        ACCOUNT,
        command.user_id,
        lambda state: decide_role(
            state,
            user_id=command.user_id,
            role=command.role,
            grant=grant,
            by=by,
            reason=command.reason,
            now=meta.received_at,
        ),
        meta,
    )
    # The change overrules the roles in the person's unexpired tokens from the next request
    # on, at every edge (a demoted admin's old token must not keep admin rights).
    _, version = parse_position(outcome.position)
    await publish_roles(infra.nc.jetstream(), command.user_id, outcome.state.roles, version)
    return command_reply(outcome, command.user_id, roles=outcome.state.roles)


async def grant_role(infra: Infra, command: GrantRole, meta: CommandMeta) -> CommandReply:
    return await _change_role(infra, command, meta, True)


async def revoke_role(infra: Infra, command: RevokeRole, meta: CommandMeta) -> CommandReply:
    return await _change_role(infra, command, meta, False)


def _utc(until: datetime) -> datetime:
    """An admin's `until`, in UTC; it must name its time zone."""
    if until.tzinfo is None:
        raise ValidationError("until needs a time zone", errors=[FieldError("until", "e.g. Z")])
    try:
        # Stored in UTC: 9999-12-31T23:59:59-23:59 is past what a datetime (and PostgreSQL)
        # holds, and the projections storing it dead-lettered the grant.
        return until.astimezone(UTC)
    except OverflowError:
        raise ValidationError(
            "until is out of range", errors=[FieldError("until", "before year 10000 in UTC")]
        ) from None


async def _suspension(
    infra: Infra, command: SuspendAccount | UnsuspendAccount, meta: CommandMeta, suspend: bool
) -> CommandReply:
    require(meta.roles, "users.manage")
    reason = command.reason.strip()
    if not reason:
        raise ValidationError("say why", errors=[FieldError("reason", "must not be blank")])
    if not is_uuid(command.user_id):
        raise AccountNotFound()
    if suspend and command.user_id == meta.actor:
        raise ValidationError("an admin cannot suspend themself")
    wanted = command.until if isinstance(command, SuspendAccount) else None
    until = _utc(wanted) if wanted is not None else None
    by = meta.actor or "system"
    outcome = await transact(
        infra.store,
        ACCOUNT,
        command.user_id,
        lambda state: decide_suspension(
            state,
            user_id=command.user_id,
            suspend=suspend,
            by=by,
            reason=reason,
            now=meta.received_at,
            until=until,
        ),
        meta,
    )
    await publish_ended_sessions(infra, command.user_id, outcome)
    end = suspended_until(outcome.state, meta.received_at)
    return command_reply(
        outcome,
        command.user_id,
        suspended=suspended_now(outcome.state, meta.received_at),
        suspended_until=end.isoformat() if end else None,
    )


async def suspend_account(infra: Infra, command: SuspendAccount, meta: CommandMeta) -> CommandReply:
    return await _suspension(infra, command, meta, True)


async def unsuspend_account(
    infra: Infra, command: UnsuspendAccount, meta: CommandMeta
) -> CommandReply:
    return await _suspension(infra, command, meta, False)


# -- VIP ---------------------------------------------------------------------------------------


async def grant_vip(infra: Infra, command: GrantVip, meta: CommandMeta) -> CommandReply:
    require(meta.roles, "users.manage")
    reason = command.reason.strip()
    if not reason:
        raise ValidationError("say why", errors=[FieldError("reason", "must not be blank")])
    until = _utc(command.until)
    if not is_uuid(command.user_id):
        raise AccountNotFound()
    outcome = await transact(
        infra.store,
        ACCOUNT,
        command.user_id,
        lambda state: decide_vip(
            state,
            user_id=command.user_id,
            until=until,
            by=meta.actor or "system",
            reason=reason,
            now=meta.received_at,
        ),
        meta,
    )
    until = outcome.state.vip_until
    return command_reply(outcome, command.user_id, vip_until=until.isoformat() if until else None)
