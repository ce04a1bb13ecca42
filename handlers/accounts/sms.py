"""SMS providers: how a one-time code leaves the system.

The accounts worker sends sign-in codes through one `SmsProvider`; which one is a setting
(`QUARK_SMS_PROVIDER`): the outbox file in dev and tests, the SMS.ru gateway in production.
A provider either returns a receipt or raises `SmsError` saying whether a retry can help,
so the caller decides between `nak` (try again later) and failing the command.

The text of an SMS holds a one-time code and the SMS.ru api id is a credential: neither is
ever logged nor put in an error message. Logs name a number by its last two digits only.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Protocol, assert_never

import aiohttp
import msgspec

from core.envelope import utc_now
from core.errors import ConfigError
from core.ids import new_id
from core.logging import get_logger
from core.settings import Settings

log = get_logger("quark.sms")

#: E.164: a plus, then 7 to 15 digits, the first not zero.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class SmsReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """Proof that a provider accepted an SMS (not that it was delivered)."""

    provider: str
    message_id: str
    sent_at: datetime


class SmsError(Exception):
    """An SMS was not accepted.

    `retryable` is what the caller acts on: True when the same send may succeed later (the
    gateway or the network is down for now), False when it never will (bad credentials,
    no balance, a number or text the gateway refuses), so the command fails instead of
    being retried until it expires.
    """

    def __init__(self, message: str, *, retryable: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        #: The gateway's own status code, when it gave one (SMS.ru: 200, 201, 220...).
        self.code = code


class SmsProvider(Protocol):
    """Sends one SMS. `to` is an E.164 number (`+79161234567`)."""

    name: str

    async def send(self, to: str, text: str) -> SmsReceipt: ...

    async def close(self) -> None: ...


def _tail(to: str) -> str:
    return to[-2:]


def _check_e164(to: str) -> None:
    # Checked here as well as by the gateway so that a malformed number fails the same way
    # with every provider, before anything leaves the process.
    if not _E164.fullmatch(to):
        raise SmsError(f"not an E.164 number (…{_tail(to)})", retryable=False)


# --- outbox ----------------------------------------------------------------------------


class _OutboxLine(msgspec.Struct, frozen=True):
    to: str
    text: str
    sent_at: datetime


_line_encoder = msgspec.json.Encoder()


def _append_line(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND and one write() per line: the kernel positions and writes the line as one
    # unit, so lines from several tasks or processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            # The file holds one-time codes; keep it private even if someone created it
            # with a looser mode.
            os.fchmod(fd, 0o600)
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to the outbox ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


class OutboxProvider:
    """Appends each SMS as one JSON line to a file, for dev and tests.

    Tests and dev tools read the codes back with `read_outbox`. The file is opened per send
    (no handle to leak, and a tool may truncate or delete it at any time).
    """

    name = "outbox"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, to: str, text: str) -> SmsReceipt:
        _check_e164(to)
        sent_at = utc_now()
        line = _line_encoder.encode(_OutboxLine(to=to, text=text, sent_at=sent_at)) + b"\n"
        try:
            await asyncio.to_thread(_append_line, self.path, line)
        except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
            raise SmsError(f"outbox {self.path}: {exc.strerror}", retryable=False) from None
        except OSError as exc:  # a full disk, say: may pass
            raise SmsError(f"outbox {self.path}: {exc}", retryable=True) from None
        receipt = SmsReceipt(provider=self.name, message_id=new_id(), sent_at=sent_at)
        log.info("sms.sent", provider=self.name, to_tail=_tail(to), message_id=receipt.message_id)
        return receipt

    async def close(self) -> None:
        return None


def read_outbox(path: Path) -> list[dict[str, str]]:
    """Every SMS written to an outbox file, oldest first (none if the file is missing).

    A line still being appended (no newline yet) is left for the next read: a reader racing
    the writer must not see half a message.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    complete = data[: data.rfind(b"\n") + 1]
    return [msgspec.json.decode(line) for line in complete.splitlines() if line.strip()]


# --- SMS.ru ------------------------------------------------------------------------------

#: SMS.ru status codes of `sms/send` after which the same request may succeed later: 220
#: "service temporarily unavailable, try a bit later" and 500 "server error, repeat the
#: request". Every other code but 100 is permanent for this send, including the limits
#: (206 daily limit, 230-233 per-number limits, 501-508 anti-fraud limits): a worker's
#: retry within minutes does not clear a daily limit, and hammering an anti-fraud limit
#: only extends it; the caller tells the user to try later instead.
SMSRU_RETRYABLE_CODES = frozenset({220, 500})

#: SMS.ru's "accepted" code, for the request and for each number.
SMSRU_OK = 100

_SMSRU_MEANINGS = {
    200: "wrong api_id",
    201: "insufficient funds",
    202: "wrong recipient",
    203: "no message text",
    204: "sender name not approved",
    205: "message too long",
    206: "daily sending limit reached",
    207: "no route to this number",
    208: "wrong time parameter",
    209: "number is in the account's stop list",
    210: "GET used where POST is required",
    211: "method not found",
    212: "text must be UTF-8",
    213: "more than 5000 numbers",
    214: "number abroad and the account sends to Russian numbers only",
    215: "number is in the SMS.ru stop list",
    216: "forbidden word in the text",
    217: "credit advertisement without the required warning",
    220: "service temporarily unavailable",
    221: "a letter sender name is required",
    230: "daily limit of messages to this number reached",
    231: "limit of identical messages to this number per minute reached",
    232: "limit of identical messages to this number per day reached",
    233: "limit of repeated codes to this number reached (anti-fraud)",
    300: "wrong token",
    301: "wrong api_id or password",
    302: "account not confirmed",
    500: "server error",
    501: "anti-fraud limit: too many messages from Tor users",
    502: "anti-fraud limit: user IP does not match the country",
    503: "anti-fraud limit: too many messages to this country",
    504: "anti-fraud limit: too many codes abroad",
    505: "anti-fraud limit: too many messages for one IP",
    506: "anti-fraud limit: too many messages from hosting IPs",
    507: "user IP is wrong or private",
    508: "anti-fraud limit: too many calls",
    550: "country blocked for security reasons",
}


class _SmsRuNumberResult(msgspec.Struct):
    status: str
    status_code: int
    sms_id: str | None = None
    status_text: str | None = None


class _SmsRuAnswer(msgspec.Struct):
    # Unknown fields are ignored: SMS.ru adds fields over time.
    status: str
    status_code: int
    status_text: str | None = None
    sms: dict[str, _SmsRuNumberResult] = msgspec.field(default_factory=dict)
    balance: float | None = None


def _smsru_error(code: int, text: str | None, tail: str) -> SmsError:
    meaning = _SMSRU_MEANINGS.get(code, "unknown status")
    detail = f" ({text})" if text else ""
    return SmsError(
        f"sms.ru refused the SMS to …{tail}: {code} {meaning}{detail}",
        retryable=code in SMSRU_RETRYABLE_CODES,
        code=code,
    )


class SmsRuProvider:
    """The SMS.ru HTTP gateway (`POST /sms/send`, form-encoded, JSON answer).

    SMS.ru answers HTTP 200 with a status code in the JSON body, once for the request
    (a wrong api_id, no balance...) and once per number (a wrong or unreachable number).
    The api_id travels in the POST body, never in a URL, so neither aiohttp's errors nor a
    proxy's access log can show it.
    """

    name = "smsru"

    def __init__(
        self,
        api_id: str,
        base_url: str = "https://sms.ru",
        sender: str | None = None,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._api_id = api_id
        self._url = base_url.rstrip("/") + "/sms/send"
        self._sender = sender
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        # A session passed in belongs to the caller, who closes it.
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"SmsRuProvider(url={self._url!r}, sender={self._sender!r})"

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use rather than in __init__: a session binds to the running loop.
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def send(self, to: str, text: str) -> SmsReceipt:
        tail = _tail(to)
        try:
            sms_id, balance = await self._send(to, text, tail)
        except SmsError as exc:
            log.warning(
                "sms.failed",
                provider=self.name,
                to_tail=tail,
                code=exc.code,
                retryable=exc.retryable,
                error=str(exc),
            )
            raise
        log.info("sms.sent", provider=self.name, to_tail=tail, message_id=sms_id, balance=balance)
        return SmsReceipt(provider=self.name, message_id=sms_id, sent_at=utc_now())

    async def _send(self, to: str, text: str, tail: str) -> tuple[str, float | None]:
        _check_e164(to)
        digits = to[1:]  # SMS.ru takes the number without the plus
        form = {"api_id": self._api_id, "to": digits, "msg": text, "json": "1"}
        if self._sender:
            form["from"] = self._sender
        answer = await self._post(form, tail)
        if answer.status_code != SMSRU_OK or answer.status != "OK":
            raise _smsru_error(answer.status_code, answer.status_text, tail)
        result = answer.sms.get(digits)
        if result is None and len(answer.sms) == 1:
            # SMS.ru may key the result by the number as it normalised it.
            (result,) = answer.sms.values()
        if result is None:
            raise SmsError(f"sms.ru answered without a result for …{tail}", retryable=True)
        if result.status_code != SMSRU_OK or result.status != "OK" or not result.sms_id:
            raise _smsru_error(result.status_code, result.status_text, tail)
        return result.sms_id, answer.balance

    async def _post(self, form: dict[str, str], tail: str) -> _SmsRuAnswer:
        # Every transport failure is retryable: the SMS may or may not have gone out, and a
        # second copy of a one-time code is better than none.
        try:
            async with self._client().post(self._url, data=form, timeout=self._timeout) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise SmsError(f"sms.ru answered HTTP {resp.status}", retryable=True)
                if resp.status != 200:
                    raise SmsError(f"sms.ru answered HTTP {resp.status}", retryable=False)
                body = await resp.read()
        except TimeoutError:
            raise SmsError(
                f"sms.ru did not answer within {self._timeout.total}s (…{tail})", retryable=True
            ) from None
        except aiohttp.InvalidURL:
            raise SmsError(f"sms.ru URL is not valid: {self._url}", retryable=False) from None
        except aiohttp.ClientError as exc:
            raise SmsError(
                f"sms.ru unreachable: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        try:
            return msgspec.json.decode(body, type=_SmsRuAnswer, strict=False)
        except msgspec.DecodeError:
            # An HTML error page from a proxy in front of the gateway, usually.
            raise SmsError(
                "sms.ru answered something that is not its JSON", retryable=True
            ) from None

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


def build_provider(settings: Settings) -> SmsProvider:
    """The provider the settings name.

    Raises:
        ConfigError: `smsru` is chosen but `QUARK_SMS_RU_API_ID` is empty.
    """
    match settings.sms_provider:
        case "smsru":
            if not settings.sms_ru_api_id:
                raise ConfigError("QUARK_SMS_RU_API_ID is required with QUARK_SMS_PROVIDER=smsru")
            return SmsRuProvider(
                settings.sms_ru_api_id,
                base_url=settings.sms_ru_url,
                sender=settings.sms_sender or None,
            )
        case "outbox":
            return OutboxProvider(settings.data_dir / "sms-outbox.jsonl")
        case other:
            assert_never(other)
