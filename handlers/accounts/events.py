"""Events of the accounts context (identity). Personal values (phone, name, IP address,
TOTP secret) are `Sealed` under the person's own key; lookups use keyed hashes. Secrets the
platform checks (codes, passwords, refresh tokens, recovery codes) are stored only hashed.

Aggregates:
- `accounts.verification` — one SMS code challenge (sign-up or password reset);
- `accounts.phone` — the claim that makes a phone number belong to one account (its id is
  derived from the phone's keyed hash; appended with expected sequence 0);
- `accounts.account` — credentials, roles, second factor and the sessions of one person.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.personal import Sealed
from core.registry import Event


class VerificationStarted(Event, frozen=True):
    name: ClassVar[str] = "accounts.VerificationStarted"
    verification_id: str
    purpose: str  # "signup" | "reset"
    phone_hash: str
    #: Sealed under `user_id`'s key; None for a reset of a phone no account has.
    phone: Sealed | None
    #: The account this verification is for: a new id for sign-ups, the owner for resets
    #: ("" when no account has the phone).
    user_id: str
    code_hash: str
    expires_at: datetime
    resend_after: datetime
    started_at: datetime


class VerificationCodeReissued(Event, frozen=True):
    name: ClassVar[str] = "accounts.VerificationCodeReissued"
    verification_id: str
    code_hash: str
    expires_at: datetime
    resend_after: datetime
    reissued_at: datetime


class VerificationAttemptFailed(Event, frozen=True):
    name: ClassVar[str] = "accounts.VerificationAttemptFailed"
    verification_id: str
    attempts: int
    failed_at: datetime


class VerificationSucceeded(Event, frozen=True):
    name: ClassVar[str] = "accounts.VerificationSucceeded"
    verification_id: str
    succeeded_at: datetime


class VerificationConsumed(Event, frozen=True):
    name: ClassVar[str] = "accounts.VerificationConsumed"
    verification_id: str
    user_id: str
    consumed_at: datetime


class PhoneClaimed(Event, frozen=True):
    name: ClassVar[str] = "accounts.PhoneClaimed"
    phone_hash: str
    user_id: str
    claimed_at: datetime


class AccountRegistered(Event, frozen=True):
    name: ClassVar[str] = "accounts.AccountRegistered"
    user_id: str
    phone_hash: str
    phone: Sealed
    display_name: Sealed
    password_hash: str
    roles: list[str]
    registered_at: datetime


class SessionOpened(Event, frozen=True):
    """A successful sign-in (or the sign-up's first session)."""

    name: ClassVar[str] = "accounts.SessionOpened"
    user_id: str
    session_id: str
    refresh_hash: str
    device: str
    ip: Sealed | None
    #: "signup" | "password" | "password+totp" | "password+recovery"
    method: str
    opened_at: datetime
    #: The TOTP time step used, so the same code is never accepted twice.
    totp_step: int | None = None
    #: The recovery code used (its hash), now spent.
    recovery_hash: str | None = None


class SessionRefreshed(Event, frozen=True):
    name: ClassVar[str] = "accounts.SessionRefreshed"
    user_id: str
    session_id: str
    refresh_hash: str
    refreshed_at: datetime


class RefreshTokenReused(Event, frozen=True):
    """A refresh token was presented after it had been rotated: someone holds a copy."""

    name: ClassVar[str] = "accounts.RefreshTokenReused"
    user_id: str
    session_id: str
    detected_at: datetime


class SessionRevoked(Event, frozen=True):
    name: ClassVar[str] = "accounts.SessionRevoked"
    user_id: str
    session_id: str
    #: "logout" | "revoked" | "password-changed" | "password-reset" | "refresh-reuse"
    reason: str
    revoked_by: str
    revoked_at: datetime


class LoginFailed(Event, frozen=True):
    name: ClassVar[str] = "accounts.LoginFailed"
    user_id: str
    #: "password" | "second-factor"
    reason: str
    ip: Sealed | None
    failed_at: datetime


class LoginLockedOut(Event, frozen=True):
    name: ClassVar[str] = "accounts.LoginLockedOut"
    user_id: str
    #: "password" | "second-factor"
    reason: str
    until: datetime
    locked_at: datetime


class PasswordChanged(Event, frozen=True):
    name: ClassVar[str] = "accounts.PasswordChanged"
    user_id: str
    password_hash: str
    #: "change" | "reset"
    how: str
    changed_at: datetime


class TwoFactorSetupStarted(Event, frozen=True):
    name: ClassVar[str] = "accounts.TwoFactorSetupStarted"
    user_id: str
    secret: Sealed
    started_at: datetime


class TwoFactorEnabled(Event, frozen=True):
    name: ClassVar[str] = "accounts.TwoFactorEnabled"
    user_id: str
    recovery_hashes: list[str]
    totp_step: int
    enabled_at: datetime


class TwoFactorDisabled(Event, frozen=True):
    name: ClassVar[str] = "accounts.TwoFactorDisabled"
    user_id: str
    totp_step: int | None
    recovery_hash: str | None
    disabled_at: datetime


class RoleGranted(Event, frozen=True):
    name: ClassVar[str] = "accounts.RoleGranted"
    user_id: str
    role: str
    granted_by: str
    reason: str
    granted_at: datetime


class RoleRevoked(Event, frozen=True):
    name: ClassVar[str] = "accounts.RoleRevoked"
    user_id: str
    role: str
    revoked_by: str
    reason: str
    revoked_at: datetime


class AccountSuspended(Event, frozen=True):
    """An admin, or a moderator's decision, suspended the account: every session ended in
    the same commit, and signing in gives only a restricted session (appeal, export, erase)
    until `until`. A later `AccountSuspended` replaces the end; `AccountUnsuspended` lifts it."""

    name: ClassVar[str] = "accounts.AccountSuspended"
    user_id: str
    suspended_by: str
    reason: str
    suspended_at: datetime
    #: When the suspension ends by itself (no event marks it: `standing.suspended_now`);
    #: None, and in every event from before it existed: indefinitely.
    until: datetime | None = None


class AccountUnsuspended(Event, frozen=True):
    name: ClassVar[str] = "accounts.AccountUnsuspended"
    user_id: str
    unsuspended_by: str
    reason: str
    unsuspended_at: datetime


class AccountLimited(Event, frozen=True):
    """A moderator's decision limited the account: its posts reach only its followers (and
    itself), never public timelines, tags, categories, search or trending."""

    name: ClassVar[str] = "accounts.AccountLimited"
    user_id: str
    limited_by: str
    reason: str
    limited_at: datetime


class AccountUnlimited(Event, frozen=True):
    """The limit was lifted (an approved appeal, or `restore` on the person)."""

    name: ClassVar[str] = "accounts.AccountUnlimited"
    user_id: str
    unlimited_by: str
    reason: str
    unlimited_at: datetime


class AccountErased(Event, frozen=True):
    """The person asked to be forgotten: their key is destroyed right after this commit, so
    every personal value they ever had in the log reads "[erased]" from then on."""

    name: ClassVar[str] = "accounts.AccountErased"
    user_id: str
    erased_at: datetime


class PhoneReleased(Event, frozen=True):
    """The number's account was erased: it may sign up again."""

    name: ClassVar[str] = "accounts.PhoneReleased"
    phone_hash: str
    user_id: str
    released_at: datetime


class DeviceRenamed(Event, frozen=True):
    """The person named one of their sessions' devices ("Ada's phone": personal, sealed)."""

    name: ClassVar[str] = "accounts.DeviceRenamed"
    user_id: str
    session_id: str
    device_name: Sealed
    renamed_at: datetime


class PushSubscriptionSet(Event, frozen=True):
    """A session's device takes Web Push notifications (replacing its earlier subscription).
    The subscription (endpoint and the device's keys) is sealed: an endpoint names one
    browser, and its keys let anyone write to it. `fingerprint` is a keyed hash of it, for
    comparing without opening."""

    name: ClassVar[str] = "accounts.PushSubscriptionSet"
    user_id: str
    session_id: str
    subscription: Sealed
    fingerprint: str
    subscribed_at: datetime


class PushSubscriptionRemoved(Event, frozen=True):
    """No more pushes to this session's device: the person turned them off (`removed`), or
    the push service said the subscription is gone (`expired`). Ending a session drops its
    subscription without this event."""

    name: ClassVar[str] = "accounts.PushSubscriptionRemoved"
    user_id: str
    session_id: str
    reason: str  # "removed" | "expired"
    removed_at: datetime


class VipGranted(Event, frozen=True):
    """VIP until `until` (a later grant extends it). Expiry is no event: it is `until`."""

    name: ClassVar[str] = "accounts.VipGranted"
    user_id: str
    until: datetime
    granted_by: str
    reason: str
    granted_at: datetime


EVENTS = (
    VerificationStarted,
    VerificationCodeReissued,
    VerificationAttemptFailed,
    VerificationSucceeded,
    VerificationConsumed,
    PhoneClaimed,
    AccountRegistered,
    SessionOpened,
    SessionRefreshed,
    RefreshTokenReused,
    SessionRevoked,
    LoginFailed,
    LoginLockedOut,
    PasswordChanged,
    TwoFactorSetupStarted,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RoleGranted,
    RoleRevoked,
    AccountSuspended,
    AccountUnsuspended,
    AccountLimited,
    AccountUnlimited,
    AccountErased,
    PhoneReleased,
    DeviceRenamed,
    VipGranted,
    PushSubscriptionSet,
    PushSubscriptionRemoved,
)
