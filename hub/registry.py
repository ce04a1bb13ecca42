"""The hub's registry: every module instance on the station, found the way `nats micro ls`
finds them, plus the modules that speak only HTTP and register themselves.

Discovery asks `$SRV.INFO` and `$SRV.STATS` of everything on the NATS account and gathers
the answers for a short while (until none has come for `QUIET` seconds, at most `WINDOW`):
nothing is kept between two looks, so a stopped instance is gone from the next one and a
new one is there at once. Only services named `quark-<module>` are the station's.

HTTP modules (no NATS client) `POST /v1/hub/register` with a token derived from the
platform's secret and their name (`module_token`): the hub keeps each registration in the
`hub_modules` key-value bucket with a per-key TTL (JetStream's per-message TTL), renewed by
every heartbeat; a module that stops heartbeating expires by itself, with no sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS

from core.modules import SERVICE_PREFIX, status_subject
from core.natsutil import NATS_UNAVAILABLE

#: The key-value bucket of HTTP modules' registrations (declared in streams.yaml).
BUCKET = "hub_modules"
#: How long discovery waits for more answers after the last one, and at most in all.
QUIET = 0.15
WINDOW = 1.0


class Endpoint(msgspec.Struct, kw_only=True):
    name: str
    subject: str
    queue_group: str | None = None
    requests: int = 0
    errors: int = 0
    last_error: str = ""
    average_ms: float = 0.0


class Instance(msgspec.Struct, kw_only=True):
    """One running module instance as the hub shows it."""

    module: str
    kind: str
    version: str
    id: str
    host: str = ""
    pid: int | None = None
    #: Instances of one OS process share it (they stop together).
    process: str = ""
    started: str = ""
    #: When it last answered (discovery) or heartbeated (HTTP modules).
    last_seen: str = ""
    state: str = "up"
    description: str = ""
    #: `nats` (a micro service) or `http` (registered through the hub).
    source: str = "nats"
    url: str | None = None
    health_url: str | None = None
    endpoints: list[Endpoint] = []
    metadata: dict[str, str] = {}


Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]{1,500}$")]


class Registration(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What an HTTP module tells the hub (`POST /v1/hub/register`)."""

    name: Name
    version: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z.+-]{1,40}$")]
    base_url: Url
    health_url: Url
    #: Chosen by the module, the same in every heartbeat of one run.
    instance: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""
    #: Routes or anything else to show (string values, like micro metadata).
    metadata: Annotated[dict[str, str], msgspec.Meta(max_length=50)] = {}


class Stored(msgspec.Struct, kw_only=True):
    registration: Registration
    registered_at: str
    heartbeat_at: str
    host: str = ""


def module_token(secret: bytes, module: str) -> str:
    """The bearer token an HTTP module registers with: HMAC of its name under the
    platform's secret, so tokens need no storage and one module cannot pose as another."""
    return hmac.new(secret, f"hub-module:{module}".encode(), hashlib.sha256).hexdigest()


def token_matches(secret: bytes, module: str, token: str) -> bool:
    return hmac.compare_digest(module_token(secret, module), token)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


async def gather_replies(
    nc: NATS, subject: str, *, quiet: float = QUIET, window: float = WINDOW
) -> list[bytes]:
    """Every answer to one request on `subject`, however many instances answer."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    replies: list[bytes] = []
    try:
        await nc.publish(subject, b"", reply=inbox)
        deadline = time.monotonic() + window
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=min(left, quiet if replies else left))
            except TimeoutError:
                break
            replies.append(msg.data)
    finally:
        with contextlib.suppress(*NATS_UNAVAILABLE):
            await sub.unsubscribe()
    return replies


_any = msgspec.json.Decoder(dict)


def _decode(replies: Iterable[bytes]) -> list[dict]:
    out = []
    for data in replies:
        with contextlib.suppress(msgspec.DecodeError):
            out.append(_any.decode(data))
    return out


async def discover(nc: NATS) -> list[Instance]:
    """The station's micro services now, with their endpoints' statistics."""
    infos, stats = await asyncio.gather(
        gather_replies(nc, "$SRV.INFO"), gather_replies(nc, "$SRV.STATS")
    )
    stats_by_id = {s.get("id"): s for s in _decode(stats)}
    seen = _now()
    found: list[Instance] = []
    for info in _decode(infos):
        name = info.get("name", "")
        if not name.startswith(SERVICE_PREFIX):
            continue
        meta = {str(k): str(v) for k, v in (info.get("metadata") or {}).items()}
        st = stats_by_id.get(info.get("id"), {})
        counted = {e.get("name"): e for e in st.get("endpoints") or []}
        endpoints = []
        for e in info.get("endpoints") or []:
            c = counted.get(e.get("name"), {})
            endpoints.append(
                Endpoint(
                    name=e.get("name", ""),
                    subject=e.get("subject", ""),
                    queue_group=e.get("queue_group"),
                    requests=int(c.get("num_requests", 0)),
                    errors=int(c.get("num_errors", 0)),
                    last_error=c.get("last_error", "") or "",
                    average_ms=round(int(c.get("average_processing_time", 0)) / 1e6, 3),
                )
            )
        pid = meta.get("pid", "")
        found.append(
            Instance(
                module=meta.get("module") or name[len(SERVICE_PREFIX) :],
                kind=meta.get("kind", "external"),
                version=info.get("version", ""),
                id=info.get("id", ""),
                host=meta.get("host", ""),
                pid=int(pid) if pid.isdigit() else None,
                process=meta.get("process", ""),
                started=meta.get("started") or st.get("started", ""),
                last_seen=seen,
                description=info.get("description", ""),
                url=meta.get("url"),
                endpoints=endpoints,
                metadata=meta,
            )
        )
    return sorted(found, key=lambda i: (i.kind, i.module, i.started, i.id))


async def instance_status(nc: NATS, instance: Instance, timeout: float = 1.0) -> dict | None:
    """An instance's own `status` answer (None: it has none, or did not answer)."""
    if not any(e.name == "status" for e in instance.endpoints):
        return None
    try:
        msg = await nc.request(status_subject(instance.module, instance.id), b"", timeout=timeout)
    except (TimeoutError, *NATS_UNAVAILABLE, nats.errors.NoRespondersError):
        return None
    if msg.headers and msg.headers.get("Nats-Service-Error-Code"):
        return {"error": msg.headers.get("Nats-Service-Error", "")}
    with contextlib.suppress(msgspec.DecodeError):
        return _any.decode(msg.data)
    return None


class HttpModules:
    """Registrations of HTTP modules in the `hub_modules` bucket, each with its own TTL."""

    def __init__(self, nc: NATS, ttl: float) -> None:
        self.js = nc.jetstream()
        self.ttl = ttl
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Stored)

    def _key(self, name: str, instance: str) -> str:
        return f"{name}.{instance}"

    async def heartbeat(self, registration: Registration, host: str) -> Stored:
        """Register, or renew a registration: the key lives `ttl` seconds from now."""
        kv = await self.js.key_value(BUCKET)
        key = self._key(registration.name, registration.instance)
        registered_at = _now()
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            entry = await kv.get(key)
            if entry.value:
                registered_at = self._decoder.decode(entry.value).registered_at
        stored = Stored(
            registration=registration,
            registered_at=registered_at,
            heartbeat_at=_now(),
            host=host,
        )
        # A put with a per-message TTL (kv.put has none): the key expires by itself.
        await self.js.publish(f"$KV.{BUCKET}.{key}", self._encoder.encode(stored), msg_ttl=self.ttl)
        return stored

    async def remove(self, name: str, instance: str) -> None:
        kv = await self.js.key_value(BUCKET)
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await kv.purge(self._key(name, instance))

    async def instances(self) -> list[Instance]:
        kv = await self.js.key_value(BUCKET)
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return []
        found = []
        for key in keys:
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                continue  # expired between the listing and the read
            if not entry.value:
                continue
            stored = self._decoder.decode(entry.value)
            r = stored.registration
            found.append(
                Instance(
                    module=r.name,
                    kind="external",
                    version=r.version,
                    id=r.instance,
                    host=stored.host,
                    started=stored.registered_at,
                    last_seen=stored.heartbeat_at,
                    description=r.description,
                    source="http",
                    url=r.base_url,
                    health_url=r.health_url,
                    metadata=dict(r.metadata),
                )
            )
        return found
