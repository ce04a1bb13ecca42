"""The accounts context (identity): phone sign-up with SMS codes, passwords, sessions and
refresh tokens, TOTP second factor, roles, and the account's standing (suspended, limited).

`TABLE` is the index of this context: every command it answers and the procedure that
carries it out (`procedures.py`, `signin.py`, `admin.py`). `background` starts the SMS
sender and the reactor that carries out moderators' account actions (`moderation.py`)
beside the handlers.
"""

from __future__ import annotations

from typing import Any

from core.bus import HandlerTable, Procedure
from handlers.accounts import admin, signin
from handlers.accounts import procedures as p
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
    LogOut,
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
from handlers.accounts.events import EVENTS

CONTEXT = "accounts"

TABLE: HandlerTable = {
    StartPhoneVerification: Procedure(p.start_verification),
    ResendVerificationCode: Procedure(p.resend_code),
    VerifyPhone: Procedure(p.verify_phone),
    Register: Procedure(p.register),
    LogIn: Procedure(signin.log_in),
    CompleteSecondFactor: Procedure(signin.second_factor),
    RefreshSession: Procedure(signin.refresh_session),
    EndSession: Procedure(signin.end_session),
    LogOut: Procedure(signin.log_out),
    ChangePassword: Procedure(p.change_password),
    ResetPassword: Procedure(p.reset_password),
    StartTwoFactorSetup: Procedure(p.start_totp_setup),
    EnableTwoFactor: Procedure(p.enable_totp),
    DisableTwoFactor: Procedure(p.disable_totp),
    GrantRole: Procedure(admin.grant_role),
    RevokeRole: Procedure(admin.revoke_role),
    SuspendAccount: Procedure(admin.suspend_account),
    UnsuspendAccount: Procedure(admin.unsuspend_account),
    EraseAccount: Procedure(p.erase_account),
    ExportAccount: Procedure(p.export_account),
    RenameDevice: Procedure(p.rename_device),
    GrantVip: Procedure(admin.grant_vip),
}


def background(infra: Any) -> list[Any]:
    """The SMS sender, draining the queue the procedures fill, and the reactor to
    moderators' decisions and appeals."""
    from handlers.accounts import moderation
    from handlers.accounts.sms import build_provider
    from handlers.accounts.sms_jobs import SmsSender

    return [
        SmsSender(infra.nc.jetstream(), infra.secret_key, build_provider(infra.settings)),
        *moderation.background(infra),
    ]


__all__ = ["CONTEXT", "EVENTS", "TABLE", "background"]
