"""The production deployment shape (compose.yaml, Dockerfile, deploy/), checked without an engine.

`docker-compose config` (Debian's docker-compose 1.29) validates compose.yaml against the
Compose schema and interpolates it without talking to a Docker daemon; PyYAML then checks the
shape DESIGN §2 "Durability" and §6 ask for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from core.settings import PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"

#: Secrets compose.yaml requires (`${VAR:?...}`); dummy values for validation only.
SECRETS = {
    "POSTGRES_PASSWORD": "test",
    "MINIO_ROOT_PASSWORD": "test-minio",
    "QUARK_SECRET_KEY_PATH": "./secret.key",
}

NATS_SERVICES = ("nats-1", "nats-2", "nats-3")
QUARK_IMAGE = "quark:latest"
#: The Quark services compose.yaml must run, each as its own service (DESIGN §1, §6).
QUARK_SERVICES = (
    "migrate",
    "edge",
    "handlers-accounts",
    "handlers-posts",
    "handlers-profiles",
    "handlers-reactions",
    "handlers-notifications",
    "handlers-chat",
    "projection-posts",
    "projection-author-stats",
    "projection-sessions",
    "projection-security-log",
    "projection-profiles",
    "projection-follows",
    "projection-activity",
    "projection-reactions",
    "projection-timelines",
    "projection-notifications",
    "projection-chat",
    "projection-live",
    "projection-stats",
    "projection-word-filters",
)
MIN_NATS = (2, 12, 3)
#: Modules in other languages: each builds its own image from its folder.
MODULE_SERVICES = {"link-preview": "modules/link-preview"}


def docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "the `docker-compose` executable is not on PATH: install Debian's docker-compose "
            "package (`apt-get install docker-compose`, v1.29); it validates compose.yaml "
            "without a Docker engine. The project's test command installs it.",
            pytrace=False,
        )
    return exe


def run_config(*args: str, secrets: dict[str, str] = SECRETS) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(secrets)
    return subprocess.run(
        [docker_compose(), "-f", str(COMPOSE_FILE), "config", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """compose.yaml as written (anchors and merge keys resolved, `${...}` not)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """compose.yaml as docker-compose resolves it (interpolated with the test secrets)."""
    result = run_config()
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def quark_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services of the Python image (the modules in other languages have their own)."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if "build" in svc and name not in MODULE_SERVICES
    }


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def strip_conf_comments(text: str) -> str:
    """Drop `#` and `//` comments (a comment starts a line or follows whitespace, so the
    `//` of `nats-route://host` stays)."""
    return "\n".join(
        re.split(r"(?:^|\s)(?:#|//)", line, maxsplit=1)[0] for line in text.splitlines()
    )


def conf_block(text: str, name: str) -> str:
    """The body of `name { ... }` in a NATS server config (comments already stripped)."""
    match = re.search(rf"^\s*{name}\s*[:=]?\s*\{{", text, re.MULTILINE)
    assert match, f"no `{name} {{ ... }}` block"
    depth, start = 1, match.end()
    for pos in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[pos], 0)
        if depth == 0:
            return text[start:pos]
    raise AssertionError(f"unbalanced `{name}` block")


def nats_conf(compose: dict[str, Any], service: str) -> str:
    """The server config file mounted into a NATS service, comments stripped."""
    svc = compose["services"][service]
    command = svc["command"]
    config_path = command[command.index("--config") + 1]
    for volume in svc["volumes"]:
        source, target = volume.split(":")[:2]
        if target == config_path:
            return strip_conf_comments((ROOT / source).read_text())
    raise AssertionError(f"{service}: {config_path} is not mounted from the repository")


def test_docker_compose_config_validates() -> None:
    result = run_config("-q")
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}"


def test_secrets_are_required() -> None:
    result = run_config(
        "-q",
        secrets={"MINIO_ROOT_PASSWORD": "test-minio", "QUARK_SECRET_KEY_PATH": "./secret.key"},
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_no_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose spec has no top-level `version:`"


def test_three_nats_nodes_sync_every_write(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nats = sorted(
        name for name, svc in services.items() if svc.get("image", "").startswith("nats:")
    )
    assert tuple(nats) == NATS_SERVICES

    data_volumes = set()
    for name in NATS_SERVICES:
        svc = services[name]
        tag = svc["image"].split(":", 1)[1]
        version = tuple(int(part) for part in re.match(r"(\d+)\.(\d+)\.(\d+)", tag).groups())
        assert version >= MIN_NATS, f"{name}: {svc['image']} is older than 2.12.3"

        conf = nats_conf(compose, name)
        jetstream = conf_block(conf, "jetstream")
        assert re.search(r"\bsync_interval\s*[:=]\s*\"?always\"?", jetstream), (
            f"{name}: JetStream must fsync every write (sync_interval: always)"
        )
        assert re.search(r"\bstore_dir\s*[:=]\s*\"?/data/jetstream\"?", jetstream)
        cluster = conf_block(conf, "cluster")
        routes = re.findall(r"nats-route://([\w.-]+):6222", cluster)
        assert sorted(routes) == list(NATS_SERVICES), f"{name}: routes {routes}"

        named = [v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == "/data"]
        assert len(named) == 1, f"{name}: needs a named volume at /data"
        assert named[0] in compose["volumes"], f"{name}: {named[0]} is not a named volume"
        data_volumes.add(named[0])

        test = " ".join(svc["healthcheck"]["test"])
        assert "/healthz?js-enabled-only=true" in test
    assert len(data_volumes) == 3, "each NATS node needs its own volume"


def test_quark_services_share_one_non_root_image(compose: dict[str, Any]) -> None:
    quark = quark_services(compose)
    assert set(QUARK_SERVICES) <= set(quark), f"missing: {set(QUARK_SERVICES) - set(quark)}"
    for name, svc in quark.items():
        assert svc["image"] == QUARK_IMAGE, f"{name} uses {svc['image']}"
        build = svc["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (ROOT / context).resolve() == ROOT, f"{name} builds from {context}"

    users = [
        line.split(maxsplit=1)[1].strip()
        for line in DOCKERFILE.read_text().splitlines()
        if re.match(r"\s*USER\s", line, re.IGNORECASE)
    ]
    assert users, "the Dockerfile never switches away from root (no USER line)"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0", ""}, f"the image runs as {users[-1]}"


def test_streams_are_applied_before_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    jobs = [
        name
        for name, svc in quark_services(compose).items()
        if svc.get("command") == ["streams", "apply"]
    ]
    assert jobs == ["migrate"]
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    for node in NATS_SERVICES:
        assert migrate["depends_on"][node]["condition"] == "service_healthy"

    for name in quark_services(compose):
        if name == "migrate":
            continue
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_production_settings(resolved: dict[str, Any]) -> None:
    """Every Quark service's QUARK_* environment decodes (settings are strict about names)."""
    known = {f"{PREFIX}{field.name.upper()}" for field in msgspec.structs.fields(Settings)}
    for name, svc in quark_services(resolved).items():
        env = environment(svc)
        unknown = {key for key in env if key.startswith(PREFIX)} - known
        assert not unknown, f"{name}: unknown settings {unknown}"
        settings = load_settings(env)
        assert settings.env == "production", name
        assert settings.stream_replicas == 3, name
        assert env["QUARK_STREAM_REPLICAS"] == "3", name
        hosts = re.findall(r"nats://([\w.-]+):4222", settings.nats_url)
        assert sorted(hosts) == list(NATS_SERVICES), f"{name}: {settings.nats_url}"
        assert settings.database_url.startswith("postgresql://quark:test@postgres:5432/")
        assert settings.redis_url.startswith("redis://redis:6379/")


def test_workers_drain_and_restart(resolved: dict[str, Any]) -> None:
    for name, svc in quark_services(resolved).items():
        if name == "migrate":
            continue
        assert svc["restart"] == "unless-stopped", name
        assert svc["stop_grace_period"] == "30s", name
    edge = resolved["services"]["edge"]
    assert edge["deploy"]["replicas"] == 2
    assert "/readyz" in " ".join(edge["healthcheck"]["test"])


def test_stateful_services_use_named_volumes(compose: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "minio", "traefik", *NATS_SERVICES):
        named = [
            v.split(":")[0]
            for v in compose["services"][name].get("volumes", [])
            if v.split(":")[0] in compose["volumes"]
        ]
        assert named, f"{name} keeps state outside a named volume"


def test_every_context_and_read_model_has_its_worker(compose: dict[str, Any]) -> None:
    """A new context or projection that compose does not run would silently do nothing in
    production."""
    from handlers import contexts, served_by
    from projections import projections

    commands = {tuple(svc.get("command", [])) for svc in quark_services(compose).values()}
    for context, package in contexts().items():
        if (module := served_by(package)) is not None:
            assert module in compose["services"], f"{context}: no {module} service"
            continue
        assert ("run", "handler", context) in commands, context
    for name in projections():
        assert ("run", "projection", name) in commands, name


def test_modules_in_other_languages_build_their_own_non_root_image(
    compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    from station.catalogue import OPTIONAL

    assert set(MODULE_SERVICES) == set(OPTIONAL)
    for name, folder in MODULE_SERVICES.items():
        svc = compose["services"][name]
        assert (ROOT / svc["build"]).resolve() == (ROOT / folder).resolve() == OPTIONAL[name].path
        dockerfile = (ROOT / folder / "Dockerfile").read_text()
        users = re.findall(r"^\s*USER\s+(\S+)", dockerfile, flags=re.MULTILINE | re.IGNORECASE)
        assert users and users[-1].split(":")[0] not in {"root", "0"}, name
        assert "npm ci" in dockerfile  # the locked dependencies, nothing resolved anew
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert svc["restart"] == "unless-stopped" and svc["stop_grace_period"] == "30s"
        # Only what it reads (a QUARK_* it does not know is still a Python setting).
        env = environment(resolved["services"][name])
        settings = load_settings(env)
        assert settings.env == "production" and settings.database_url == "", name
        hosts = re.findall(r"nats://([\w.-]+):4222", settings.nats_url)
        assert sorted(hosts) == list(NATS_SERVICES), name
        assert not any("SECRET" in key or "PASSWORD" in key for key in env), name
