"""Notifications: mine, newest first (mentions, replies, reactions grouped per target, new
followers, messages grouped per conversation, moderators' decisions), marking them read
(some or all) and choosing which I get."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from edge.auth import principal, send_as
from edge.authors import Author, authors
from edge.bodies import read_json
from edge.context import command_headers, infra, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.routes.posts import CURSOR, PAGE_LIMIT
from edge.routing import Param, Route
from handlers.notifications.commands import (
    ChangeNotificationSettings,
    Kind,
    MarkNotificationsRead,
    NotificationId,
)
from projections import notifications as model

PROJECTION = "notifications"
_encoder = msgspec.json.Encoder()


class NotificationView(msgspec.Struct):
    id: str
    #: `mention`, `reply`, `reaction`, `follow`, `message`, `moderation`.
    kind: str
    #: Who did it, newest first (up to three): one person, for reactions the people who
    #: reacted, for `message` the senders of the unread messages; none for `moderation`.
    actors: list[Author]
    #: How many people are behind it ("Ada and 12 others": `count` 13); for `message`, how
    #: many unread messages.
    count: int
    #: What it is about: a `post`, a `comment`, a `message`, a `conversation` or (a new
    #: follower) a `user`.
    target_type: str
    target_id: str
    #: The post it belongs to (a comment's post), for a link; null for other targets.
    post_id: str | None
    at: datetime
    read: bool
    #: The conversation of a `message` notification or a mention in a message, else null.
    conversation_id: str | None
    #: `moderation`: the content's new state (`visible`, `hidden`, `held`), else null.
    state: str | None
    #: `moderation`: the moderator's reason, if they gave one.
    reason: str | None
    #: `moderation`: the decision (`decision_id`, `actions`, `appeal_until`: how to appeal
    #: it, `POST /v1/moderation/appeals` before then) or, about an appeal, `decision_id`,
    #: `appeal_id` and `appeal` (filed, approved, rejected); else null.
    decision: dict[str, Any] | None = None


class NotificationPage(msgspec.Struct):
    items: list[NotificationView]
    next_cursor: str | None
    #: Unread notifications in all (as this list shows them).
    unread: int


class ReadBody(msgspec.Struct, forbid_unknown_fields=True):
    #: Which to mark read; absent or empty: all of them.
    ids: list[NotificationId] = []


class SettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    #: Kinds I do not want (absent: as they were).
    disabled: list[Kind] | None = None
    #: Only from people I follow (absent: as it was).
    only_following: bool | None = None


class NotificationSettings(msgspec.Struct):
    disabled: list[str]
    only_following: bool


class Changed(msgspec.Struct):
    position: str


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


_UNREAD = Param(
    "unread", "query", "Only unread ones (`true`)", {"type": "string", "enum": ["true", "false"]}
)


async def list_notifications(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    limit = PAGE_LIMIT.read(request)
    unread_only = request.query.get("unread", "false") == "true"
    scope = f"notifications|{who.user_id}|{unread_only}"
    before = None
    if "cursor" in request.query:
        state = decode_cursor(i.secret_key, scope, request.query["cursor"])
        at, last = state.get("t"), state.get("i")
        if not isinstance(at, str) or not isinstance(last, str):
            raise BadCursor()
        try:
            before = (datetime.fromisoformat(at), last)
        except ValueError:
            raise BadCursor() from None
    await wait_for_position(request, PROJECTION)
    rows = await model.list_for(
        i.pool, who.user_id, before=before, limit=limit + 1, unread_only=unread_only
    )
    page, more = rows[:limit], len(rows) > limit
    people = await authors(request, (a for r in page for a in r.actors[:3]))
    cursor = (
        encode_cursor(i.secret_key, scope, {"t": page[-1].at.isoformat(), "i": page[-1].id})
        if more
        else None
    )
    items = [
        NotificationView(
            r.id,
            r.kind,
            [people[a] for a in r.actors[:3] if a in people],
            r.count,
            r.target_type,
            r.target_id,
            r.post_id,
            r.at,
            r.read,
            r.conversation_id,
            r.state,
            r.reason,
            r.decision,
        )
        for r in page
    ]
    return _json(
        200, NotificationPage(items, cursor, await model.unread_count(i.pool, who.user_id))
    )


async def mark_read(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ReadBody, max_bytes=64 * 1024)
    reply = await send_as(request, MarkNotificationsRead(ids=body.ids), who)
    return _json(200, Changed(reply.position or ""), command_headers(reply))


async def read_settings(request: web.Request) -> web.Response:
    who = await principal(request)
    await wait_for_position(request, PROJECTION)
    row = await model.settings_of(infra(request).pool, who.user_id)
    return _json(200, NotificationSettings(row.disabled, row.only_following))


async def change_settings(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, SettingsBody, max_bytes=4096)
    reply = await send_as(
        request,
        ChangeNotificationSettings(disabled=body.disabled, only_following=body.only_following),
        who,
    )
    return _json(200, Changed(reply.position or ""), command_headers(reply))


ROUTES = [
    Route(
        "GET",
        "/v1/notifications",
        list_notifications,
        "My notifications, newest first",
        "notifications",
        response=NotificationPage,
        params=(PAGE_LIMIT.param, CURSOR, _UNREAD),
        raises=(BadCursor,),
        auth="bearer",
        after=True,
        name="list_notifications",
    ),
    Route(
        "POST",
        "/v1/notifications/read",
        mark_read,
        "Mark some of my notifications read, or all of them",
        "notifications",
        request=ReadBody,
        response=Changed,
        auth="bearer",
        name="mark_notifications_read",
    ),
    Route(
        "GET",
        "/v1/notifications/settings",
        read_settings,
        "Which notifications I get",
        "notifications",
        response=NotificationSettings,
        auth="bearer",
        after=True,
        name="notification_settings",
    ),
    Route(
        "PUT",
        "/v1/notifications/settings",
        change_settings,
        "Choose which notifications I get",
        "notifications",
        request=SettingsBody,
        response=Changed,
        auth="bearer",
        name="change_notification_settings",
    ),
]
