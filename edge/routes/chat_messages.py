"""Messaging: a conversation's messages — sending, history, one message with its edits,
editing, deleting — and the reader's read marker.

Split from `edge.routes.chat` (conversations and members) by flow; both read who may do what
from the `chat` read model through `edge.routes.chat_common`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from core.ids import derived_id, is_uuid
from core.perks import perks
from core.ratelimit import Rule
from edge.auth import optional_principal, principal, send_as
from edge.authors import mentioned
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, limit, path_id
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.routes.chat import ReadBody
from edge.routes.chat_common import (
    CONVERSATION_ID,
    LIMIT,
    MANAGERS,
    ConversationResult,
    MessageView,
    json_response,
    lookup_message,
    message_views,
    readable,
    standing,
    withheld,
)
from edge.routes.posts import CURSOR
from edge.routing import Param, Route
from edge.wordfilter import file_report, screened
from handlers.chat.commands import Body, DeleteMessage, EditMessage, MarkRead, MediaIds, SendMessage
from handlers.chat.errors import (
    Blocked,
    ConversationNotFound,
    MessageIdTaken,
    MessageNotFound,
    NotAllowed,
    NotMessageSender,
    PostingClosed,
)
from handlers.media.commands import AttachMedia
from handlers.media.errors import MediaNotFound, MediaNotReady
from handlers.moderation.errors import WordFilterBlocked
from projections import chat as model


class SendBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body
    #: A UUID the client chose: sending again with it is the same message.
    id: str | None = None
    reply_to: str | None = None
    media_ids: MediaIds = []


class EditBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body


class MessageResult(msgspec.Struct):
    id: str
    conversation_id: str
    position: str


class EditView(msgspec.Struct):
    body: str
    replaced_at: datetime


class MessageDetail(msgspec.Struct):
    message: MessageView
    #: The bodies it had before each edit, oldest first.
    edits: list[EditView]


class MessagePage(msgspec.Struct):
    items: list[MessageView]
    next_cursor: str | None


async def send_message(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, SendBody, max_bytes=i.settings.max_body_bytes)
    st = await standing(request, who)
    p = perks(st.vip_until, datetime.now(UTC))
    if len(body.body) > int(p["message_max_chars"]):
        raise ValidationError(
            "the message is too long",
            errors=[FieldError("body", f"at most {p['message_max_chars']} characters")],
        )
    if body.id is not None and not is_uuid(body.id):
        raise ValidationError("not a message id", errors=[FieldError("id", "a UUID")])
    if len(set(body.media_ids)) != len(body.media_ids) or not all(map(is_uuid, body.media_ids)):
        raise ValidationError("media ids, each once", errors=[FieldError("media_ids", "media ids")])
    row, role = st.conversation, st.role
    if row is None or (role is None and row.kind != "channel"):
        raise ConversationNotFound()
    if role is None:
        raise NotAllowed("join the channel to post in it")
    if row.kind == "channel" and not row.everyone_posts and role not in MANAGERS:
        raise PostingClosed()
    if st.blocked:
        raise Blocked()
    if body.reply_to is not None:
        parent = await lookup_message(request, body.reply_to)
        if parent is None or parent.conversation_id != row.id:
            raise ValidationError(
                "no such message in this conversation",
                errors=[FieldError("reply_to", "a message of this conversation")],
            )
    quota = max(1, int(int(p["messages_per_minute"]) * i.settings.perks_quota_scale))
    await limit(request, Rule("messages", quota, 60), who.user_id)
    # The word filter: a message is never held (it is live), so a hold flags it.
    verdict = await screened(request, "messages", {"body": body.body})
    text = verdict.texts["body"] or body.body
    message_id = body.id or created_id(request, "message")
    for media_id in body.media_ids:
        # Media of a channel is public like the channel; any other stays behind signed links.
        await send_as(
            request,
            AttachMedia(
                media_id=media_id, ref=f"message:{message_id}", public=row.kind == "channel"
            ),
            who,
            step=f"attach-{media_id}",
        )
    owners = await mentioned(request, text)
    reply = await send_as(
        request,
        SendMessage(
            message_id=message_id,
            conversation_id=row.id,
            body=text,
            reply_to=body.reply_to,
            media_ids=body.media_ids,
            mentions=list(owners),
            mention_owners=owners,
        ),
        who,
    )
    await file_report(
        request,
        verdict,
        reply,
        target_type="message",
        target_id=message_id,
        author_id=who.user_id,
        body=text,
    )
    headers = {
        **command_headers(reply),
        "Location": f"/v1/conversations/{row.id}/messages/{message_id}",
    }
    return json_response(201, MessageResult(message_id, row.id, reply.position or ""), headers)


def _anchor(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and not is_uuid(value):
        raise ValidationError(
            f"`{name}` is a message id", errors=[FieldError(name, "a message id")]
        )
    return value


async def list_messages(request: web.Request) -> web.Response:
    who = await optional_principal(request)
    i = infra(request)
    size = LIMIT.read(request)
    before_id, since_id = _anchor(request, "before"), _anchor(request, "since")
    row, _ = await readable(request, who)
    scope = f"messages|{row.id}"
    before: int | None = None
    after: int | None = None
    for anchor, name in ((before_id, "before"), (since_id, "since")):
        if anchor is not None:
            m = await lookup_message(request, anchor)
            if m is None or m.conversation_id != row.id:
                raise ValidationError(
                    "no such message in this conversation",
                    errors=[FieldError(name, "a message of this conversation")],
                )
            if name == "before":
                before = m.seq
            else:
                after = m.seq
    if "cursor" in request.query:
        c = decode_cursor(i.secret_key, scope, request.query["cursor"])
        if not isinstance(c.get("n"), int) or c.get("d") not in ("older", "newer"):
            raise BadCursor()
        if c["d"] == "older":
            before, after = c["n"], None
        else:
            after = c["n"]
            before = c.get("b") if isinstance(c.get("b"), int) else None
    rows = await model.history(i.pool, row.id, before=before, after=after, limit=size + 1)
    page, more = rows[:size], len(rows) > size
    cursor = None
    if more and page:
        direction = "newer" if after is not None else "older"
        payload: dict[str, object] = {"n": page[-1].seq, "d": direction}
        if direction == "newer" and before is not None:
            payload["b"] = before
        cursor = encode_cursor(i.secret_key, scope, payload)
    return json_response(200, MessagePage(await message_views(request, page), cursor))


async def _message_in(request: web.Request, row: model.ConversationRow) -> model.MessageRow:
    message_id = path_id(request, "message_id", MessageNotFound)
    message = await lookup_message(request, message_id)
    if message is None or message.conversation_id != row.id:
        raise MessageNotFound()
    return message


async def get_message(request: web.Request) -> web.Response:
    who = await optional_principal(request)
    row, _ = await readable(request, who)
    message = await _message_in(request, row)
    view = (await message_views(request, [message]))[0]
    edits = [] if withheld(request, message) else await model.edits(infra(request).pool, message.id)
    return json_response(200, MessageDetail(view, [EditView(e.body, e.replaced_at) for e in edits]))


async def edit_message(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, EditBody, max_bytes=infra(request).settings.max_body_bytes)
    row, _ = await readable(request, who)
    message = await _message_in(request, row)
    verdict = await screened(request, "messages", {"body": body.body})
    text = verdict.texts["body"] or body.body
    owners = await mentioned(request, text)
    reply = await send_as(
        request,
        EditMessage(message_id=message.id, body=text, mentions=list(owners), mention_owners=owners),
        who,
    )
    # Only its sender edits a message: the report names them.
    await file_report(
        request,
        verdict,
        reply,
        target_type="message",
        target_id=message.id,
        author_id=who.user_id,
        body=text,
    )
    return json_response(
        200, MessageResult(message.id, row.id, reply.position or ""), command_headers(reply)
    )


async def delete_message(request: web.Request) -> web.Response:
    who = await principal(request)
    row, role = await readable(request, who)
    message = await _message_in(request, row)
    as_admin = row.kind != "direct" and role in MANAGERS
    reply = await send_as(request, DeleteMessage(message_id=message.id, as_admin=as_admin), who)
    return json_response(
        200, MessageResult(message.id, row.id, reply.position or ""), command_headers(reply)
    )


async def mark_read(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, ReadBody, max_bytes=i.settings.max_body_bytes)
    row, role = await readable(request, who)
    if role is None:
        raise NotAllowed("join the channel to keep a read marker in it")
    message = await lookup_message(request, body.up_to)
    if message is None or message.conversation_id != row.id:
        raise ValidationError(
            "no such message in this conversation",
            errors=[FieldError("up_to", "a message of this conversation")],
        )
    reply = await send_as(
        request,
        MarkRead(
            marker_id=derived_id(i.secret_key, "read-marker", row.id, who.user_id),
            conversation_id=row.id,
            message_id=message.id,
            seq=message.seq,
        ),
        who,
    )
    return json_response(
        200, ConversationResult(row.id, reply.position or ""), command_headers(reply)
    )


_MESSAGE_ID = Param("message_id", "path", "Message id", {"type": "string", "format": "uuid"})
_BEFORE = Param(
    "before",
    "query",
    "Messages before this one, newest first",
    {"type": "string", "format": "uuid"},
)
_SINCE = Param(
    "since", "query", "Messages after this one, oldest first", {"type": "string", "format": "uuid"}
)

ROUTES = [
    Route(
        "POST",
        "/v1/conversations/{conversation_id}/messages",
        send_message,
        "Send a message (a client-chosen `id` makes it idempotent)",
        "messaging",
        request=SendBody,
        response=MessageResult,
        status=201,
        params=(CONVERSATION_ID,),
        raises=(
            ConversationNotFound,
            NotAllowed,
            PostingClosed,
            Blocked,
            MessageIdTaken,
            MediaNotFound,
            MediaNotReady,
            WordFilterBlocked,
        ),
        auth="bearer",
        after=True,
        limited=True,
        idempotent_create=True,
        name="send_message",
    ),
    Route(
        "GET",
        "/v1/conversations/{conversation_id}/messages",
        list_messages,
        "A conversation's messages: newest first, or oldest first `since` a message",
        "messaging",
        response=MessagePage,
        params=(CONVERSATION_ID, _BEFORE, _SINCE, LIMIT.param, CURSOR),
        raises=(ConversationNotFound, BadCursor),
        auth="optional",
        after=True,
        name="list_messages",
    ),
    Route(
        "GET",
        "/v1/conversations/{conversation_id}/messages/{message_id}",
        get_message,
        "A message with the bodies it had before its edits",
        "messaging",
        response=MessageDetail,
        params=(CONVERSATION_ID, _MESSAGE_ID),
        raises=(ConversationNotFound, MessageNotFound),
        auth="optional",
        after=True,
        name="get_message",
    ),
    Route(
        "PATCH",
        "/v1/conversations/{conversation_id}/messages/{message_id}",
        edit_message,
        "Edit my message (its earlier text is kept)",
        "messaging",
        request=EditBody,
        response=MessageResult,
        params=(CONVERSATION_ID, _MESSAGE_ID),
        raises=(ConversationNotFound, MessageNotFound, NotMessageSender, WordFilterBlocked),
        auth="bearer",
        after=True,
        name="edit_message",
    ),
    Route(
        "DELETE",
        "/v1/conversations/{conversation_id}/messages/{message_id}",
        delete_message,
        "Delete a message (its sender, or an admin of a group or channel): a tombstone stays",
        "messaging",
        response=MessageResult,
        params=(CONVERSATION_ID, _MESSAGE_ID),
        raises=(ConversationNotFound, MessageNotFound, NotMessageSender),
        auth="bearer",
        after=True,
        name="delete_message",
    ),
    Route(
        "POST",
        "/v1/conversations/{conversation_id}/read",
        mark_read,
        "Move my read marker up to a message",
        "messaging",
        request=ReadBody,
        response=ConversationResult,
        params=(CONVERSATION_ID,),
        raises=(ConversationNotFound, NotAllowed),
        auth="bearer",
        after=True,
        name="mark_read",
    ),
]
