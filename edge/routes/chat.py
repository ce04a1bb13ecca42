"""Messaging: conversations (direct, group, channel), their members, messages, history and
read markers.

Who may read or write is checked here against the `chat` read model, the way a comment's
post is checked (read-your-writes makes one's own joins and invitations visible at once);
the handlers decide membership changes on the conversation's own aggregate. A stranger to a
private conversation meets 404, never 403.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import msgspec
from aiohttp import web

from core.commands import format_position
from core.errors import FieldError, TimeoutWaitingError, ValidationError
from core.ids import derived_id, is_uuid
from core.ratelimit import Rule
from edge.auth import Principal, optional_principal, principal, send_as
from edge.authors import Author, authors, mentioned
from edge.bodies import read_json
from edge.context import (
    POSITIONS,
    command_headers,
    created_id,
    infra,
    limit,
    path_id,
    wait_for_position,
)
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery
from edge.perks import perks_of
from edge.routes.media import MediaView, media_views
from edge.routes.posts import CURSOR
from edge.routing import Param, Route
from handlers.chat.commands import (
    AddMembers,
    Body,
    ChangeConversation,
    DeleteMessage,
    EditMessage,
    JoinChannel,
    Kind,
    MarkRead,
    MediaIds,
    Name,
    RemoveMember,
    Role,
    SendMessage,
    SetRole,
    StartConversation,
    UserIds,
)
from handlers.chat.errors import (
    BadMembership,
    Blocked,
    ConversationFull,
    ConversationNotFound,
    MessageIdTaken,
    MessageNotFound,
    NotAllowed,
    NotMessageSender,
    PostingClosed,
    RemovedFromChannel,
    TooManyMembers,
)
from handlers.chat.marker import muted_now
from handlers.media.commands import AttachMedia
from handlers.media.errors import MediaNotFound, MediaNotReady
from projections import chat as model
from projections import follows as follows_model
from projections import profiles as profiles_model

PROJECTION = "chat"
#: The log stream of the chat context.
STREAM = "CHAT"
#: How long a lookup of an unknown message waits for the read model to reach the log's head.
MESSAGE_WAIT_SECONDS = 2.0
MANAGERS = ("owner", "admin")
_encoder = msgspec.json.Encoder()


class StartBody(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    members: UserIds = []
    name: Name | None = None
    #: Channels only: everyone may post, not only its admins.
    everyone_posts: bool = False


class ChangeBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    everyone_posts: bool | None = None


class MembersBody(msgspec.Struct, forbid_unknown_fields=True):
    members: UserIds


class RoleBody(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


class SendBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body
    #: A UUID the client chose: sending again with it is the same message.
    id: str | None = None
    reply_to: str | None = None
    media_ids: MediaIds = []


class EditBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Body


class ReadBody(msgspec.Struct, forbid_unknown_fields=True):
    up_to: str


class ConversationResult(msgspec.Struct):
    id: str
    position: str


class MessageResult(msgspec.Struct):
    id: str
    conversation_id: str
    position: str


class MessageView(msgspec.Struct):
    id: str
    conversation_id: str
    #: The message's place in its conversation (larger is later).
    seq: int
    #: Empty for a deleted message (a tombstone keeps its place).
    sender_id: str
    body: str
    reply_to: str | None
    media_ids: list[str]
    #: The attachments that are ready; a channel's are public, any other conversation's
    #: come with signed links that only its readers are given.
    media: list[MediaView]
    sent_at: datetime
    edited_at: datetime | None
    deleted: bool
    sender: Author | None


class EditView(msgspec.Struct):
    body: str
    replaced_at: datetime


class MessageDetail(msgspec.Struct):
    message: MessageView
    #: The bodies it had before each edit, oldest first.
    edits: list[EditView]


class ConversationView(msgspec.Struct):
    id: str
    kind: Kind
    name: str | None
    everyone_posts: bool
    member_count: int
    #: The reader's role; null for a reader who has not joined (a public channel).
    my_role: Role | None
    last_message: MessageView | None
    #: Messages of others after the reader's read marker.
    unread_count: int
    #: Of those, the ones that mention the reader's handle.
    mention_count: int
    #: The reader muted it (no message notifications) as of now; an expired mute is not.
    muted: bool
    #: With `muted`: when the mute ends; null when it lasts until unmuted (or not muted).
    muted_until: datetime | None


class ConversationDetail(msgspec.Struct):
    conversation: ConversationView
    #: Members and roles (the first 200 of a large channel).
    members: dict[str, Role]
    #: Each member's read marker (the `seq` of the last message they have read; 0: none) in
    #: a direct conversation or a group of at most `QUARK_READ_RECEIPTS_MAX_MEMBERS`
    #: members, to members only; null in larger groups, in channels and to anyone else.
    read_up_to: dict[str, int] | None = None


class ConversationPage(msgspec.Struct):
    items: list[ConversationView]
    next_cursor: str | None


class MessagePage(msgspec.Struct):
    items: list[MessageView]
    next_cursor: str | None


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def _message_views(request: web.Request, rows: list[model.MessageRow]) -> list[MessageView]:
    writers = await authors(request, {r.sender_id for r in rows if r.deleted_at is None})
    media = await media_views(request, [m for r in rows for m in r.media_ids])
    return [
        MessageView(
            r.id,
            r.conversation_id,
            r.seq,
            "" if r.deleted_at else r.sender_id,
            r.body,
            r.reply_to,
            r.media_ids,
            [media[m] for m in r.media_ids if m in media],
            r.sent_at,
            r.edited_at,
            r.deleted_at is not None,
            None if r.deleted_at else writers.get(r.sender_id),
        )
        for r in rows
    ]


async def readable(
    request: web.Request, who: Principal | None
) -> tuple[model.ConversationRow, str | None]:
    """The path's conversation and the reader's role in it, if they may read it: its
    members, and anyone for a channel. Anyone else (a former member too) gets 404."""
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    await wait_for_position(request, PROJECTION)
    pool = infra(request).pool
    row = await model.get_conversation(pool, conversation_id)
    role = await model.role_of(pool, conversation_id, who.user_id) if row and who else None
    if row is None or (role is None and row.kind != "channel"):
        raise ConversationNotFound()
    return row, role


async def _check_blocks(request: web.Request, me: str, others: list[str]) -> None:
    await wait_for_position(request, "follows")
    if set(others) & await follows_model.block_partners(infra(request).pool, me):
        raise Blocked()


async def _check_people(request: web.Request, user_ids: list[str]) -> list[str]:
    """The ids, each once, if each names a person; 422 otherwise."""
    unique = list(dict.fromkeys(user_ids))
    known = (
        await profiles_model.by_users(infra(request).pool, [u for u in unique if is_uuid(u)])
        if unique
        else {}
    )
    unknown = [u for u in unique if u not in known]
    if unknown:
        raise ValidationError(
            "no such person", errors=[FieldError("members", f"not a user id: {unknown[0][:40]}")]
        )
    return unique


async def _handle_of(request: web.Request, who: Principal) -> str | None:
    profile = await profiles_model.by_user(infra(request).pool, who.user_id)
    return profile.handle if profile else None


async def start_conversation(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, StartBody, max_bytes=i.settings.max_body_bytes)
    members = await _check_people(request, [m for m in body.members if m != who.user_id])
    if body.kind == "direct":
        if len(members) != 1 or len(body.members) != 1:
            raise BadMembership(
                "a direct conversation has exactly one other member",
                errors=[FieldError("members", "one user id, not your own")],
            )
        await _check_blocks(request, who.user_id, members)
        # One conversation per pair: its id is a function of the two people.
        conversation_id = derived_id(
            i.secret_key, "direct-conversation", *sorted((who.user_id, members[0]))
        )
        await wait_for_position(request, PROJECTION)
        existing = await model.get_conversation(i.pool, conversation_id)
        if existing is not None:
            # Nothing to write: the position is where the read model has the conversation.
            position = format_position(i.store.streams.stream_for("chat"), existing.last_seq)
            return _json(
                200,
                ConversationResult(conversation_id, position),
                {"Quark-Position": position},
            )
    else:
        conversation_id = created_id(request, "conversation")
        if body.kind == "group" and len(members) + 1 > i.settings.group_max_members:
            raise TooManyMembers(f"a group has at most {i.settings.group_max_members} members")
    reply = await send_as(
        request,
        StartConversation(
            conversation_id=conversation_id,
            kind=body.kind,
            members=members,
            name=body.name,
            everyone_posts=body.everyone_posts,
            max_members=i.settings.group_max_members,
        ),
        who,
    )
    headers = {**command_headers(reply), "Location": f"/v1/conversations/{conversation_id}"}
    return _json(201, ConversationResult(conversation_id, reply.position or ""), headers)


async def _views(
    request: web.Request, rows: list[model.MineRow | tuple[model.ConversationRow, str | None]]
) -> list[ConversationView]:
    last_ids = [
        c.last_message_id
        for c in (i.conversation if isinstance(i, model.MineRow) else i[0] for i in rows)
        if c.last_message_id
    ]
    lasts = await model.messages_by_ids(infra(request).pool, last_ids)
    views = {m.id: m for m in await _message_views(request, list(lasts.values()))}
    out = []
    now = datetime.now(UTC)
    for item in rows:
        muted, until = False, None
        if isinstance(item, model.MineRow):
            c, role, unread, mentions = item.conversation, item.role, item.unread, item.mentions
            if muted_now(item.muted, item.muted_until, now):
                muted, until = True, item.muted_until
        else:
            (c, role), unread, mentions = item, 0, 0
        out.append(
            ConversationView(
                c.id,
                c.kind,  # type: ignore[arg-type]
                c.title,
                c.everyone_posts,
                c.member_count,
                role,  # type: ignore[arg-type]
                views.get(c.last_message_id or ""),
                unread,
                mentions,
                muted,
                until,
            )
        )
    return out


async def list_conversations(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    size = _LIMIT.read(request)
    before = None
    scope = f"conversations|{who.user_id}"
    if "cursor" in request.query:
        c = decode_cursor(i.secret_key, scope, request.query["cursor"])
        if not isinstance(c.get("n"), int) or not isinstance(c.get("i"), str):
            raise BadCursor()
        before = (c["n"], c["i"])
    await wait_for_position(request, PROJECTION)
    rows = await model.mine(
        i.pool, who.user_id, await _handle_of(request, who), before=before, limit=size + 1
    )
    page, more = rows[:size], len(rows) > size
    last = page[-1].conversation if page else None
    cursor = (
        encode_cursor(i.secret_key, scope, {"n": last.last_seq, "i": last.id})
        if more and last
        else None
    )
    return _json(200, ConversationPage(await _views(request, list(page)), cursor))


async def get_conversation(request: web.Request) -> web.Response:
    who = await optional_principal(request)
    row, role = await readable(request, who)
    i = infra(request)
    item: model.MineRow | tuple[model.ConversationRow, str | None] = (row, role)
    if who is not None and role is not None:
        mine = await model.mine(
            i.pool, who.user_id, await _handle_of(request, who), before=None, limit=1, only=row.id
        )
        if mine:
            item = mine[0]
    view = (await _views(request, [item]))[0]
    members = await model.members(i.pool, row.id)
    # Receipts only where few read them: a marker per member of a large group would be a
    # write fanned out to everyone on every read.
    small = row.kind == "direct" or (
        row.kind == "group" and row.member_count <= i.settings.read_receipts_max_members
    )
    receipts = await model.read_markers(i.pool, row.id) if role is not None and small else None
    return _json(200, ConversationDetail(view, members, receipts))  # type: ignore[arg-type]


async def change_conversation(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    body = await read_json(request, ChangeBody, max_bytes=infra(request).settings.max_body_bytes)
    reply = await send_as(
        request,
        ChangeConversation(
            conversation_id=conversation_id, name=body.name, everyone_posts=body.everyone_posts
        ),
        who,
    )
    return _json(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def add_members(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    body = await read_json(request, MembersBody, max_bytes=infra(request).settings.max_body_bytes)
    members = await _check_people(request, body.members)
    reply = await send_as(
        request, AddMembers(conversation_id=conversation_id, members=members), who
    )
    return _json(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def remove_member(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    user_id = path_id(request, "user_id", ConversationNotFound)
    reply = await send_as(
        request, RemoveMember(conversation_id=conversation_id, user_id=user_id), who
    )
    return _json(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def set_role(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    user_id = path_id(request, "user_id", ConversationNotFound)
    body = await read_json(request, RoleBody, max_bytes=infra(request).settings.max_body_bytes)
    reply = await send_as(
        request, SetRole(conversation_id=conversation_id, user_id=user_id, role=body.role), who
    )
    return _json(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def join_channel(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    reply = await send_as(request, JoinChannel(conversation_id=conversation_id), who)
    return _json(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def send_message(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, SendBody, max_bytes=i.settings.max_body_bytes)
    p = await perks_of(request, who.user_id)
    if len(body.body) > int(p["message_max_chars"]):
        raise ValidationError(
            "the message is too long",
            errors=[FieldError("body", f"at most {p['message_max_chars']} characters")],
        )
    if body.id is not None and not is_uuid(body.id):
        raise ValidationError("not a message id", errors=[FieldError("id", "a UUID")])
    if len(set(body.media_ids)) != len(body.media_ids) or not all(map(is_uuid, body.media_ids)):
        raise ValidationError("media ids, each once", errors=[FieldError("media_ids", "media ids")])
    row, role = await readable(request, who)
    if role is None:
        raise NotAllowed("join the channel to post in it")
    if row.kind == "channel" and not row.everyone_posts and role not in MANAGERS:
        raise PostingClosed()
    if row.kind == "direct":
        others = [u for u in await model.members(i.pool, row.id) if u != who.user_id]
        await _check_blocks(request, who.user_id, others)
    if body.reply_to is not None:
        parent = await _lookup_message(request, body.reply_to)
        if parent is None or parent.conversation_id != row.id:
            raise ValidationError(
                "no such message in this conversation",
                errors=[FieldError("reply_to", "a message of this conversation")],
            )
    quota = max(1, int(int(p["messages_per_minute"]) * i.settings.perks_quota_scale))
    await limit(request, Rule("messages", quota, 60), who.user_id)
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
    owners = await mentioned(request, body.body)
    reply = await send_as(
        request,
        SendMessage(
            message_id=message_id,
            conversation_id=row.id,
            body=body.body,
            reply_to=body.reply_to,
            media_ids=body.media_ids,
            mentions=list(owners),
            mention_owners=owners,
        ),
        who,
    )
    headers = {
        **command_headers(reply),
        "Location": f"/v1/conversations/{row.id}/messages/{message_id}",
    }
    return _json(201, MessageResult(message_id, row.id, reply.position or ""), headers)


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
    size = _LIMIT.read(request)
    before_id, since_id = _anchor(request, "before"), _anchor(request, "since")
    row, _ = await readable(request, who)
    scope = f"messages|{row.id}"
    before: int | None = None
    after: int | None = None
    for anchor, name in ((before_id, "before"), (since_id, "since")):
        if anchor is not None:
            m = await _lookup_message(request, anchor)
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
    return _json(200, MessagePage(await _message_views(request, page), cursor))


async def _lookup_message(request: web.Request, message_id: str) -> model.MessageRow | None:
    """The message, also when the client learnt of it a moment ago from the live channel:
    live items come from another read model, which may be ahead of this one. A miss waits
    (bounded) for this read model to reach the log's head once before it counts."""
    if not is_uuid(message_id):
        return None
    i = infra(request)
    message = await model.get_message(i.pool, message_id)
    if message is None:
        head = (await i.nc.jetstream().stream_info(STREAM)).state.last_seq
        with contextlib.suppress(TimeoutWaitingError):
            await request.app[POSITIONS].wait(PROJECTION, STREAM, head, MESSAGE_WAIT_SECONDS)
        message = await model.get_message(i.pool, message_id)
    return message


async def _message_in(request: web.Request, row: model.ConversationRow) -> model.MessageRow:
    message_id = path_id(request, "message_id", MessageNotFound)
    message = await _lookup_message(request, message_id)
    if message is None or message.conversation_id != row.id:
        raise MessageNotFound()
    return message


async def get_message(request: web.Request) -> web.Response:
    who = await optional_principal(request)
    row, _ = await readable(request, who)
    message = await _message_in(request, row)
    view = (await _message_views(request, [message]))[0]
    edits = await model.edits(infra(request).pool, message.id)
    return _json(200, MessageDetail(view, [EditView(e.body, e.replaced_at) for e in edits]))


async def edit_message(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, EditBody, max_bytes=infra(request).settings.max_body_bytes)
    row, _ = await readable(request, who)
    message = await _message_in(request, row)
    owners = await mentioned(request, body.body)
    reply = await send_as(
        request,
        EditMessage(
            message_id=message.id, body=body.body, mentions=list(owners), mention_owners=owners
        ),
        who,
    )
    return _json(
        200, MessageResult(message.id, row.id, reply.position or ""), command_headers(reply)
    )


async def delete_message(request: web.Request) -> web.Response:
    who = await principal(request)
    row, role = await readable(request, who)
    message = await _message_in(request, row)
    as_admin = row.kind != "direct" and role in MANAGERS
    reply = await send_as(request, DeleteMessage(message_id=message.id, as_admin=as_admin), who)
    return _json(
        200, MessageResult(message.id, row.id, reply.position or ""), command_headers(reply)
    )


async def mark_read(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, ReadBody, max_bytes=i.settings.max_body_bytes)
    row, role = await readable(request, who)
    if role is None:
        raise NotAllowed("join the channel to keep a read marker in it")
    message = await _lookup_message(request, body.up_to)
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
    return _json(200, ConversationResult(row.id, reply.position or ""), command_headers(reply))


_CONVERSATION_ID = Param(
    "conversation_id", "path", "Conversation id", {"type": "string", "format": "uuid"}
)
_USER_ID = Param("user_id", "path", "A member's user id", {"type": "string", "format": "uuid"})
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
_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=20)

_MEMBERSHIP = (ConversationNotFound, NotAllowed, BadMembership)

ROUTES = [
    Route(
        "POST",
        "/v1/conversations",
        start_conversation,
        "Start a conversation (a direct one with one person answers the pair's existing one)",
        "messaging",
        request=StartBody,
        response=ConversationResult,
        status=201,
        raises=(Blocked, BadMembership, TooManyMembers),
        auth="bearer",
        after=True,
        idempotent_create=True,
        name="start_conversation",
    ),
    Route(
        "GET",
        "/v1/conversations",
        list_conversations,
        "My conversations, latest activity first, with the last message and unread counts",
        "messaging",
        response=ConversationPage,
        params=(_LIMIT.param, CURSOR),
        raises=(BadCursor,),
        auth="bearer",
        after=True,
        name="list_conversations",
    ),
    Route(
        "GET",
        "/v1/conversations/{conversation_id}",
        get_conversation,
        "A conversation with its members (members only; anyone for a channel)",
        "messaging",
        response=ConversationDetail,
        params=(_CONVERSATION_ID,),
        raises=(ConversationNotFound,),
        auth="optional",
        after=True,
        name="get_conversation",
    ),
    Route(
        "PATCH",
        "/v1/conversations/{conversation_id}",
        change_conversation,
        "Rename a group or channel, or let everyone post in a channel (owner and admins)",
        "messaging",
        request=ChangeBody,
        response=ConversationResult,
        params=(_CONVERSATION_ID,),
        raises=_MEMBERSHIP,
        auth="bearer",
        name="change_conversation",
    ),
    Route(
        "POST",
        "/v1/conversations/{conversation_id}/members",
        add_members,
        "Invite people (owner and admins; lets back into a channel someone they removed)",
        "messaging",
        request=MembersBody,
        response=ConversationResult,
        params=(_CONVERSATION_ID,),
        raises=(*_MEMBERSHIP, ConversationFull),
        auth="bearer",
        name="add_members",
    ),
    Route(
        "DELETE",
        "/v1/conversations/{conversation_id}/members/{user_id}",
        remove_member,
        "Remove a member (owner; admins remove members), or leave (my own id)",
        "messaging",
        response=ConversationResult,
        params=(_CONVERSATION_ID, _USER_ID),
        raises=_MEMBERSHIP,
        auth="bearer",
        name="remove_member",
    ),
    Route(
        "PUT",
        "/v1/conversations/{conversation_id}/members/{user_id}/role",
        set_role,
        "Give a member a role (owner only; `owner` hands ownership over)",
        "messaging",
        request=RoleBody,
        response=ConversationResult,
        params=(_CONVERSATION_ID, _USER_ID),
        raises=_MEMBERSHIP,
        auth="bearer",
        name="set_role",
    ),
    Route(
        "POST",
        "/v1/conversations/{conversation_id}/join",
        join_channel,
        "Join a channel (not after its owner or admins removed me; their invitation does)",
        "messaging",
        response=ConversationResult,
        params=(_CONVERSATION_ID,),
        raises=(*_MEMBERSHIP, RemovedFromChannel),
        auth="bearer",
        name="join_channel",
    ),
    Route(
        "POST",
        "/v1/conversations/{conversation_id}/messages",
        send_message,
        "Send a message (a client-chosen `id` makes it idempotent)",
        "messaging",
        request=SendBody,
        response=MessageResult,
        status=201,
        params=(_CONVERSATION_ID,),
        raises=(
            ConversationNotFound,
            NotAllowed,
            PostingClosed,
            Blocked,
            MessageIdTaken,
            MediaNotFound,
            MediaNotReady,
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
        params=(_CONVERSATION_ID, _BEFORE, _SINCE, _LIMIT.param, CURSOR),
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
        params=(_CONVERSATION_ID, _MESSAGE_ID),
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
        params=(_CONVERSATION_ID, _MESSAGE_ID),
        raises=(ConversationNotFound, MessageNotFound, NotMessageSender),
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
        params=(_CONVERSATION_ID, _MESSAGE_ID),
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
        params=(_CONVERSATION_ID,),
        raises=(ConversationNotFound, NotAllowed),
        auth="bearer",
        after=True,
        name="mark_read",
    ),
]
