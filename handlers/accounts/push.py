"""A session's device and Web Push: storing its subscription, removing it, and forgetting it
when the push service says it is gone.

The subscription is checked strictly before anything is written (`check_subscription`, pure):
the push sender will POST to its endpoint, so an endpoint is an `https:` URL of a named host
(never an address, a local name or credentials in the URL: the sender must not become a
way into the station's own network), and the keys must be what RFC 8291 encrypts to — a
point on P-256 and a 16-byte secret — or every push would fail later, far from the cause.

The subscription is personal (its endpoint names one browser; its keys let anyone write to
it), so the event holds it sealed under the person's key; the aggregate keeps only its
keyed fingerprint, which makes storing the same subscription again a no-op and lets the
push sender remove exactly the subscription that failed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import datetime
from urllib.parse import urlsplit

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec

from core.bootstrap import Infra
from core.bus import transact
from core.commands import CommandMeta, CommandReply
from core.errors import FieldError
from core.ids import derived_id, is_uuid
from core.moderation import SYSTEM
from core.permissions import PermissionDenied
from handlers.accounts.account import ACCOUNT, decide_no_push, decide_push
from handlers.accounts.commands import (
    ExpirePushSubscription,
    PushSubscription,
    RemovePushSubscription,
    SetPushSubscription,
)
from handlers.accounts.common import command_reply, signed_in_actor
from handlers.accounts.errors import InvalidPushSubscription, SessionNotFound

#: The field of the person's vault the subscription is sealed under.
SEALED_FIELD = "push_subscription"
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
#: Lengths RFC 8291 fixes: the device's public key (an uncompressed point) and its secret.
P256_POINT_BYTES = 65
AUTH_SECRET_BYTES = 16


def b64url_bytes(text: str) -> bytes | None:
    """The bytes of base64url `text` (padding optional), None if it is not base64url."""
    if not _B64URL.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None


def endpoint_problem(endpoint: str, *, allow_local: bool) -> str | None:
    """What a push endpoint must be and is not (None: it is fine): the push sender checks
    again before each push, as the setting may have changed since it was stored."""
    try:
        parts = urlsplit(endpoint)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        return "a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "an https URL"
    if parts.scheme == "http" and not allow_local:
        return "an https URL"
    if parts.username is not None or parts.password is not None:
        return "no credentials in the URL"
    if parts.fragment or any(c.isspace() or ord(c) < 32 for c in endpoint):
        return "a plain URL (no fragment, no spaces)"
    if allow_local:
        return None
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        return "a push service's name, not an address"
    except ValueError:
        pass
    if not _HOST.fullmatch(host) or host.endswith((".local", ".localhost", ".internal")):
        return "a push service's public name"
    return None


def check_subscription(subscription: PushSubscription, *, allow_local: bool, now: datetime) -> None:
    """Refuse a subscription no push could reach or encrypt to.

    Args:
        allow_local: `http:` and local hosts too (`Settings.push_allow_local_endpoints`).
        now: expired subscriptions (`expirationTime` before it) are refused.

    Raises:
        InvalidPushSubscription: naming every field that is wrong.
    """
    errors: list[FieldError] = []
    if (problem := endpoint_problem(subscription.endpoint, allow_local=allow_local)) is not None:
        errors.append(FieldError("endpoint", f"must be {problem}"))
    point = b64url_bytes(subscription.keys.p256dh)
    if point is None or len(point) != P256_POINT_BYTES or point[0] != 4:
        errors.append(
            FieldError("keys.p256dh", "must be an uncompressed P-256 public key, base64url")
        )
    else:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError:
            errors.append(FieldError("keys.p256dh", "is not a point on P-256"))
    secret = b64url_bytes(subscription.keys.auth)
    if secret is None or len(secret) != AUTH_SECRET_BYTES:
        errors.append(FieldError("keys.auth", "must be 16 bytes, base64url"))
    expires = subscription.expiration_time
    if expires is not None and expires <= now.timestamp() * 1000:
        errors.append(FieldError("expirationTime", "has passed"))
    if errors:
        raise InvalidPushSubscription(
            "; ".join(f"{e.field} {e.message}" for e in errors), errors=errors
        )


def fingerprint(secret: bytes, subscription: PushSubscription) -> str:
    """A keyed, stable hash of a subscription (a UUID's text): equal for equal ones."""
    return derived_id(secret, "push-subscription", msgspec.json.encode(subscription).decode())


def _session_id(session_id: str) -> str:
    if not is_uuid(session_id):
        raise SessionNotFound()
    return session_id


async def set_push_subscription(
    infra: Infra, command: SetPushSubscription, meta: CommandMeta
) -> CommandReply:
    user_id = signed_in_actor(meta)
    session_id = _session_id(command.session_id)
    check_subscription(
        command.subscription,
        allow_local=infra.settings.push_allow_local_endpoints,
        now=meta.received_at,
    )
    mark = fingerprint(infra.secret_key, command.subscription)
    sealed = await infra.vault.seal(
        user_id, SEALED_FIELD, msgspec.json.encode(command.subscription).decode()
    )
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_push(
            state,
            user_id=user_id,
            session_id=session_id,
            subscription=sealed,
            fingerprint=mark,
            now=meta.received_at,
        ),
        meta,
    )
    return command_reply(outcome, user_id)


async def remove_push_subscription(
    infra: Infra, command: RemovePushSubscription, meta: CommandMeta
) -> CommandReply:
    user_id = signed_in_actor(meta)
    session_id = _session_id(command.session_id)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        user_id,
        lambda state: decide_no_push(
            state, user_id=user_id, session_id=session_id, reason="removed", now=meta.received_at
        ),
        meta,
    )
    return command_reply(outcome, user_id)


async def expire_push_subscription(
    infra: Infra, command: ExpirePushSubscription, meta: CommandMeta
) -> CommandReply:
    """Only the system sends this (the push sender); no route leads here."""
    if meta.actor != SYSTEM:
        raise PermissionDenied("only the push sender expires push subscriptions")
    if not is_uuid(command.user_id):
        raise SessionNotFound()
    session_id = _session_id(command.session_id)
    outcome = await transact(
        infra.store,
        ACCOUNT,
        command.user_id,
        lambda state: decide_no_push(
            state,
            user_id=command.user_id,
            session_id=session_id,
            reason="expired",
            now=meta.received_at,
            fingerprint=command.fingerprint,
        ),
        meta,
    )
    return command_reply(outcome, command.user_id)
