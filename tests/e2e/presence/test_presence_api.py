"""Presence through HTTP: online and last seen as a signed-in reader sees them, hidden by
the privacy setting, absent across a block, and many people at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.bootstrap import Infra
from core.ids import new_id
from tests.e2e.presence.support import Someone, someone
from tests.support.identity import IdentityClient
from tests.support.platform import Platform


def _time(text: str) -> datetime:
    assert text.endswith("Z"), text  # RFC 3339 in UTC, as every time of the API
    return datetime.fromisoformat(text)


async def test_a_reader_sees_someone_online_then_when_they_were_last_seen(
    client: IdentityClient, platform: Platform, infra: Infra
) -> None:
    ann, bob = await someone(client, platform), await someone(client, platform)
    status, body = await ann.presence_of(bob)
    assert (status, body) == (200, {"online": False, "last_seen": None})  # never seen
    assert await infra.presence.connected(bob.id, "phone")
    assert await ann.presence_of(bob) == (200, {"online": True, "last_seen": None})
    before = datetime.now(UTC)
    assert await infra.presence.disconnected(bob.id, "phone")
    status, body = await ann.presence_of(bob)
    assert status == 200 and body["online"] is False
    assert abs(_time(body["last_seen"]) - before) < timedelta(seconds=5)
    # Signed-in readers only; nobody unknown.
    async with client.http.get(f"/v1/users/{bob.id}/presence") as resp:
        assert resp.status == 401
    for missing in (new_id(), "not-a-user-id"):
        status, problem, kind = await ann.call("GET", f"/v1/users/{missing}/presence")
        assert (status, kind) == (404, "application/problem+json")
        assert problem["type"] == "quark:user-not-found"


async def test_hidden_presence_reads_as_nobody_to_others_but_not_to_the_person(
    client: IdentityClient, platform: Platform, infra: Infra
) -> None:
    ann, bob = await someone(client, platform), await someone(client, platform)
    status, body, _ = await bob.call("GET", "/v1/me/privacy")
    assert (status, body) == (200, {"show_presence": True})  # the default
    await infra.presence.connected(bob.id, "laptop")
    hidden = await bob.hide()
    # Bob reads his own write without a header; Ann, another person, waits for it.
    assert (await bob.call("GET", "/v1/me/privacy"))[:2] == (200, {"show_presence": False})
    assert await ann.presence_of(bob, after=hidden) == (
        200,
        {"online": None, "last_seen": None},
    )
    assert await bob.presence_of(bob) == (200, {"online": True, "last_seen": None})
    # Hiding again writes nothing new: the answer points at the first change.
    again = await bob.hide()
    assert int(again.split(":")[1]) <= int(hidden.split(":")[1])
    shown = await bob.hide(False)
    assert await ann.presence_of(bob, after=shown) == (200, {"online": True, "last_seen": None})
    # The body is exactly one boolean.
    for wrong in ({}, {"show_presence": "no"}, {"show_presence": True, "extra": 1}):
        status, problem, kind = await bob.call("PUT", "/v1/me/privacy", wrong)
        assert (status, kind) == (422, "application/problem+json"), problem
    assert (await bob.call("GET", "/v1/me/privacy"))[:2] == (200, {"show_presence": True})


async def _block(blocker: Someone, blocked: Someone, method: str = "POST") -> str:
    status, body, _ = await blocker.call(method, f"/v1/users/{blocked.handle}/block")
    assert status == 200, body
    return str(body["position"])


async def test_people_blocked_either_way_do_not_exist_for_each_other(
    client: IdentityClient, platform: Platform, infra: Infra
) -> None:
    ann, bob, cy = [await someone(client, platform) for _ in range(3)]
    await infra.presence.connected(bob.id, "c")
    blocked = await _block(ann, bob)
    for reader, target in ((ann, bob), (bob, ann)):
        status, problem = await reader.presence_of(target, after=blocked)
        assert status == 404 and problem["type"] == "quark:user-not-found"
    status, page, _ = await ann.call("GET", f"/v1/presence?ids={bob.id},{cy.id}", after=blocked)
    assert status == 200 and [p["id"] for p in page["items"]] == [cy.id]
    # A third person is not concerned.
    assert await cy.presence_of(bob, after=blocked) == (200, {"online": True, "last_seen": None})
    unblocked = await _block(ann, bob, "DELETE")
    assert await ann.presence_of(bob, after=unblocked) == (
        200,
        {"online": True, "last_seen": None},
    )


async def test_a_contact_list_asks_about_many_people_at_once(
    client: IdentityClient, platform: Platform, infra: Infra
) -> None:
    ann, bob, cy, dee = [await someone(client, platform) for _ in range(4)]
    await infra.presence.connected(bob.id, "b")
    await infra.presence.connected(dee.id, "d")
    await infra.presence.disconnected(dee.id, "d")
    hidden = await cy.hide()
    await infra.presence.connected(cy.id, "c")
    unknown = new_id()
    ids = [dee.id, unknown, bob.id, cy.id, bob.id]
    status, page, _ = await ann.call("GET", f"/v1/presence?ids={','.join(ids)}", after=hidden)
    assert status == 200, page
    items = page["items"]
    # In the order asked, each once, without the unknown person.
    assert [p["id"] for p in items] == [dee.id, bob.id, cy.id]
    assert items[0]["online"] is False and _time(items[0]["last_seen"])
    assert (items[1]["online"], items[1]["last_seen"]) == (True, None)
    assert (items[2]["online"], items[2]["last_seen"]) == (None, None)


async def test_a_wrong_list_of_people_is_refused_naming_the_parameter(
    client: IdentityClient, platform: Platform
) -> None:
    ann = await someone(client, platform)
    too_many = ",".join(new_id() for _ in range(101))
    for query in (f"?ids={too_many}", "?ids=not-an-id", f"?ids={new_id()},x", "?ids=", ""):
        status, problem, kind = await ann.call("GET", f"/v1/presence{query}")
        assert (status, kind) == (422, "application/problem+json"), (query, problem)
        assert [e["field"] for e in problem["errors"]] == ["ids"], problem
    # Exactly 100 is fine (unknown people are left out).
    hundred = ",".join(new_id() for _ in range(100))
    status, page, _ = await ann.call("GET", f"/v1/presence?ids={hundred}")
    assert (status, page) == (200, {"items": []})
    async with client.http.get(f"/v1/presence?ids={ann.id}") as resp:
        assert resp.status == 401
