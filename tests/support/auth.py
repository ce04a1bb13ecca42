"""Access tokens for tests that are not about identity: real tokens, signed by the platform's
own key ring and checked by the edge like any other, for a given user id and roles."""

from __future__ import annotations

import time

from nats.aio.client import Client as NATS

from core.bootstrap import Infra
from core.ids import new_id
from core.signing_keys import KeyRing
from core.tokens import TokenService


class Tokens:
    def __init__(self, service: TokenService) -> None:
        self.service = service

    @classmethod
    async def open(cls, infra: Infra) -> Tokens:
        return await cls.connect(infra.nc, infra.secret_key)

    @classmethod
    async def connect(cls, nc: NATS, secret: bytes) -> Tokens:
        ring = await KeyRing.connect(nc.jetstream(), secret)
        await ring.ensure(int(time.time()))
        return cls(TokenService(ring))

    def token(self, user_id: str, roles: tuple[str, ...] = ("user",)) -> str:
        return self.service.issue(user_id, new_id(), roles, int(time.time()))[0]

    def headers(
        self, user_id: str, roles: tuple[str, ...] = ("user",), **extra: str
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, roles)}", **extra}


#: The signer of the running test (set by the `signed_in` fixture), for module-level helpers
#: that build requests outside a fixture's reach.
current: list[Tokens] = []


def as_user(user_id: str, **extra: str) -> dict[str, str]:
    """Headers acting as `user_id`; the test must use the `signed_in` fixture."""
    return current[0].headers(user_id, **extra)
