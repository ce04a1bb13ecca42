"""A module in another language docks like a Python one: the link-preview module (Node.js)
serves `PreviewLink` end to end — the edge sends the command through the bus, the module
fetches a page served on this machine, appends `links.LinkPreviewed` with the kernel's
envelope (decoded here by the Python registry), and the read model answers the preview after
the position. A retried command appends once; bad links, refused addresses and pages that
never answer change nothing. The hub finds it like any module, and its micro answers pass
the protocol's schemas. Each test stops the Node process at its end."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from core import embedded
from core.commands import parse_position
from core.errors import RemoteError
from core.ids import new_id
from core.settings import Settings
from handlers.links.commands import PreviewLink
from handlers.links.errors import LinkNotAllowed, LinkTimedOut, LinkUnreachable
from handlers.links.events import LinkPreviewed
from handlers.links.urls import normalise_url, preview_id
from hub.registry import discover, gather_replies
from station.catalogue import OPTIONAL
from station.process_modules import ModuleProcess
from tests.e2e.hub.conftest import bearer
from tests.e2e.hub.test_discovery import validator
from tests.support.cli import run_quark, use_settings
from tests.support.identity import IdentityClient
from tests.support.link_preview import Pages, link_preview, local_pages
from tests.support.platform import Platform
from tests.support.processes import WorkerProcess

STREAM = "LINKS"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The station runs its optional module here (the hub expects it); a short command
    # timeout bounds the module's wait for a page that never answers.
    return settings.with_(without_modules="", command_timeout=3.0, limit_link_previews="100/h")


@pytest.fixture
async def pages() -> AsyncIterator[Pages]:
    async with local_pages() as p:
        yield p


@pytest.fixture
async def module(platform: Platform) -> AsyncIterator[ModuleProcess]:
    async with link_preview(platform) as child:
        yield child
    assert child.pid is None  # the Node process is gone


@pytest.fixture
async def person(client: IdentityClient) -> dict[str, Any]:
    return await client.sign_up()


async def post_preview(
    http: aiohttp.ClientSession, token: str, url: str, **headers: str
) -> tuple[int, Any, Any]:
    async with http.post(
        "/v1/link-previews",
        json={"url": url},
        headers={"Authorization": f"Bearer {token}", **headers},
    ) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def messages(platform: Platform) -> int:
    info = await platform.infra.nc.jetstream().stream_info(STREAM)
    return info.state.messages


async def test_a_link_is_previewed_by_the_node_module_and_read_back_after_its_position(
    platform: Platform,
    module: ModuleProcess,
    pages: Pages,
    http: aiohttp.ClientSession,
    person: dict[str, Any],
) -> None:
    # Spelled loosely: the same link as its normalised form.
    asked = pages.url("/article#comments").replace("http://", "HTTP://")
    url = normalise_url(asked)
    logs = await platform.infra.nc.subscribe("quark.logs.link-preview")
    trace = f"trace-{new_id()}"
    status, body, headers = await post_preview(
        http, person["access_token"], asked, **{"X-Correlation-Id": trace}
    )
    assert status == 201, body
    assert body["url"] == url == pages.url("/article")
    assert body["title"] == "Quark & the log"  # og:title, the entity decoded
    assert body["description"] == "Why every change is an event."
    assert body["site_name"] == "Quark Journal"
    assert body["image"] == pages.url("/images/card.png")  # resolved against the page
    assert headers["Quark-Position"] == body["position"]
    assert parse_position(body["position"])[0] == STREAM
    assert headers["Location"] == f"/v1/link-previews?url={quote(url, safe='')}"

    # In the log, in the kernel's envelope, decoded by the Python registry.
    subject = f"ev.links.preview.{preview_id(url)}"
    (recorded,) = await platform.infra.store.read_subject(STREAM, subject)
    envelope = recorded.envelope
    assert (envelope.type, envelope.schema) == ("links.LinkPreviewed", 1)
    assert (envelope.aggregate.type, envelope.aggregate.id) == ("links.preview", preview_id(url))
    assert envelope.actor == person["user_id"]
    assert uuid.UUID(envelope.id).version == 7
    assert uuid.UUID(envelope.causation_id) and envelope.correlation_id == trace
    assert envelope.occurred_at.tzinfo is not None
    assert isinstance(recorded.event, LinkPreviewed)
    assert recorded.event.title == "Quark & the log" and recorded.event.final_url == url
    assert f"{STREAM}:{recorded.seq}" == body["position"]
    # Its log lines go where the Python modules' go, with the request's correlation id.
    while True:
        line = json.loads((await logs.next_msg(timeout=5)).data)
        if line["event"] == "command_handled" and line.get("correlation_id") == trace:
            break
    assert (line["module"], line["outcome"], line["pid"]) == ("link-preview", "ok", module.pid)
    assert line["command_id"] == envelope.causation_id
    await logs.unsubscribe()

    # The read model answers after the position, whichever spelling is asked for.
    async with http.get(
        "/v1/link-previews",
        params={"url": asked},
        headers={"Quark-After": body["position"]},
    ) as resp:
        assert resp.status == 200, await resp.text()
        read = await resp.json()
    assert read == {k: v for k, v in body.items() if k != "position"}

    # A later preview of the same link is that aggregate's next commit; a redirect is
    # followed and the page it led to recorded.
    status, again, _ = await post_preview(http, person["access_token"], url)
    assert status == 201
    assert parse_position(again["position"])[1] > parse_position(body["position"])[1]
    assert len(await platform.infra.store.read_subject(STREAM, subject)) == 2
    status, moved, _ = await post_preview(http, person["access_token"], pages.url("/moved"))
    assert status == 201 and moved["final_url"] == pages.url("/article")
    assert moved["url"] == pages.url("/moved")

    # A page with nothing but a <title>: the fallback, and nulls.
    status, plain, _ = await post_preview(http, person["access_token"], pages.url("/plain"))
    assert status == 201
    assert (plain["title"], plain["description"], plain["site_name"], plain["image"]) == (
        "Only a title",
        None,
        None,
        None,
    )


async def test_a_retried_command_appends_once_and_answers_as_the_first_time(
    platform: Platform,
    module: ModuleProcess,
    pages: Pages,
    person: dict[str, Any],
    http: aiohttp.ClientSession,
) -> None:
    bus = platform.infra.bus
    url = pages.url("/article")
    command_id = new_id()
    first = await bus.send(PreviewLink(url=url), actor=person["user_id"], command_id=command_id)
    assert first.ok and not first.duplicate
    # The same command again, and twice at once: the log already has it.
    retries = await asyncio.gather(
        *(
            bus.send(PreviewLink(url=url), actor=person["user_id"], command_id=command_id)
            for _ in range(3)
        )
    )
    for retry in retries:
        assert retry.duplicate and retry.position == first.position
        assert retry.result == first.result and retry.aggregate_id == first.aggregate_id
    assert await messages(platform) == 1

    # Through HTTP with an Idempotency-Key: one commit for any number of tries.
    key = {"Idempotency-Key": "preview-once"}
    answers = [await post_preview(http, person["access_token"], url, **key) for _ in range(2)]
    assert [a[0] for a in answers] == [201, 201]
    assert answers[0][1]["position"] == answers[1][1]["position"]
    assert await messages(platform) == 2


async def test_bad_links_are_422_problems_and_append_nothing(
    platform: Platform,
    module: ModuleProcess,
    http: aiohttp.ClientSession,
    person: dict[str, Any],
) -> None:
    token = person["access_token"]
    for url, field_message in (
        ("ftp://example.org/", "Expected `str` matching regex '^[Hh][Tt][Tt][Pp][Ss]?://'"),
        ("http://user:secret@127.0.0.1/", "must not carry a user name or password"),
        ("http:///nothing", "needs a host"),
        ("http://2130706433/", "has an invalid IPv4 address"),
    ):
        status, problem, headers = await post_preview(http, token, url)
        assert status == 422, (url, problem)
        assert headers["Content-Type"] == "application/problem+json"
        assert problem["errors"] == [{"field": "url", "message": field_message}], problem
    status, problem, _ = await post_preview(http, token, "not a link at all")
    assert status == 422 and problem["type"] == "quark:validation"
    # Addresses the module never fetches (here: outside loopback), refused before any
    # connection.
    status, problem, _ = await post_preview(http, token, "http://10.1.2.3/admin")
    assert status == 422 and problem["type"] == f"quark:{LinkNotAllowed.code}", problem
    # A closed port: unreachable.
    status, problem, _ = await post_preview(
        http, token, f"http://127.0.0.1:{embedded.free_port()}/"
    )
    assert status == 422 and problem["type"] == f"quark:{LinkUnreachable.code}", problem
    # Sent on the bus directly, past the edge's checks: the module validates too.
    for body in ("javascript:alert(1)", "http://user:pw@127.0.0.1/"):
        with pytest.raises(RemoteError) as refused:
            await platform.infra.bus.send(PreviewLink(url=body), actor=person["user_id"])
        assert refused.value.status == 422
    async with http.get("/v1/link-previews", params={"url": "http://127.0.0.1/none"}) as resp:
        assert resp.status == 404
        assert (await resp.json())["type"] == "quark:link-preview-not-found"
    async with http.get("/v1/link-previews", params={"url": "gopher://x/"}) as resp:
        assert resp.status == 422
    # The longest value the document allows, all of it percent-encoded two-byte letters, is
    # read by the edge (no 400 from the HTTP layer's request-line limit).
    longest = "http://x/" + "\u00cf" * 6135
    async with http.get("/v1/link-previews", params={"url": longest}) as resp:
        assert resp.status in (404, 422), await resp.text()
        assert resp.headers["Content-Type"] == "application/problem+json"
    assert await messages(platform) == 0


async def test_a_page_that_never_answers_is_504_within_the_deadline_and_appends_nothing(
    platform: Platform,
    module: ModuleProcess,
    pages: Pages,
    http: aiohttp.ClientSession,
    person: dict[str, Any],
    settings: Settings,
) -> None:
    started = time.monotonic()
    status, problem, headers = await post_preview(
        http, person["access_token"], pages.url("/silent")
    )
    # The module gives up before the edge stops waiting (its budget is the command's
    # deadline, at most 5 s): a typed answer, not the edge's 503 for a silent handler.
    assert status == 504, problem
    assert problem["type"] == f"quark:{LinkTimedOut.code}"
    assert headers["Content-Type"] == "application/problem+json"
    assert time.monotonic() - started < settings.command_timeout
    assert await messages(platform) == 0


async def test_production_previews_no_address_of_this_machine(
    platform: Platform, pages: Pages, person: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    # Without QUARK_LINK_PREVIEW_NETWORKS, production allows public addresses only: the
    # page on loopback is refused before any connection is made.
    production = platform.infra.settings.with_(env="production", link_preview_networks="")
    child = ModuleProcess("link-preview", OPTIONAL["link-preview"], production, capture=True)
    await child.start()
    try:
        assert await child.wait_docked(platform.infra.nc), "".join(child.output)
        status, problem, _ = await post_preview(http, person["access_token"], pages.url("/article"))
        assert status == 422 and problem["type"] == f"quark:{LinkNotAllowed.code}", problem
        assert "not an address that is previewed" in problem["detail"]
    finally:
        await child.stop()
    assert child.pid is None
    assert await messages(platform) == 0


async def test_the_hub_finds_the_node_module_like_any_other(
    platform: Platform,
    module: ModuleProcess,
    pages: Pages,
    person: dict[str, Any],
    http: aiohttp.ClientSession,
    hub: aiohttp.ClientSession,
    with_role: Any,
) -> None:
    status, _, _ = await post_preview(http, person["access_token"], pages.url("/article"))
    assert status == 201
    admin = await with_role("admin")
    async with hub.get("/v1/hub/services", headers=bearer(admin)) as r:
        assert r.status == 200
        listed = {m["name"]: m for m in (await r.json())["items"]}
    entry = listed["link-preview"]
    assert entry["kind"] == "handler"
    (instance,) = entry["instances"]
    assert instance["pid"] == module.pid and instance["host"] and instance["started"]
    assert instance["metadata"]["runtime"].startswith("node v20")
    endpoints = {e["name"]: e for e in instance["endpoints"]}
    command = endpoints["PreviewLink"]
    assert (command["subject"], command["queue_group"]) == (
        "cmd.links.PreviewLink",
        "handlers.links",
    )
    assert command["requests"] >= 1
    assert endpoints["status"]["subject"] == f"quark.status.link-preview.{instance['id']}"
    # No Python worker announces the context: the Node module is the links handler.
    assert "links" not in listed
    async with hub.get("/v1/hub/services/link-preview", headers=bearer(admin)) as r:
        (detail,) = (await r.json())["instances"]
    assert detail["status"]["module"] == "link-preview"
    assert detail["status"]["outcomes"]["ok"] >= 1
    # The hub expects it (QUARK_WITHOUT_MODULES does not name it) and finds it up.
    async with hub.get("/v1/hub/health", headers=bearer(admin)) as r:
        modules = {m["name"]: m for m in (await r.json())["modules"]}
    assert modules["link-preview"]["state"] == "up", modules["link-preview"]


@pytest.mark.parametrize("verb", ["ping", "info", "stats"])
async def test_the_node_module_answers_the_micro_protocol_as_its_schemas_say(
    platform: Platform, module: ModuleProcess, verb: str
) -> None:
    check = validator(verb)
    answers = [
        json.loads(a)
        for a in await gather_replies(platform.infra.nc, f"$SRV.{verb.upper()}.quark-link-preview")
    ]
    assert len(answers) == 1, answers
    errors = sorted(check.iter_errors(answers[0]), key=str)
    assert not errors, [e.message for e in errors]
    if verb == "stats":
        for endpoint in answers[0]["endpoints"]:
            assert isinstance(endpoint["data"], dict)  # an object, never null
    if verb == "info":
        meta = answers[0]["metadata"]
        assert (meta["kind"], meta["module"], meta["pid"]) == (
            "handler",
            "link-preview",
            str(module.pid),
        )
        assert meta["host"] and meta["process"] and meta["started"]


async def test_the_manager_scales_restarts_stops_and_starts_the_node_module(
    platform: Platform,
    module: ModuleProcess,
    pages: Pages,
    person: dict[str, Any],
    http: aiohttp.ClientSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from station.control import ProcessControl
    from station.supervisor import Supervisor

    control = ProcessControl(platform.infra.nc, platform.workers)
    await control.start()
    manager = Supervisor(platform.infra.nc, settings)
    await manager.start()
    use_settings(monkeypatch, settings)

    async def instances() -> list[Any]:
        return [i for i in await discover(platform.infra.nc) if i.module == "link-preview"]

    async def previewed() -> int:
        status, _, _ = await post_preview(http, person["access_token"], pages.url("/article"))
        return status

    try:
        assert [i.pid for i in await instances()] == [module.pid]
        assert await run_quark("scale", "link-preview", "2") == 0
        both = await instances()
        assert len(both) == 2 and len({i.pid for i in both}) == 2
        assert [await previewed() for _ in range(4)] == [201] * 4  # either one answers
        assert await run_quark("restart", "link-preview", "--rolling") == 0
        after = await instances()
        assert len(after) == 2 and not {i.id for i in after} & {i.id for i in both}
        # The one quark up started stopped when asked (exit 0), and stays stopped.
        assert module.pid is None and module.restarts == 0
        assert await run_quark("stop", "link-preview") == 0
        assert await instances() == []
        assert await previewed() == 503  # no handler: the bus says so
        assert await run_quark("start", "link-preview") == 0
        assert len(await instances()) == 1
        assert await previewed() == 201
    finally:
        await manager.stop()
        await control.stop()


async def test_quark_up_starts_the_node_module_and_stops_it(
    settings: Settings, pages: Pages
) -> None:
    env = {
        "QUARK_HUB_PORT": str(embedded.free_port()),
        "QUARK_LINK_PREVIEW_NETWORKS": "127.0.0.0/8",
    }
    up = WorkerProcess([], settings, port=embedded.free_port(), command="up", env=env)
    await up.start()
    try:
        await up.wait_ready(timeout=60)
        await up.wait_output("link-preview pid")
        line = next(line for line in up.output if "link-preview pid" in line)
        pid = int(line.split("pid", 1)[1].split(":")[0])
        async with aiohttp.ClientSession(base_url=up.base_url) as http:
            client = IdentityClient(http, settings.data_dir / "sms-outbox.jsonl")
            token = (await client.sign_up())["access_token"]
            status, body, _ = await post_preview(http, token, pages.url("/article"))
            assert status == 201, body
            assert body["title"] == "Quark & the log"
    finally:
        await up.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the module stopped with `quark up`
