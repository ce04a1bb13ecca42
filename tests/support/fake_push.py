"""A local push service for tests: it speaks the Web Push protocol (RFC 8030) as the browsers'
push services do, checks each push's VAPID token (RFC 8292) and decrypts its payload
(RFC 8291) with the keys a test's `Device` made the way a browser makes them. The only fake:
the push sender runs as in production against it.

A push is accepted (201 Created, with a `Location`) only when it carries `TTL`,
`Content-Encoding: aes128gcm` and `Authorization: vapid t=<JWT>, k=<key>` whose key is the
application server key the platform published (`GET /v1/push/key`) and whose JWT is signed
with it (ES256) for this service's origin, unexpired and for at most 24 hours, with a
`sub` contact. Anything else is refused and noted in `refused`, which a test asserts empty.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
import msgspec
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.bootstrap import Infra
from core.inbox import STREAM as INBOX
from handlers.accounts.push_sender import CONSUMER
from tests.support.identity import IdentityClient
from tests.support.servers import serving

#: What a push service must accept (RFC 8030 section 7.2): 4,096 bytes of body.
MAX_BODY = 4096


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Push:
    """One push as the device decrypted it."""

    payload: dict[str, Any]
    headers: dict[str, str]
    claims: dict[str, Any]


@dataclass
class Device:
    """A browser's side of a subscription: an ECDH key pair on P-256 and a 16-byte
    authentication secret, as `pushManager.subscribe()` makes them."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    #: Pushes decrypted and accepted, in order.
    pushes: list[Push] = field(default_factory=list)
    #: The status of every push that reached this device's endpoint, in order.
    answered: list[int] = field(default_factory=list)
    #: Statuses to answer the next pushes with (then 201): `[410]` ends the subscription,
    #: `[503]` is one outage.
    answers: list[int] = field(default_factory=list)

    def subscription(self) -> dict[str, Any]:
        """`PushSubscription.toJSON()`, as a page sends it."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }


class FakePushService:
    def __init__(self, application_server_key: str) -> None:
        self.application_server_key = application_server_key
        self.url = ""
        self.devices: dict[str, Device] = {}
        #: Why pushes were refused (a wrong header, token or body): a test asserts none.
        self.refused: list[str] = []
        self._changed = asyncio.Condition()

    def device(self) -> Device:
        token = b64url(os.urandom(12))
        made = Device(f"{self.url}/push/{token}")
        self.devices[token] = made
        return made

    async def until(self, ready: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
            except TimeoutError:
                raise AssertionError(f"{what} within {timeout}s ({self.refused})") from None

    async def pushed(self, device: Device, count: int = 1, timeout: float = 15.0) -> list[Push]:
        """Wait until `device` has accepted `count` pushes; all of them, in order."""
        await self.until(lambda: len(device.pushes) >= count, f"no {count} pushes", timeout)
        return device.pushes

    async def answered(self, device: Device, count: int = 1, timeout: float = 15.0) -> list[int]:
        """Wait until `count` pushes reached `device`'s endpoint; every status answered."""
        await self.until(lambda: len(device.answered) >= count, f"no {count} answers", timeout)
        return device.answered

    async def receive(self, request: web.Request) -> web.Response:
        device = self.devices.get(request.match_info["token"])
        if device is None:
            return web.Response(status=404)
        body = await request.read()
        try:
            push = self._check(request, body, device)
        except ValueError as exc:
            async with self._changed:
                self.refused.append(str(exc))
                device.answered.append(400)
                self._changed.notify_all()
            return web.Response(status=400, text=str(exc))
        status = device.answers.pop(0) if device.answers else 201
        async with self._changed:
            device.answered.append(status)
            if status == 201:
                device.pushes.append(push)
            self._changed.notify_all()
        if status != 201:
            return web.Response(status=status, headers={"Retry-After": "0"})
        return web.Response(
            status=201, headers={"Location": f"{self.url}/messages/{os.urandom(4).hex()}"}
        )

    def _check(self, request: web.Request, body: bytes, device: Device) -> Push:
        headers = dict(request.headers)
        if not headers.get("TTL", "").isdigit():
            raise ValueError(f"TTL is {headers.get('TTL')!r}")
        if headers.get("Content-Encoding") != "aes128gcm":
            raise ValueError(f"Content-Encoding is {headers.get('Content-Encoding')!r}")
        if not body or len(body) > MAX_BODY:
            raise ValueError(f"a body of {len(body)} bytes")
        claims = self._vapid(headers.get("Authorization", ""))
        try:
            plain = http_ece.decrypt(
                body, private_key=device.key, auth_secret=device.auth, version="aes128gcm"
            )
        except Exception as exc:
            raise ValueError(f"undecryptable: {exc!r}") from None
        return Push(msgspec.json.decode(plain), headers, claims)

    def _vapid(self, authorization: str) -> dict[str, Any]:
        """The token's claims, once its key and signature are the platform's."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"Authorization scheme {scheme!r}")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if parts.get("k") != self.application_server_key:
            raise ValueError("k is not the application server key")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
        try:
            claims = jwt.decode(
                parts.get("t", ""),
                key=public,
                algorithms=["ES256"],
                audience=self.url,
                options={"require": ["aud", "exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise ValueError(f"VAPID token: {exc!r}") from None
        if claims["exp"] > time.time() + 24 * 3600:
            raise ValueError("VAPID token lives more than 24 hours")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise ValueError(f"sub is {claims['sub']!r}")
        return claims


@asynccontextmanager
async def running_push_service(application_server_key: str) -> AsyncIterator[FakePushService]:
    fake = FakePushService(application_server_key)
    app = web.Application(client_max_size=MAX_BODY * 2)
    app.router.add_post("/push/{token}", fake.receive)
    async with serving(app) as fake.url:
        yield fake


@pytest.fixture
async def push_service(client: IdentityClient) -> AsyncIterator[FakePushService]:
    """A push service that knows the key the platform publishes for browsers (a test module
    or conftest imports this fixture; its platform must allow loopback endpoints:
    `push_allow_local_endpoints`)."""
    status, body = await client.get("/v1/push/key")
    assert status == 200, body
    async with running_push_service(body["public_key"]) as fake:
        yield fake


async def pushes_settled(infra: Infra, timeout: float = 15.0) -> None:
    """Until the push sender has handled every inbox item there is now (none left to deliver
    to it, none delivered and not yet acknowledged): what it was to push, it has pushed or
    decided not to. A position to wait for, like a read model's."""
    js = infra.nc.jetstream()
    deadline = time.monotonic() + timeout
    while True:
        info = await js.consumer_info(INBOX, CONSUMER)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the push sender still has {info.num_pending} + {info.num_ack_pending} items"
            )
        await asyncio.sleep(0.02)
