"""A reported upload hidden by a moderator: gone from the post that shows it, from its own
view and from its public address for everyone but its owner, its bytes kept; restored by
an approved appeal."""

from __future__ import annotations

from typing import Any

from tests.e2e.moderation.test_decisions import decide
from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient
from tests.support.media import media_view, photo, ready, upload
from tests.support.moderation import carried_out
from tests.support.platform import Platform


async def test_a_hidden_upload_is_shown_to_its_owner_only_until_an_appeal_restores_it(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    owner, stranger = await client.sign_up(), await client.sign_up()
    o, s = owner["access_token"], stranger["access_token"]
    m = (await with_role("moderator"))["access_token"]
    status, created, _ = await upload(client.http, o, photo(), content_type="image/jpeg")
    assert status == 202, created
    await ready(client.http, platform.infra, o, created["id"])
    status, post, _ = await client.post(
        "/v1/posts", {"body": "look", "media_ids": [created["id"]]}, o
    )
    assert status == 201, post
    await platform.wait("posts", post["position"])
    await platform.wait("media", await _media_head(platform))
    status, shown = await client.get(f"/v1/posts/{post['id']}", s)
    assert [x["id"] for x in shown["media"]] == [created["id"]]
    status, view = await media_view(client.http, s, created["id"])
    assert status == 200
    address = next(iter(view["variants"].values()))["url"]

    status, filed = await report(client, s, "media", created["id"], "nsfw")
    assert status == 201, filed
    status, decided = await decide(client, m, filed["case_id"], ["hide"], "explicit")
    assert status == 201, decided
    head = await carried_out(platform, decided["position"])

    status, shown = await client.get(f"/v1/posts/{post['id']}", s, **{"Quark-After": head})
    assert status == 200 and shown["media"] == []
    assert (await media_view(client.http, s, created["id"]))[0] == 404
    async with client.http.get(address) as resp:
        assert resp.status == 404
    # Its owner still sees it, through a signed link now that it is not public.
    status, own = await media_view(client.http, o, created["id"])
    assert status == 200
    signed = next(iter(own["variants"].values()))["url"]
    assert "?" in signed
    async with client.http.get(signed) as resp:
        assert resp.status == 200
    status, mine = await client.get(f"/v1/posts/{post['id']}", o)
    assert [x["id"] for x in mine["media"]] == [created["id"]]

    status, appealed, _ = await client.post(
        "/v1/moderation/appeals", {"decision_id": decided["decision_id"], "text": "art"}, o
    )
    assert status == 201, appealed
    status, approved, _ = await client.post(
        f"/v1/moderation/appeals/{appealed['appeal_id']}/approve",
        {"reason": "it is art"},
        m,
        **{"Quark-After": appealed["position"]},
    )
    assert status == 200, approved
    head = await carried_out(platform, approved["position"])
    status, shown = await client.get(f"/v1/posts/{post['id']}", s, **{"Quark-After": head})
    assert [x["id"] for x in shown["media"]] == [created["id"]]
    async with client.http.get(address) as resp:
        assert resp.status == 200


async def _media_head(platform: Platform) -> str:
    from tests.support.log import head_position

    return await head_position(platform.infra, "MEDIA")
