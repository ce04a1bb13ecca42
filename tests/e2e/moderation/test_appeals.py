"""The whole path through HTTP, for a post, a comment, a group message and a profile:
report → queue → decision → the author's notification → appeal → the moderator's ruling,
an approval reversing the decision (the content back for everyone) and both sides told."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.chat.support import Person, group
from tests.e2e.moderation.test_decisions import decide
from tests.e2e.moderation.test_reports import report
from tests.support.identity import IdentityClient
from tests.support.log import head_position
from tests.support.moderation import carried_out
from tests.support.platform import Platform


async def _content(
    kind: str, client: IdentityClient, platform: Platform, author: Person, reporter: Person
) -> tuple[str, Any, str]:
    """Make the author's `kind` of content where the reporter can see it; its id, a probe
    that tells whether the reporter sees it (after `head`) and, for a message, its
    conversation."""
    if kind in ("post", "comment"):
        status, post, _ = await client.post("/v1/posts", {"body": "Cheap watches"}, author.token)
        assert status == 201
        await platform.wait("posts", post["position"])
        target = post["id"]
        if kind == "comment":
            status, comment, _ = await client.post(
                f"/v1/posts/{post['id']}/comments", {"body": "DM me for watches"}, author.token
            )
            assert status == 201
            await platform.wait("comments", comment["position"])
            target = comment["id"]

        async def sees(head: str) -> bool:
            if kind == "post":
                status, _ = await client.get(
                    f"/v1/posts/{target}", reporter.token, **{"Quark-After": head}
                )
                return status == 200
            status, page = await client.get(
                f"/v1/posts/{post['id']}/comments", reporter.token, **{"Quark-After": head}
            )
            return target in [c["id"] for c in page["items"]]

        return target, sees, ""

    conversation = await group(author, [reporter], "watch fans")
    for n in range(3):
        assert (await reporter.send(conversation, f"before {n}"))[0] == 201
    status, sent = await author.send(conversation, "Cheap watches, DM me")
    assert status == 201, sent
    assert (await reporter.send(conversation, "after"))[0] == 201

    async def sees_message(head: str) -> bool:
        # `carried_out` waited for the chat read model to reach the head of CHAT.
        status, page = await reporter.history(conversation)
        assert status == 200, page
        (shown,) = [m for m in page["items"] if m["id"] == sent["id"]]
        return bool(shown["body"]) and shown["moderation"] == "visible"

    return str(sent["id"]), sees_message, conversation


def _moderation_notes(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in page["items"] if n["kind"] == "moderation"]


@pytest.mark.parametrize("kind", ["post", "comment", "message"])
async def test_hidden_content_appealed_and_restored(
    kind: str, client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = (
        Person(client, await client.sign_up()),
        Person(client, await client.sign_up()),
    )
    moderator = Person(client, await with_role("moderator"))
    target, sees, conversation = await _content(kind, client, platform, author, reporter)
    status, filed = await report(client, reporter.token, kind, target, "spam")
    assert status == 201, filed

    after = {"Quark-After": filed["position"]}
    status, page = await client.get(
        f"/v1/moderation/queue?target_type={kind}", moderator.token, **after
    )
    (entry,) = [c for c in page["items"] if c["id"] == filed["case_id"]]
    assert (entry["reporters"], entry["author_decisions"]) == (1, 0)
    # Moderators see people by name, not by id.
    await platform.wait("profiles", await head_position(platform.infra, "ACCOUNTS"))
    status, page = await client.get(
        f"/v1/moderation/queue?target_type={kind}", moderator.token, **after
    )
    assert page["people"][entry["author_id"]]["display_name"] == "Ada Lovelace"
    status, case = await client.get(
        f"/v1/moderation/cases/{filed['case_id']}", moderator.token, **after
    )
    assert status == 200
    assert {author.id, reporter.id} <= case["people"].keys()
    if kind == "message":
        # A few messages on each side of the reported one, in order, for the moderator.
        assert [m["body"] for m in case["context"]] == [
            "before 0", "before 1", "before 2", "Cheap watches, DM me", "after",
        ]  # fmt: skip
        assert [m["reported"] for m in case["context"]].count(True) == 1
    else:
        assert case["context"] == []

    status, decided = await decide(
        client, moderator.token, filed["case_id"], ["hide", "warn"], "adverts"
    )
    assert status == 201, decided
    head = await carried_out(platform, decided["position"])
    assert not await sees(head)
    if kind == "message":
        # Its sender still reads it, marked; the others keep its place without its text.
        status, page = await author.history(conversation)
        (own,) = [m for m in page["items"] if m["id"] == target]
        assert (own["body"], own["moderation"]) == ("Cheap watches, DM me", "hidden")

    # The author is told why, and until when they may appeal.
    status, notes = await client.get(
        "/v1/notifications", author.token, **{"Quark-After": decided["position"]}
    )
    (note,) = _moderation_notes(notes)
    assert (note["target_id"], note["state"], note["reason"]) == (target, "hidden", "adverts")
    assert note["decision"]["decision_id"] == decided["decision_id"]
    assert note["decision"]["actions"] == ["hide", "warn"] and note["decision"]["appeal_until"]

    status, appealed, headers = await client.post(
        "/v1/moderation/appeals",
        {"decision_id": decided["decision_id"], "text": "It was a joke among friends."},
        author.token,
    )
    assert status == 201, appealed
    assert headers["Location"] == f"/v1/moderation/appeals/{appealed['appeal_id']}"
    status, again, _ = await client.post(
        "/v1/moderation/appeals",
        {"decision_id": decided["decision_id"], "text": "again"},
        author.token,
    )
    assert (status, again["type"]) == (409, "quark:appeal-refused")
    # Nobody else appeals it, not even the reporter.
    status, _, _ = await client.post(
        "/v1/moderation/appeals",
        {"decision_id": decided["decision_id"], "text": "me"},
        reporter.token,
    )
    assert status == 404

    after = {"Quark-After": appealed["position"]}
    status, page = await client.get("/v1/moderation/appeals", moderator.token, **after)
    (listed,) = [a for a in page["items"] if a["id"] == appealed["appeal_id"]]
    assert {author.id, moderator.id} <= page["people"].keys()
    assert (listed["state"], listed["text"]) == ("open", "It was a joke among friends.")
    status, _ = await client.get("/v1/moderation/appeals", author.token, **after)
    assert status == 403
    # The moderator whose decision is appealed is told.
    await platform.wait("notifications", appealed["position"])
    status, notes = await client.get("/v1/notifications", moderator.token)
    (told,) = _moderation_notes(notes)
    assert told["decision"] == {
        "decision_id": decided["decision_id"], "appeal_id": appealed["appeal_id"], "appeal": "filed",
    }  # fmt: skip

    path = f"/v1/moderation/appeals/{appealed['appeal_id']}/approve"
    status, _, _ = await client.post(path, {"reason": "fair enough"}, author.token)
    assert status == 403
    status, approved, _ = await client.post(path, {"reason": "fair enough"}, moderator.token)
    assert status == 200, approved
    status, twice, _ = await client.post(path, {"reason": "again"}, moderator.token)
    assert (status, twice["type"]) == (409, "quark:appeal-decided")
    head = await carried_out(platform, approved["position"])
    assert await sees(head)

    status, notes = await client.get("/v1/notifications", author.token)
    verdicts = [n for n in _moderation_notes(notes) if (n["decision"] or {}).get("appeal")]
    assert [(n["decision"]["appeal"], n["reason"], n["state"]) for n in verdicts] == [
        ("approved", "fair enough", "visible")
    ]
    status, mine = await client.get(
        "/v1/me/moderation", author.token, **{"Quark-After": approved["position"]}
    )
    (decision,) = mine["items"]
    assert (decision["appeal_id"], decision["appeal_state"]) == (appealed["appeal_id"], "approved")
    status, appeal = await client.get(
        f"/v1/moderation/appeals/{appealed['appeal_id']}", author.token
    )
    assert (status, appeal["state"], appeal["reason"]) == (200, "approved", "fair enough")
    # Its author is never told which moderator decided; moderators are.
    assert (appeal["decided_by"], appeal["decision_moderator"]) == (None, None)
    status, seen = await client.get(
        f"/v1/moderation/appeals/{appealed['appeal_id']}", moderator.token
    )
    assert (seen["decided_by"], seen["decision_moderator"]) == (moderator.id,) * 2
    status, _ = await client.get(f"/v1/moderation/appeals/{appealed['appeal_id']}", reporter.token)
    assert status == 404


async def test_a_warned_profile_appeals_and_is_rejected(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    moderator = await with_role("moderator")
    a, m = author["access_token"], moderator["access_token"]
    status, filed = await report(
        client, reporter["access_token"], "user", author["user_id"], "harassment"
    )
    assert status == 201, filed
    status, decided = await decide(client, m, filed["case_id"], ["warn"], "insulting bio")
    assert status == 201, decided
    await platform.wait("notifications", decided["position"])
    status, notes = await client.get("/v1/notifications", a)
    (note,) = _moderation_notes(notes)
    assert (note["target_type"], note["target_id"], note["reason"]) == (
        "user",
        author["user_id"],
        "insulting bio",
    )
    assert note["state"] is None and note["decision"]["actions"] == ["warn"]

    status, appealed, _ = await client.post(
        "/v1/moderation/appeals", {"decision_id": decided["decision_id"], "text": "x" * 2001}, a
    )
    assert status == 422
    status, appealed, _ = await client.post(
        "/v1/moderation/appeals", {"decision_id": decided["decision_id"], "text": "it is satire"}, a
    )
    assert status == 201, appealed
    status, rejected, _ = await client.post(
        f"/v1/moderation/appeals/{appealed['appeal_id']}/reject",
        {"reason": "it is not"},
        m,
        **{"Quark-After": appealed["position"]},
    )
    assert status == 200, rejected
    await platform.wait("notifications", rejected["position"])
    status, notes = await client.get("/v1/notifications", a)
    verdicts = [n for n in _moderation_notes(notes) if (n["decision"] or {}).get("appeal")]
    assert [(n["decision"]["appeal"], n["reason"]) for n in verdicts] == [("rejected", "it is not")]
    status, notes = await client.get("/v1/notifications", m)
    (told,) = _moderation_notes(notes)
    assert told["decision"]["appeal"] == "rejected"
    status, again, _ = await client.post(
        "/v1/moderation/appeals", {"decision_id": decided["decision_id"], "text": "please"}, a
    )
    assert (status, again["type"]) == (409, "quark:appeal-refused")


async def test_a_dismissal_is_neither_notified_nor_appealable(
    client: IdentityClient, platform: Platform, with_role: Any
) -> None:
    author, reporter = await client.sign_up(), await client.sign_up()
    m = (await with_role("moderator"))["access_token"]
    status, post, _ = await client.post("/v1/posts", {"body": "fine"}, author["access_token"])
    await platform.wait("posts", post["position"])
    _, filed = await report(client, reporter["access_token"], "post", post["id"])
    status, decided = await decide(client, m, filed["case_id"], ["dismiss"], "nothing wrong")
    assert status == 201
    await platform.wait("notifications", decided["position"])
    status, notes = await client.get("/v1/notifications", author["access_token"])
    assert _moderation_notes(notes) == []
    status, problem, _ = await client.post(
        "/v1/moderation/appeals",
        {"decision_id": decided["decision_id"], "text": "why"},
        author["access_token"],
    )
    assert (status, problem["type"]) == (404, "quark:decision-not-found")
