"""How each accounts command a person sends about themself is carried out: the I/O around
the pure decisions of the aggregates (`account.py`, `verification.py`, `phone_claim.py`) —
hashing passwords in a thread, sealing personal values, counting failures in Redis, queueing
SMS, publishing ended sessions — composed from `transact` calls. Signing in is in
`signin.py`, what admins do in `admin.py`, what moderators' decisions do in `moderation.py`;
`common.py` holds what they share.

Ids a command creates (verification, account, session) are derived from the command id, so a
retried command converges on the same aggregates instead of creating new ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.bootstrap import Infra
from core.bus import Outcome, transact
from core.commands import CommandMeta, CommandReply, format_position
from core.errors import FieldError, QuarkError, ValidationError
from core.ids import derived_id
from core.ratelimit import Rule
from handlers.accounts import credentials as cred
from handlers.accounts.account import (
    ACCOUNT,
    decide_erase,
    decide_password_change,
    decide_register,
    decide_rename_device,
    decide_totp_disable,
    decide_totp_enable,
    decide_totp_setup,
)
from handlers.accounts.commands import (
    ChangePassword,
    DisableTwoFactor,
    EnableTwoFactor,
    EraseAccount,
    ExportAccount,
    Register,
    RenameDevice,
    ResendVerificationCode,
    ResetPassword,
    StartPhoneVerification,
    StartTwoFactorSetup,
    VerifyPhone,
)
from handlers.accounts.common import (
    command_reply,
    hash_phone,
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
from handlers.accounts.errors import (
    AccountNotFound,
    InvalidCredentials,
    InvalidRegistration,
    TwoFactorState,
    WrongPassword,
)
from handlers.accounts.phone_claim import PHONE_CLAIM, decide_claim, decide_release_phone
from handlers.accounts.sms_jobs import SmsJob, enqueue
from handlers.accounts.standing import suspended_now, suspended_until
from handlers.accounts.verification import (
    VERIFICATION,
    decide_check_code,
    decide_consume,
    decide_reissue,
    decide_start_verification,
)

SMS_TEXT = "Quark: your code is {code}. It expires in {minutes} min. Never share it."


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


# -- phone verification ----------------------------------------------------------------------


async def start_verification(
    infra: Infra, command: StartPhoneVerification, meta: CommandMeta
) -> CommandReply:
    phone = normalise_phone(command.phone)
    phone_hash = hash_phone(infra, phone)
    verification_id = derived_id(infra.secret_key, "verification", meta.command_id)
    if command.purpose == "signup":
        user_id = derived_id(infra.secret_key, "account", verification_id)
    else:
        claim = await infra.store.load(PHONE_CLAIM, phone_claim_id(infra, phone_hash))
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
    return command_reply(outcome, verification_id, verification_id=verification_id)


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
    return command_reply(outcome, vid, verification_id=vid)


async def _check_code(
    infra: Infra, vid: str, code: str, purpose: str, meta: CommandMeta, step: str = ""
) -> Outcome[Any]:
    """One attempt at a verification's SMS code; a wrong one is counted, then refused."""
    return await transact_verdict(
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
    return command_reply(outcome, vid, verification_id=vid)


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
        phone_claim_id(infra, verification.phone_hash),
        lambda state: decide_claim(
            state, phone_hash=verification.phone_hash, user_id=user_id, now=now
        ),
        meta,
        creates=True,
        step="claim",
    )
    session, refresh = new_session(
        infra, meta, user_id, command.device, await seal_ip(infra, user_id, command.ip), "signup"
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
    return command_reply(
        outcome,
        user_id,
        writer=user_id,
        **token_result(user_id, session.session_id, refresh, outcome.state, now),
    )


# -- passwords -------------------------------------------------------------------------------


async def change_password(infra: Infra, command: ChangePassword, meta: CommandMeta) -> CommandReply:
    svc = services(infra)
    user_id = signed_in_actor(meta)
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
    await publish_ended_sessions(infra, user_id, outcome)
    return command_reply(outcome, user_id)


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
    await publish_ended_sessions(infra, user_id, changed)
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
    return command_reply(changed, user_id, writer=user_id)


# -- two-factor ------------------------------------------------------------------------------


async def start_totp_setup(
    infra: Infra, command: StartTwoFactorSetup, meta: CommandMeta
) -> CommandReply:
    user_id = signed_in_actor(meta)
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
    return command_reply(outcome, user_id, secret=secret)


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
    user_id = signed_in_actor(meta)
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
    return command_reply(outcome, user_id, recovery_codes=codes)


async def disable_totp(infra: Infra, command: DisableTwoFactor, meta: CommandMeta) -> CommandReply:
    user_id = signed_in_actor(meta)
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
    return command_reply(outcome, user_id)


# -- erasure and export ----------------------------------------------------------------------


async def erase_account(infra: Infra, command: EraseAccount, meta: CommandMeta) -> CommandReply:
    """Forget the person: end their sessions, free their number, then destroy their key —
    every sealed value of theirs (phone, name, handle, IPs, TOTP secret) in the log and in
    every replay reads "[erased]" from then on."""
    svc = services(infra)
    user_id = signed_in_actor(meta)
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
    await publish_ended_sessions(infra, user_id, outcome)
    phone_hash = account.phone_hash
    await transact(
        infra.store,
        PHONE_CLAIM,
        phone_claim_id(infra, phone_hash),
        lambda state: decide_release_phone(state, phone_hash=phone_hash, user_id=user_id, now=now),
        meta,
        step="phone",
    )
    await infra.vault.erase(user_id)
    return command_reply(outcome, user_id)


async def export_account(infra: Infra, command: ExportAccount, meta: CommandMeta) -> CommandReply:
    """What the accounts context holds about the acting person, opened (the phone number is
    in no read model, by design)."""
    user_id = signed_in_actor(meta)
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
    end = suspended_until(account, meta.received_at)
    return CommandReply(
        ok=True,
        aggregate_id=user_id,
        result={
            "user_id": user_id,
            "phone": phone,
            "roles": account.roles,
            "suspended": suspended_now(account, meta.received_at),
            "suspended_until": end.isoformat() if end else None,
            "limited": account.limited,
            "two_factor_enabled": account.two_factor,
            "recovery_codes_left": len(account.recovery),
            "open_sessions": sessions,
        },
    )


# -- devices -------------------------------------------------------------------------


async def rename_device(infra: Infra, command: RenameDevice, meta: CommandMeta) -> CommandReply:
    user_id = signed_in_actor(meta)
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
    return command_reply(outcome, user_id)
