"""A local SMS.ru gateway for tests: it speaks SMS.ru's real `sms/send` protocol, records
what it received and can be steered into failures. The only fake: our code runs as in
production against it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

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
        #: Answer this request-level status code (220, 201, ...) instead of accepting.
        self.request_code: int | None = None
        #: Answer this per-number status code (202, 207, ...) instead of accepting.
        self.number_code: int | None = None
        #: Answer this HTTP status with an HTML page, as a proxy in front would.
        self.http_status: int | None = None
        #: Hold every request until the test ends (for timeouts).
        self.hang = False
        self.released = asyncio.Event()
        self.url = ""
        self._sent = 0

    async def send(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return _answer(
                {"status": "ERROR", "status_code": 210, "status_text": "Используется GET"}
            )
        form = await request.post()
        self.received.append({key: str(value) for key, value in form.items()})
        if self.hang:
            await self.released.wait()
        if self.http_status is not None:
            return web.Response(
                status=self.http_status, text="<html>Unavailable</html>", content_type="text/html"
            )
        if form.get("api_id") != self.api_id:
            return _error(200, "Неправильный api_id")
        if self.request_code is not None:
            return _error(self.request_code, "Ошибка")
        if "from" in form and form["from"] not in self.approved_senders:
            return _error(204, "Имя отправителя не согласовано")
        if not str(form.get("msg", "")).strip():
            return _error(203, "Нет текста сообщения")
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
        return _answer(
            {"status": "OK", "status_code": 100, "sms": {to: result}, "balance": 4122.56}
        )


def _error(code: int, text: str) -> web.Response:
    return _answer({"status": "ERROR", "status_code": code, "status_text": text})


@asynccontextmanager
async def running_gateway(api_id: str = API_ID) -> AsyncIterator[FakeSmsRu]:
    fake = FakeSmsRu(api_id)
    app = web.Application()
    app.router.add_route("*", "/sms/send", fake.send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        fake.released.set()  # let held requests finish so the server stops at once
        await runner.cleanup()
