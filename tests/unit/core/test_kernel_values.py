"""Kernel pieces that need no server: ids, positions, registry upcasting, settings,
streams.yaml validation, cursors."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

from core.commands import format_position, parse_position
from core.envelope import AggregateRef, Envelope, utc_now
from core.errors import ConfigError
from core.ids import is_uuid, new_id, uuid7
from core.registry import Event, EventRegistry, UnknownEventType
from core.settings import load_settings, settings_env
from core.streams import load as load_streams
from edge.cursors import BadCursor, decode_cursor, encode_cursor

ROOT = Path(__file__).resolve().parents[3]


def test_uuid7_ids_are_version_7_and_sort_in_creation_order() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_is_uuid_refuses_subject_injection() -> None:
    assert is_uuid(new_id())
    for bad in ("x", "a.b", "*", ">", new_id() + ".x", new_id().upper(), ""):
        assert not is_uuid(bad)


def test_position_round_trips_and_rejects_garbage() -> None:
    assert parse_position(format_position("CONTENT", 42)) == ("CONTENT", 42)
    for bad in (
        "CONTENT",
        "CONTENT:",
        "CONTENT:x",
        ":5",
        "CONTENT:-1",
        "A B:1",
        "CONTENT:²",
        "ÄÖ:1",
    ):
        with pytest.raises(ValueError, match="is not a position"):
            parse_position(bad)


class Renamed(Event, frozen=True):
    """Schema 2 renamed `text` to `body` and added `lang`."""

    name: ClassVar[str] = "test.Renamed"
    schema: ClassVar[int] = 3
    body: str
    lang: str


def _envelope(schema: int, payload: dict[str, Any]) -> Envelope:
    return Envelope(
        id=new_id(),
        type="test.Renamed",
        schema=schema,
        aggregate=AggregateRef("test.thing", new_id()),
        occurred_at=utc_now(),
        actor=None,
        correlation_id="c",
        causation_id="c",
        payload=msgspec.Raw(msgspec.json.encode(payload)),
    )


def test_old_schema_versions_are_upcast_in_order_on_read() -> None:
    registry = EventRegistry([Renamed])

    @registry.upcaster("test.Renamed", 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"body": data["text"]}

    @registry.upcaster("test.Renamed", 2)
    def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "lang": "en"}

    assert registry.decode(_envelope(1, {"text": "hi"})) == Renamed(body="hi", lang="en")
    assert registry.decode(_envelope(3, {"body": "x", "lang": "ru"})) == Renamed(
        body="x", lang="ru"
    )


def test_a_missing_upcaster_or_unknown_type_is_an_error_not_a_guess() -> None:
    registry = EventRegistry([Renamed])
    with pytest.raises(UnknownEventType):
        registry.decode(_envelope(1, {"text": "hi"}))
    with pytest.raises(UnknownEventType):
        EventRegistry().decode(_envelope(3, {}))


def test_settings_reject_an_unknown_quark_variable_by_name() -> None:
    with pytest.raises(ConfigError, match="QUARK_NATS_ULR"):
        load_settings({"QUARK_NATS_ULR": "nats://x"})
    with pytest.raises(ConfigError, match="QUARK_HTTP_PORT"):
        load_settings({"QUARK_HTTP_PORT": "eighty"})
    assert load_settings({"QUARK_HTTP_PORT": "9000", "OTHER": "x"}).http_port == 9000


def test_every_documented_setting_can_be_set_from_its_variable(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(QUARK_[A-Z0-9_]+)`", readme, flags=re.MULTILINE))
    values = {
        "QUARK_ENV": "production",
        "QUARK_DATA_DIR": str(tmp_path),
        "QUARK_HTTP_HOST": "0.0.0.0",
        "QUARK_HTTP_PORT": "9000",
        "QUARK_NATS_URL": "nats://a:1,nats://b:1",
        "QUARK_DATABASE_URL": "postgresql://x/y",
        "QUARK_REDIS_URL": "redis://x/0",
        "QUARK_STREAM_REPLICAS": "3",
        "QUARK_STREAMS_FILE": "/etc/quark/streams.yaml",
        "QUARK_LOG_LEVEL": "debug",
        "QUARK_LOG_FORMAT": "json",
        "QUARK_MAX_BODY_BYTES": "1000",
        "QUARK_READ_WAIT_TIMEOUT": "0.5",
        "QUARK_COMMAND_TIMEOUT": "2",
        "QUARK_READ_YOUR_WRITES": "false",
        "QUARK_MAX_COMMANDS_IN_FLIGHT": "100",
        "QUARK_MAX_READS_IN_FLIGHT": "400",
        "QUARK_HANDLER_CONCURRENCY": "50",
        "QUARK_REDIS_POOL_SIZE": "16",
        "QUARK_REDIS_PREFIX": "p:",
        "QUARK_SECRET_KEY_FILE": "/run/secrets/key",
        "QUARK_SMS_PROVIDER": "smsru",
        "QUARK_SMS_RU_API_ID": "api-id",
        "QUARK_SMS_RU_URL": "http://127.0.0.1:1",
        "QUARK_SMS_SENDER": "Quark",
        "QUARK_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
        "QUARK_CORS_ORIGINS": "https://app.example.org, http://localhost:5173",
        "QUARK_S3_ENDPOINT": "minio:9000",
        "QUARK_S3_ACCESS_KEY": "quark",
        "QUARK_S3_SECRET_KEY": "s3-secret",
        "QUARK_S3_BUCKET": "media",
        "QUARK_S3_REGION": "eu-central-1",
        "QUARK_S3_SECURE": "false",
        "QUARK_MEDIA_DELIVERY": "redirect",
        "QUARK_MEDIA_LINK_SECONDS": "600",
        "QUARK_MEDIA_UPLOAD_LINK_SECONDS": "300",
        "QUARK_MEDIA_UNATTACHED_TTL_SECONDS": "3600",
        "QUARK_MEDIA_PURGE_GRACE_SECONDS": "60",
        "QUARK_MEDIA_SWEEP_SECONDS": "30",
        "QUARK_MEDIA_PROCESSES": "4",
        "QUARK_MEDIA_ACK_WAIT_SECONDS": "15",
        "QUARK_MEDIA_SPOOL_DIR": "/var/spool/quark",
        "QUARK_MAX_TRANSFERS_IN_FLIGHT": "64",
        "QUARK_PERKS_QUOTA_SCALE": "1000",
        "QUARK_TIMELINE_CAP": "800",
        "QUARK_COMMENT_MAX_DEPTH": "6",
        "QUARK_GROUP_MAX_MEMBERS": "50",
        "QUARK_READ_RECEIPTS_MAX_MEMBERS": "20",
        "QUARK_PRESENCE_TTL_SECONDS": "20",
        "QUARK_REFRESH_COOKIE_MAX_AGE_SECONDS": "86400",
        "QUARK_VERIFICATION_CODE_TTL_SECONDS": "120",
        "QUARK_VERIFICATION_RESEND_AFTER_SECONDS": "30",
        "QUARK_HANDLE_COOLING_OFF_SECONDS": "86400",
        "QUARK_PASSWORD_HASH_MEMORY_KIB": "65536",
        "QUARK_PASSWORD_HASH_ITERATIONS": "3",
        "QUARK_LIMIT_SMS_PER_PHONE": "3/10min",
        "QUARK_LIMIT_SMS_PER_IP": "10/h",
        "QUARK_LIMIT_AUTH_PER_IP": "100/min",
        "QUARK_LIMIT_REPORTS": "10/h",
        "QUARK_AUTO_HIDE_SCORE": "4.5",
        "QUARK_LOCKOUT_ACCOUNT_FAILURES": "3",
        "QUARK_LOCKOUT_IP_FAILURES": "50",
        "QUARK_LOCKOUT_BASE_SECONDS": "30",
        "QUARK_LOCKOUT_MAX_SECONDS": "3600",
        "QUARK_HUB_HOST": "0.0.0.0",
        "QUARK_METRICS_PORT": "9100",
        "QUARK_HUB_PORT": "3901",
        "QUARK_HUB_EDGE_URL": "http://edge:8080",
        "QUARK_HUB_MODULE_TTL_SECONDS": "10",
        "QUARK_HUB_LAG_DEGRADED_EVENTS": "50",
        "QUARK_HUB_LAG_DEGRADED_SECONDS": "2.5",
        "QUARK_WITHOUT_MODULES": "link-preview",
        "QUARK_LINK_PREVIEW_NETWORKS": "203.0.113.0/24, 2001:db8::/32",
        "QUARK_LIMIT_LINK_PREVIEWS": "20/h",
    }
    assert documented == set(values)
    settings = load_settings(values)
    assert settings.metrics_port == 9100
    assert (settings.hub_host, settings.hub_port, settings.hub_edge_url) == (
        "0.0.0.0",
        3901,
        "http://edge:8080",
    )
    assert (
        settings.hub_module_ttl_seconds,
        settings.hub_lag_degraded_events,
        settings.hub_lag_degraded_seconds,
    ) == (10.0, 50, 2.5)
    assert settings.data_dir == tmp_path
    assert settings.streams_file == Path("/etc/quark/streams.yaml")
    assert (settings.sms_provider, settings.sms_ru_api_id, settings.sms_sender) == (
        "smsru",
        "api-id",
        "Quark",
    )
    assert settings.secret_key_file == Path("/run/secrets/key")
    assert settings.read_your_writes is False
    assert (settings.timeline_cap, settings.comment_max_depth) == (800, 6)
    assert (settings.group_max_members, settings.read_receipts_max_members) == (50, 20)
    assert settings.presence_ttl_seconds == 20.0
    assert settings.refresh_cookie_max_age_seconds == 86_400
    assert settings.limit_reports == "10/h"
    assert settings.without_module_names() == ["link-preview"]
    assert [str(n) for n in settings.link_preview_network_list()] == [
        "203.0.113.0/24",
        "2001:db8::/32",
    ]
    assert settings.limit_link_previews == "20/h"
    with pytest.raises(ConfigError, match="QUARK_LINK_PREVIEW_NETWORKS"):
        load_settings({"QUARK_LINK_PREVIEW_NETWORKS": "10.0.0.0/255.0.0.0"})
    with pytest.raises(ConfigError, match="QUARK_WITHOUT_MODULES"):
        load_settings({"QUARK_WITHOUT_MODULES": "Link Preview"})
    assert settings.auto_hide_score == 4.5
    assert (
        settings.media_delivery,
        settings.media_link_seconds,
        settings.media_processes,
        settings.media_spool_dir,
        settings.max_transfers_in_flight,
    ) == ("redirect", 600, 4, Path("/var/spool/quark"), 64)
    assert (
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key,
        settings.s3_bucket,
        settings.s3_region,
        settings.s3_secure,
    ) == ("minio:9000", "quark", "s3-secret", "media", "eu-central-1", False)
    assert (
        settings.max_commands_in_flight,
        settings.max_reads_in_flight,
        settings.handler_concurrency,
        settings.redis_pool_size,
    ) == (100, 400, 50, 16)
    assert (
        settings.verification_code_ttl_seconds,
        settings.password_hash_memory_kib,
        settings.password_hash_iterations,
        settings.limit_sms_per_phone,
        settings.limit_sms_per_ip,
        settings.limit_auth_per_ip,
        settings.lockout_account_failures,
        settings.lockout_ip_failures,
        settings.lockout_base_seconds,
        settings.lockout_max_seconds,
    ) == (120, 65536, 3, "3/10min", "10/h", "100/min", 3, 50, 30, 3600)
    assert settings.verification_resend_after_seconds == 30
    assert settings.handle_cooling_off_seconds == 86400
    assert [str(n) for n in settings.proxy_networks()] == ["10.0.0.0/8", "192.168.1.1/32"]
    with pytest.raises(ConfigError, match="QUARK_TRUSTED_PROXIES"):
        load_settings({"QUARK_TRUSTED_PROXIES": "not-an-ip"})
    with pytest.raises(ConfigError, match="QUARK_LIMIT_SMS_PER_IP"):
        load_settings({"QUARK_LIMIT_SMS_PER_IP": "lots"})
    assert settings.cors_origin_list() == ["https://app.example.org", "http://localhost:5173"]
    assert (settings.stream_replicas, settings.read_wait_timeout, settings.json_logs) == (
        3,
        0.5,
        True,
    )


def test_cors_origins_are_exact_origins_or_a_config_error_naming_the_variable() -> None:
    settings = load_settings({"QUARK_CORS_ORIGINS": " https://app.example.org,http://[::1]:8080 "})
    assert settings.cors_origin_list() == ["https://app.example.org", "http://[::1]:8080"]
    assert load_settings({}).cors_origin_list() == []
    # A browser's `Origin` has no path, no trailing slash and no wildcard: such an entry
    # would silently match nothing.
    for wrong in ("https://app.example.org/", "app.example.org", "*", "https://x.org/app"):
        with pytest.raises(ConfigError, match="QUARK_CORS_ORIGINS"):
            load_settings({"QUARK_CORS_ORIGINS": wrong})


def test_the_shipped_streams_file_is_valid() -> None:
    decl = load_streams(ROOT / "streams.yaml")
    assert decl.stream_map().stream_for("posts") == "CONTENT"
    assert decl.stream_map().stream_for("links") == "LINKS"
    assert {"ACCOUNTS", "CONTENT", "CHAT", "MEDIA", "INBOX", "DLQ"} <= set(decl.file.streams)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "streams:\n  CONTENT:\n    subjects: ['ev.posts.>']\n    max_agee: 2d\n",
            r":4: streams\.CONTENT\.max_agee",
        ),
        (
            "streams:\n  CONTENT:\n    subjects: ['ev.posts.>']\n    replicas: three\n",
            r":4: streams\.CONTENT\.replicas",
        ),
        (
            "streams:\n  CONTENT:\n    subjects: ['ev.posts.>']\n    max_age: soon\n",
            r":4: streams\.CONTENT\.max_age",
        ),
        (
            "streams:\n  A:\n    subjects: ['x']\nconsumers:\n  p:\n    sources:\n      - stream: NOPE\n        filter_subjects: ['x']\n",
            r":7: consumers\.p\.sources\[0\]\.stream",
        ),
        (
            "streams:\n  A:\n    subjects: ['ev.a.>', 'ev.b.>']\nconsumers:\n  p:\n    sources:\n      - stream: A\n        filter_subjects: ['ev.a.>']\n",
            r":8: consumers\.p\.sources\[0\]\.filter_subjects: must cover every subject of A \(missing ev\.b\.>\)",
        ),
    ],
)
def test_a_wrong_streams_file_names_the_field_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_streams(path)


def test_cursors_round_trip_and_reject_tampering_and_other_lists() -> None:
    key = b"k" * 32
    cursor = encode_cursor(key, "posts|a", {"id": str(uuid.uuid4())})
    assert "id" in decode_cursor(key, "posts|a", cursor)
    body, mac = cursor.split(".")
    for bad in (cursor[:-2], body + "." + mac[::-1], "garbage", cursor + "x"):
        with pytest.raises(BadCursor):
            decode_cursor(key, "posts|a", bad)
    with pytest.raises(BadCursor):
        decode_cursor(key, "posts|b", cursor)
    with pytest.raises(BadCursor):
        decode_cursor(b"other" * 8, "posts|a", cursor)


def test_workers_starting_together_agree_on_one_dev_secret_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from core.bootstrap import secret_key
    from core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: secret_key(settings), range(32)))
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]


def test_production_refuses_to_run_without_a_real_secret_key(tmp_path: Path) -> None:
    from core.bootstrap import secret_key
    from core.settings import Settings

    with pytest.raises(ConfigError, match="QUARK_SECRET_KEY_FILE"):
        secret_key(Settings(env="production", data_dir=tmp_path))
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        secret_key(Settings(env="production", secret_key_file=short))


@pytest.mark.parametrize(
    "name",
    ["MAX_COMMANDS_IN_FLIGHT", "MAX_READS_IN_FLIGHT", "HANDLER_CONCURRENCY", "REDIS_POOL_SIZE"],
)
def test_an_in_flight_bound_below_one_is_refused_by_name(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({f"QUARK_{name}": "0"})


def test_relative_paths_are_the_platforms_not_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`quark` run from any directory finds the streams file and the data dir of the
    checkout it belongs to; an absolute path is kept as given."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.streams_file.is_absolute() and settings.streams_file.is_file()
    assert settings.streams_file.parent == settings.data_dir.parent != tmp_path
    assert load_settings({"QUARK_DATA_DIR": str(tmp_path)}).data_dir == tmp_path


def test_settings_travel_to_another_process_as_variables() -> None:
    """What `quark up` hands to a module's process: every changed value, and nothing else,
    loads back as the same settings."""
    original = load_settings(
        {
            "QUARK_NATS_URL": "nats://127.0.0.1:4333",
            "QUARK_REDIS_PREFIX": "t:1:",
            "QUARK_READ_YOUR_WRITES": "false",
            "QUARK_HUB_LAG_DEGRADED_SECONDS": "2.5",
            "QUARK_DATA_DIR": "/var/lib/quark",
        }
    )
    env = settings_env(original)
    assert env["QUARK_READ_YOUR_WRITES"] == "false" and "QUARK_HTTP_PORT" not in env
    assert load_settings(env) == original
