"""SMS providers: the SMS.ru client against a local gateway that speaks SMS.ru's protocol,
and the outbox file under concurrent writers (tasks and processes). The fake gateway is the
only fake; our own code runs as in production."""

from __future__ import annotations

import asyncio
import socket
import stat
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings
from handlers.accounts.sms import (
    OutboxProvider,
    SmsError,
    SmsRuProvider,
    build_provider,
    read_outbox,
)
from tests.support.fake_smsru import API_ID, FakeSmsRu, running_gateway

ROOT = Path(__file__).resolve().parents[3]
NUMBER = "+79161234567"
CODE_TEXT = "Код входа в Quark: 482915. Никому не сообщайте."


@pytest.fixture
async def gateway() -> AsyncIterator[FakeSmsRu]:
    async with running_gateway(API_ID) as fake:
        yield fake


@pytest.fixture
async def smsru(gateway: FakeSmsRu) -> AsyncIterator[SmsRuProvider]:
    provider = SmsRuProvider(API_ID, base_url=gateway.url)
    yield provider
    await provider.close()


# --- SMS.ru ------------------------------------------------------------------------------


async def test_an_accepted_sms_returns_the_gateways_sms_id(
    smsru: SmsRuProvider, gateway: FakeSmsRu
) -> None:
    receipt = await smsru.send(NUMBER, CODE_TEXT)
    assert receipt.provider == "smsru"
    assert receipt.message_id == "202501-00000001"
    assert receipt.sent_at.tzinfo == UTC
    (form,) = gateway.received
    assert form == {"api_id": API_ID, "to": "79161234567", "msg": CODE_TEXT, "json": "1"}


async def test_the_plus_sign_is_stripped_from_the_number(
    smsru: SmsRuProvider, gateway: FakeSmsRu
) -> None:
    await smsru.send("+447700900123", "x")
    assert gateway.received[0]["to"] == "447700900123"


async def test_cyrillic_text_arrives_intact(smsru: SmsRuProvider, gateway: FakeSmsRu) -> None:
    text = "Ваш код: 1234. Ёлки-палки, «кавычки» и эмодзи 🙂"
    await smsru.send(NUMBER, text)
    assert gateway.received[0]["msg"] == text


async def test_the_sender_name_is_sent_as_from(gateway: FakeSmsRu) -> None:
    provider = SmsRuProvider(API_ID, base_url=gateway.url, sender="Quark")
    try:
        await provider.send(NUMBER, "x")
    finally:
        await provider.close()
    assert gateway.received[0]["from"] == "Quark"


async def test_a_wrong_api_id_is_permanent_and_the_error_does_not_show_it(
    gateway: FakeSmsRu,
) -> None:
    secret = "SECRET-5f0e2c9a-not-the-right-one"
    provider = SmsRuProvider(secret, base_url=gateway.url)
    try:
        with pytest.raises(SmsError) as caught:
            await provider.send(NUMBER, CODE_TEXT)
    finally:
        await provider.close()
    assert (caught.value.retryable, caught.value.code) == (False, 200)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert secret not in repr(provider)


@pytest.mark.parametrize("code", [201, 206, 207, 215, 216, 233, 501])
async def test_a_refusal_retrying_cannot_fix_is_permanent(
    smsru: SmsRuProvider, gateway: FakeSmsRu, code: int
) -> None:
    gateway.request_code = code
    with pytest.raises(SmsError) as caught:
        await smsru.send(NUMBER, CODE_TEXT)
    assert (caught.value.retryable, caught.value.code) == (False, code)


@pytest.mark.parametrize("code", [220, 500])
async def test_the_gateways_try_later_codes_are_retryable(
    smsru: SmsRuProvider, gateway: FakeSmsRu, code: int
) -> None:
    gateway.request_code = code
    with pytest.raises(SmsError) as caught:
        await smsru.send(NUMBER, CODE_TEXT)
    assert (caught.value.retryable, caught.value.code) == (True, code)


async def test_an_invalid_number_is_permanent(smsru: SmsRuProvider, gateway: FakeSmsRu) -> None:
    gateway.number_code = 202
    with pytest.raises(SmsError) as caught:
        await smsru.send(NUMBER, CODE_TEXT)
    assert (caught.value.retryable, caught.value.code) == (False, 202)
    assert "…67" in str(caught.value)
    assert "79161234567" not in str(caught.value)


async def test_a_number_that_is_not_e164_is_refused_before_calling_the_gateway(
    smsru: SmsRuProvider, gateway: FakeSmsRu
) -> None:
    for bad in ["79161234567", "+7 916 123-45-67", "+0123456789", ""]:
        with pytest.raises(SmsError) as caught:
            await smsru.send(bad, CODE_TEXT)
        assert caught.value.retryable is False
    assert gateway.received == []


async def test_an_unapproved_sender_name_is_permanent(gateway: FakeSmsRu) -> None:
    provider = SmsRuProvider(API_ID, base_url=gateway.url, sender="NotOurs")
    try:
        with pytest.raises(SmsError) as caught:
            await provider.send(NUMBER, CODE_TEXT)
    finally:
        await provider.close()
    assert (caught.value.retryable, caught.value.code) == (False, 204)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (502, True), (404, False)])
async def test_an_http_error_is_retryable_only_when_the_server_side_failed(
    smsru: SmsRuProvider, gateway: FakeSmsRu, status: int, retryable: bool
) -> None:
    gateway.http_status = status
    with pytest.raises(SmsError, match=f"HTTP {status}") as caught:
        await smsru.send(NUMBER, CODE_TEXT)
    assert caught.value.retryable is retryable


async def test_a_gateway_that_does_not_answer_in_time_is_retryable(gateway: FakeSmsRu) -> None:
    gateway.hang = True
    provider = SmsRuProvider(API_ID, base_url=gateway.url, timeout=0.3)
    try:
        with pytest.raises(SmsError, match="did not answer") as caught:
            await provider.send(NUMBER, CODE_TEXT)
    finally:
        await provider.close()
    assert caught.value.retryable is True
    assert len(gateway.received) == 1


async def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = SmsRuProvider(API_ID, base_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(SmsError, match="unreachable") as caught:
            await provider.send(NUMBER, CODE_TEXT)
    finally:
        await provider.close()
    assert caught.value.retryable is True
    assert API_ID not in str(caught.value)


async def test_one_session_serves_every_send_until_closed(gateway: FakeSmsRu) -> None:
    provider = SmsRuProvider(API_ID, base_url=gateway.url)
    ids = [(await provider.send(NUMBER, f"code {n}")).message_id for n in range(3)]
    session = provider._session
    await provider.close()
    assert len(set(ids)) == 3
    assert session is not None and session.closed


async def test_neither_the_text_nor_the_api_id_nor_the_number_reaches_the_logs(
    smsru: SmsRuProvider, gateway: FakeSmsRu, capfd: pytest.CaptureFixture[str]
) -> None:
    await smsru.send(NUMBER, CODE_TEXT)
    gateway.number_code = 207
    with pytest.raises(SmsError):
        await smsru.send(NUMBER, CODE_TEXT)
    out, err = capfd.readouterr()
    for secret in ("482915", API_ID, "79161234567"):
        assert secret not in out + err


# --- outbox ------------------------------------------------------------------------------


async def test_each_sms_is_one_json_line_in_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "sms-outbox.jsonl"
    outbox = OutboxProvider(path)
    first = await outbox.send(NUMBER, CODE_TEXT)
    await outbox.send("+447700900123", "second")
    assert first.provider == "outbox"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    rows = read_outbox(path)
    assert [(r["to"], r["text"]) for r in rows] == [
        (NUMBER, CODE_TEXT),
        ("+447700900123", "second"),
    ]
    assert set(rows[0]) == {"to", "text", "sent_at"}
    assert datetime.fromisoformat(rows[0]["sent_at"]) == first.sent_at


async def test_fifty_concurrent_sends_leave_fifty_intact_lines(tmp_path: Path) -> None:
    path = tmp_path / "sms-outbox.jsonl"
    outbox = OutboxProvider(path)
    text = "Код: 000000. " * 40  # long enough that a torn write would show
    numbers = [f"+7916{n:07d}" for n in range(50)]
    await asyncio.gather(*(outbox.send(number, text) for number in numbers))
    rows = read_outbox(path)
    assert sorted(r["to"] for r in rows) == numbers
    assert all(r["text"] == text for r in rows)


CHILD = """
import asyncio, sys
from pathlib import Path
from handlers.accounts.sms import OutboxProvider

async def main() -> None:
    outbox = OutboxProvider(Path(sys.argv[1]))
    await asyncio.gather(*(outbox.send(f"+7916{sys.argv[2]}{i:06d}", sys.argv[3]) for i in range(25)))

asyncio.run(main())
"""


async def test_two_processes_appending_at_once_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "sms-outbox.jsonl"
    text = "Ваш код: 314159. " * 60
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            str(path),
            str(n),
            text,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        for n in (1, 2)
    ]
    assert [await child.wait() for child in children] == [0, 0]
    rows = read_outbox(path)  # raises if any line is torn
    assert len(rows) == 50
    assert {r["to"] for r in rows} == {f"+7916{n}{i:06d}" for n in (1, 2) for i in range(25)}
    assert all(r["text"] == text for r in rows)


async def test_the_outbox_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.jsonl"
    await OutboxProvider(fresh).send(NUMBER, CODE_TEXT)
    loose = tmp_path / "loose.jsonl"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    await OutboxProvider(loose).send(NUMBER, CODE_TEXT)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


async def test_the_outbox_refuses_a_number_that_is_not_e164(tmp_path: Path) -> None:
    path = tmp_path / "sms-outbox.jsonl"
    with pytest.raises(SmsError) as caught:
        await OutboxProvider(path).send("89161234567", CODE_TEXT)
    assert caught.value.retryable is False
    assert read_outbox(path) == []


# --- build_provider ----------------------------------------------------------------------


def test_the_outbox_in_the_data_dir_is_the_default(tmp_path: Path) -> None:
    provider = build_provider(load_settings({"QUARK_DATA_DIR": str(tmp_path)}))
    assert isinstance(provider, OutboxProvider)
    assert provider.path == tmp_path / "sms-outbox.jsonl"


async def test_smsru_is_built_from_its_settings(gateway: FakeSmsRu) -> None:
    settings = load_settings(
        {
            "QUARK_SMS_PROVIDER": "smsru",
            "QUARK_SMS_RU_API_ID": API_ID,
            "QUARK_SMS_RU_URL": gateway.url,
            "QUARK_SMS_SENDER": "Quark",
        }
    )
    provider = build_provider(settings)
    try:
        assert isinstance(provider, SmsRuProvider)
        await provider.send(NUMBER, CODE_TEXT)
    finally:
        await provider.close()
    assert gateway.received[0]["from"] == "Quark"
    assert gateway.received[0]["api_id"] == API_ID


def test_smsru_without_an_api_id_is_a_config_error_naming_the_variable() -> None:
    settings = load_settings({"QUARK_SMS_PROVIDER": "smsru"})
    with pytest.raises(ConfigError, match="QUARK_SMS_RU_API_ID"):
        build_provider(settings)


def test_a_line_still_being_written_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "sms-outbox.jsonl"
    path.write_bytes(b'{"to": "+79161234567", "text": "a", "sent_at": "x"}\n{"to": "+7916')
    assert [m["text"] for m in read_outbox(path)] == ["a"]
