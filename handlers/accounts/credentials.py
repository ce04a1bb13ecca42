"""Secrets of the accounts context and how they are checked: passwords (argon2id), SMS codes,
refresh tokens, TOTP codes and recovery codes. Pure functions plus the password hasher;
hashing runs in a thread, because argon2 is deliberately slow and would stall the loop.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import FieldError
from handlers.accounts.commands import CODE_LENGTH, PASSWORD_MAX, PASSWORD_MIN
from handlers.accounts.errors import WeakPassword

RECOVERY_CODES = 10
TOTP_ISSUER = "Quark"


class Passwords:
    """argon2id with the configured cost. `verify` against `dummy` for unknown accounts, so
    a login for an unregistered phone costs the same time as a wrong password."""

    def __init__(self, memory_kib: int, iterations: int) -> None:
        self._hasher = PasswordHasher(time_cost=iterations, memory_cost=memory_kib, parallelism=1)
        self.dummy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@functools.cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn's list of the 30,000 most common passwords (from leaked password dumps).
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, *, field: str = "password", avoid: tuple[str, ...] = ()) -> None:
    """Raises `WeakPassword` (422 naming `field`) for a password too short, too long, common,
    or equal to something personal (`avoid`: the phone digits, the display name)."""
    problem = None
    folded = password.casefold()
    if len(password) < PASSWORD_MIN:
        problem = f"must be at least {PASSWORD_MIN} characters"
    elif len(password) > PASSWORD_MAX:
        problem = f"must be at most {PASSWORD_MAX} characters"
    elif folded in _common_passwords() or folded.strip("0123456789!.") in _common_passwords():
        problem = "is one of the most common passwords"
    elif len(set(password)) < 4:
        problem = "repeats too few different characters"
    elif any(a and a.casefold() in folded and len(a) >= 5 for a in avoid):
        problem = "must not contain your phone number or name"
    if problem:
        raise WeakPassword(f"{field} {problem}", errors=[FieldError(field, problem)])


# -- one-time SMS codes ---------------------------------------------------------------------


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def code_hash(key: bytes, verification_id: str, code: str) -> str:
    """Keyed: six digits are a million guesses, so a plain hash of them would be no secret."""
    digest = hmac.new(key, f"sms-code\x00{verification_id}\x00{code}".encode(), hashlib.sha256)
    return digest.hexdigest()


# -- refresh tokens -------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refresh_token(key: bytes, user_id: str, session_id: str, nonce: str) -> str:
    """`<user id>.<session id>.<secret>`: the ids say which aggregate to load, the secret is
    derived from the platform key and a per-issue nonce (the command id), so a retried
    command hands out the same token; only its hash is stored."""
    secret = hmac.new(key, f"refresh\x00{session_id}\x00{nonce}".encode(), hashlib.sha256)
    return f"{user_id}.{session_id}.{_b64(secret.digest())}"


def parse_refresh_token(token: str) -> tuple[str, str] | None:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- comparing stored hashes ----------------------------------------------------------------


def msgspec_compare(a: str, b: str) -> bool:
    """Whether a stored hash (of an SMS code or a refresh token) equals the one presented,
    compared in constant time so the time taken tells nothing about how much of it matched."""
    return hmac.compare_digest(a.encode(), b.encode())


# -- TOTP -----------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account_label: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_label, issuer_name=TOTP_ISSUER)


def totp_steps(secret: str, code: str, now: datetime, window: int = 1) -> list[int]:
    """The time steps (30 s each) within ±`window` at which `code` is valid, oldest first.
    `decide` picks one later than the last accepted step: a code is good once only."""
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return []
    step = totp.timecode(now)
    return [
        s
        for s in range(step - window, step + window + 1)
        if hmac.compare_digest(totp.generate_otp(s), code)
    ]


def totp_code(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def totp_step(now: datetime) -> int:
    return pyotp.TOTP(pyotp.random_base32()).timecode(now)


# -- recovery codes -------------------------------------------------------------------------


def recovery_codes(key: bytes, user_id: str, nonce: str) -> list[str]:
    """Ten codes like `k3x9-7qpa-m2dd`, derived from the key and a nonce (the command id) so a
    retried command returns the same codes; stored only as `recovery_hash`es."""
    out = []
    for i in range(RECOVERY_CODES):
        raw = hmac.new(key, f"recovery\x00{user_id}\x00{nonce}\x00{i}".encode(), hashlib.sha256)
        text = base64.b32encode(raw.digest()[:8]).decode().lower().rstrip("=")[:12]
        out.append(f"{text[:4]}-{text[4:8]}-{text[8:12]}")
    return out


def recovery_hash(key: bytes, user_id: str, code: str) -> str:
    normal = code.strip().lower().replace(" ", "").replace("-", "")
    return hmac.new(
        key, f"recovery-code\x00{user_id}\x00{normal}".encode(), hashlib.sha256
    ).hexdigest()
