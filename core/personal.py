"""Personal data: sealed with a key of its own per person, so a person can be forgotten
although events are forever (DESIGN §2, crypto-shredding).

- A personal field inside an event is a `Sealed` value: AES-256-GCM under the person's data
  key, with the person id and the field name as associated data (a sealed value copied into
  another person's event, or another field, does not open).
- Data keys live in the `person_keys` KV bucket (history 1), wrapped (AES-GCM) under a key
  derived from the platform secret. Erasing a person purges their key: from then on every
  `open` of their fields, in live reads and in replays alike, yields `ERASED`.
- Lookups by a personal value (one account per phone) use `lookup_hash`, a keyed HMAC: the
  value never appears in a subject, an event or a read model, and without the secret the
  hash cannot be reversed by trying every phone number.

Keys are cached in each process for `CACHE_SECONDS`: erasure is immediate in the process
that erases and takes effect in every other process within that time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import unicodedata
from collections import OrderedDict
from typing import Final

import msgspec
import nats.js.errors
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from core.errors import QuarkError
from core.ids import is_uuid
from core.natsutil import NATS_UNAVAILABLE, unavailable

#: What an erased person's fields read as.
ERASED: Final = "[erased]"
CACHE_SECONDS = 30.0
BUCKET = "person_keys"
CACHE_SIZE = 10_000


class Sealed(msgspec.Struct, frozen=True, kw_only=True):
    """A personal value as stored in events: version, nonce and ciphertext (base64)."""

    v: int = 1
    n: str
    c: str


class TamperedError(QuarkError):
    code = "tampered"
    title = "A sealed value failed its integrity check"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret)


def normalise(value: str) -> str:
    """The form personal values are hashed in: Unicode NFKC, trimmed, case-folded (callers
    normalise domain formats first, e.g. phones to E.164)."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


class Vault:
    """Seals and opens personal fields; erases people. One per process, built at bootstrap."""

    def __init__(self, js: JetStreamContext, keys: KeyValue, secret: bytes) -> None:
        self._js = js
        self._keys = keys
        self._wrap = AESGCM(_derive(secret, "quark/person-keys"))
        self._lookup_secret = _derive(secret, "quark/lookup")
        self._cache: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()

    @classmethod
    async def connect(cls, js: JetStreamContext, secret: bytes) -> Vault:
        """The vault over the `person_keys` bucket (created by `quark streams apply`)."""
        return cls(js, await js.key_value(BUCKET), secret)

    # -- lookups -----------------------------------------------------------------------------

    def lookup_hash(self, purpose: str, value: str) -> str:
        """A keyed, stable hash of a personal value for lookups and claim aggregates.

        `purpose` separates uses (a phone's hash for sign-up differs from any other use of
        the same digits). The result is 32 hex characters, safe in a NATS subject.
        """
        key = hmac.new(self._lookup_secret, purpose.encode(), hashlib.sha256).digest()
        return hmac.new(key, normalise(value).encode(), hashlib.sha256).hexdigest()[:32]

    # -- sealing -----------------------------------------------------------------------------

    async def seal(self, person_id: str, field: str, value: str) -> Sealed:
        """Encrypt `value` under the person's key (created on first use).

        Raises:
            ErasedPerson: the person was erased; nothing personal may be written for them.
        """
        key = await self._key(person_id, create=True)
        if key is None:
            raise ErasedPerson(f"person {person_id} was erased")
        nonce = os.urandom(12)
        ciphertext = AESGCM(key).encrypt(nonce, value.encode(), _aad(person_id, field))
        return Sealed(n=_b64(nonce), c=_b64(ciphertext))

    async def open(self, person_id: str, field: str, sealed: Sealed) -> str:
        """The plain value, or `ERASED` once the person's key is gone.

        Raises:
            TamperedError: the ciphertext, the person or the field does not match.
        """
        key = await self._key(person_id, create=False)
        if key is None:
            return ERASED
        try:
            plain = AESGCM(key).decrypt(
                base64.b64decode(sealed.n), base64.b64decode(sealed.c), _aad(person_id, field)
            )
        except (InvalidTag, ValueError):
            raise TamperedError(f"{field} of {person_id}") from None
        return plain.decode()

    async def erase(self, person_id: str) -> None:
        """Destroy the person's key: every sealed field of theirs becomes `ERASED`."""
        _check(person_id)
        try:
            await self._keys.purge(person_id)
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        self._remember(person_id, None)

    async def is_erased(self, person_id: str) -> bool:
        _check(person_id)
        try:
            return await self._was_erased(person_id)
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None

    # -- keys --------------------------------------------------------------------------------

    async def _key(self, person_id: str, *, create: bool) -> bytes | None:
        _check(person_id)
        cached = self._cache.get(person_id)
        if cached is not None and cached[0] > time.monotonic():
            self._cache.move_to_end(person_id)
            if cached[1] is not None or not create:
                return cached[1]
        try:
            key = await self._read(person_id)
            if key is None and create:
                if await self._was_erased(person_id):
                    self._remember(person_id, None)
                    return None
                key = await self._create(person_id)
        except NATS_UNAVAILABLE as exc:
            raise unavailable(exc) from None
        if key is not None or not create:
            self._remember(person_id, key)
        return key

    async def _read(self, person_id: str) -> bytes | None:
        try:
            entry = await self._keys.get(person_id)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        if not entry.value:
            return None
        return self._wrap.decrypt(entry.value[:12], entry.value[12:], person_id.encode())

    async def _was_erased(self, person_id: str) -> bool:
        """A purge leaves a marker message in the bucket's stream; a person never seen has
        nothing. (nats-py's KeyValue.get reports both as "not found", hence the raw read.)"""
        try:
            last = await self._js.get_last_msg(f"KV_{BUCKET}", f"$KV.{BUCKET}.{person_id}")
        except nats.js.errors.NotFoundError:
            return False
        return (last.headers or {}).get("KV-Operation") in ("PURGE", "DEL")

    async def _create(self, person_id: str) -> bytes:
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + self._wrap.encrypt(nonce, key, person_id.encode())
        try:
            # Expected last sequence 0: only a person never seen gets a key. Two first seals
            # race here and the loser uses the winner's key; an erased person's purge marker
            # is a message too, so their key is never re-created. (nats-py's create() would
            # re-create a purged key.)
            await self._keys.update(person_id, wrapped, last=0)
        except nats.js.errors.KeyWrongLastSequenceError:
            existing = await self._read(person_id)
            if existing is None:
                raise ErasedPerson(f"person {person_id} was erased") from None
            return existing
        return key

    def _remember(self, person_id: str, key: bytes | None) -> None:
        self._cache[person_id] = (time.monotonic() + CACHE_SECONDS, key)
        self._cache.move_to_end(person_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


class ErasedPerson(QuarkError):
    code = "person-erased"
    status = 410
    title = "This person's data was erased"


def _aad(person_id: str, field: str) -> bytes:
    return f"{person_id}\x00{field}".encode()


def _check(person_id: str) -> None:
    # Person ids are KV keys (subject tokens): only canonical UUIDs.
    if not is_uuid(person_id):
        raise ValueError(f"{person_id!r} is not a person id")
