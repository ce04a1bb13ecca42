"""Messaging: conversations (direct, group, channel) and their members — starting, listing,
reading, changing, inviting, removing, roles and joining a channel.

Who may read is checked here against the `chat` read model (`edge.routes.chat_common`); the
handlers decide membership changes on the conversation's aggregate, and a channel's joins
and leaves on each person's membership aggregate. Messages, history and read markers are in
`edge.routes.chat_messages`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from aiohttp import web

from core.commands import format_position
from core.errors import FieldError, ValidationError
from core.ids import derived_id, is_uuid
from edge.auth import Principal, optional_principal, principal, send_as
from edge.authors import Author, authors
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, path_id, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.routes.chat_common import (
    CONVERSATION_ID,
    LIMIT,
    PROJECTION,
    ConversationResult,
    MessageView,
    catch_up,
    check_blocks,
    json_response,
    message_views,
    readable,
)
from edge.routes.posts import CURSOR
from edge.routing import Param, Route
from handlers.chat.commands import (
    AddMembers,
    ChangeConversation,
    JoinChannel,
    Kind,
    Name,
    RemoveMember,
    Role,
    SetRole,
    StartConversation,
    UserIds,
)
from handlers.chat.errors import (
    BadMembership,
    Blocked,
    ConversationFull,
    ConversationNotFound,
    NotAllowed,
    RemovedFromChannel,
    TooManyMembers,
)
from handlers.chat.marker import muted_now
from projections import chat as model
from projections import profiles as profiles_model


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


#: The streams the `profiles` read model is made from (`streams.yaml`).
PROFILE_STREAMS = ("ACCOUNTS", "PEOPLE")


# The body of `mark_read` (`edge.routes.chat_messages`), declared here: the OpenAPI document
# names it `edge.routes.chat.ReadBody` (its module qualifies it, as notifications have a
# `ReadBody` too), and splitting this module must not rename a schema clients generate from.
# (A comment, not a docstring: a docstring would become the schema's description.)
class ReadBody(msgspec.Struct, forbid_unknown_fields=True):
    up_to: str


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
    #: A direct conversation's other person (a direct one has no name: clients show theirs);
    #: null for groups and channels.
    peer: Author | None = None


class ConversationDetail(msgspec.Struct):
    conversation: ConversationView
    #: Members and roles (the first 200 of a large channel).
    members: dict[str, Role]
    #: Each member's read marker (the `seq` of the last message they have read; 0: none) in
    #: a direct conversation or a group of at most `QUARK_READ_RECEIPTS_MAX_MEMBERS`
    #: members, to members only; null in larger groups, in channels and to anyone else.
    read_up_to: dict[str, int] | None = None
    #: The members listed, as people (name, handle, avatar), so a client can name who is
    #: typing, who read what and whom it manages without one lookup per person.
    people: dict[str, Author] = msgspec.field(default_factory=dict)


class ConversationPage(msgspec.Struct):
    items: list[ConversationView]
    next_cursor: str | None


async def _check_people(request: web.Request, user_ids: list[str]) -> list[str]:
    """The ids, each once, if each names a person; 422 otherwise."""
    unique = list(dict.fromkeys(user_ids))
    ids = [u for u in unique if is_uuid(u)]
    pool = infra(request).pool
    known = await profiles_model.by_users(pool, ids) if ids else {}
    if len(known) < len(ids):
        # Someone who signed up a moment ago may not be in the profiles read model yet.
        await catch_up(request, "profiles", PROFILE_STREAMS)
        known = await profiles_model.by_users(pool, ids)
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
        await check_blocks(request, who.user_id, members)
        # One conversation per pair: its id is a function of the two people.
        conversation_id = derived_id(
            i.secret_key, "direct-conversation", *sorted((who.user_id, members[0]))
        )
        await wait_for_position(request, PROJECTION)
        existing = await model.get_conversation(i.pool, conversation_id)
        if existing is not None:
            # Nothing to write: the position is where the read model has the conversation.
            position = format_position(i.store.streams.stream_for("chat"), existing.last_seq)
            return json_response(
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
    return json_response(201, ConversationResult(conversation_id, reply.position or ""), headers)


async def _views(
    request: web.Request,
    rows: list[model.MineRow | tuple[model.ConversationRow, str | None]],
    reader: str | None,
) -> list[ConversationView]:
    conversations = [i.conversation if isinstance(i, model.MineRow) else i[0] for i in rows]
    last_ids = [c.last_message_id for c in conversations if c.last_message_id]
    pool = infra(request).pool
    lasts = await model.messages_by_ids(pool, last_ids)
    views = {m.id: m for m in await message_views(request, list(lasts.values()))}
    directs = [c.id for c in conversations if c.kind == "direct"]
    peers = await model.direct_peers(pool, directs, reader) if reader and directs else {}
    people = await authors(request, peers.values())
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
                people.get(peers.get(c.id, "")),
            )
        )
    return out


async def list_conversations(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    size = LIMIT.read(request)
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
    views = await _views(request, list(page), who.user_id)
    return json_response(200, ConversationPage(views, cursor))


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
    view = (await _views(request, [item], who.user_id if who else None))[0]
    members = await model.members(i.pool, row.id)
    # Receipts only where few read them: a marker per member of a large group would be a
    # write fanned out to everyone on every read.
    small = row.kind == "direct" or (
        row.kind == "group" and row.member_count <= i.settings.read_receipts_max_members
    )
    receipts = await model.read_markers(i.pool, row.id) if role is not None and small else None
    people = await authors(request, members)
    detail = ConversationDetail(view, members, receipts, people)  # type: ignore[arg-type]
    return json_response(200, detail)


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
    return json_response(
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
    return json_response(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def remove_member(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    user_id = path_id(request, "user_id", ConversationNotFound)
    reply = await send_as(
        request, RemoveMember(conversation_id=conversation_id, user_id=user_id), who
    )
    return json_response(
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
    return json_response(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def join_channel(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id = path_id(request, "conversation_id", ConversationNotFound)
    reply = await send_as(request, JoinChannel(conversation_id=conversation_id), who)
    return json_response(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


_USER_ID = Param("user_id", "path", "A member's user id", {"type": "string", "format": "uuid"})

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
        params=(LIMIT.param, CURSOR),
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
        params=(CONVERSATION_ID,),
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
        params=(CONVERSATION_ID,),
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
        params=(CONVERSATION_ID,),
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
        params=(CONVERSATION_ID, _USER_ID),
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
        params=(CONVERSATION_ID, _USER_ID),
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
        params=(CONVERSATION_ID,),
        raises=(*_MEMBERSHIP, RemovedFromChannel),
        auth="bearer",
        name="join_channel",
    ),
]
