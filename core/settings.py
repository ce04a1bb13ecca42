"""Settings, all from `QUARK_*` environment variables (listed in the README).

Decoding is strict: an unknown `QUARK_*` variable is an error naming it, so a typo such as
`QUARK_NATS_ULR` fails loudly instead of silently starting an embedded server. Defaults match
the embedded dev runner; `compose.yaml` sets the production values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

from core.errors import ConfigError

PREFIX = "QUARK_"


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
    #: How long the edge waits for a command reply before answering 503 (seconds).
    command_timeout: float = 5.0
    #: Redis key prefix, so tests and several deployments can share one Redis.
    redis_prefix: str = "quark:"
    #: File holding the secret key (cursor signing, later tokens). Required in production;
    #: in dev a key is generated once into the data dir.
    secret_key_file: Path | None = None

    def with_(self, **changes: object) -> Settings:
        return msgspec.structs.replace(self, **changes)

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
        return msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        message = str(exc)
        for name in raw:
            if f"`{name}`" in message or f"$.{name}`" in message:
                raise ConfigError(f"{PREFIX}{name.upper()}: {message}") from None
        raise ConfigError(message) from None
