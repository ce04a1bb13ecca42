"""Driving the identity API exactly as a client does, reading SMS codes from the outbox file
the embedded runner's SMS provider writes."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from core.settings import Settings
from handlers.accounts.sms import read_outbox

PASSWORD = "correct horse battery staple"

#: `await with_role("admin")`: a person holding a role, with tokens that carry it.
WithRole = Callable[[str], Awaitable[dict[str, Any]]]


def new_phone() -> str:
    """A valid, unused Russian mobile number (+7 916 …)."""
    return f"+7916{secrets.randbelow(10**7):07d}"


class IdentityClient:
    def __init__(self, http: aiohttp.ClientSession, outbox: Path) -> None:
        self.http = http
        self.outbox = outbox

    async def sms_code(self, phone: str, *, after: int = 0, timeout: float = 10.0) -> str:
        """The code of the `after`+1-th SMS to `phone` (the SMS sender works asynchronously:
        wait for the line, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            texts = [m["text"] for m in read_outbox(self.outbox) if m["to"] == phone]
            if len(texts) > after:
                match = re.search(r"\b(\d{6})\b", texts[after])
                assert match, texts[after]
                return match.group(1)
            if time.monotonic() > deadline:
                raise AssertionError(f"no SMS #{after + 1} to {phone} within {timeout}s")
            await asyncio.sleep(0.02)

    def sms_count(self, phone: str) -> int:
        return sum(1 for m in read_outbox(self.outbox) if m["to"] == phone)

    async def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        **extra: str,
    ) -> tuple[int, Any, dict[str, str]]:
        """`extra`: more headers (`**{"Quark-After": position}`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(path, json=body, headers={**headers, **extra}) as resp:
            data = await resp.json(content_type=None) if resp.status != 204 else None
            return resp.status, data, dict(resp.headers)

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """Any request, with `token` as bearer if given: (status, JSON body or None)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, path, json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str, token: str | None = None, **headers: str) -> tuple[int, Any]:
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(path, headers={**hdrs, **headers}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def verified_phone(self, phone: str) -> str:
        """Start and verify a sign-up; the registration token."""
        sms_before = self.sms_count(phone)
        status, started, _ = await self.post("/v1/auth/phone/start", {"phone": phone})
        assert status == 202, started
        code = await self.sms_code(phone, after=sms_before)
        status, verified, _ = await self.post(
            "/v1/auth/phone/verify",
            {"verification_id": started["verification_id"], "code": code},
        )
        assert status == 200, verified
        return verified["registration_token"]

    async def register(
        self, registration_token: str, password: str = PASSWORD, name: str = "Ada Lovelace"
    ) -> tuple[int, Any, dict[str, str]]:
        return await self.post(
            "/v1/auth/register",
            {"registration_token": registration_token, "password": password, "display_name": name},
        )

    async def sign_up(
        self, phone: str | None = None, password: str = PASSWORD, name: str = "Ada Lovelace"
    ) -> dict[str, Any]:
        phone = phone or new_phone()
        token = await self.verified_phone(phone)
        status, tokens, _ = await self.register(token, password, name)
        assert status == 201, tokens
        return {**tokens, "phone": phone, "password": password}

    async def log_in(self, phone: str, password: str = PASSWORD) -> tuple[int, Any]:
        status, body, _ = await self.post("/v1/auth/login", {"phone": phone, "password": password})
        return status, body


def lifted_limits(settings: Settings, **changes: object) -> Settings:
    """Settings for tests that sign up many people from one address: the SMS and auth
    limits still run, with room for them (the limits have their own tests)."""
    return settings.with_(
        limit_sms_per_ip="10000/h",
        limit_sms_per_phone="100/h",
        limit_auth_per_ip="10000/min",
        **changes,
    )
