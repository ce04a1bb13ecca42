"""Settings, all from `QUARK_*` environment variables (listed in the README).

Decoding is strict: an unknown `QUARK_*` variable is an error naming it, so a typo such as
`QUARK_NATS_ULR` fails loudly instead of silently starting an embedded server. Defaults match
the embedded dev runner; `compose.yaml` sets the production values.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

from core.errors import ConfigError
from core.ratelimit import Rule

PREFIX = "QUARK_"
#: `scheme://host[:port]`, lower case, as browsers send `Origin` (no path, no slash).
_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path(".quark")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    #: Empty means "start an embedded server in the data dir" (dev runner only).
    nats_url: str = ""
    database_url: str = ""
    redis_url: str = ""
    stream_replicas: int = 1
    streams_file: Path = Path("streams.yaml")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json", "auto"] = "auto"
    #: Largest request body the edge reads (bytes); media uploads get their own limit later.
    max_body_bytes: int = 64 * 1024
    #: How long a read waits for `Quark-After` before answering 503 (seconds).
    read_wait_timeout: float = 2.0
    #: A person's reads wait (up to `read_wait_timeout`) for their own acknowledged writes,
    #: without any header. Off only to measure what it costs.
    read_your_writes: bool = True
    #: How long the edge waits for a command reply before answering 503 (seconds).
    command_timeout: float = 5.0
    #: Commands (POST, PUT, PATCH, DELETE) one edge process works on at once; beyond it the
    #: edge answers 503 with Retry-After at once instead of queueing without bound.
    max_commands_in_flight: int = 256
    #: The same bound for reads (GET, HEAD); open websockets do not count.
    max_reads_in_flight: int = 1024
    #: Multiplies the hourly quotas of the perks table (posts, uploads per hour): load
    #: benchmarks lift them and say so; 1 in production.
    perks_quota_scale: float = 1.0
    #: Media uploads and downloads one edge process moves at once (they last as long as
    #: the bytes take, so they have their own bound and never starve reads or commands).
    max_transfers_in_flight: int = 512
    #: Commands one handler process works on at once; beyond it it answers 503 at once.
    handler_concurrency: int = 512
    #: Connections each process keeps to Redis; a request waits up to a second for a free
    #: one, then gets 503 (redis-py's default pool refuses at once and the edge said 500).
    redis_pool_size: int = 64
    #: S3 service for media bytes (`host:port`; MinIO in compose.yaml). Empty: a directory
    #: in the data dir (`media/`), the embedded default.
    s3_endpoint: str = ""
    s3_access_key: str = ""
    #: A secret: from the environment (or the secrets manager), never from a file in git.
    s3_secret_key: str = ""
    s3_bucket: str = "quark-media"
    s3_region: str = ""
    #: HTTPS to the S3 service.
    s3_secure: bool = True
    #: How media is delivered when it lives in S3: `stream` through the edge, or `redirect`
    #: to a short-lived presigned URL of the object store (the store serves the bytes).
    media_delivery: Literal["stream", "redirect"] = "stream"
    #: How long a signed link to private media stays valid (seconds).
    media_link_seconds: int = 3_600
    #: How long a direct (presigned) upload may take to arrive (seconds).
    media_upload_link_seconds: int = 900
    #: Uploads attached to nothing are deleted after this long (seconds; 24 h).
    media_unattached_ttl_seconds: int = 86_400
    #: Deleted media keeps its bytes this long before they are purged (seconds): an identical
    #: upload arriving meanwhile shares them instead of racing their deletion.
    media_purge_grace_seconds: int = 600
    #: How often the media sweeper looks for unattached uploads and bytes to purge (seconds).
    media_sweep_seconds: float = 300.0
    #: Image-processing processes of one media worker (CPU work never runs on its event loop).
    media_processes: int = 1
    #: A processing job silent for this long is handed to another worker (seconds).
    media_ack_wait_seconds: float = 30.0
    #: Where the edge spools an upload while hashing it (empty: the system's temp dir).
    media_spool_dir: Path | None = None
    #: Posts kept per home timeline (and per author's recent posts) in Redis; older pages
    #: come from PostgreSQL. Mastodon keeps 400.
    timeline_cap: int = 400
    #: Replies nest this deep in a thread; deeper ones show under their deepest shown
    #: ancestor (a phone's width holds about four levels).
    comment_max_depth: int = 4
    #: People a group chat may have (its owner included); a group keeps the limit it was
    #: made with. Channels have none.
    group_max_members: int = 200
    #: Read receipts (who has read what) are shown and pushed live in direct conversations
    #: and in groups of at most this many members; larger groups show only the reader's own
    #: unread state (receipts would cost each member a delivery per reader).
    read_receipts_max_members: int = 50
    #: How long a websocket connection keeps its person online without a refresh (seconds):
    #: edges refresh theirs every TTL / 2.5, so an edge that died stops counting within it.
    presence_ttl_seconds: float = 75.0
    #: A port on which a worker process without HTTP (handlers, read models, workers) serves
    #: its Prometheus metrics at /metrics; 0: none (the edge and the hub serve theirs on
    #: their own ports).
    metrics_port: int = 0
    #: The hub (registry, health, the dashboard): its address and port (the founding plan's
    #: 3900).
    hub_host: str = "127.0.0.1"
    hub_port: int = 3900
    #: The edge the dashboard signs in through (empty: this machine's `http_host:http_port`).
    hub_edge_url: str = ""
    #: How long an HTTP module's registration lives without a heartbeat (seconds).
    hub_module_ttl_seconds: float = 30.0
    #: A read model further behind than either is degraded (events; seconds).
    hub_lag_degraded_events: int = 1_000
    hub_lag_degraded_seconds: float = 10.0
    #: Optional modules this station runs without (comma-separated names from the catalogue
    #: in `station/catalogue.py`, such as `link-preview`, in Node.js): the hub does not
    #: expect them and `quark up` does not start them. Empty: every one runs.
    without_modules: str = ""
    #: Networks (comma-separated CIDRs) the link-preview module may fetch pages from. Empty:
    #: public addresses only, plus loopback in dev and test; never private ranges.
    link_preview_networks: str = ""
    #: Redis key prefix, so tests and several deployments can share one Redis.
    redis_prefix: str = "quark:"
    #: File holding the secret key (cursor signing, later tokens). Required in production;
    #: in dev a key is generated once into the data dir.
    secret_key_file: Path | None = None
    #: Where sign-in codes go: `outbox` appends them to `sms-outbox.jsonl` in the data dir
    #: (dev, tests); `smsru` sends them through the SMS.ru gateway.
    sms_provider: Literal["outbox", "smsru"] = "outbox"
    #: SMS.ru API key (a secret); required with `sms_provider = "smsru"`.
    sms_ru_api_id: str = ""
    #: SMS.ru base URL; tests point it at a local fake gateway.
    sms_ru_url: str = "https://sms.ru"
    #: Sender name approved by the gateway; empty means the account's default sender.
    sms_sender: str = ""
    #: Proxies (comma-separated addresses or CIDR networks) whose `X-Forwarded-For` the edge
    #: believes: the client address for rate limits and sessions is the last one before them.
    trusted_proxies: str = ""
    #: Origins (comma-separated, such as `https://app.example.org`) whose browser scripts may
    #: call the API (CORS); empty: none, the API is same-origin only.
    cors_origins: str = ""
    #: How long a browser keeps its session cookies (seconds; 30 days), renewed on every
    #: refresh: a refresh token has no lifetime of its own (it holds until its session
    #: ends), so this is how long a browser may stay away and still be signed in.
    refresh_cookie_max_age_seconds: int = 30 * 86_400
    #: How long an SMS code stays valid (seconds).
    verification_code_ttl_seconds: int = 300
    #: How long before a new code may be sent for the same verification (seconds).
    verification_resend_after_seconds: int = 60
    #: How long a released handle stays unavailable to others (seconds; 30 days).
    handle_cooling_off_seconds: int = 30 * 86_400
    #: argon2id cost of password hashes (OWASP's minimum: 19 MiB, 2 passes).
    password_hash_memory_kib: int = 19_456
    password_hash_iterations: int = 2
    #: SMS codes sent to one phone number / from one IP address (they cost money).
    limit_sms_per_phone: str = "5/h"
    limit_sms_per_ip: str = "20/h"
    #: Requests from one IP address to the sign-up and sign-in endpoints (codes, logins,
    #: refreshes, resets); Mastodon allows 25 per 5 minutes per IP for each of these.
    limit_auth_per_ip: str = "25/5min"
    #: Reports one person may file (`POST /v1/reports`): enough for a bad day, too few to
    #: flood the moderators' queue.
    limit_reports: str = "30/h"
    #: Link previews one person may ask for (`POST /v1/link-previews`): each fetches a page.
    limit_link_previews: str = "60/h"
    #: The weighted count of distinct reporters (`core.moderation.reporter_weight`: 1 for a
    #: month-old account with no history) at which reported content is hidden pending
    #: review; 0: never.
    auto_hide_score: float = 3.0
    #: Failed sign-ins (or second-factor codes) before a lockout, per phone number or account
    #: and per IP address; each further lockout doubles, from the base up to the maximum.
    lockout_account_failures: int = 5
    lockout_ip_failures: int = 25
    lockout_base_seconds: int = 60
    lockout_max_seconds: int = 86_400

    def __post_init__(self) -> None:
        for name in (
            "max_commands_in_flight",
            "max_reads_in_flight",
            "max_transfers_in_flight",
            "handler_concurrency",
            "redis_pool_size",
            "timeline_cap",
            "comment_max_depth",
            "group_max_members",
            "read_receipts_max_members",
            "refresh_cookie_max_age_seconds",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be at least 1")
        if self.auto_hide_score < 0:
            raise ValueError("`auto_hide_score` must not be negative")
        if self.presence_ttl_seconds <= 0:
            raise ValueError("`presence_ttl_seconds` must be positive")
        try:
            self.proxy_networks()
        except ValueError as exc:
            raise ValueError(f"`trusted_proxies`: {exc}") from None
        try:
            self.cors_origin_list()
        except ValueError as exc:
            raise ValueError(f"`cors_origins`: {exc}") from None
        for name in (
            "limit_sms_per_phone",
            "limit_sms_per_ip",
            "limit_auth_per_ip",
            "limit_reports",
            "limit_link_previews",
        ):
            try:
                Rule.parse(name, getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"`{name}`: {exc}") from None
        try:
            self.link_preview_network_list()
        except ValueError as exc:
            raise ValueError(f"`link_preview_networks`: {exc}") from None
        if any(not re.fullmatch(r"[a-z0-9][a-z0-9-]*", m) for m in self.without_module_names()):
            raise ValueError("`without_modules`: names such as link-preview, comma-separated")

    def with_(self, **changes: object) -> Settings:
        return msgspec.structs.replace(self, **changes)

    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        ]

    def link_preview_network_list(
        self,
    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The networks link previews may reach (empty: the module's default policy).

        Raises:
            ValueError: for anything but `address[/prefix length]` (the module, in Node.js,
                reads the same variable and knows no netmask form).
        """
        parts = [part.strip() for part in self.link_preview_networks.split(",") if part.strip()]
        for part in parts:
            if not re.fullmatch(r"[0-9A-Fa-f:.]+(/[0-9]{1,3})?", part):
                raise ValueError(f"{part!r} is not a network such as 127.0.0.0/8")
        return [ipaddress.ip_network(part, strict=False) for part in parts]

    def without_module_names(self) -> list[str]:
        return [part.strip() for part in self.without_modules.split(",") if part.strip()]

    def cors_origin_list(self) -> list[str]:
        """The CORS origins, each exactly as a browser sends it in `Origin`.

        Raises:
            ValueError: for anything but `scheme://host[:port]` (a path, a trailing slash or
                a wildcard would never match a browser's `Origin`, silently).
        """
        origins = [part.strip() for part in self.cors_origins.split(",") if part.strip()]
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.org")
        return origins

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env == "production"
        return self.log_format == "json"


def _decode_path(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(kind)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or a given mapping).

    Raises:
        ConfigError: naming the variable that is unknown or has a wrong value.
    """
    environ = os.environ if environ is None else environ
    raw = {
        key[len(PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(PREFIX) and value != ""
    }
    try:
        settings = msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        message = str(exc)
        for name in raw:
            if f"`{name}`" in message or f"$.{name}`" in message:
                raise ConfigError(f"{PREFIX}{name.upper()}: {message}") from None
        raise ConfigError(message) from None
    return anchored(settings)


def settings_env(settings: Settings) -> dict[str, str]:
    """The `QUARK_*` variables that give another process these settings (every value that
    differs from its default): how `quark up` starts a module's process like itself."""
    defaults = Settings()
    env: dict[str, str] = {}
    for field in msgspec.structs.fields(Settings):
        value = getattr(settings, field.name)
        if value == getattr(defaults, field.name) or value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[f"{PREFIX}{field.name.upper()}"] = text
    return env


#: The checkout (or installed tree) the platform runs from: `streams.yaml` lives here.
HOME = Path(__file__).resolve().parents[1]


def anchored(settings: Settings) -> Settings:
    """Relative paths (the defaults `.quark` and `streams.yaml`) are the platform's, not the
    working directory's: `quark admin grant` run from another directory must find the
    streams file and the embedded servers of a running `./dev up`."""
    changes = {
        name: HOME / path
        for name in ("data_dir", "streams_file", "secret_key_file", "media_spool_dir")
        if (path := getattr(settings, name)) is not None and not path.is_absolute()
    }
    return msgspec.structs.replace(settings, **changes) if changes else settings
