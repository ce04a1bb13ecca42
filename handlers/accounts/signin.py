"""Signing in: password (and second factor), refreshing and ending sessions. A suspended
person signs in too, into a restricted session (`standing.suspended_now`): its access token
says so, and the edge lets it reach only what a suspended person may still do (appeal,
export, erase, sign out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core.access import publish_revocations
from core.bootstrap import Infra
from core.bus import Outcome, transact
from core.commands import CommandMeta, CommandReply, format_position
from core.errors import QuarkError
from core.ids import derived_id, is_uuid
from core.logging import get_logger
from handlers.accounts import credentials as cred
from handlers.accounts.account import (
    ACCOUNT,
    decide_end_session,
    decide_log_out,
    decide_open_session,
    decide_refresh,
    decide_second_factor,
)
from handlers.accounts.commands import (
    CompleteSecondFactor,
    EndSession,
    LogIn,
    LogOut,
    RefreshSession,
)
from handlers.accounts.common import (
    command_reply,
    hash_phone,
    ip_lookup_key,
    new_session,
    normalise_phone,
    phone_claim_id,
    publish_ended_sessions,
    seal_ip,
    services,
    signed_in_actor,
    token_result,
    transact_verdict,
)
from handlers.accounts.errors import InvalidCredentials, InvalidPhone, InvalidRefreshToken
from handlers.accounts.events import LoginFailed, LoginLockedOut
from handlers.accounts.phone_claim import PHONE_CLAIM
from handlers.accounts.verdict import Verdict

log = get_logger("quark.accounts")
#: Failure records written after a login was answered (kept so they are not collected).
_background: set[asyncio.Task[Any]] = set()

# -- sign-in ---------------------------------------------------------------------------------


def _remember_failure(
    infra: Infra,
    user_id: str,
    reason: str,
    ip: str,
    lock: Any,
    meta: CommandMeta,
    *,
    failure_recorded: bool = False,
) -> None:
    """Record a failed sign-in (unless the decision already did) and a lockout it started in
    the account's log after the answer went out, so answers take the same time whether or
    not the phone has an account."""

    async def record() -> None:
        events: list[Any] = []
        if not failure_recorded:
            events.append(
                LoginFailed(
                    user_id=user_id,
                    reason=reason,
                    ip=await seal_ip(infra, user_id, ip),
                    failed_at=meta.received_at,
                )
            )
        if lock.just_locked:
            events.append(
                LoginLockedOut(
                    user_id=user_id,
                    reason=reason,
                    until=meta.received_at + timedelta(seconds=lock.retry_after),
                    locked_at=meta.received_at,
                )
            )
        if events:
            await transact(infra.store, ACCOUNT, user_id, lambda _s: events, meta, step="failure")

    async def guarded() -> None:
        try:
            await record()
        except Exception:
            log.exception("login_failure_not_recorded")

    task = asyncio.create_task(guarded())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def log_in(infra: Infra, command: LogIn, meta: CommandMeta) -> CommandReply:
    svc = services(infra)
    try:
        phone = normalise_phone(command.phone)
    except InvalidPhone:
        raise InvalidCredentials() from None
    phone_hash = hash_phone(infra, phone)
    ip_key = ip_lookup_key(infra, command.ip)
    await infra.lockouts.check(svc.login_ip, ip_key)
    await infra.lockouts.check(svc.login_account, phone_hash)
    claim = await infra.store.load(PHONE_CLAIM, phone_claim_id(infra, phone_hash))
    user_id = claim.state.user_id
    # Unknown numbers cost what registered ones do: one account load (of an id nobody has)
    # and one argon2 verification (of a dummy hash).
    lookup = user_id or derived_id(infra.secret_key, "no-account", phone_hash)
    loaded = await infra.store.load(ACCOUNT, lookup)
    account = loaded.state
    stored = account.password_hash if account.exists else svc.passwords.dummy
    if not await svc.passwords.verify(stored, command.password) or not account.exists:
        lock = await infra.lockouts.failed(svc.login_account, phone_hash)
        await infra.lockouts.failed(svc.login_ip, ip_key)
        if account.exists:
            _remember_failure(infra, user_id, "password", command.ip, lock, meta)
        raise InvalidCredentials()
    await infra.lockouts.succeeded(svc.login_account, phone_hash)
    if account.two_factor:
        # Nothing is committed until the second factor; the position is the account's.
        return CommandReply(
            ok=True,
            aggregate_id=user_id,
            position=format_position(infra.store.streams.stream_for("accounts"), loaded.seq),
            result={"mfa_required": True, "user_id": user_id},
        )
    session, refresh = new_session(
        infra,
        meta,
        user_id,
        command.device,
        await seal_ip(infra, user_id, command.ip),
        "password",
    )
    outcome = await transact(
        infra.store, ACCOUNT, user_id, lambda state: decide_open_session(state, session), meta
    )
    return command_reply(
        outcome,
        user_id,
        writer=user_id,
        **token_result(user_id, session.session_id, refresh, outcome.state, meta.received_at),
    )


async def second_factor(
    infra: Infra, command: CompleteSecondFactor, meta: CommandMeta
) -> CommandReply:
    svc = services(infra)
    user_id = command.user_id
    if not is_uuid(user_id):
        raise InvalidCredentials()
    await infra.lockouts.check(svc.second_factor, user_id)
    account = (await infra.store.load(ACCOUNT, user_id)).state
    if not account.exists or account.totp_secret is None:
        raise InvalidCredentials()
    secret = await infra.vault.open(user_id, "totp_secret", account.totp_secret)
    steps = cred.totp_steps(secret, command.code, meta.received_at)
    recovery = cred.recovery_hash(infra.secret_key, user_id, command.code)
    ip = await seal_ip(infra, user_id, command.ip)
    session, refresh = new_session(infra, meta, user_id, command.device, ip, "password+totp")
    failure = LoginFailed(
        user_id=user_id, reason="second-factor", ip=ip, failed_at=meta.received_at
    )
    try:
        outcome = await transact_verdict(
            infra,
            ACCOUNT,
            user_id,
            lambda state: decide_second_factor(
                state, steps=steps, recovery=recovery, session=session, failure=failure
            ),
            meta,
        )
    except QuarkError as exc:
        if exc.code == "invalid-code":
            lock = await infra.lockouts.failed(svc.second_factor, user_id)
            if lock.just_locked:
                _remember_failure(
                    infra, user_id, "second-factor", "", lock, meta, failure_recorded=True
                )
        raise
    await infra.lockouts.succeeded(svc.second_factor, user_id)
    return command_reply(
        outcome,
        user_id,
        writer=user_id,
        **token_result(user_id, session.session_id, refresh, outcome.state, meta.received_at),
    )


def _named_by(token: str) -> tuple[str, str]:
    """The account and session a refresh token names (`InvalidRefreshToken` if none)."""
    parsed = cred.parse_refresh_token(token)
    if parsed is None or not is_uuid(parsed[0]) or not is_uuid(parsed[1]):
        raise InvalidRefreshToken()
    return parsed


async def _with_refresh_token(
    infra: Infra, token: str, meta: CommandMeta, decide: Callable[..., Verdict], **args: Any
) -> Outcome[Any]:
    """`decide` on the account `token` names, told the session and the token's hash. A
    spent token ends its session (the decision commits that): every edge refuses the
    session before the refusal is answered."""
    user_id, session_id = _named_by(token)
    held = {"user_id": user_id, "session_id": session_id, "now": meta.received_at}
    try:
        return await transact_verdict(
            infra,
            ACCOUNT,
            user_id,
            lambda state: decide(state, presented_hash=cred.token_hash(token), **held, **args),
            meta,
        )
    except QuarkError as exc:
        if exc.code == "refresh-token-reused":
            await publish_revocations(infra.nc.jetstream(), user_id, [session_id])
        raise


async def refresh_session(infra: Infra, command: RefreshSession, meta: CommandMeta) -> CommandReply:
    user_id, session_id = _named_by(command.refresh_token)
    new_token = cred.refresh_token(infra.secret_key, user_id, session_id, meta.command_id)
    outcome = await _with_refresh_token(
        infra, command.refresh_token, meta, decide_refresh, new_hash=cred.token_hash(new_token)
    )
    return command_reply(
        outcome,
        user_id,
        writer=user_id,
        **token_result(user_id, session_id, new_token, outcome.state, meta.received_at),
    )


async def log_out(infra: Infra, command: LogOut, meta: CommandMeta) -> CommandReply:
    """End the session whose current refresh token this is (a browser's refresh cookie)."""
    user_id, _ = _named_by(command.refresh_token)
    outcome = await _with_refresh_token(infra, command.refresh_token, meta, decide_log_out)
    await publish_ended_sessions(infra, user_id, outcome)
    return command_reply(outcome, user_id, writer=user_id)


async def end_session(infra: Infra, command: EndSession, meta: CommandMeta) -> CommandReply:
    user_id = signed_in_actor(meta)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_end_session(
            state,
            user_id=user_id,
            session_id=command.session_id,
            reason=command.reason,
            by=user_id,
            now=meta.received_at,
        ),
        meta,
    )
    await publish_revocations(infra.nc.jetstream(), user_id, [command.session_id])
    return command_reply(outcome, user_id)
