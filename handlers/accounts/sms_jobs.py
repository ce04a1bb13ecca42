"""Outgoing SMS as a JetStream work queue (the `SMS` stream), drained by the SMS sender.

The code itself is never in an event (events hold its keyed hash), so the sender cannot react
to events: the handler queues each SMS after its event is committed. A job is the number and
the text, encrypted under a key derived from the platform secret — the queue is on disk for
a moment and must not hold phone numbers or codes in clear. Each job has a message id, so a
retried command queues its SMS once; the sender acks a job only once the gateway took it,
and retries transient failures with growing delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nats.js.api import AckPolicy, ConsumerConfig

from core.logging import get_logger
from core.natsutil import NATS_UNAVAILABLE, unavailable
from core.worker_loop import ConsumerLoop
from handlers.accounts.sms import SmsError, SmsProvider

SUBJECT = "sms.outbound"
STREAM = "SMS"
CONSUMER = "sms_sender"
MAX_DELIVER = 6
#: Delay before the n-th retry of a transient failure (seconds).
BACKOFF = (2.0, 10.0, 30.0, 120.0, 300.0)

log = get_logger("quark.sms")


class SmsJob(msgspec.Struct, frozen=True):
    to: str
    text: str


def _key(secret: bytes) -> AESGCM:
    return AESGCM(
        HKDF(algorithm=SHA256(), length=32, salt=None, info=b"quark/sms-jobs").derive(secret)
    )


def seal_job(secret: bytes, job: SmsJob) -> bytes:
    nonce = os.urandom(12)
    return nonce + _key(secret).encrypt(nonce, msgspec.json.encode(job), SUBJECT.encode())


def open_job(secret: bytes, data: bytes) -> SmsJob:
    plain = _key(secret).decrypt(data[:12], data[12:], SUBJECT.encode())
    return msgspec.json.decode(plain, type=SmsJob)


async def enqueue(js: Any, secret: bytes, job: SmsJob, msg_id: str) -> None:
    """Queue one SMS durably (JetStream acked it) before the command is answered.

    Raises:
        UnavailableError: NATS did not confirm; retrying the command is safe (`msg_id`).
    """
    try:
        await js.publish(SUBJECT, seal_job(secret, job), headers={"Nats-Msg-Id": msg_id}, timeout=5)
    except NATS_UNAVAILABLE as exc:
        raise unavailable(exc) from None


@dataclass
class SmsSender:
    """Drains the SMS queue through a provider. Any number may run: the work queue hands
    each job to one of them."""

    #: Its own module on the station (discovery, `quark status`).
    module: ClassVar[str] = "sms-sender"
    js: Any
    secret: bytes
    provider: SmsProvider
    _loop: ConsumerLoop | None = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            max_deliver=MAX_DELIVER,
            ack_wait=60,
        )
        self._loop = ConsumerLoop(self.js, STREAM, config, self._send, name="sms-sender")
        await self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        await self.provider.close()

    async def _send(self, msgs: list[Any]) -> None:
        await asyncio.gather(*(self._deliver(m) for m in msgs))

    async def _deliver(self, msg: Any) -> None:
        try:
            job = open_job(self.secret, msg.data)
        except (InvalidTag, ValueError, msgspec.DecodeError):
            log.error("sms_job_unreadable")
            await msg.term()
            return
        try:
            await self.provider.send(job.to, job.text)
        except SmsError as exc:
            attempt = msg.metadata.num_delivered
            if exc.retryable and attempt < MAX_DELIVER:
                delay = BACKOFF[min(attempt - 1, len(BACKOFF) - 1)]
                log.warning("sms_retry", attempt=attempt, delay=delay, error=str(exc))
                await msg.nak(delay=delay)
            else:
                log.error("sms_given_up", attempt=attempt, error=str(exc))
                await msg.term()
            return
        except Exception:
            log.exception("sms_send_crashed")
            await msg.nak(delay=BACKOFF[0])
            return
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await msg.ack()
