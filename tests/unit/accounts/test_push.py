"""A device's push subscription: what is accepted (pure checks), and the account aggregate's
decisions about it — set once, replaced, removed, expired only if still the same one, and
gone with its session."""

from __future__ import annotations

import base64

import pytest

from handlers.accounts.account import AccountState, decide_no_push, decide_push
from handlers.accounts.commands import PushKeys, PushSubscription
from handlers.accounts.errors import InvalidPushSubscription, SessionNotFound
from handlers.accounts.events import (
    PushSubscriptionRemoved,
    PushSubscriptionSet,
    SessionOpened,
    SessionRevoked,
)
from handlers.accounts.push import check_subscription, fingerprint
from handlers.accounts.push_sender import NotPublic, PublicOnly
from tests.unit.accounts.test_decide import NOW, SEALED, SID, USER, _account

#: RFC 8291's example device keys (appendix A).
P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
ENDPOINT = "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABnExample"


def sub(endpoint: str = ENDPOINT, **keys: str) -> PushSubscription:
    return PushSubscription(
        endpoint=endpoint, keys=PushKeys(**{"p256dh": P256DH, "auth": AUTH, **keys})
    )


def fields_refused(subscription: PushSubscription, *, allow_local: bool = False) -> list[str]:
    try:
        check_subscription(subscription, allow_local=allow_local, now=NOW)
    except InvalidPushSubscription as exc:
        return [e.field for e in exc.errors]
    return []


def test_a_browsers_subscription_is_accepted() -> None:
    assert fields_refused(sub()) == []
    assert fields_refused(sub("https://fcm.googleapis.com/fcm/send/abc:APA91b")) == []
    padded = sub(p256dh=P256DH + "=", auth=AUTH + "==")
    assert fields_refused(padded) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.com/x",
        "ftp://push.example.com/x",
        "https://10.0.0.1/x",
        "https://[::1]/x",
        "https://localhost/x",
        "https://pushserver/x",
        "https://push.local/x",
        "https://user:pw@push.example.com/x",
        "https://push.example.com/x#frag",
        "https://push.example.com:notaport/x",
        "https://push.example.com/a b",
        "push.example.com/x",
    ],
)
def test_an_endpoint_must_be_https_to_a_public_name(endpoint: str) -> None:
    assert fields_refused(sub(endpoint)) == ["endpoint"]


def test_local_endpoints_are_accepted_only_when_allowed() -> None:
    local = sub("http://127.0.0.1:9999/push/x")
    assert fields_refused(local) == ["endpoint"]
    assert fields_refused(local, allow_local=True) == []
    assert fields_refused(sub("ftp://127.0.0.1/x"), allow_local=True) == ["endpoint"]


def test_keys_must_be_a_p256_point_and_a_16_byte_secret() -> None:
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    compressed = base64.urlsafe_b64encode(b"\x02" + b"\x01" * 32).decode().rstrip("=")
    assert fields_refused(sub(p256dh=off_curve)) == ["keys.p256dh"]
    assert fields_refused(sub(p256dh=compressed)) == ["keys.p256dh"]
    assert fields_refused(sub(p256dh=P256DH.replace("_", "/"))) == ["keys.p256dh"]
    assert fields_refused(sub(auth="c2hvcnQ")) == ["keys.auth"]
    assert fields_refused(sub("http://x", p256dh="!", auth="!")) == [
        "endpoint",
        "keys.p256dh",
        "keys.auth",
    ]


def test_an_expired_subscription_is_refused() -> None:
    past = PushSubscription(
        endpoint=ENDPOINT,
        keys=PushKeys(p256dh=P256DH, auth=AUTH),
        expiration_time=int(NOW.timestamp() * 1000) - 1,
    )
    assert fields_refused(past) == ["expirationTime"]


def test_the_fingerprint_is_keyed_and_tells_subscriptions_apart() -> None:
    assert fingerprint(b"k" * 32, sub()) == fingerprint(b"k" * 32, sub())
    assert fingerprint(b"k" * 32, sub()) != fingerprint(b"j" * 32, sub())
    assert fingerprint(b"k" * 32, sub()) != fingerprint(b"k" * 32, sub(ENDPOINT + "2"))


OPENED = SessionOpened(
    user_id=USER,
    session_id=SID,
    refresh_hash="r0",
    device="d",
    ip=None,
    method="password",
    opened_at=NOW,
)


def _set(state: AccountState, mark: str) -> list[object]:
    return decide_push(
        state, user_id=USER, session_id=SID, subscription=SEALED, fingerprint=mark, now=NOW
    )


def test_setting_the_same_subscription_again_appends_nothing() -> None:
    (event,) = _set(_account(OPENED), "f1")
    assert isinstance(event, PushSubscriptionSet) and event.fingerprint == "f1"
    state = _account(OPENED, event)
    assert state.sessions[SID].push == "f1"
    assert _set(state, "f1") == []
    (replaced,) = _set(state, "f2")
    assert _account(OPENED, event, replaced).sessions[SID].push == "f2"


def test_only_an_open_session_of_mine_takes_a_subscription() -> None:
    with pytest.raises(SessionNotFound):
        _set(_account(), "f1")
    ended = SessionRevoked(
        user_id=USER, session_id=SID, reason="logout", revoked_by=USER, revoked_at=NOW
    )
    with pytest.raises(SessionNotFound):
        _set(_account(OPENED, ended), "f1")


def test_removing_takes_it_away_once() -> None:
    state = _account(OPENED, *_set(_account(OPENED), "f1"))
    (removed,) = decide_no_push(state, user_id=USER, session_id=SID, reason="removed", now=NOW)
    assert isinstance(removed, PushSubscriptionRemoved) and removed.reason == "removed"
    after = _account(OPENED, *_set(_account(OPENED), "f1"), removed)
    assert after.sessions[SID].push is None
    assert decide_no_push(after, user_id=USER, session_id=SID, reason="removed", now=NOW) == []


def test_expiry_removes_only_the_subscription_that_failed() -> None:
    state = _account(OPENED, *_set(_account(OPENED), "f2"))

    def expire(on: AccountState, mark: str) -> list[object]:
        return decide_no_push(
            on, user_id=USER, session_id=SID, reason="expired", now=NOW, fingerprint=mark
        )

    assert expire(state, "f1") == []  # the device subscribed again since
    (gone,) = expire(state, "f2")
    assert isinstance(gone, PushSubscriptionRemoved) and gone.reason == "expired"
    assert expire(AccountState(), "f2") == []  # an erased account: nothing to do


async def test_the_senders_resolver_keeps_public_addresses_only() -> None:
    resolver = PublicOnly()
    try:
        for private in ("localhost", "127.0.0.1", "10.1.2.3", "192.0.2.1"):
            with pytest.raises(NotPublic):
                await resolver.resolve(private, 443)
        (public,) = await resolver.resolve("8.8.8.8", 443)  # a literal: no lookup leaves here
    finally:
        await resolver.close()
    assert public["host"] == "8.8.8.8"
