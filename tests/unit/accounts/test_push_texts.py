"""What a push says, per kind and language, and which page it opens."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from handlers.accounts.push_texts import TEXTS, language, payload, urgency

POST = "0192f0a0-0000-7000-8000-000000000001"
COMMENT = "0192f0a0-0000-7000-8000-000000000002"
CONVERSATION = "0192f0a0-0000-7000-8000-000000000003"


def note(kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{kind}:x:y", "kind": kind, "actors": ["a"], "count": 1, **extra}


def test_every_language_has_every_string() -> None:
    assert {lang: set(texts) for lang, texts in TEXTS.items()} == {
        lang: set(TEXTS["en"]) for lang in TEXTS
    }


def test_the_language_is_the_profiles_else_english() -> None:
    assert [language(x) for x in ("ru", "ru-RU", "en-GB", "de", None, "")] == [
        "ru",
        "ru",
        "en",
        "en",
        "en",
        "en",
    ]


@pytest.mark.parametrize(
    ("notification", "body", "url"),
    [
        (note("follow"), "Ada started following you", "/people/ada"),
        (
            note("reply", target_type="comment", target_id=COMMENT, post_id=POST),
            "Ada replied to you",
            f"/posts/{POST}#comment-{COMMENT}",
        ),
        (
            note("mention", target_type="post", target_id=POST, post_id=POST),
            "Ada mentioned you in a post",
            f"/posts/{POST}",
        ),
        (
            note("mention", target_type="message", conversation_id=CONVERSATION),
            "Ada mentioned you in a message",
            f"/messages/{CONVERSATION}",
        ),
        (
            note("reaction", target_type="post", target_id=POST, post_id=POST, count=13),
            "Ada and 12 more reacted to your post",
            f"/posts/{POST}",
        ),
        (
            note("message", target_type="conversation", conversation_id=CONVERSATION, count=3),
            "3 new messages from Ada",
            f"/messages/{CONVERSATION}",
        ),
        (
            note("moderation", actors=[], decision={"appeal": "approved"}),
            "Your appeal was approved",
            "/notifications",
        ),
    ],
)
def test_each_kind_names_the_actor_and_opens_its_page(
    notification: dict[str, Any], body: str, url: str
) -> None:
    made = payload(notification, actor_name="Ada", actor_handle="ada", locale=None)
    assert (made.body, made.url, made.tag, made.lang) == (body, url, notification["id"], "en")


def test_russian_avoids_the_actors_gender_and_unknown_actors_are_someone() -> None:
    made = payload(note("follow"), actor_name="Ада", actor_handle="ada", locale="ru-RU")
    assert (made.title, made.body) == ("Новый подписчик", "Новая подписка: Ада")
    anonymous = payload(note("reply"), actor_name=None, actor_handle=None, locale="ru")
    assert anonymous.body == "Ответ от Кто-то"


def test_a_payload_stays_far_below_what_a_push_service_must_take() -> None:
    made = payload(
        note("reaction", target_type="comment", target_id=COMMENT, post_id=POST, count=10**6),
        actor_name="Я" * 1000,
        actor_handle="x",
        locale="ru",
    )
    assert len(msgspec.json.encode(made)) < 1024


def test_messages_are_urgent_and_reactions_are_not() -> None:
    assert (urgency("message"), urgency("mention"), urgency("reaction")) == (
        "high",
        "normal",
        "low",
    )
