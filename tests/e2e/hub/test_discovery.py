"""Every module instance of a running platform is found the way `nats micro ls` finds it,
answers `$SRV.PING`, `INFO` and `STATS` as the protocol's JSON schemas say (the ones the
`nats` tool validates against, format checks included), and shows in the hub's registry with
the right number of instances — admins only."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest

from core import embedded
from hub.registry import gather_replies
from station.catalogue import modules as station_modules
from station.runner import Workers
from tests.e2e.hub.conftest import bearer
from tests.support.identity import IdentityClient, WithRole
from tests.support.platform import Platform

SCHEMAS = Path(__file__).parents[2] / "support" / "schemas" / "micro" / "v1"


def validator(kind: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / f"{kind}_response.json").read_text())
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


async def services(hub: aiohttp.ClientSession, who: dict[str, Any]) -> dict[str, Any]:
    async with hub.get("/v1/hub/services", headers=bearer(who)) as r:
        assert r.status == 200, await r.text()
        return {m["name"]: m for m in (await r.json())["items"]}


@pytest.mark.parametrize("verb", ["ping", "info", "stats"])
async def test_every_module_answers_the_micro_protocol_as_its_schemas_say(
    platform: Platform, hub_url: str, verb: str
) -> None:
    check = validator(verb)
    answers = [
        json.loads(a) for a in await gather_replies(platform.infra.nc, f"$SRV.{verb.upper()}")
    ]
    quark = [a for a in answers if a["name"].startswith("quark-")]
    names = {a["name"] for a in quark}
    # Every kind of module: handlers, read models, the edge, workers, the hub.
    for expected in (
        "quark-posts",
        "quark-projection-posts",
        "quark-edge",
        "quark-hub",
        "quark-media-worker",
        "quark-sms-sender",
        "quark-push-sender",
        "quark-accounts",
    ):
        assert expected in names
    for answer in quark:
        errors = sorted(check.iter_errors(answer), key=str)
        assert not errors, (answer["name"], [e.message for e in errors])
    # A deliberately broken answer fails the same check: the schemas do bite.
    broken = {**quark[0], "version": "one"}
    assert list(check.iter_errors(broken))


async def test_the_registry_lists_every_module_with_its_instances(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any]
) -> None:
    listed = await services(hub, admin)
    for name, kind in station_modules().items():
        assert listed[name]["kind"] == kind, name
        assert len(listed[name]["instances"]) == 1, name
    posts = listed["posts"]["instances"][0]
    assert posts["pid"] and posts["host"] and posts["started"] and posts["version"]
    subjects = {e["subject"] for e in posts["endpoints"]}
    assert any(s.startswith("cmd.posts.") for s in subjects), subjects
    # A second instance of one module (what `quark scale posts 2` starts) is counted...
    extra = Workers(platform.infra)
    await extra.start_handlers(["posts"])
    try:
        assert len((await services(hub, admin))["posts"]["instances"]) == 2
    finally:
        await extra.stop()
    # ...and gone as soon as it stops.
    assert len((await services(hub, admin))["posts"]["instances"]) == 1


async def test_one_module_with_its_instances_own_status(
    platform: Platform, hub: aiohttp.ClientSession, admin: dict[str, Any]
) -> None:
    deadline = time.monotonic() + 15
    while True:  # a read model reports caught up once it has read to the stream's end
        async with hub.get("/v1/hub/services/projection-posts", headers=bearer(admin)) as r:
            assert r.status == 200
            (instance,) = (await r.json())["instances"]
        if instance["status"]["caught_up"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert instance["kind"] == "projection" and instance["status"]["leading"] is True
    assert instance["status"]["caught_up"] is True
    assert instance["status"]["version"] >= 1
    async with hub.get("/v1/hub/services/edge", headers=bearer(admin)) as r:
        edge = (await r.json())["instances"][0]
    assert "POST /v1/posts" in edge["status"]["routes"]
    assert edge["url"] == platform.base_url
    async with hub.get("/v1/hub/services/nothing-here", headers=bearer(admin)) as r:
        assert r.status == 404
        assert r.content_type == "application/problem+json"


async def test_only_admins_see_the_station(hub: aiohttp.ClientSession, with_role: WithRole) -> None:
    async with hub.get("/v1/hub/services") as r:
        assert r.status == 401
        assert r.content_type == "application/problem+json"
    for role in ("user", "moderator"):
        person = await with_role(role)
        for path in ("/v1/hub/services", "/v1/hub/health", "/v1/hub/services/posts"):
            async with hub.get(path, headers=bearer(person)) as r:
                assert r.status == 403, (role, path)
    async with hub.get("/v1/hub/services", headers={"Authorization": "Bearer nonsense"}) as r:
        assert r.status == 401


async def test_a_suspended_admin_sees_nothing(
    hub: aiohttp.ClientSession, client: IdentityClient, with_role: WithRole
) -> None:
    """Their restricted session (a suspended person's) reaches only what they may still do
    on the platform, and nothing here."""
    suspended, admin = await with_role("admin"), await with_role("admin")
    status, _ = await client.call(
        "POST",
        f"/v1/admin/users/{suspended['user_id']}/suspend",
        admin["access_token"],
        {"reason": "r"},
    )
    assert status == 200
    status, restricted = await client.log_in(suspended["phone"])
    assert status == 200 and restricted["restricted"] is True
    async with hub.get("/v1/hub/services", headers=bearer(restricted)) as r:
        assert r.status == 403


async def test_the_hub_port_is_a_setting(platform: Platform) -> None:
    port = embedded.free_port()
    extra = Workers(platform.infra)
    await extra.start_hub("127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200
    finally:
        await extra.stop()
