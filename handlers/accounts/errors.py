"""Typed errors of the accounts context; codes are stable (`quark:<code>` problem types).

Login failures all read `invalid-credentials`, whatever failed (unknown phone, wrong
password): the answer must not tell whether a phone is registered.
"""

from datetime import datetime

from core.errors import ConflictError, ForbiddenError, NotFoundError, QuarkError, ValidationError


class InvalidPhone(ValidationError):
    code = "invalid-phone"
    title = "This is not a valid phone number"


class WeakPassword(ValidationError):
    code = "weak-password"
    title = "The password is too weak"


class VerificationNotFound(NotFoundError):
    code = "verification-not-found"
    title = "No such verification"


class VerificationExpired(QuarkError):
    code = "verification-expired"
    status = 410
    title = "The code has expired; request a new one"


class VerificationExhausted(QuarkError):
    code = "verification-exhausted"
    status = 410
    title = "Too many wrong codes; start again"


class VerificationUsed(ConflictError):
    code = "verification-used"
    title = "This verification was already used"


class WrongCode(QuarkError):
    code = "wrong-code"
    status = 400
    title = "The code is not correct"


class ResendTooSoon(QuarkError):
    code = "resend-too-soon"
    status = 429
    title = "A new code cannot be sent yet"


class InvalidRegistration(QuarkError):
    code = "invalid-registration-token"
    status = 400
    title = "The registration token is not valid; verify the phone again"


class PhoneTaken(ConflictError):
    code = "phone-taken"
    title = "An account with this phone number exists; log in or reset the password"


class InvalidCredentials(QuarkError):
    code = "invalid-credentials"
    status = 401
    title = "The phone number or the password is not correct"


class InvalidSecondFactor(QuarkError):
    code = "invalid-code"
    status = 401
    title = "The code is not correct or was already used"


class InvalidMfaToken(QuarkError):
    code = "invalid-mfa-token"
    status = 401
    title = "The second-factor token is not valid; log in again"


class InvalidRefreshToken(QuarkError):
    code = "invalid-refresh-token"
    status = 401
    title = "The refresh token is not valid"


class RefreshTokenReusedError(QuarkError):
    code = "refresh-token-reused"
    status = 401
    title = "This refresh token was already used; the session has been ended"


class SessionNotFound(NotFoundError):
    code = "session-not-found"
    title = "No such session"


class InvalidPushSubscription(ValidationError):
    code = "invalid-push-subscription"
    title = "The push subscription is not valid"


class WrongPassword(ForbiddenError):
    code = "wrong-password"
    title = "The current password is not correct"


class AccountNotFound(NotFoundError):
    code = "account-not-found"
    title = "No such account"


class TwoFactorState(ConflictError):
    code = "two-factor-state"
    title = "Two-factor authentication is not in a state that allows this"


class UnknownRole(ValidationError):
    code = "unknown-role"
    title = "No such role"


class AccountSuspendedError(ForbiddenError):
    """A suspended account's restricted session asked for what it may not do; the problem
    says until when (`suspended_until`, null: indefinitely)."""

    code = "account-suspended"
    title = "This account is suspended"

    def __init__(self, detail: str | None = None, *, until: datetime | None = None) -> None:
        super().__init__(
            detail
            or "a suspended account may only appeal, export its data, erase itself and sign out",
            members={"suspended_until": until},
        )
