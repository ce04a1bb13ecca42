"""Messaging: a member's own state in a conversation beyond the read marker — muting it.

Apart from `edge.routes.chat` and `edge.routes.chat_messages` (one module per flow) but on
the same read model and the same rule: members only, anyone else meets 404 as on every other route of a
conversation they may not act in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web

from core.ids import derived_id
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, infra
from edge.routes.chat_common import CONVERSATION_ID, ConversationResult, json_response, readable
from edge.routing import Route
from handlers.chat.commands import MuteConversation, UnmuteConversation
from handlers.chat.errors import ConversationNotFound


class MuteBody(msgspec.Struct, forbid_unknown_fields=True):
    #: When the mute ends (RFC 3339 with its offset); null or absent: until unmuted. A time
    #: already past is accepted and mutes nothing (a client's clock may be behind).
    until: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


async def _member_marker(request: web.Request, user_id: str) -> tuple[str, str]:
    """The conversation's id and the member's marker id; 404 for anyone not a member (a
    channel's passer-by too: there is nothing of theirs to mute)."""
    row, role = await readable(request, await principal(request))
    if role is None:
        raise ConversationNotFound()
    return row.id, derived_id(infra(request).secret_key, "read-marker", row.id, user_id)


async def mute(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, MuteBody, max_bytes=4096)
    conversation_id, marker_id = await _member_marker(request, who.user_id)
    reply = await send_as(
        request,
        MuteConversation(marker_id=marker_id, conversation_id=conversation_id, until=body.until),
        who,
    )
    return json_response(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


async def unmute(request: web.Request) -> web.Response:
    who = await principal(request)
    conversation_id, marker_id = await _member_marker(request, who.user_id)
    reply = await send_as(
        request, UnmuteConversation(marker_id=marker_id, conversation_id=conversation_id), who
    )
    return json_response(
        200, ConversationResult(conversation_id, reply.position or ""), command_headers(reply)
    )


ROUTES = [
    Route(
        "PUT",
        "/v1/conversations/{conversation_id}/mute",
        mute,
        "Mute a conversation of mine (no message notifications), until a time or until unmuted",
        "messaging",
        request=MuteBody,
        response=ConversationResult,
        params=(CONVERSATION_ID,),
        raises=(ConversationNotFound,),
        auth="bearer",
        after=True,
        name="mute_conversation",
    ),
    Route(
        "DELETE",
        "/v1/conversations/{conversation_id}/mute",
        unmute,
        "Unmute a conversation of mine",
        "messaging",
        response=ConversationResult,
        params=(CONVERSATION_ID,),
        raises=(ConversationNotFound,),
        auth="bearer",
        after=True,
        name="unmute_conversation",
    ),
]
