"""Commands of the accounts context. Limits live here so the edge's validation, the OpenAPI
document and the handler agree. The edge fills `device` and `ip` from the request; commands
travel only as NATS requests and are never stored (their results are events)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec

from core.commands import Command
from core.text import MULTILINE

PASSWORD_MIN = 10
#: argon2 hashes whatever it gets: a cap keeps one request from costing seconds.
PASSWORD_MAX = 256
DISPLAY_NAME_MAX = 64
CODE_LENGTH = 6

Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=PASSWORD_MAX)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=DISPLAY_NAME_MAX)]
#: A TOTP code, an SMS code or a recovery code (xxxx-xxxx-xxxx).
Code = Annotated[str, msgspec.Meta(min_length=4, max_length=32)]
Device = Annotated[str, msgspec.Meta(max_length=200)]
Ip = Annotated[str, msgspec.Meta(max_length=64)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class _Accounts(Command, frozen=True):
    context: ClassVar[str] = "accounts"


class StartPhoneVerification(_Accounts, frozen=True):
    phone: Phone  # E.164, normalised by the edge
    purpose: Literal["signup", "reset"]


class ResendVerificationCode(_Accounts, frozen=True):
    verification_id: str


class VerifyPhone(_Accounts, frozen=True):
    verification_id: str
    code: Code


class Register(_Accounts, frozen=True):
    verification_id: str
    password: Password
    display_name: DisplayName
    device: Device = ""
    ip: Ip = ""


class LogIn(_Accounts, frozen=True):
    phone: Phone
    password: Password
    device: Device = ""
    ip: Ip = ""


class CompleteSecondFactor(_Accounts, frozen=True):
    user_id: str
    code: Code
    device: Device = ""
    ip: Ip = ""


class RefreshSession(_Accounts, frozen=True):
    refresh_token: Token


class LogOut(_Accounts, frozen=True):
    """Sign out with the session's refresh token alone: a browser whose page lost its
    access token (a reload) still holds its refresh cookie."""

    refresh_token: Token


class EndSession(_Accounts, frozen=True):
    """Log out (the acting session) or revoke one of the actor's sessions."""

    session_id: str
    reason: Literal["logout", "revoked"]


class ChangePassword(_Accounts, frozen=True):
    old_password: Password
    new_password: Password
    #: The session the change was made from; every other session ends.
    session_id: str


class ResetPassword(_Accounts, frozen=True):
    verification_id: str
    code: Code
    new_password: Password


class StartTwoFactorSetup(_Accounts, frozen=True):
    pass


class EnableTwoFactor(_Accounts, frozen=True):
    code: Code


class DisableTwoFactor(_Accounts, frozen=True):
    code: Code


class EraseAccount(_Accounts, frozen=True):
    """Forget the acting person: needs the password, and a second-factor code when 2FA is on."""

    password: Password
    code: Code | None = None


class ExportAccount(_Accounts, frozen=True):
    """Everything the accounts context holds about the acting person (answers, changes nothing)."""


#: Why an admin acted: kept in events that the activity and security-log projections store
#: as JSONB, which cannot hold NUL (such a reason was dead-lettered): plain text only.
Reason = Annotated[str, msgspec.Meta(max_length=500, pattern=MULTILINE)]


class SuspendAccount(_Accounts, frozen=True):
    user_id: str
    reason: Reason
    #: When the suspension ends by itself (in the future); None: indefinitely.
    until: datetime | None = None


class UnsuspendAccount(_Accounts, frozen=True):
    user_id: str
    reason: Reason


DeviceName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class RenameDevice(_Accounts, frozen=True):
    session_id: str
    name: DeviceName


class GrantVip(_Accounts, frozen=True):
    user_id: str
    until: datetime
    reason: Reason


class GrantRole(_Accounts, frozen=True):
    user_id: str
    role: Annotated[str, msgspec.Meta(max_length=32)]
    reason: Reason = ""


class RevokeRole(_Accounts, frozen=True):
    user_id: str
    role: Annotated[str, msgspec.Meta(max_length=32)]
    reason: Reason = ""
