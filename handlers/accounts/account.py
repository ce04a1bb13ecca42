"""The account aggregate (`accounts.account`, one per person): password, sessions, second
factor, roles, standing and VIP. Pure `evolve` and `decide`, like every aggregate of the
context: no I/O, no clock (`now` and every hash come in as arguments); the procedures
compose them.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.errors import FieldError, ValidationError
from core.eventstore import AggregateKind
from core.permissions import ROLES, USER
from core.personal import Sealed
from core.registry import Event
from handlers.accounts.credentials import msgspec_compare
from handlers.accounts.errors import (
    AccountNotFound,
    InvalidRefreshToken,
    InvalidSecondFactor,
    RefreshTokenReusedError,
    SessionNotFound,
    TwoFactorState,
    UnknownRole,
    VerificationUsed,
)
from handlers.accounts.events import (
    AccountErased,
    AccountLimited,
    AccountRegistered,
    AccountSuspended,
    AccountUnlimited,
    AccountUnsuspended,
    DeviceRenamed,
    LoginFailed,
    PasswordChanged,
    RefreshTokenReused,
    RoleGranted,
    RoleRevoked,
    SessionOpened,
    SessionRefreshed,
    SessionRevoked,
    TwoFactorDisabled,
    TwoFactorEnabled,
    TwoFactorSetupStarted,
    VipGranted,
)
from handlers.accounts.verdict import Verdict

#: Rotated refresh-token hashes remembered per session, to recognise reuse.
USED_TOKENS_KEPT = 50
#: Ended sessions remembered per account (their revocation is re-published on retries).
REVOKED_KEPT = 50


class SessionState(msgspec.Struct, frozen=True):
    refresh_hash: str
    used: list[str]
    device: str
    opened_at: datetime
    last_seen_at: datetime


class AccountState(msgspec.Struct, frozen=True):
    exists: bool = False
    phone_hash: str = ""
    phone: Sealed | None = None
    password_hash: str = ""
    roles: list[str] = []
    totp_pending: Sealed | None = None
    totp_secret: Sealed | None = None
    totp_last_step: int = 0
    recovery: list[str] = []
    sessions: dict[str, SessionState] = {}
    revoked: list[str] = []
    #: Suspended until `suspended_until` (None: indefinitely); whether that is so at a given
    #: moment is `standing.suspended_now`, never this flag alone.
    suspended: bool = False
    suspended_until: datetime | None = None
    #: Posts reach only followers (`standing.decide_standing`).
    limited: bool = False
    erased: bool = False
    vip_until: datetime | None = None

    @property
    def two_factor(self) -> bool:
        return self.totp_secret is not None


def _without_session(state: AccountState, session_id: str) -> AccountState:
    sessions = dict(state.sessions)
    sessions.pop(session_id, None)
    revoked = [*state.revoked, session_id][-REVOKED_KEPT:]
    return msgspec.structs.replace(state, sessions=sessions, revoked=revoked)


def evolve_account(state: AccountState, event: Event) -> AccountState:
    replace = msgspec.structs.replace
    match event:
        case AccountRegistered():
            return AccountState(
                exists=True,
                phone_hash=event.phone_hash,
                phone=event.phone,
                password_hash=event.password_hash,
                roles=list(event.roles),
            )
        case SessionOpened():
            sessions = dict(state.sessions)
            sessions[event.session_id] = SessionState(
                event.refresh_hash, [], event.device, event.opened_at, event.opened_at
            )
            recovery = [h for h in state.recovery if h != event.recovery_hash]
            last = max(state.totp_last_step, event.totp_step or 0)
            return replace(state, sessions=sessions, recovery=recovery, totp_last_step=last)
        case SessionRefreshed():
            current = state.sessions.get(event.session_id)
            if current is None:
                return state
            sessions = dict(state.sessions)
            sessions[event.session_id] = replace(
                current,
                refresh_hash=event.refresh_hash,
                used=[*current.used, current.refresh_hash][-USED_TOKENS_KEPT:],
                last_seen_at=event.refreshed_at,
            )
            return replace(state, sessions=sessions)
        case SessionRevoked():
            return _without_session(state, event.session_id)
        case PasswordChanged():
            return replace(state, password_hash=event.password_hash)
        case TwoFactorSetupStarted():
            return replace(state, totp_pending=event.secret)
        case TwoFactorEnabled():
            return replace(
                state,
                totp_secret=state.totp_pending,
                totp_pending=None,
                recovery=list(event.recovery_hashes),
                totp_last_step=max(state.totp_last_step, event.totp_step),
            )
        case TwoFactorDisabled():
            return replace(
                state,
                totp_secret=None,
                totp_pending=None,
                recovery=[],
                totp_last_step=max(state.totp_last_step, event.totp_step or 0),
            )
        case RoleGranted():
            roles = state.roles if event.role in state.roles else [*state.roles, event.role]
            return replace(state, roles=roles)
        case RoleRevoked():
            return replace(state, roles=[r for r in state.roles if r != event.role])
        case AccountErased():
            return AccountState(exists=False, erased=True, revoked=state.revoked)
        case VipGranted():
            return replace(state, vip_until=event.until)
        case AccountSuspended():
            return replace(state, suspended=True, suspended_until=event.until)
        case AccountUnsuspended():
            return replace(state, suspended=False, suspended_until=None)
        case AccountLimited():
            return replace(state, limited=True)
        case AccountUnlimited():
            return replace(state, limited=False)
        case _:
            return state


ACCOUNT = AggregateKind(
    type="accounts.account",
    initial=AccountState,
    evolve=evolve_account,
    state_type=AccountState,
    snapshot_every=100,
)


def _exists(state: AccountState) -> None:
    if not state.exists:
        raise AccountNotFound()


def decide_register(
    state: AccountState,
    *,
    user_id: str,
    phone_hash: str,
    phone: Sealed,
    display_name: Sealed,
    password_hash: str,
    session: SessionOpened,
    now: datetime,
) -> list[Event]:
    if state.exists:
        raise VerificationUsed("this verification already created an account")
    return [
        AccountRegistered(
            user_id=user_id,
            phone_hash=phone_hash,
            phone=phone,
            display_name=display_name,
            password_hash=password_hash,
            roles=[USER],
            registered_at=now,
        ),
        session,
    ]


def decide_open_session(state: AccountState, session: SessionOpened) -> list[Event]:
    """A suspended person signs in too: the procedure makes the session restricted
    (`standing.suspended_now`), so they can still appeal, export and erase."""
    _exists(state)
    if session.session_id in state.sessions:
        return []
    return [session]


def decide_second_factor(
    state: AccountState,
    *,
    steps: list[int],
    recovery: str,
    session: SessionOpened,
    failure: LoginFailed,
) -> Verdict:
    """Open a session with a TOTP code of a step later than any accepted before (a code is
    good once) or an unspent recovery code; otherwise record the failure."""
    _exists(state)
    if not state.two_factor:
        raise TwoFactorState("two-factor authentication is not enabled")
    fresh = [s for s in steps if s > state.totp_last_step]
    if fresh:
        return Verdict(
            [msgspec.structs.replace(session, method="password+totp", totp_step=fresh[0])]
        )
    if recovery in state.recovery:
        return Verdict(
            [msgspec.structs.replace(session, method="password+recovery", recovery_hash=recovery)]
        )
    return Verdict([failure], InvalidSecondFactor())


def _by_current_token(
    state: AccountState,
    event: SessionRefreshed | SessionRevoked,
    presented_hash: str,
    now: datetime,
) -> Verdict:
    """`event` when `presented_hash` is the current refresh token of `event`'s session. One
    already exchanged means someone else holds a copy: the session ends and the answer is a
    refusal, whatever the token was presented for (a refresh, a sign-out). Anything else is
    `InvalidRefreshToken`."""
    user_id, session_id = event.user_id, event.session_id
    session = state.sessions.get(session_id)
    if not state.exists or session is None:
        raise InvalidRefreshToken()
    if msgspec_compare(session.refresh_hash, presented_hash):
        return Verdict([event])
    if presented_hash in session.used:
        # Someone else holds a copy of this session's tokens: end the session for both.
        return Verdict(
            [
                RefreshTokenReused(user_id=user_id, session_id=session_id, detected_at=now),
                SessionRevoked(
                    user_id=user_id,
                    session_id=session_id,
                    reason="refresh-reuse",
                    revoked_by=user_id,
                    revoked_at=now,
                ),
            ],
            RefreshTokenReusedError(),
        )
    raise InvalidRefreshToken()


def decide_refresh(
    state: AccountState,
    *,
    user_id: str,
    session_id: str,
    presented_hash: str,
    new_hash: str,
    now: datetime,
) -> Verdict:
    refreshed = SessionRefreshed(
        user_id=user_id, session_id=session_id, refresh_hash=new_hash, refreshed_at=now
    )
    return _by_current_token(state, refreshed, presented_hash, now)


def decide_log_out(
    state: AccountState, *, user_id: str, session_id: str, presented_hash: str, now: datetime
) -> Verdict:
    """Sign out the session whose current refresh token is presented (a browser whose page
    holds no access token, only its refresh cookie)."""
    ended = SessionRevoked(
        user_id=user_id, session_id=session_id, reason="logout", revoked_by=user_id, revoked_at=now
    )
    return _by_current_token(state, ended, presented_hash, now)


def decide_end_session(
    state: AccountState, *, user_id: str, session_id: str, reason: str, by: str, now: datetime
) -> list[Event]:
    _exists(state)
    if session_id not in state.sessions:
        if session_id in state.revoked:
            return []  # already ended: ending it again changes nothing
        raise SessionNotFound()
    return [
        SessionRevoked(
            user_id=user_id, session_id=session_id, reason=reason, revoked_by=by, revoked_at=now
        )
    ]


def decide_password_change(
    state: AccountState,
    *,
    user_id: str,
    password_hash: str,
    how: str,
    keep_session: str | None,
    by: str,
    now: datetime,
) -> list[Event]:
    """A new password ends every other session (a thief's included)."""
    _exists(state)
    events: list[Event] = [
        PasswordChanged(user_id=user_id, password_hash=password_hash, how=how, changed_at=now)
    ]
    reason = "password-changed" if how == "change" else "password-reset"
    events += [
        SessionRevoked(
            user_id=user_id, session_id=sid, reason=reason, revoked_by=by, revoked_at=now
        )
        for sid in state.sessions
        if sid != keep_session
    ]
    return events


def decide_totp_setup(
    state: AccountState, *, user_id: str, secret: Sealed, now: datetime
) -> list[Event]:
    _exists(state)
    if state.two_factor:
        raise TwoFactorState("two-factor authentication is already enabled; disable it first")
    return [TwoFactorSetupStarted(user_id=user_id, secret=secret, started_at=now)]


def decide_totp_enable(
    state: AccountState,
    *,
    user_id: str,
    steps: list[int],
    recovery_hashes: list[str],
    now: datetime,
) -> list[Event]:
    _exists(state)
    if state.two_factor or state.totp_pending is None:
        raise TwoFactorState("start the setup first")
    fresh = [s for s in steps if s > state.totp_last_step]
    if not fresh:
        raise InvalidSecondFactor()
    return [
        TwoFactorEnabled(
            user_id=user_id, recovery_hashes=recovery_hashes, totp_step=fresh[0], enabled_at=now
        )
    ]


def decide_totp_disable(
    state: AccountState, *, user_id: str, steps: list[int], recovery: str, now: datetime
) -> list[Event]:
    _exists(state)
    if not state.two_factor:
        raise TwoFactorState("two-factor authentication is not enabled")
    fresh = [s for s in steps if s > state.totp_last_step]
    if fresh:
        return [
            TwoFactorDisabled(
                user_id=user_id, totp_step=fresh[0], recovery_hash=None, disabled_at=now
            )
        ]
    if recovery in state.recovery:
        return [
            TwoFactorDisabled(
                user_id=user_id, totp_step=None, recovery_hash=recovery, disabled_at=now
            )
        ]
    raise InvalidSecondFactor()


def decide_role(
    state: AccountState,
    *,
    user_id: str,
    role: str,
    grant: bool,
    by: str,
    reason: str,
    now: datetime,
) -> list[Event]:
    _exists(state)
    if role not in ROLES:
        raise UnknownRole(f"roles are {', '.join(ROLES)}")
    if grant:
        if role in state.roles:
            return []
        return [
            RoleGranted(user_id=user_id, role=role, granted_by=by, reason=reason, granted_at=now)
        ]
    if role not in state.roles:
        return []
    return [RoleRevoked(user_id=user_id, role=role, revoked_by=by, reason=reason, revoked_at=now)]


def decide_erase(
    state: AccountState, *, user_id: str, second_factor_ok: bool, now: datetime
) -> list[Event]:
    _exists(state)
    if state.two_factor and not second_factor_ok:
        raise InvalidSecondFactor("erasing an account with 2FA needs a current code")
    events: list[Event] = [
        SessionRevoked(
            user_id=user_id, session_id=sid, reason="erased", revoked_by=user_id, revoked_at=now
        )
        for sid in state.sessions
    ]
    events.append(AccountErased(user_id=user_id, erased_at=now))
    return events


def decide_rename_device(
    state: AccountState, *, user_id: str, session_id: str, name: Sealed, now: datetime
) -> list[Event]:
    _exists(state)
    if session_id not in state.sessions:
        raise SessionNotFound()
    return [DeviceRenamed(user_id=user_id, session_id=session_id, device_name=name, renamed_at=now)]


def decide_vip(
    state: AccountState, *, user_id: str, until: datetime, by: str, reason: str, now: datetime
) -> list[Event]:
    """Grant or extend (a later `until`); an `until` in the past or shortening is refused:
    ending VIP early is not a grant."""
    _exists(state)
    if until <= now:
        raise ValidationError("until must be in the future", errors=[FieldError("until", "past")])
    if state.vip_until is not None and until <= state.vip_until:
        raise ValidationError(
            "VIP already lasts longer", errors=[FieldError("until", "not later than now")]
        )
    return [VipGranted(user_id=user_id, until=until, granted_by=by, reason=reason, granted_at=now)]
