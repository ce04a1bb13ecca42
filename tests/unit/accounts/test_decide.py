"""The accounts aggregates' pure decisions: codes, claims, refresh rotation, one-time TOTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.personal import Sealed
from handlers.accounts import credentials as cred
from handlers.accounts.account import (
    ACCOUNT,
    AccountState,
    decide_log_out,
    decide_refresh,
    decide_second_factor,
    decide_totp_enable,
)
from handlers.accounts.devices import device_name
from handlers.accounts.errors import (
    InvalidRefreshToken,
    InvalidSecondFactor,
    PhoneTaken,
    RefreshTokenReusedError,
    VerificationExpired,
    WeakPassword,
)
from handlers.accounts.events import LoginFailed, RefreshTokenReused, SessionOpened, SessionRevoked
from handlers.accounts.phone_claim import ClaimState, decide_claim
from handlers.accounts.verification import (
    VERIFICATION,
    decide_check_code,
    decide_start_verification,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SEALED = Sealed(n="bm9uY2U=", c="Y2lwaGVy")
USER = "0192f0a0-0000-7000-8000-00000000abcd"
SID = "0192f0a0-0000-7000-8000-00000000beef"


def _verification(code_hash: str = "h1"):
    events = decide_start_verification(
        VERIFICATION.initial(),
        verification_id="v",
        purpose="signup",
        phone_hash="p",
        phone=SEALED,
        user_id=USER,
        code_hash=code_hash,
        ttl=timedelta(minutes=5),
        resend_after=timedelta(seconds=60),
        now=NOW,
    )
    state = VERIFICATION.initial()
    for e in events:
        state = VERIFICATION.evolve(state, e)
    return state


def test_a_wrong_code_is_recorded_and_an_expired_one_refused() -> None:
    state = _verification()
    verdict = decide_check_code(
        state, verification_id="v", purpose="signup", candidate_hash="nope", now=NOW
    )
    assert verdict.error is not None and verdict.error.code == "wrong-code"
    assert len(verdict.events) == 1
    with pytest.raises(VerificationExpired):
        decide_check_code(
            state,
            verification_id="v",
            purpose="signup",
            candidate_hash="h1",
            now=NOW + timedelta(minutes=5),
        )
    ok = decide_check_code(
        state, verification_id="v", purpose="signup", candidate_hash="h1", now=NOW
    )
    assert ok.error is None and type(ok.events[0]).__name__ == "VerificationSucceeded"


def test_a_phone_is_claimed_once() -> None:
    assert decide_claim(ClaimState(), phone_hash="p", user_id=USER, now=NOW)
    assert decide_claim(ClaimState(USER), phone_hash="p", user_id=USER, now=NOW) == []
    with pytest.raises(PhoneTaken):
        decide_claim(ClaimState("someone-else"), phone_hash="p", user_id=USER, now=NOW)


def _session(**kw: object) -> SessionOpened:
    return SessionOpened(
        user_id=USER,
        session_id=SID,
        refresh_hash=str(kw.get("refresh_hash", "r0")),
        device="d",
        ip=None,
        method="password",
        opened_at=NOW,
    )


def _account(*events: object) -> AccountState:
    state = AccountState(exists=True)
    for e in events:
        state = ACCOUNT.evolve(state, e)
    return state


def test_refresh_rotates_and_a_reused_token_ends_the_session() -> None:
    state = _account(_session())
    first = decide_refresh(
        state, user_id=USER, session_id=SID, presented_hash="r0", new_hash="r1", now=NOW
    )
    assert first.error is None
    state = _account(_session(), *first.events)
    reuse = decide_refresh(
        state, user_id=USER, session_id=SID, presented_hash="r0", new_hash="r2", now=NOW
    )
    assert isinstance(reuse.error, RefreshTokenReusedError)
    state = _account(_session(), *first.events, *reuse.events)
    assert SID not in state.sessions and SID in state.revoked
    with pytest.raises(InvalidRefreshToken):
        decide_refresh(
            state, user_id=USER, session_id=SID, presented_hash="r1", new_hash="r3", now=NOW
        )


def test_signing_out_by_refresh_token_ends_the_session_and_a_spent_one_is_a_reuse() -> None:
    state = _account(_session())
    rotated = decide_refresh(
        state, user_id=USER, session_id=SID, presented_hash="r0", new_hash="r1", now=NOW
    )
    state = _account(_session(), *rotated.events)
    out = decide_log_out(state, user_id=USER, session_id=SID, presented_hash="r1", now=NOW)
    assert out.error is None
    assert [(type(e), e.reason) for e in out.events] == [(SessionRevoked, "logout")]
    # The token before the rotation: someone else holds a copy, as in a refresh.
    spent = decide_log_out(state, user_id=USER, session_id=SID, presented_hash="r0", now=NOW)
    assert isinstance(spent.error, RefreshTokenReusedError)
    assert [type(e) for e in spent.events] == [RefreshTokenReused, SessionRevoked]
    with pytest.raises(InvalidRefreshToken):
        decide_log_out(state, user_id=USER, session_id=SID, presented_hash="forged", now=NOW)
    ended = _account(_session(), *rotated.events, *out.events)
    with pytest.raises(InvalidRefreshToken):
        decide_log_out(ended, user_id=USER, session_id=SID, presented_hash="r1", now=NOW)


def test_a_totp_step_is_accepted_once_and_recovery_codes_are_spent() -> None:
    state = msgspec_replace(_account(), totp_secret=SEALED, recovery=["rc1"], totp_last_step=10)
    failure = LoginFailed(user_id=USER, reason="second-factor", ip=None, failed_at=NOW)
    old = decide_second_factor(state, steps=[10], recovery="x", session=_session(), failure=failure)
    assert isinstance(old.error, InvalidSecondFactor) and old.events == [failure]
    fresh = decide_second_factor(
        state, steps=[10, 11], recovery="x", session=_session(), failure=failure
    )
    assert fresh.error is None and fresh.events[0].totp_step == 11
    spent = ACCOUNT.evolve(state, fresh.events[0])
    assert spent.totp_last_step == 11
    rec = decide_second_factor(spent, steps=[], recovery="rc1", session=_session(), failure=failure)
    after = ACCOUNT.evolve(spent, rec.events[0])
    assert after.recovery == []
    again = decide_second_factor(
        after, steps=[], recovery="rc1", session=_session(), failure=failure
    )
    assert again.error is not None


def test_enabling_needs_a_code_of_a_new_step() -> None:
    state = msgspec_replace(_account(), totp_pending=SEALED, totp_last_step=5)
    with pytest.raises(InvalidSecondFactor):
        decide_totp_enable(state, user_id=USER, steps=[4, 5], recovery_hashes=[], now=NOW)
    assert decide_totp_enable(state, user_id=USER, steps=[6], recovery_hashes=[], now=NOW)


def test_totp_codes_match_their_step_only_within_the_window() -> None:
    secret = cred.new_totp_secret()
    step = cred.totp_step(NOW)
    assert cred.totp_steps(secret, cred.totp_code(secret, step), NOW) == [step]
    assert cred.totp_steps(secret, cred.totp_code(secret, step + 1), NOW) == [step + 1]
    assert cred.totp_steps(secret, cred.totp_code(secret, step + 3), NOW) == []
    assert cred.totp_steps(secret, "abcdef", NOW) == []


@pytest.mark.parametrize(
    "password", ["short", "password1234", "1234567890", "zzzzzzzzzzzz", "+79161234567xy"]
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        cred.check_password(password, avoid=("79161234567", "Ada"))


def test_a_good_password_passes_and_refresh_tokens_parse() -> None:
    cred.check_password("correct horse battery staple")
    token = cred.refresh_token(b"k" * 32, USER, SID, "nonce")
    assert cred.parse_refresh_token(token) == (USER, SID)
    assert token != cred.refresh_token(b"k" * 32, USER, SID, "other nonce")
    assert cred.parse_refresh_token("a.b") is None


def msgspec_replace(state: AccountState, **changes: object) -> AccountState:
    import msgspec

    return msgspec.structs.replace(state, **changes)


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("QuarkApp/1.4.2 (iOS 17.5)", "Quark app on iOS"),
        ("curl/8.5.0", "curl"),
        ("Python/3.11 aiohttp/3.14.5", "Python"),
        ("", "Unknown device"),
    ],
)
def test_sessions_get_readable_device_names(agent: str, name: str) -> None:
    assert device_name(agent) == name
