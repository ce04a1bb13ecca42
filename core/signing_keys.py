"""The signing keys of access tokens: a ring of Ed25519 keys that rotates without a restart
(`core.tokens` signs and verifies with it).

- The ring lives in the `signing_keys` KV bucket, one entry per key id (`kid`). Private keys
  are stored sealed (AES-GCM under a key derived from the platform secret), never in clear.
- Rotating adds a key that signs from then on; older keys only verify, until `retire_at`,
  which leaves every token they signed time to expire. A process that meets an unknown `kid`
  reloads the ring (at most once a second), so a rotation made elsewhere is seen at once.

Key ranking: the signing key is the newest key without `retire_at`, by `(created_at, kid)`.
Two processes starting at once may each create a first key; both verify, and every process
that has seen both signs with the same one.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Final, Self

import msgspec
import nats.js.errors
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import OKPAlgorithm
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from core.access_claims import ACCESS_TTL, CLOCK_SKEW
from core.errors import ConfigError, QuarkError
from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE, unavailable

log = get_logger("quark.tokens")

#: The JWS algorithm of Ed25519 keys: the one a token may be signed with.
ALGORITHM: Final = "EdDSA"
BUCKET: Final = "signing_keys"
#: How often `keep_fresh` reloads the ring (seconds).
REFRESH_SECONDS: Final = 30.0
#: Least time between two reloads caused by an unknown `kid`: a client sending made-up kids
#: must not turn every request into a KV read.
UNKNOWN_KID_REFRESH_SECONDS: Final = 1.0
#: How long a replaced key keeps verifying. A token signed just before the rotation lives
#: ACCESS_TTL more; a process that has not reloaded yet may sign with the old key for up to
#: REFRESH_SECONDS longer; and verifiers tolerate CLOCK_SKEW past `exp`.
RETIRE_AFTER: Final = ACCESS_TTL + int(REFRESH_SECONDS) + CLOCK_SKEW

_WRAP_INFO: Final = b"quark/signing-keys"


class NoSigningKey(QuarkError):
    code = "no-signing-key"
    title = "No access token signing key is available"


class _StoredKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A ring entry as kept in KV: the Ed25519 seed sealed with AES-GCM, the kid as AAD."""

    v: int = 1
    kid: str
    created_at: int
    retire_at: int | None
    nonce: str
    sealed_key: str


_stored_decoder = msgspec.json.Decoder(_StoredKey)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    """Strict base64url without padding: one spelling per byte string, so a token cannot be
    varied (padding, stray characters, unused bits) and still verify. The decoder alone is
    lenient (it skips characters outside the alphabet); re-encoding is what makes it strict."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # ValueError if not ASCII
    if _b64url(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def new_kid() -> str:
    """A short random key id; url-safe characters only, so it is also a valid KV key."""
    return secrets.token_urlsafe(9)


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring, in memory."""

    kid: str
    created_at: int
    retire_at: int | None
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    @classmethod
    def generate(cls, now: int, *, kid: str | None = None) -> SigningKey:
        return cls(kid or new_kid(), now, None, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def rank(self) -> tuple[int, str]:
        return (self.created_at, self.kid)

    def is_live(self, now: int) -> bool:
        """Still verifies at `now` (retirement is exclusive: at `retire_at` it is gone)."""
        return self.retire_at is None or now < self.retire_at

    def state(self, now: int) -> str:
        if self.retire_at is None:
            return "active"
        return "retiring" if self.is_live(now) else "retired"

    def jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 8037), named and restricted to signing with EdDSA."""
        public = OKPAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the new signing key, the keys given a `retire_at`, the kids
    removed because their `retire_at` had passed."""

    new: SigningKey
    retiring: list[SigningKey]
    removed: list[str]


def signing_key_of(keys: Iterable[SigningKey], now: int) -> SigningKey | None:
    """The key that signs: the highest-ranked key without `retire_at`."""
    candidates = [k for k in keys if k.retire_at is None and k.is_live(now)]
    return max(candidates, key=lambda k: k.rank, default=None)


def plan_rotation(
    keys: Iterable[SigningKey], now: int, retire_after: int, *, new: SigningKey | None = None
) -> Rotation:
    """Decide a rotation without doing it.

    The new key ranks above every key the caller knows (its `created_at` is bumped past the
    newest one if clocks or a same-second rotation would tie them), and only keys ranked
    below it are retired: two rotations racing each retire the other's older keys, never
    both new ones, so exactly one key keeps signing.
    """
    keys = list(keys)
    newest = max((k.created_at for k in keys), default=now - 1)
    new = new or SigningKey.generate(max(now, newest + 1))
    retiring = [
        replace(k, retire_at=now + retire_after)
        for k in keys
        if k.retire_at is None and k.rank < new.rank
    ]
    removed = [k.kid for k in keys if not k.is_live(now)]
    return Rotation(new, retiring, removed)


@dataclass(frozen=True)
class _Entry:
    key: str
    value: bytes
    revision: int


class KeyRing:
    """The signing keys, cached in memory and kept in the `signing_keys` bucket.

    A ring built with `in_memory` has no bucket: `refresh` does nothing and `ensure` and
    `rotate` change only the cache (for tests and tools that need no server).
    """

    def __init__(
        self,
        bucket: KeyValue | None,
        secret: bytes | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bucket = bucket
        self._js: JetStreamContext | None = None
        self._wrap = AESGCM(_derive(secret)) if secret is not None else None
        self._keys: dict[str, SigningKey] = {}
        self._revisions: dict[str, int] = {}
        self._clock = clock
        self._last_unknown_refresh = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, js: JetStreamContext, secret: bytes) -> KeyRing:
        """The ring over the `signing_keys` bucket, loaded.

        Raises:
            ConfigError: the bucket does not exist (`quark streams apply` creates it), or a
                key does not open with `secret`.
        """
        try:
            bucket = await js.key_value(BUCKET)
        except nats.js.errors.BucketNotFoundError:
            raise ConfigError(
                f"the {BUCKET} bucket is missing: run `quark streams apply`"
            ) from None
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        ring = cls(bucket, secret)
        ring._js = js
        await ring.refresh()
        return ring

    @classmethod
    def in_memory(
        cls, keys: Iterable[SigningKey], *, clock: Callable[[], float] = time.monotonic
    ) -> Self:
        ring = cls(None, None, clock=clock)
        ring._keys = {k.kid: k for k in keys}
        return ring

    # -- reading -------------------------------------------------------------------------------

    @property
    def keys(self) -> list[SigningKey]:
        """Every key the ring holds, retired ones included, oldest first."""
        return sorted(self._keys.values(), key=lambda k: k.rank)

    def signing_key(self, now: int) -> SigningKey:
        """The key new tokens are signed with.

        Raises:
            NoSigningKey: the ring has no active key (`ensure` was not called at start).
        """
        key = signing_key_of(self._keys.values(), now)
        if key is None:
            raise NoSigningKey("the signing key ring has no active key")
        return key

    async def verification_key(self, kid: str, now: int) -> SigningKey | None:
        """The live key named `kid`, reloading the ring once if the kid is not known yet
        (a key another process just added)."""
        key = self._keys.get(kid)
        if key is None:
            async with self._lock:
                key = self._keys.get(kid)  # reloaded while this one waited
                if key is None and (
                    self._clock() - self._last_unknown_refresh >= UNKNOWN_KID_REFRESH_SECONDS
                ):
                    # Stamped before the read: a failing reload is throttled as well.
                    self._last_unknown_refresh = self._clock()
                    await self.refresh()
                    key = self._keys.get(kid)
        if key is None or not key.is_live(now):
            return None
        return key

    def jwks(self, now: int | None = None) -> dict[str, list[dict[str, str]]]:
        """The public keys that still verify, newest first (a JWK Set, RFC 7517)."""
        at = int(time.time()) if now is None else now
        live = [k for k in self.keys if k.is_live(at)]
        return {"keys": [k.jwk() for k in reversed(live)]}

    # -- changing --------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload every key from the bucket, replacing the cache."""
        if self._bucket is None:
            return
        try:
            entries = await self._load()
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        keys: dict[str, SigningKey] = {}
        revisions: dict[str, int] = {}
        for entry in entries:
            key = self._open(entry.key, entry.value or b"")
            keys[key.kid] = key
            revisions[key.kid] = entry.revision or 0
        self._keys, self._revisions = keys, revisions

    async def ensure(self, now: int) -> SigningKey:
        """Make sure a key can sign (the platform's first start creates one).

        Several processes starting together may each add a key; all of them verify, and the
        ranking picks the same signer everywhere once the ring is reloaded.
        """
        await self.refresh()
        key = signing_key_of(self._keys.values(), now)
        if key is not None:
            return key
        key = SigningKey.generate(now)
        await self._create(key)
        await self.refresh()
        # The reload shows keys other processes added meanwhile; ours is stored for certain
        # (the write was acknowledged) even when the watch that reloads has not seen it yet.
        self._keys.setdefault(key.kid, key)
        return self.signing_key(now)

    async def rotate(self, now: int, retire_after: int = RETIRE_AFTER) -> Rotation:
        """Add a key that signs from now on; older keys verify until `now + retire_after`.

        `retire_after` must outlast every token the older keys signed (see `RETIRE_AFTER`).
        Keys whose `retire_at` has passed are removed from the bucket.
        """
        await self.refresh()
        plan = plan_rotation(self._keys.values(), now, retire_after)
        await self._create(plan.new)
        retiring = [await self._retire(key, now + retire_after) for key in plan.retiring]
        for kid in plan.removed:
            await self._remove(kid)
        await self.refresh()
        return Rotation(plan.new, [k for k in retiring if k is not None], plan.removed)

    async def keep_fresh(self, interval: float = REFRESH_SECONDS) -> None:
        """Reload the ring every `interval` seconds until cancelled (a background task of
        each worker): picks up retirements, which an unknown `kid` would not reveal."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:
                # The cached keys stay valid (and verify); the next round tries again.
                log.warning("signing_keys_refresh_failed", error=repr(exc))

    # -- storage -------------------------------------------------------------------------------

    async def _load(self) -> list[_Entry]:
        """Every live key's last value, read from the bucket's stream subject by subject.

        Not a KV watch: nats-py's watch can end its initial replay early (nats.py #842,
        #995) and would hand back a partial ring.
        """
        assert self._bucket is not None and self._js is not None
        stream, prefix = f"KV_{BUCKET}", f"$KV.{BUCKET}."
        info = await self._js.stream_info(stream, subjects_filter=f"{prefix}>")
        entries: list[_Entry] = []
        for subject in sorted(info.state.subjects or {}):
            try:
                msg = await self._js.get_last_msg(stream, subject)
            except nats.js.errors.NotFoundError:
                continue  # purged between the listing and the read
            if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE") or not msg.data:
                continue
            entries.append(_Entry(subject[len(prefix) :], msg.data, msg.seq or 0))
        return entries

    def _seal(self, key: SigningKey) -> bytes:
        assert self._wrap is not None
        nonce = os.urandom(12)
        sealed = self._wrap.encrypt(nonce, key.private_key.private_bytes_raw(), key.kid.encode())
        stored = _StoredKey(
            kid=key.kid,
            created_at=key.created_at,
            retire_at=key.retire_at,
            nonce=_b64url(nonce),
            sealed_key=_b64url(sealed),
        )
        return msgspec.json.encode(stored)

    def _open(self, kv_key: str, value: bytes) -> SigningKey:
        assert self._wrap is not None
        try:
            stored = _stored_decoder.decode(value)
            if stored.kid != kv_key:
                raise ValueError("kid differs from its KV key")
            seed = self._wrap.decrypt(
                _unb64url(stored.nonce), _unb64url(stored.sealed_key), stored.kid.encode()
            )
            private_key = Ed25519PrivateKey.from_private_bytes(seed)
        except (msgspec.DecodeError, InvalidTag, ValueError):
            raise ConfigError(
                f"signing key {kv_key!r} in {BUCKET} does not open with this secret key "
                "(QUARK_SECRET_KEY_FILE differs from the one that created it?)"
            ) from None
        return SigningKey(stored.kid, stored.created_at, stored.retire_at, private_key)

    async def _create(self, key: SigningKey) -> None:
        if self._bucket is None:
            self._keys[key.kid] = key
            return
        try:
            # Expected last sequence 0: a kid is written once; a clash is a bug, not a race.
            revision = await self._bucket.update(key.kid, self._seal(key), last=0)
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        self._revisions[key.kid] = revision
        self._keys[key.kid] = key

    async def _retire(self, key: SigningKey, retire_at: int) -> SigningKey | None:
        """Set `retire_at` unless someone else changed the key first (a racing rotation,
        whose own `retire_at` then stands). None when the key was not changed here."""
        retired = replace(key, retire_at=retire_at)
        if self._bucket is None:
            self._keys[key.kid] = retired
            return retired
        try:
            await self._bucket.update(
                key.kid, self._seal(retired), last=self._revisions.get(key.kid, 0)
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        self._keys[key.kid] = retired
        return retired

    async def _remove(self, kid: str) -> None:
        self._keys.pop(kid, None)
        if self._bucket is None:
            return
        try:
            # Purge, not delete: no revision of the sealed key stays behind.
            await self._bucket.purge(kid)
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None


def _derive(secret: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=_WRAP_INFO).derive(secret)
