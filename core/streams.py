"""`streams.yaml`: declared streams, key-value buckets and projection consumers.

The file decodes into Structs that reject unknown fields; an error names the field and its
line. `apply` creates or updates everything idempotently and reports what the server cannot
change in place (storage, retention, a stream's name) instead of ignoring it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import nats.js.errors
import yaml
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from core.errors import ConfigError
from core.eventstore import StreamMap

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZES = {
    "b": 1,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
}


def parse_duration(value: str | int | float) -> float:
    """'2m' → 120.0 seconds; a bare number is seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
    if not m:
        raise ValueError(f"{value!r} is not a duration like 30s, 2m, 24h, 30d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_size(value: str | int) -> int:
    """'1MiB' → 1048576 bytes; a bare number is bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]i?B|B)\s*", value, flags=re.IGNORECASE)
    if not m:
        raise ValueError(f"{value!r} is not a size like 256KiB, 1MiB")
    return int(m.group(1)) * _SIZES[m.group(2).lower()]


class StreamSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    subjects: list[str]
    description: str = ""
    storage: Literal["file", "memory"] = "file"
    retention: Literal["limits", "interest", "workqueue"] = "limits"
    duplicate_window: str = "2m"
    max_msg_size: str = "1MiB"
    max_age: str | None = None
    max_bytes: str | None = None
    replicas: int | None = None
    allow_direct: bool = True


class KeyValueSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    description: str = ""
    history: int = 1
    max_value_size: str = "1MiB"
    ttl: str | None = None
    storage: Literal["file", "memory"] = "file"
    #: Keys may carry their own TTL (JetStream's per-message TTL, nats-server 2.11+); an
    #: expired key leaves a delete marker that lives this long, so watchers see it go.
    per_key_ttl_marker: str | None = None


class SourceSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    stream: str
    filter_subjects: list[str]


class ConsumerSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sources: list[SourceSpec]
    max_deliver: int = 5
    ack_wait: str = "30s"
    max_ack_pending: int = 20000


class StreamsFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    streams: dict[str, StreamSpec]
    key_value: dict[str, KeyValueSpec] = {}
    consumers: dict[str, ConsumerSpec] = {}


@dataclass(frozen=True)
class Declarations:
    """The decoded file, validated, plus where each value came from (for error lines)."""

    file: StreamsFile
    path: Path

    def read_streams(self) -> dict[str, frozenset[str]]:
        """Read model → the streams it consumes (its consumer's sources)."""
        return {
            name: frozenset(source.stream for source in spec.sources)
            for name, spec in self.file.consumers.items()
        }

    def stream_map(self) -> StreamMap:
        """Context → stream, from the `ev.<context>.>` subjects each stream declares."""
        mapping: dict[str, str] = {}
        for name, spec in self.file.streams.items():
            for subject in spec.subjects:
                m = re.fullmatch(r"ev\.([a-z_]+)\.>", subject)
                if m:
                    mapping[m.group(1)] = name
        return StreamMap(mapping)


def _line_of(root: yaml.Node | None, path: str) -> int | None:
    """Line (1-based) of the node at a msgspec error path such as `$.streams.CONTENT.max_age`."""
    node = root
    keys = re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path.removeprefix("$"))
    line = node.start_mark.line + 1 if node is not None else None
    for key, index in keys:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and index:
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            return line
    return line


_NAMED_MAPS = {"streams": StreamSpec, "key_value": KeyValueSpec, "consumers": ConsumerSpec}


def _convert(
    raw: Any,
    kind: Any,
    prefix: str,
    root: yaml.Node | None,
    path: Path,
    *,
    named_maps: bool = False,
) -> Any:
    """msgspec.convert, with errors that name the field and its line.

    msgspec reports a path inside a dict as `[...]`, which would not say *which* stream is
    wrong; so the top-level named maps are converted entry by entry with their own prefix.
    """
    if named_maps:
        unknown = set(raw) - set(_NAMED_MAPS)
        if unknown:
            field = sorted(unknown)[0]
            raise ConfigError(f"{path}:{_line_of(root, '$.' + field)}: {field}: unknown field")
        if "streams" not in raw:
            raise ConfigError(f"{path}:1: streams: required field is missing")
        out: dict[str, Any] = {}
        for section, spec in _NAMED_MAPS.items():
            entries = raw.get(section) or {}
            if not isinstance(entries, dict):
                raise ConfigError(
                    f"{path}:{_line_of(root, '$.' + section)}: {section}: must be a mapping"
                )
            out[section] = {
                str(name): _convert(value or {}, spec, f"$.{section}.{name}", root, path)
                for name, value in entries.items()
            }
        return StreamsFile(**out)
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        m = re.search(r"at `\$([^`]*)`", message)
        field_path = prefix + (m.group(1) if m else "")
        unknown = re.search(r"Object contains unknown field `([^`]+)`", message)
        if unknown:
            field_path = f"{field_path}.{unknown.group(1)}"
        missing = re.search(r"missing required field `([^`]+)`", message)
        if missing:
            field_path = f"{field_path}.{missing.group(1)}"
        line = _line_of(root, field_path)
        clean = re.sub(r"\s*-\s*at `[^`]*`", "", message)
        raise ConfigError(f"{path}:{line}: {field_path.removeprefix('$.')}: {clean}") from None


def load(path: Path | str) -> Declarations:
    """Read and validate `streams.yaml`.

    Raises:
        ConfigError: with `file:line: field: problem` for the first thing wrong.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return _load_text(path, text)


@functools.lru_cache(maxsize=8)
def _load_text(path: Path, text: str) -> Declarations:
    """Keyed on the text: every process reads the file at each start and the test suite once
    per test, and parsing it was a sixth of a test platform's start-up."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when it was built
    try:
        root = yaml.compose(text, Loader=loader)
        raw = yaml.load(text, Loader=loader)  # a safe loader: CSafeLoader or SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: the file must be a mapping with `streams:`")
    decoded = _convert(raw, StreamsFile, "$", root, path, named_maps=True)
    _validate(decoded, root, path)
    return Declarations(decoded, path)


def _covers(pattern: str, subject: str) -> bool:
    """Whether every subject that `subject` (itself a pattern) matches also matches
    `pattern`: `ev.>` covers `ev.posts.>`, `ev.posts.*` does not."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return i < len(s)
        if i >= len(s) or s[i] == ">" or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def _validate(decoded: StreamsFile, root: yaml.Node | None, path: Path) -> None:
    def fail(field: str, problem: str) -> None:
        raise ConfigError(f"{path}:{_line_of(root, '$.' + field)}: {field}: {problem}")

    for name, spec in decoded.streams.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            fail(f"streams.{name}", "stream names are UPPER_CASE letters, digits and _")
        for attr, parser in (
            ("duplicate_window", parse_duration),
            ("max_age", parse_duration),
            ("max_msg_size", parse_size),
            ("max_bytes", parse_size),
        ):
            value = getattr(spec, attr)
            if value is None:
                continue
            try:
                parser(value)
            except ValueError as exc:
                fail(f"streams.{name}.{attr}", str(exc))
        if not spec.subjects:
            fail(f"streams.{name}.subjects", "at least one subject")
    for name, kv in decoded.key_value.items():
        for attr, parser in (("max_value_size", parse_size), ("ttl", parse_duration)):
            value = getattr(kv, attr)
            if value is None:
                continue
            try:
                parser(value)
            except ValueError as exc:
                fail(f"key_value.{name}.{attr}", str(exc))
    for name, consumer in decoded.consumers.items():
        if not consumer.sources:
            fail(f"consumers.{name}.sources", "at least one source")
        for i, source in enumerate(consumer.sources):
            if source.stream not in decoded.streams:
                fail(
                    f"consumers.{name}.sources[{i}].stream",
                    f"no stream named {source.stream!r} is declared",
                )
            if not source.filter_subjects:
                fail(f"consumers.{name}.sources[{i}].filter_subjects", "at least one subject")
            # A read model's checkpoint must follow every position of the stream: a client
            # hands any of them back (Quark-After, a writer's own reads), and a read model
            # that never sees part of the stream would keep that read waiting until 503.
            missing = [
                s
                for s in decoded.streams[source.stream].subjects
                if not any(_covers(f, s) for f in source.filter_subjects)
            ]
            if missing:
                fail(
                    f"consumers.{name}.sources[{i}].filter_subjects",
                    f"must cover every subject of {source.stream} (missing {', '.join(missing)})",
                )
        try:
            parse_duration(consumer.ack_wait)
        except ValueError as exc:
            fail(f"consumers.{name}.ack_wait", str(exc))


def stream_config(name: str, spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=name,
        description=spec.description or None,
        subjects=list(spec.subjects),
        storage=StorageType(spec.storage),
        retention=RetentionPolicy(spec.retention),
        duplicate_window=parse_duration(spec.duplicate_window),
        max_msg_size=parse_size(spec.max_msg_size),
        max_age=parse_duration(spec.max_age) if spec.max_age else None,
        max_bytes=parse_size(spec.max_bytes) if spec.max_bytes else None,
        num_replicas=spec.replicas or replicas,
        allow_direct=spec.allow_direct,
        discard=DiscardPolicy.OLD,
    )


@dataclass
class ApplyReport:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    refused: list[str]  # "<name>: why the server cannot apply it in place"

    @property
    def ok(self) -> bool:
        return not self.refused


_IMMUTABLE = ("storage", "retention")


def _differences(current: StreamConfig, wanted: StreamConfig) -> list[str]:
    fields = (
        "description",
        "subjects",
        "storage",
        "retention",
        "duplicate_window",
        "max_msg_size",
        "max_age",
        "max_bytes",
        "num_replicas",
        "allow_direct",
    )
    out = []
    for f in fields:
        a, b = getattr(current, f), getattr(wanted, f)
        if f in ("max_age", "max_bytes") and not a and not b:
            continue
        if f == "max_bytes" and (a in (None, -1) and b in (None, -1)):
            continue
        if a != b and not (f == "description" and not a and not b):
            out.append(f)
    return out


async def apply(js: JetStreamContext, decl: Declarations, *, replicas: int = 1) -> ApplyReport:
    """Create or update every declared stream and bucket; idempotent."""
    report = ApplyReport([], [], [], [])
    for name, spec in decl.file.streams.items():
        wanted = stream_config(name, spec, replicas)
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            await js.add_stream(wanted)
            report.created.append(f"stream {name}")
            continue
        diff = _differences(info.config, wanted)
        if not diff:
            report.unchanged.append(f"stream {name}")
            continue
        blocked = [f for f in diff if f in _IMMUTABLE]
        if blocked:
            report.refused.append(
                f"stream {name}: {', '.join(blocked)} cannot change in place "
                f"(server has {', '.join(str(getattr(getattr(info.config, f), 'value', getattr(info.config, f))) for f in blocked)}); "
                "create a new stream and move the data"
            )
            continue
        try:
            await js.update_stream(wanted)
        except nats.js.errors.APIError as exc:
            report.refused.append(
                f"stream {name}: server refused update of {', '.join(diff)}: {exc.description}"
            )
            continue
        report.updated.append(f"stream {name} ({', '.join(diff)})")
    for name, kv in decl.file.key_value.items():
        config = KeyValueConfig(
            bucket=name,
            description=kv.description or None,
            history=kv.history,
            max_value_size=parse_size(kv.max_value_size),
            ttl=parse_duration(kv.ttl) if kv.ttl else None,
            storage=StorageType(kv.storage),
            replicas=replicas,
            limit_marker_ttl=(
                parse_duration(kv.per_key_ttl_marker) if kv.per_key_ttl_marker else None
            ),
        )
        try:
            await js.key_value(name)
            report.unchanged.append(f"bucket {name}")
        except nats.js.errors.BucketNotFoundError:
            await js.create_key_value(config)
            report.created.append(f"bucket {name}")
    return report


async def show(js: JetStreamContext, decl: Declarations) -> list[dict[str, Any]]:
    """What the server has for every declared stream: messages, bytes, consumers."""
    rows: list[dict[str, Any]] = []
    for name in decl.file.streams:
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            rows.append({"stream": name, "state": "missing"})
            continue
        consumers = []
        try:
            for c in await js.consumers_info(name):
                consumers.append(
                    {"name": c.name, "pending": c.num_pending, "ack_pending": c.num_ack_pending}
                )
        except nats.js.errors.APIError:
            pass
        rows.append(
            {
                "stream": name,
                "state": "ok",
                "subjects": info.config.subjects,
                "messages": info.state.messages,
                "bytes": info.state.bytes,
                "first_seq": info.state.first_seq,
                "last_seq": info.state.last_seq,
                "replicas": info.config.num_replicas,
                "consumers": consumers,
            }
        )
    return rows
