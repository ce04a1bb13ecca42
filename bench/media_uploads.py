"""Figure 1 of the media bench: uploads through the platform, and how soon they are ready.

`POST /v1/media` in a closed loop, counted at the edge's 202 (`upload_phase`), then the
media worker's drain watched in the read model until every accepted upload is ready or
failed (`concluded`), which gives the end-to-end rate. Its own module because of what an
upload needs that no other figure does: bodies that are all different files showing the
same picture (`UniqueBodies`, so nothing is deduplicated) and users who stay within the
standard perks' hourly uploads, the product's limit the bench does not lift (`Uploaders`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from bench.cpu import metered_loop
from bench.environment import BenchSetupError, Platform, access_tokens
from bench.loadgen import LoopResult, Send
from core.perks import STANDARD
from core.tokens import TokenService

if TYPE_CHECKING:
    from bench.media import Sizes

UPLOADED = ("1MP", "12MP")
UPLOAD_CLIENTS = (4, 16)
#: The standard perks' uploads per person and hour: no bench user goes past it.
UPLOADS_PER_USER = int(STANDARD["uploads_per_hour"])
READY_POLL = 0.1


class UniqueBodies:
    """A JPEG with a comment segment (`COM`) holding a counter right after its start marker:
    every body is another file (another SHA-256) showing the same picture."""

    def __init__(self, jpeg: bytes) -> None:
        if jpeg[:2] != b"\xff\xd8":
            raise ValueError("not a JPEG")
        self.jpeg = jpeg
        self.counter = itertools.count()

    def __call__(self, _client: int = 0) -> bytes:
        note = f"quark bench upload {next(self.counter)}".encode()
        return b"\xff\xd8\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + self.jpeg[2:]


class Uploaders:
    """Access tokens of bench users, each handed out for at most `per_user` uploads; a new
    user's token is minted when the last one has had its share."""

    def __init__(self, tokens: TokenService, per_user: int) -> None:
        self.tokens = tokens
        self.per_user = per_user
        self.users = 0
        self._current = ""
        self._left = 0

    def next(self) -> str:
        if self._left == 0:
            self._current = access_tokens(self.tokens, 1)[0]
            self.users += 1
            self._left = self.per_user
        self._left -= 1
        return self._current


@dataclass
class Accepted:
    """Uploads a phase had accepted (202): (media id, its owner's token), in order."""

    uploads: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def upload_sender(
    session: aiohttp.ClientSession,
    url: str,
    bodies: UniqueBodies,
    uploaders: Uploaders,
    accepted: Accepted,
) -> Send:
    async def send(_client: int) -> str | None:
        token = uploaders.next()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
        async with session.post(url, data=bodies(), headers=headers) as resp:
            answer = await resp.read()
            if resp.status != 202:
                return f"HTTP {resp.status}: {answer[:200]!r}"
        accepted.uploads.append((json.loads(answer)["id"], token))
        return None

    return send


@dataclass
class UploadPhase:
    size: str
    clients: int
    result: LoopResult
    cores: dict[str, float]
    accepted: int
    ready: int
    failed: int
    #: From the phase's first POST to the last upload concluded (ready or failed).
    seconds_to_all_ready: float
    drain_seconds: float

    @property
    def ready_per_s(self) -> float:
        return self.ready / self.seconds_to_all_ready if self.seconds_to_all_ready else 0.0


async def concluded(pool: asyncpg.Pool, ids: list[str]) -> tuple[int, int]:
    """(ready, failed) among `ids` in the media read model."""
    row = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'ready') AS ready,
                  count(*) FILTER (WHERE status = 'failed') AS failed
           FROM media.media WHERE id = ANY($1::uuid[])""",
        ids,
    )
    return int(row["ready"]), int(row["failed"])


async def upload_phase(
    platform: Platform,
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    label: str,
    clients: int,
    bodies: UniqueBodies,
    uploaders: Uploaders,
    sizes: Sizes,
    say: Callable[[str], None],
) -> tuple[UploadPhase, Accepted]:
    accepted = Accepted()
    send = upload_sender(session, f"{platform.base_url}/v1/media", bodies, uploaders, accepted)
    cap = sizes.max_uploads[label]
    say(f"figure 1: POST /v1/media, {label}, {clients} clients (at most {cap} uploads)")
    started = time.perf_counter()
    result, cores = await metered_loop(
        send,
        platform.pids(),
        clients=clients,
        seconds=sizes.upload_seconds,
        max_requests=cap,
        warmup_seconds=sizes.warmup_seconds,
        label=f"upload {label}",
    )
    platform.check_alive()
    ids = [media_id for media_id, _ in accepted.uploads]
    say(f"figure 1: waiting for the worker to process {len(ids)} uploads ({label})")
    uploaded = time.perf_counter()
    deadline = uploaded + sizes.drain_timeout
    while True:
        ready, failed = await concluded(pool, ids)
        if ready + failed >= len(ids):
            break
        if time.perf_counter() > deadline:
            raise BenchSetupError(
                f"{len(ids) - ready - failed} of {len(ids)} uploads not processed after "
                f"{sizes.drain_timeout:.0f}s"
            )
        platform.check_alive()
        await asyncio.sleep(READY_POLL)
    done = time.perf_counter()
    phase = UploadPhase(
        label, clients, result, cores, len(ids), ready, failed, done - started, done - uploaded
    )
    say(
        f"  {result.per_s:.1f} uploads/s; {ready} ready, {failed} failed; "
        f"{phase.ready_per_s:.2f} ready/s"
    )
    return phase, accepted
