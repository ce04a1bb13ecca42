"""Messaging: what the conversation routes (`edge.routes.chat`), the message routes
(`edge.routes.chat_messages`) and a member's own state (`edge.routes.chat_state`) share —
who may read a conversation, how a message is shown, and the shapes of their answers.

Who may read or write is checked against the `chat` read model, the way a comment's post is
checked (read-your-writes makes one's own joins and invitations visible at once). A
stranger to a private conversation meets 404, never 403.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import msgspec
from aiohttp import web

from core.errors import TimeoutWaitingError
from core.ids import is_uuid
from edge.auth import PRINCIPAL, Principal
from edge.authors import Author, authors
from edge.context import POSITIONS, infra, path_id, wait_for_position
from edge.params import IntQuery
from edge.routes.media import MediaView, media_views
from edge.routing import Param
from handlers.chat.errors import Blocked, ConversationNotFound
from projections import chat as model
from projections import follows as follows_model

PROJECTION = "chat"
#: The log stream of the chat context.
STREAM = "CHAT"
#: How long a lookup of an unknown message (or person) waits for its read model to reach the
#: log's head.
MESSAGE_WAIT_SECONDS = 2.0
MANAGERS = ("owner", "admin")
_encoder = msgspec.json.Encoder()


class ConversationResult(msgspec.Struct):
    id: str
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
    #: `visible`, or what moderators made of it: `hidden` or `removed` (its text and
    #: attachments are then withheld from everyone but its sender).
    moderation: str = "visible"


def json_response(
    status: int, value: object, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def withheld(request: web.Request, row: model.MessageRow) -> bool:
    """A message moderators hid or removed is withheld from all but its sender."""
    if row.moderation == "visible":
        return False
    who = request.get(PRINCIPAL)
    return not (isinstance(who, Principal) and who.user_id == row.sender_id)


async def message_views(request: web.Request, rows: list[model.MessageRow]) -> list[MessageView]:
    rows = [
        msgspec.structs.replace(r, body="", media_ids=[]) if withheld(request, r) else r
        for r in rows
    ]
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
            r.moderation,
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


class Standing(msgspec.Struct, frozen=True):
    """What sending a message checks, read in one round trip (`standing`)."""

    conversation: model.ConversationRow | None
    role: str | None
    vip_until: datetime | None
    #: A direct conversation whose other member blocked the sender or was blocked by them.
    blocked: bool


_STANDING = f"""
    SELECT {model.CONVERSATION_COLUMNS},
        (SELECT m.role FROM chat.members m
          WHERE m.conversation_id = k.id AND m.user_id = $2) AS role,
        (SELECT p.vip_until FROM profiles.profiles p WHERE p.user_id = $2::uuid) AS vip_until,
        c.kind = 'direct' AND EXISTS (
            SELECT 1 FROM chat.members o JOIN follows.blocks b
              ON (b.blocker = $2::uuid AND b.blocked = o.user_id::uuid)
              OR (b.blocked = $2::uuid AND b.blocker = o.user_id::uuid)
             WHERE o.conversation_id = k.id AND o.user_id <> $2) AS blocked
      FROM (SELECT $1::uuid AS id) k LEFT JOIN chat.conversations c ON c.id = k.id"""


async def standing(request: web.Request, who: Principal) -> Standing:
    """The path's conversation, the sender's role in it, their VIP end (perks) and whether a
    block stands between them and a direct conversation's other member: the chat, profiles
    and follows read models in one query, as of every write this request must see. The
    send route is the messenger's hottest path; these were five round trips."""
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    for projection in (PROJECTION, "profiles", "follows"):
        await wait_for_position(request, projection)
    r = await infra(request).pool.fetchrow(_STANDING, conversation_id, who.user_id)
    assert r is not None
    n = len(model.ConversationRow.__struct_fields__)
    values = list(r.values())
    row = model.ConversationRow(*values[:n]) if values[0] is not None else None
    return Standing(row, r["role"], r["vip_until"], bool(r["blocked"]))


async def check_blocks(request: web.Request, me: str, others: list[str]) -> None:
    await wait_for_position(request, "follows")
    if set(others) & await follows_model.block_partners(infra(request).pool, me):
        raise Blocked()


async def catch_up(request: web.Request, projection: str, streams: tuple[str, ...]) -> None:
    """Wait (bounded, `MESSAGE_WAIT_SECONDS`) for a read model to reach the heads of its
    streams: before a miss counts, when the client may know of something written a moment
    ago by someone else (read-your-writes covers only one's own writes)."""
    i = infra(request)
    for stream in streams:
        head = (await i.nc.jetstream().stream_info(stream)).state.last_seq
        with contextlib.suppress(TimeoutWaitingError):
            await request.app[POSITIONS].wait(projection, stream, head, MESSAGE_WAIT_SECONDS)


async def lookup_message(request: web.Request, message_id: str) -> model.MessageRow | None:
    """The message, also when the client learnt of it a moment ago from the live channel:
    live items come from another read model, which may be ahead of this one. A miss waits
    (bounded) for this read model to reach the log's head once before it counts."""
    if not is_uuid(message_id):
        return None
    i = infra(request)
    message = await model.get_message(i.pool, message_id)
    if message is None:
        await catch_up(request, PROJECTION, (STREAM,))
        message = await model.get_message(i.pool, message_id)
    return message


CONVERSATION_ID = Param(
    "conversation_id", "path", "Conversation id", {"type": "string", "format": "uuid"}
)

LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=20)
