# ruff: noqa: RUF001  (Russian strings: their letters look like Latin ones, on purpose)
"""What a push says: every string a device shows for a notification, per language, in one
place, and the small JSON payload the service worker turns into a system notification.

Pure: the push sender hands in the notification (as the live channel carries it), the actor's
name and handle, and the recipient's language. The payload stays far below the 4 KB a push
service must accept (RFC 8291 leaves 3,993 bytes of plain text in one record): names are
cut and nothing of a message's or a post's text is ever included (it would sit in the push
service's queue, and on a locked screen).

Russian sentences avoid the past tense, which would need the actor's gender.
"""

from __future__ import annotations

from typing import Any

import msgspec

DEFAULT_LANGUAGE = "en"
#: The longest name a push shows (display names are at most 64 characters anyway).
NAME_MAX = 64

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "someone": "Someone",
        "title.follow": "New follower",
        "body.follow": "{actor} started following you",
        "title.reply": "New reply",
        "body.reply": "{actor} replied to you",
        "title.mention": "You were mentioned",
        "body.mention.post": "{actor} mentioned you in a post",
        "body.mention.comment": "{actor} mentioned you in a comment",
        "body.mention.message": "{actor} mentioned you in a message",
        "title.reaction": "New reaction",
        "body.reaction.post": "{actor} reacted to your post",
        "body.reaction.comment": "{actor} reacted to your comment",
        "body.reaction.post.others": "{actor} and {others} more reacted to your post",
        "body.reaction.comment.others": "{actor} and {others} more reacted to your comment",
        "title.message": "New message",
        "body.message": "{actor} sent you a message",
        "body.message.many": "{count} new messages from {actor}",
        "title.moderation": "A moderator's decision",
        "body.moderation": "A moderator made a decision about your content",
        "body.moderation.filed": "Your decision was appealed",
        "body.moderation.approved": "Your appeal was approved",
        "body.moderation.rejected": "Your appeal was rejected",
        "title.other": "Quark",
        "body.other": "Something new for you",
    },
    "ru": {
        "someone": "Кто-то",
        "title.follow": "Новый подписчик",
        "body.follow": "Новая подписка: {actor}",
        "title.reply": "Новый ответ",
        "body.reply": "Ответ от {actor}",
        "title.mention": "Вас упомянули",
        "body.mention.post": "Упоминание от {actor} в посте",
        "body.mention.comment": "Упоминание от {actor} в комментарии",
        "body.mention.message": "Упоминание от {actor} в сообщении",
        "title.reaction": "Новая реакция",
        "body.reaction.post": "Реакция от {actor} на ваш пост",
        "body.reaction.comment": "Реакция от {actor} на ваш комментарий",
        "body.reaction.post.others": "Реакции от {actor} и ещё {others} на ваш пост",
        "body.reaction.comment.others": "Реакции от {actor} и ещё {others} на ваш комментарий",
        "title.message": "Новое сообщение",
        "body.message": "Сообщение от {actor}",
        "body.message.many": "Новые сообщения от {actor}: {count}",
        "title.moderation": "Решение модерации",
        "body.moderation": "Есть решение модерации о вашем материале",
        "body.moderation.filed": "Ваше решение обжаловано",
        "body.moderation.approved": "Ваша апелляция одобрена",
        "body.moderation.rejected": "Ваша апелляция отклонена",
        "title.other": "Quark",
        "body.other": "Для вас есть новое",
    },
}

#: RFC 8030 `Urgency` per kind: a device on a low battery may hold back less urgent pushes.
URGENCY = {"message": "high", "mention": "normal", "reply": "normal", "moderation": "normal"}
DEFAULT_URGENCY = "low"


class PushPayload(msgspec.Struct, frozen=True):
    """What the service worker receives (decrypted): `showNotification(title, {body, tag,
    data: {url}})`. `tag` groups pushes of one notification (a growing reaction group
    replaces its earlier push instead of stacking)."""

    title: str
    body: str
    url: str
    tag: str
    kind: str
    lang: str


def language(locale: str | None) -> str:
    """The catalogue's language for a profile's locale (`ru-RU` → `ru`); English when the
    person has none or one we have no strings for."""
    primary = (locale or "").split("-", 1)[0].lower()
    return primary if primary in TEXTS else DEFAULT_LANGUAGE


def url_of(notification: dict[str, Any], actor_handle: str | None) -> str:
    """The web app's page for a notification (paths of its router)."""
    kind = notification.get("kind")
    if notification.get("conversation_id") and (
        kind == "message" or notification.get("target_type") == "message"
    ):
        return f"/messages/{notification['conversation_id']}"
    if kind == "follow":
        return f"/people/{actor_handle}" if actor_handle else "/notifications"
    if kind in ("reply", "mention", "reaction") and notification.get("post_id"):
        url = f"/posts/{notification['post_id']}"
        if notification.get("target_type") == "comment":
            url += f"#comment-{notification['target_id']}"
        return url
    return "/notifications"


def _body_key(notification: dict[str, Any]) -> str:
    kind = notification.get("kind")
    target = notification.get("target_type")
    count = int(notification.get("count") or 0)
    match kind:
        case "follow" | "reply":
            return f"body.{kind}"
        case "mention":
            return f"body.mention.{target if target in ('post', 'comment') else 'message'}"
        case "reaction":
            base = f"body.reaction.{'comment' if target == 'comment' else 'post'}"
            return f"{base}.others" if count > 1 else base
        case "message":
            return "body.message.many" if count > 1 else "body.message"
        case "moderation":
            appeal = (notification.get("decision") or {}).get("appeal")
            return f"body.moderation.{appeal}" if appeal else "body.moderation"
        case _:
            return "body.other"


def payload(
    notification: dict[str, Any],
    *,
    actor_name: str | None,
    actor_handle: str | None,
    locale: str | None,
) -> PushPayload:
    """The push for `notification` (an item's `notification`, as `GET /v1/notifications`
    shows it), in the recipient's language."""
    lang = language(locale)
    texts = TEXTS[lang]
    kind = str(notification.get("kind") or "other")
    title = texts.get(f"title.{kind}", texts["title.other"])
    name = (actor_name or "").strip()[:NAME_MAX] or texts["someone"]
    count = int(notification.get("count") or 0)
    body = texts[_body_key(notification)].format(actor=name, others=max(count - 1, 0), count=count)
    return PushPayload(
        title=title,
        body=body,
        url=url_of(notification, actor_handle),
        tag=str(notification.get("id") or kind),
        kind=kind,
        lang=lang,
    )


def urgency(kind: str) -> str:
    return URGENCY.get(kind, DEFAULT_URGENCY)
