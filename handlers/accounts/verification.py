"""The phone verification aggregate (`accounts.verification`, one per verification): the
SMS code sent to a phone, the attempts at it, its reissues and its use by sign-up or a
password reset. Pure `evolve` and `decide`, like every aggregate of the context: no I/O, no
clock (`now` and every hash come in as arguments); the procedures compose them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from core.errors import QuarkError
from core.eventstore import AggregateKind
from core.personal import Sealed
from core.registry import Event
from handlers.accounts.credentials import msgspec_compare
from handlers.accounts.errors import (
    ResendTooSoon,
    VerificationExhausted,
    VerificationExpired,
    VerificationNotFound,
    VerificationUsed,
    WrongCode,
)
from handlers.accounts.events import (
    VerificationAttemptFailed,
    VerificationCodeReissued,
    VerificationConsumed,
    VerificationStarted,
    VerificationSucceeded,
)
from handlers.accounts.verdict import Verdict

MAX_CODE_ATTEMPTS = 5


class VerificationState(msgspec.Struct, frozen=True):
    exists: bool = False
    purpose: str = ""
    phone_hash: str = ""
    phone: Sealed | None = None
    user_id: str = ""
    code_hash: str = ""
    expires_at: datetime | None = None
    resend_after: datetime | None = None
    attempts: int = 0
    #: "pending" | "verified" | "consumed"
    status: str = ""
    reissues: int = 0


def evolve_verification(state: VerificationState, event: Event) -> VerificationState:
    match event:
        case VerificationStarted():
            return VerificationState(
                exists=True,
                purpose=event.purpose,
                phone_hash=event.phone_hash,
                phone=event.phone,
                user_id=event.user_id,
                code_hash=event.code_hash,
                expires_at=event.expires_at,
                resend_after=event.resend_after,
                status="pending",
            )
        case VerificationCodeReissued():
            return msgspec.structs.replace(
                state,
                code_hash=event.code_hash,
                expires_at=event.expires_at,
                resend_after=event.resend_after,
                attempts=0,
                reissues=state.reissues + 1,
            )
        case VerificationAttemptFailed():
            return msgspec.structs.replace(state, attempts=event.attempts)
        case VerificationSucceeded():
            return msgspec.structs.replace(state, status="verified")
        case VerificationConsumed():
            return msgspec.structs.replace(state, status="consumed")
        case _:
            return state


VERIFICATION = AggregateKind(
    type="accounts.verification",
    initial=VerificationState,
    evolve=evolve_verification,
    state_type=VerificationState,
)


def decide_start_verification(
    state: VerificationState,
    *,
    verification_id: str,
    purpose: str,
    phone_hash: str,
    phone: Sealed | None,
    user_id: str,
    code_hash: str,
    ttl: timedelta,
    resend_after: timedelta,
    now: datetime,
) -> list[Event]:
    if state.exists:
        return []  # a retry of the same start (ids are derived from the command id)
    return [
        VerificationStarted(
            verification_id=verification_id,
            purpose=purpose,
            phone_hash=phone_hash,
            phone=phone,
            user_id=user_id,
            code_hash=code_hash,
            expires_at=now + ttl,
            resend_after=now + resend_after,
            started_at=now,
        )
    ]


def _pending(state: VerificationState, now: datetime) -> None:
    if not state.exists:
        raise VerificationNotFound()
    if state.status != "pending":
        raise VerificationUsed()
    if state.attempts >= MAX_CODE_ATTEMPTS:
        raise VerificationExhausted()


def decide_reissue(
    state: VerificationState,
    *,
    verification_id: str,
    code_hash: str,
    ttl: timedelta,
    resend_after: timedelta,
    now: datetime,
) -> list[Event]:
    _pending(state, now)
    assert state.resend_after is not None
    if now < state.resend_after:
        wait = (state.resend_after - now).total_seconds()
        raise ResendTooSoon(f"wait {wait:.0f} s before asking again", retry_after=wait)
    return [
        VerificationCodeReissued(
            verification_id=verification_id,
            code_hash=code_hash,
            expires_at=now + ttl,
            resend_after=now + resend_after,
            reissued_at=now,
        )
    ]


def decide_check_code(
    state: VerificationState,
    *,
    verification_id: str,
    purpose: str,
    candidate_hash: str,
    now: datetime,
) -> Verdict:
    """A code attempt. A wrong code is an event (attempts are counted in the log, so no
    process restart resets them), then the error."""
    if state.exists and state.purpose != purpose:
        raise VerificationNotFound()
    _pending(state, now)
    assert state.expires_at is not None
    if now >= state.expires_at:
        raise VerificationExpired()
    if not msgspec_compare(state.code_hash, candidate_hash):
        attempts = state.attempts + 1
        left = MAX_CODE_ATTEMPTS - attempts
        error: QuarkError = (
            WrongCode(f"{left} attempt{'s' if left != 1 else ''} left")
            if left
            else VerificationExhausted()
        )
        return Verdict(
            [
                VerificationAttemptFailed(
                    verification_id=verification_id, attempts=attempts, failed_at=now
                )
            ],
            error,
        )
    return Verdict([VerificationSucceeded(verification_id=verification_id, succeeded_at=now)])


def decide_consume(
    state: VerificationState, *, verification_id: str, user_id: str, now: datetime
) -> list[Event]:
    if state.status == "consumed":
        return []
    if state.status != "verified":
        raise VerificationUsed("the phone was not verified")
    return [VerificationConsumed(verification_id=verification_id, user_id=user_id, consumed_at=now)]
