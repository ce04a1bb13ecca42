"""Identifiers: UUIDv7 so that ids sort by creation time (good B-tree locality, and a
post id doubles as a stable pagination key)."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A RFC 9562 version 7 UUID, monotonic within this process.

    Ids created in the same millisecond get an increasing 12-bit counter in `rand_a`, so two
    posts created back to back by one handler still sort in creation order.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new entity id as the canonical string form used on the wire."""
    return str(uuid7())


def is_uuid(value: str) -> bool:
    """True when `value` is a canonical UUID string (ids from clients are checked with this
    before they reach a subject, where a dot or wildcard would be an injection)."""
    try:
        # Canonical form only: an upper-case spelling of the same id would be another
        # subject, hence another aggregate.
        return str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False


def derived_id(key: bytes, *parts: str) -> str:
    """A UUID (version 8) determined by `key` and `parts`: a retried command derives the
    same ids again (idempotency), and nobody without the key can predict them."""
    digest = hmac.new(key, "\x00".join(parts).encode(), hashlib.sha256).digest()
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))
