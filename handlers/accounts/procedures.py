"""How each accounts command is carried out: the I/O around the pure decisions of
`state.py` — hashing passwords in a thread, sealing personal values, counting failures in
Redis, queueing SMS, publishing ended sessions and changed roles — composed from `transact` calls.

Ids a command creates (verification, account, session) are derived from the command id, so a
retried command converges on the same aggregates instead of creating new ones.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import phonenumbers

from core.access import publish_revocations, publish_roles
from core.bootstrap import Infra
from core.bus import Outcome, transact
from core.commands import CommandMeta, CommandReply, format_position, parse_position
from core.errors import FieldError, QuarkError, ValidationError
from core.ids import derived_id, is_uuid
from core.logging import get_logger
from core.permissions import require
from core.ratelimit import LockoutPolicy, Rule
from handlers.accounts import credentials as cred
from handlers.accounts.commands import (
    ChangePassword,
    CompleteSecondFactor,
    DisableTwoFactor,
    EnableTwoFactor,
    EndSession,
    EraseAccount,
    ExportAccount,
    GrantRole,
    GrantVip,
    LogIn,
    RefreshSession,
    Register,
    RenameDevice,
    ResendVerificationCode,
    ResetPassword,
    RevokeRole,
    StartPhoneVerification,
    StartTwoFactorSetup,
    SuspendAccount,
    UnsuspendAccount,
    VerifyPhone,
)
from handlers.accounts.errors import (
    AccountNotFound,
    AccountSuspendedError,
    InvalidCredentials,
    InvalidPhone,
    InvalidRefreshToken,
    InvalidRegistration,
    TwoFactorState,
    WrongPassword,
)
from handlers.accounts.events import LoginFailed, LoginLockedOut, SessionOpened, SessionRevoked
from handlers.accounts.sms_jobs import SmsJob, enqueue
from handlers.accounts.state import (
    ACCOUNT,
    PHONE_CLAIM,
    VERIFICATION,
    AccountState,
    Verdict,
    decide_check_code,
    decide_claim,
    decide_consume,
    decide_end_session,
    decide_erase,
    decide_open_session,
    decide_password_change,
    decide_refresh,
    decide_register,
    decide_reissue,
    decide_release_phone,
    decide_rename_device,
    decide_role,
    decide_second_factor,
    decide_start_verification,
    decide_suspension,
    decide_totp_disable,
    decide_totp_enable,
    decide_totp_setup,
    decide_vip,
)

log = get_logger("quark.accounts")
SMS_TEXT = "Quark: your code is {code}. It expires in {minutes} min. Never share it."

#: Failure records written after a login was answered (kept so they are not collected).
_background: set[asyncio.Task[Any]] = set()


class Services:
    """What the procedures need besides the `Infra`: built once per process."""

    def __init__(self, infra: Infra) -> None:
        s = infra.settings
        self.passwords = cred.Passwords(s.password_hash_memory_kib, s.password_hash_iterations)
        self.login_account = LockoutPolicy(
            "login-account",
            s.lockout_account_failures,
            s.lockout_base_seconds,
            s.lockout_max_seconds,
        )
        self.login_ip = LockoutPolicy(
            "login-ip", s.lockout_ip_failures, s.lockout_base_seconds, s.lockout_max_seconds
        )
        self.second_factor = LockoutPolicy(
            "second-factor",
            s.lockout_account_failures,
            s.lockout_base_seconds,
            s.lockout_max_seconds,
        )


def services(infra: Infra) -> Services:
    found = infra.extras.get("accounts")
    if found is None:
        found = infra.extras["accounts"] = Services(infra)
    return found


def normalise_phone(raw: str) -> str:
    """E.164 (`+79161234567`), or `InvalidPhone`. Numbers without a country code are not
    guessed: the client sends the full international number."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("give the number in international format, e.g. +79161234567") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("this number does not exist in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def user_of_phone(infra: Infra, raw_phone: str) -> str:
    """The id of the account holding this phone number, or "" (operator tools)."""
    phone_hash = _phone_hash(infra, normalise_phone(raw_phone))
    claim = await infra.store.load(PHONE_CLAIM, _claim_id(infra, phone_hash))
    return claim.state.user_id


def _code_ttl(infra: Infra) -> timedelta:
    return timedelta(seconds=infra.settings.verification_code_ttl_seconds)


def _resend_after(infra: Infra) -> timedelta:
    return timedelta(seconds=infra.settings.verification_resend_after_seconds)


async def _text_code(infra: Infra, phone: str, code: str, msg_id: str) -> None:
    """Queue the SMS with `code` (after its hash is committed); `msg_id` makes a retried
    command queue it once."""
    minutes = max(1, infra.settings.verification_code_ttl_seconds // 60)
    job = SmsJob(phone, SMS_TEXT.format(code=code, minutes=minutes))
    await enqueue(infra.nc.jetstream(), infra.secret_key, job, msg_id)


def _phone_hash(infra: Infra, phone: str) -> str:
    return infra.vault.lookup_hash("phone", phone)


def _claim_id(infra: Infra, phone_hash: str) -> str:
    return derived_id(infra.secret_key, "phone-claim", phone_hash)


def _ip_key(infra: Infra, ip: str) -> str:
    return infra.vault.lookup_hash("ip", ip or "unknown")


async def _sealed_ip(infra: Infra, user_id: str, ip: str) -> Any:
    return await infra.vault.seal(user_id, "ip", ip) if ip else None


async def _transact_verdict(
    infra: Infra, kind: Any, aggregate_id: str, decide: Any, meta: CommandMeta, **kw: Any
) -> Outcome[Any]:
    """`transact` for decisions that may commit a failure record and then fail."""
    verdicts: list[Verdict] = []

    def run(state: Any) -> list[Any]:
        verdicts.clear()
        verdict = decide(state)
        verdicts.append(verdict)
        return verdict.events

    outcome = await transact(infra.store, kind, aggregate_id, run, meta, **kw)
    if verdicts and verdicts[-1].error is not None and not outcome.duplicate:
        raise verdicts[-1].error
    return outcome


def _reply(
    outcome: Outcome[Any], aggregate_id: str, *, writer: str | None = None, **result: Any
) -> CommandReply:
    """`writer`: the person an anonymous command signed in (their reads must see it)."""
    return CommandReply(
        ok=True,
        position=outcome.position,
        aggregate_id=aggregate_id,
        duplicate=outcome.duplicate,
        result=result or None,
        writer=writer,
    )


async def _publish_revocations(infra: Infra, user_id: str, outcome: Outcome[Any]) -> None:
    """Ended sessions stop working on the next request: their ids are durable in the ACCESS
    stream before the command is answered (on a retry, the account's recently ended
    sessions go again, deduplicated by message id)."""
    ended = [e.session_id for e in outcome.events if isinstance(e, SessionRevoked)]
    if outcome.duplicate and isinstance(outcome.state, AccountState):
        ended = list(outcome.state.revoked)
    await publish_revocations(infra.nc.jetstream(), user_id, ended)


def _session_opened(
    infra: Infra, meta: CommandMeta, user_id: str, device: str, ip: Any, method: str
) -> tuple[SessionOpened, str]:
    session_id = derived_id(infra.secret_key, "session", meta.command_id)
    token = cred.refresh_token(infra.secret_key, user_id, session_id, meta.command_id)
    event = SessionOpened(
        user_id=user_id,
        session_id=session_id,
        refresh_hash=cred.token_hash(token),
        device=device[:200],
        ip=ip,
        method=method,
        opened_at=meta.received_at,
    )
    return event, token


def _tokens(user_id: str, session_id: str, refresh: str, roles: list[str]) -> dict[str, Any]:
    return {"user_id": user_id, "session_id": session_id, "refresh_token": refresh, "roles": roles}


# -- phone verification ----------------------------------------------------------------------


async def start_verification(
    infra: Infra, command: StartPhoneVerification, meta: CommandMeta
) -> CommandReply:
    phone = normalise_phone(command.phone)
    phone_hash = _phone_hash(infra, phone)
    verification_id = derived_id(infra.secret_key, "verification", meta.command_id)
    if command.purpose == "signup":
        user_id = derived_id(infra.secret_key, "account", verification_id)
    else:
        claim = await infra.store.load(PHONE_CLAIM, _claim_id(infra, phone_hash))
        user_id = claim.state.user_id
    sealed = await infra.vault.seal(user_id, "phone", phone) if user_id else None
    code = cred.new_code()
    outcome = await transact(
        infra.store,
        VERIFICATION,
        verification_id,
        lambda state: decide_start_verification(
            state,
            verification_id=verification_id,
            purpose=command.purpose,
            phone_hash=phone_hash,
            phone=sealed,
            user_id=user_id,
            code_hash=cred.code_hash(infra.secret_key, verification_id, code),
            ttl=_code_ttl(infra),
            resend_after=_resend_after(infra),
            now=meta.received_at,
        ),
        meta,
        creates=True,
    )
    if user_id and outcome.events:
        # A reset for a phone no account has sends nothing, but answers the same.
        await _text_code(infra, phone, code, f"sms:{verification_id}:0")
    return _reply(outcome, verification_id, verification_id=verification_id)


async def resend_code(
    infra: Infra, command: ResendVerificationCode, meta: CommandMeta
) -> CommandReply:
    vid = command.verification_id
    code = cred.new_code()
    current = (await infra.store.load(VERIFICATION, vid)).state
    # Refusals first (too soon, spent), so they do not use up the number's SMS budget; the
    # edge cannot count a resend against the number (it only sees the id): here.
    decide_reissue(
        current,
        verification_id=vid,
        code_hash="",
        ttl=_code_ttl(infra),
        resend_after=_resend_after(infra),
        now=meta.received_at,
    )
    if current.phone_hash:
        rule = Rule.parse("limit_sms_per_phone", infra.settings.limit_sms_per_phone)
        await infra.limiter.check(rule, current.phone_hash)
    outcome = await transact(
        infra.store,
        VERIFICATION,
        vid,
        lambda state: decide_reissue(
            state,
            verification_id=vid,
            code_hash=cred.code_hash(infra.secret_key, vid, code),
            ttl=_code_ttl(infra),
            resend_after=_resend_after(infra),
            now=meta.received_at,
        ),
        meta,
    )
    state = outcome.state
    if outcome.events and state.phone is not None and state.user_id:
        phone = await infra.vault.open(state.user_id, "phone", state.phone)
        await _text_code(infra, phone, code, f"sms:{vid}:{state.reissues}")
    return _reply(outcome, vid, verification_id=vid)


async def _check_code(
    infra: Infra, vid: str, code: str, purpose: str, meta: CommandMeta, step: str = ""
) -> Outcome[Any]:
    """One attempt at a verification's SMS code; a wrong one is counted, then refused."""
    return await _transact_verdict(
        infra,
        VERIFICATION,
        vid,
        lambda state: decide_check_code(
            state,
            verification_id=vid,
            purpose=purpose,
            candidate_hash=cred.code_hash(infra.secret_key, vid, code.strip()),
            now=meta.received_at,
        ),
        meta,
        step=step,
    )


async def verify_phone(infra: Infra, command: VerifyPhone, meta: CommandMeta) -> CommandReply:
    vid = command.verification_id
    outcome = await _check_code(infra, vid, command.code, "signup", meta)
    return _reply(outcome, vid, verification_id=vid)


# -- sign-up ---------------------------------------------------------------------------------


async def register(infra: Infra, command: Register, meta: CommandMeta) -> CommandReply:
    svc = services(infra)
    vid = command.verification_id
    verification = (await infra.store.load(VERIFICATION, vid)).state
    if not verification.exists or verification.purpose != "signup" or verification.phone is None:
        raise InvalidRegistration()
    if verification.status == "pending":
        raise InvalidRegistration("the phone was not verified")
    user_id = verification.user_id
    phone = await infra.vault.open(user_id, "phone", verification.phone)
    name = command.display_name.strip()
    if not name:
        raise ValidationError(
            "display_name must not be blank", errors=[FieldError("display_name", "blank")]
        )
    cred.check_password(command.password, avoid=(phone.lstrip("+"), name))
    password_hash = await svc.passwords.hash(command.password)
    now = meta.received_at
    await transact(
        infra.store,
        PHONE_CLAIM,
        _claim_id(infra, verification.phone_hash),
        lambda state: decide_claim(
            state, phone_hash=verification.phone_hash, user_id=user_id, now=now
        ),
        meta,
        creates=True,
        step="claim",
    )
    session, refresh = _session_opened(
        infra, meta, user_id, command.device, await _sealed_ip(infra, user_id, command.ip), "signup"
    )
    sealed_name = await infra.vault.seal(user_id, "display_name", name)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_register(
            state,
            user_id=user_id,
            phone_hash=verification.phone_hash,
            phone=verification.phone,
            display_name=sealed_name,
            password_hash=password_hash,
            session=session,
            now=now,
        ),
        meta,
        creates=True,
        step="account",
    )
    await transact(
        infra.store,
        VERIFICATION,
        vid,
        lambda state: decide_consume(state, verification_id=vid, user_id=user_id, now=now),
        meta,
        step="consume",
    )
    return _reply(
        outcome,
        user_id,
        writer=user_id,
        **_tokens(user_id, session.session_id, refresh, outcome.state.roles),
    )


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
                    ip=await _sealed_ip(infra, user_id, ip),
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
    phone_hash = _phone_hash(infra, phone)
    ip_key = _ip_key(infra, command.ip)
    await infra.lockouts.check(svc.login_ip, ip_key)
    await infra.lockouts.check(svc.login_account, phone_hash)
    claim = await infra.store.load(PHONE_CLAIM, _claim_id(infra, phone_hash))
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
    if account.suspended:
        raise AccountSuspendedError()
    if account.two_factor:
        # Nothing is committed until the second factor; the position is the account's.
        return CommandReply(
            ok=True,
            aggregate_id=user_id,
            position=format_position(infra.store.streams.stream_for("accounts"), loaded.seq),
            result={"mfa_required": True, "user_id": user_id},
        )
    session, refresh = _session_opened(
        infra,
        meta,
        user_id,
        command.device,
        await _sealed_ip(infra, user_id, command.ip),
        "password",
    )
    outcome = await transact(
        infra.store, ACCOUNT, user_id, lambda state: decide_open_session(state, session), meta
    )
    return _reply(
        outcome,
        user_id,
        writer=user_id,
        **_tokens(user_id, session.session_id, refresh, outcome.state.roles),
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
    ip = await _sealed_ip(infra, user_id, command.ip)
    session, refresh = _session_opened(infra, meta, user_id, command.device, ip, "password+totp")
    failure = LoginFailed(
        user_id=user_id, reason="second-factor", ip=ip, failed_at=meta.received_at
    )
    try:
        outcome = await _transact_verdict(
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
    return _reply(
        outcome,
        user_id,
        writer=user_id,
        **_tokens(user_id, session.session_id, refresh, outcome.state.roles),
    )


async def refresh_session(infra: Infra, command: RefreshSession, meta: CommandMeta) -> CommandReply:
    parsed = cred.parse_refresh_token(command.refresh_token)
    if parsed is None or not is_uuid(parsed[0]) or not is_uuid(parsed[1]):
        raise InvalidRefreshToken()
    user_id, session_id = parsed
    new_token = cred.refresh_token(infra.secret_key, user_id, session_id, meta.command_id)
    try:
        outcome = await _transact_verdict(
            infra,
            ACCOUNT,
            user_id,
            lambda state: decide_refresh(
                state,
                user_id=user_id,
                session_id=session_id,
                presented_hash=cred.token_hash(command.refresh_token),
                new_hash=cred.token_hash(new_token),
                now=meta.received_at,
            ),
            meta,
        )
    except QuarkError as exc:
        if exc.code == "refresh-token-reused":
            await publish_revocations(infra.nc.jetstream(), user_id, [session_id])
        raise
    return _reply(
        outcome,
        user_id,
        writer=user_id,
        **_tokens(user_id, session_id, new_token, outcome.state.roles),
    )


async def end_session(infra: Infra, command: EndSession, meta: CommandMeta) -> CommandReply:
    user_id = _actor(meta)
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
    return _reply(outcome, user_id)


# -- passwords -------------------------------------------------------------------------------


def _actor(meta: CommandMeta) -> str:
    if not meta.actor or not is_uuid(meta.actor):
        raise InvalidCredentials("sign in first")
    require(meta.roles, "account.manage_own")
    return meta.actor


async def change_password(infra: Infra, command: ChangePassword, meta: CommandMeta) -> CommandReply:
    svc = services(infra)
    user_id = _actor(meta)
    account = (await infra.store.load(ACCOUNT, user_id)).state
    if not account.exists:
        raise AccountNotFound()
    await infra.lockouts.check(svc.login_account, account.phone_hash)
    if not await svc.passwords.verify(account.password_hash, command.old_password):
        await infra.lockouts.failed(svc.login_account, account.phone_hash)
        raise WrongPassword()
    cred.check_password(command.new_password, field="new_password")
    password_hash = await svc.passwords.hash(command.new_password)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_password_change(
            state,
            user_id=user_id,
            password_hash=password_hash,
            how="change",
            keep_session=command.session_id,
            by=user_id,
            now=meta.received_at,
        ),
        meta,
    )
    await _publish_revocations(infra, user_id, outcome)
    return _reply(outcome, user_id)


async def reset_password(infra: Infra, command: ResetPassword, meta: CommandMeta) -> CommandReply:
    svc = services(infra)
    vid = command.verification_id
    outcome = await _check_code(infra, vid, command.code, "reset", meta, step="code")
    user_id = outcome.state.user_id
    if not user_id:
        raise InvalidCredentials("no account has this phone number")
    cred.check_password(command.new_password, field="new_password")
    password_hash = await svc.passwords.hash(command.new_password)
    changed = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_password_change(
            state,
            user_id=user_id,
            password_hash=password_hash,
            how="reset",
            keep_session=None,
            by=user_id,
            now=meta.received_at,
        ),
        meta,
        step="password",
    )
    await _publish_revocations(infra, user_id, changed)
    await transact(
        infra.store,
        VERIFICATION,
        vid,
        lambda state: decide_consume(
            state, verification_id=vid, user_id=user_id, now=meta.received_at
        ),
        meta,
        step="consume",
    )
    await infra.lockouts.succeeded(svc.login_account, outcome.state.phone_hash)
    return _reply(changed, user_id, writer=user_id)


# -- two-factor ------------------------------------------------------------------------------


async def start_totp_setup(
    infra: Infra, command: StartTwoFactorSetup, meta: CommandMeta
) -> CommandReply:
    user_id = _actor(meta)
    secret = cred.new_totp_secret()
    sealed = await infra.vault.seal(user_id, "totp_secret", secret)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_totp_setup(
            state, user_id=user_id, secret=sealed, now=meta.received_at
        ),
        meta,
    )
    if outcome.duplicate:
        # The secret of the first attempt is the one stored: hand that one out again.
        pending = outcome.state.totp_pending
        if pending is None:
            raise TwoFactorState("start the setup again")
        secret = await infra.vault.open(user_id, "totp_secret", pending)
    return _reply(outcome, user_id, secret=secret)


async def _totp_inputs(
    infra: Infra, user_id: str, code: str, meta: CommandMeta, *, pending: bool
) -> tuple[list[int], str]:
    account = (await infra.store.load(ACCOUNT, user_id)).state
    sealed = account.totp_pending if pending else account.totp_secret
    if sealed is None:
        raise TwoFactorState(
            "start the setup first" if pending else "two-factor authentication is not enabled"
        )
    secret = await infra.vault.open(user_id, "totp_secret", sealed)
    return cred.totp_steps(secret, code, meta.received_at), cred.recovery_hash(
        infra.secret_key, user_id, code
    )


async def _with_code(infra: Infra, user_id: str, meta: CommandMeta, decide: Any) -> Outcome[Any]:
    """A change of the account guarded by a second-factor code: wrong codes count towards
    the same lockout as sign-in codes, so they cannot be guessed here instead."""
    policy = services(infra).second_factor
    try:
        return await transact(infra.store, ACCOUNT, user_id, decide, meta)
    except QuarkError as exc:
        if exc.code == "invalid-code":
            await infra.lockouts.failed(policy, user_id)
        raise


async def enable_totp(infra: Infra, command: EnableTwoFactor, meta: CommandMeta) -> CommandReply:
    user_id = _actor(meta)
    await infra.lockouts.check(services(infra).second_factor, user_id)
    steps, _ = await _totp_inputs(infra, user_id, command.code, meta, pending=True)
    codes = cred.recovery_codes(infra.secret_key, user_id, meta.command_id)
    hashes = [cred.recovery_hash(infra.secret_key, user_id, c) for c in codes]
    outcome = await _with_code(
        infra,
        user_id,
        meta,
        lambda state: decide_totp_enable(
            state, user_id=user_id, steps=steps, recovery_hashes=hashes, now=meta.received_at
        ),
    )
    return _reply(outcome, user_id, recovery_codes=codes)


async def disable_totp(infra: Infra, command: DisableTwoFactor, meta: CommandMeta) -> CommandReply:
    user_id = _actor(meta)
    await infra.lockouts.check(services(infra).second_factor, user_id)
    steps, recovery = await _totp_inputs(infra, user_id, command.code, meta, pending=False)
    outcome = await _with_code(
        infra,
        user_id,
        meta,
        lambda state: decide_totp_disable(
            state, user_id=user_id, steps=steps, recovery=recovery, now=meta.received_at
        ),
    )
    return _reply(outcome, user_id)


# -- roles -----------------------------------------------------------------------------------


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
    return _reply(outcome, command.user_id, roles=outcome.state.roles)


async def grant_role(infra: Infra, command: GrantRole, meta: CommandMeta) -> CommandReply:
    return await _change_role(infra, command, meta, True)


async def revoke_role(infra: Infra, command: RevokeRole, meta: CommandMeta) -> CommandReply:
    return await _change_role(infra, command, meta, False)


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
        ),
        meta,
    )
    await _publish_revocations(infra, command.user_id, outcome)
    return _reply(outcome, command.user_id, suspended=outcome.state.suspended)


async def suspend_account(infra: Infra, command: SuspendAccount, meta: CommandMeta) -> CommandReply:
    return await _suspension(infra, command, meta, True)


async def unsuspend_account(
    infra: Infra, command: UnsuspendAccount, meta: CommandMeta
) -> CommandReply:
    return await _suspension(infra, command, meta, False)


# -- erasure and export ----------------------------------------------------------------------


async def erase_account(infra: Infra, command: EraseAccount, meta: CommandMeta) -> CommandReply:
    """Forget the person: end their sessions, free their number, then destroy their key —
    every sealed value of theirs (phone, name, handle, IPs, TOTP secret) in the log and in
    every replay reads "[erased]" from then on."""
    svc = services(infra)
    user_id = _actor(meta)
    loaded = await infra.store.load(ACCOUNT, user_id)
    account = loaded.state
    if not account.exists:
        if account.erased:  # a retry after the commit: finish the job
            await infra.vault.erase(user_id)
            position = format_position(infra.store.streams.stream_for("accounts"), loaded.seq)
            return CommandReply(ok=True, aggregate_id=user_id, position=position)
        raise AccountNotFound()
    await infra.lockouts.check(svc.login_account, account.phone_hash)
    if not await svc.passwords.verify(account.password_hash, command.password):
        await infra.lockouts.failed(svc.login_account, account.phone_hash)
        raise WrongPassword()
    second_factor_ok = False
    if account.two_factor and command.code:
        steps, recovery = await _totp_inputs(infra, user_id, command.code, meta, pending=False)
        second_factor_ok = any(s > account.totp_last_step for s in steps) or (
            recovery in account.recovery
        )
    now = meta.received_at
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_erase(
            state, user_id=user_id, second_factor_ok=second_factor_ok, now=now
        ),
        meta,
        step="erase",
    )
    await _publish_revocations(infra, user_id, outcome)
    phone_hash = account.phone_hash
    await transact(
        infra.store,
        PHONE_CLAIM,
        _claim_id(infra, phone_hash),
        lambda state: decide_release_phone(state, phone_hash=phone_hash, user_id=user_id, now=now),
        meta,
        step="phone",
    )
    await infra.vault.erase(user_id)
    return _reply(outcome, user_id)


async def export_account(infra: Infra, command: ExportAccount, meta: CommandMeta) -> CommandReply:
    """What the accounts context holds about the acting person, opened (the phone number is
    in no read model, by design)."""
    user_id = _actor(meta)
    loaded = await infra.store.load(ACCOUNT, user_id)
    account = loaded.state
    if not account.exists:
        raise AccountNotFound()
    phone = await infra.vault.open(user_id, "phone", account.phone) if account.phone else None
    sessions = [
        {
            "session_id": sid,
            "device": session.device,
            "opened_at": session.opened_at.isoformat(),
            "last_seen_at": session.last_seen_at.isoformat(),
        }
        for sid, session in account.sessions.items()
    ]
    return CommandReply(
        ok=True,
        aggregate_id=user_id,
        result={
            "user_id": user_id,
            "phone": phone,
            "roles": account.roles,
            "suspended": account.suspended,
            "two_factor_enabled": account.two_factor,
            "recovery_codes_left": len(account.recovery),
            "open_sessions": sessions,
        },
    )


# -- devices and VIP -------------------------------------------------------------------------


async def rename_device(infra: Infra, command: RenameDevice, meta: CommandMeta) -> CommandReply:
    user_id = _actor(meta)
    name = command.name.strip()
    if not name or any(ord(c) < 32 for c in name):
        raise ValidationError(
            "a device name is one line of text", errors=[FieldError("name", "blank")]
        )
    sealed = await infra.vault.seal(user_id, "device_name", name)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_rename_device(
            state, user_id=user_id, session_id=command.session_id, name=sealed, now=meta.received_at
        ),
        meta,
    )
    return _reply(outcome, user_id)


async def grant_vip(infra: Infra, command: GrantVip, meta: CommandMeta) -> CommandReply:
    require(meta.roles, "users.manage")
    reason = command.reason.strip()
    if not reason:
        raise ValidationError("say why", errors=[FieldError("reason", "must not be blank")])
    if command.until.tzinfo is None:
        raise ValidationError("until needs a time zone", errors=[FieldError("until", "e.g. Z")])
    try:
        # Stored in UTC: 9999-12-31T23:59:59-23:59 is past what a datetime (and PostgreSQL)
        # holds, and the projections storing it dead-lettered the grant.
        until = command.until.astimezone(UTC)
    except OverflowError:
        raise ValidationError(
            "until is out of range", errors=[FieldError("until", "before year 10000 in UTC")]
        ) from None
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
    return _reply(outcome, command.user_id, vip_until=until.isoformat() if until else None)
