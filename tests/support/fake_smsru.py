"""A local SMS.ru gateway for tests: it speaks SMS.ru's real `sms/send` protocol, records
what it received and can be steered into failures. The only fake: our code runs as in
production against it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.support.servers import serving

API_ID = "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"


def _answer(payload: dict[str, object]) -> web.Response:
    # SMS.ru answers HTTP 200 for refusals too; the verdict is in the JSON.
    return web.json_response(payload)


class FakeSmsRu:
    """SMS.ru's `sms/send` as its documentation describes it: POST only, checks the api_id,
    the sender name, the text and each number (digits only, no plus), and answers JSON with
    a request-level and a per-number status. Tests steer it into failures."""

    def __init__(self, api_id: str) -> None:
        self.api_id = api_id
        self.approved_senders = {"Quark"}
        self.received: list[dict[str, str]] = []
        #: The status code each received request was answered with, in order (100: sent;
        #: None while a request is held or when the answer was an HTTP error page).
        self.answered: list[int | None] = []
        #: Refuse the next this many requests with `request_code` 220 ("temporarily
        #: unavailable"), then accept again: one transient outage, no race with the test.
        self.unavailable_for = 0
        #: Answer this request-level status code (220, 201, ...) instead of accepting.
        self.request_code: int | None = None
        #: Answer this per-number status code (202, 207, ...) instead of accepting.
        self.number_code: int | None = None
        #: Answer this HTTP status with an HTML page, as a proxy in front would.
        self.http_status: int | None = None
        #: Hold every request until `released` is set, at the latest when the test ends
        #: (for timeouts, and to keep a job in the SMS queue while the test reads it).
        self.hang = False
        self.released = asyncio.Event()
        self.url = ""
        self._sent = 0
        self._changed = asyncio.Condition()

    def _to(self, number: str) -> list[tuple[dict[str, str], int | None]]:
        return [
            (form, code)
            for form, code in zip(self.received, self.answered, strict=True)
            if form.get("to") == number
        ]

    async def _until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
            except TimeoutError:
                raise AssertionError(f"{what} within {timeout}s") from None

    async def requests_to(self, number: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Wait until `count` requests to `number` (digits, as SMS.ru takes it) have arrived,
        answered or still held; the texts they carried, in order."""
        await self._until(
            lambda: len(self._to(number)) >= count, timeout, f"no {count} requests to {number}"
        )
        return [form["msg"] for form, _ in self._to(number)]

    async def answers_to(self, number: str, count: int, timeout: float = 10.0) -> list[int]:
        """Wait until `count` requests to `number` have been answered; the SMS.ru status
        codes of all answered ones, in order (100: the SMS was sent)."""

        def answered() -> list[int]:
            return [code for _, code in self._to(number) if code is not None]

        await self._until(
            lambda: len(answered()) >= count, timeout, f"no {count} answers to {number}"
        )
        return answered()

    async def send(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return _answer(
                {"status": "ERROR", "status_code": 210, "status_text": "Используется GET"}
            )
        form = await request.post()
        async with self._changed:
            self.received.append({key: str(value) for key, value in form.items()})
            self.answered.append(None)
            index = len(self.answered) - 1
            self._changed.notify_all()
        code, response = await self._answer(form)
        async with self._changed:
            self.answered[index] = code
            self._changed.notify_all()
        return response

    async def _answer(self, form: Any) -> tuple[int | None, web.Response]:
        if self.hang:
            await self.released.wait()
        if self.http_status is not None:
            return None, web.Response(
                status=self.http_status, text="<html>Unavailable</html>", content_type="text/html"
            )
        if form.get("api_id") != self.api_id:
            return 200, _error(200, "Неправильный api_id")
        if self.unavailable_for:
            self.unavailable_for -= 1
            return 220, _error(220, "Сервис временно недоступен")
        if self.request_code is not None:
            return self.request_code, _error(self.request_code, "Ошибка")
        if "from" in form and form["from"] not in self.approved_senders:
            return 204, _error(204, "Имя отправителя не согласовано")
        if not str(form.get("msg", "")).strip():
            return 203, _error(203, "Нет текста сообщения")
        to = str(form.get("to", ""))
        if self.number_code is not None:
            result = {"status": "ERROR", "status_code": self.number_code, "status_text": "Ошибка"}
        elif not re.fullmatch(r"[1-9][0-9]{10,14}", to):
            result = {
                "status": "ERROR",
                "status_code": 202,
                "status_text": "Неправильно указан получатель",
            }
        else:
            self._sent += 1
            result = {"status": "OK", "status_code": 100, "sms_id": f"202501-{self._sent:08d}"}
        answer = {"status": "OK", "status_code": 100, "sms": {to: result}, "balance": 4122.56}
        return int(result["status_code"]), _answer(answer)


def _error(code: int, text: str) -> web.Response:
    return _answer({"status": "ERROR", "status_code": code, "status_text": text})


@asynccontextmanager
async def running_gateway(api_id: str = API_ID) -> AsyncIterator[FakeSmsRu]:
    fake = FakeSmsRu(api_id)
    app = web.Application()
    app.router.add_route("*", "/sms/send", fake.send)
    async with serving(app) as fake.url:
        try:
            yield fake
        finally:
            fake.released.set()  # let held requests finish so the server stops at once
