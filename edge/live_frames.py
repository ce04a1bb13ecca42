"""The live channel's frames (docs/websocket.md lists them all): what a client may send, as
one tagged union decoded by one typed decoder, and what the server sends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from edge.params import INT64_MAX

#: Largest frame a client may send; a larger one is closed with 1009 by aiohttp. A `send`
#: carries a message of up to 20,000 characters (a VIP's), up to 4 bytes each in UTF-8.
MAX_CLIENT_FRAME = 96 * 1024

Cursor = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
#: The client's name for a request frame, echoed in its `result`.
Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
#: Checked again by the route the frame goes to (its own limits, per person).
Text = Annotated[str, msgspec.Meta(max_length=MAX_CLIENT_FRAME)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


# --- client frames ------------------------------------------------------------------------


class Auth(msgspec.Struct, tag="auth", forbid_unknown_fields=True, frozen=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CLIENT_FRAME)]
    cursor: Cursor | None = None


class Ping(msgspec.Struct, tag="ping", forbid_unknown_fields=True, frozen=True):
    pass


class Send(msgspec.Struct, tag="send", forbid_unknown_fields=True, frozen=True):
    """`POST /v1/conversations/{conversation_id}/messages`, answered by a `result`."""

    ref: Ref
    conversation_id: Id
    body: Text
    id: Id | None = None
    reply_to: Id | None = None
    media_ids: Annotated[list[Id], msgspec.Meta(max_length=10)] = []


class Read(msgspec.Struct, tag="read", forbid_unknown_fields=True, frozen=True):
    """`POST /v1/conversations/{conversation_id}/read`, answered by a `result`."""

    ref: Ref
    conversation_id: Id
    up_to: Id


class Typing(msgspec.Struct, tag="typing", forbid_unknown_fields=True, frozen=True):
    """The person is typing in a conversation: shown to its other members for a few seconds,
    never stored, never answered."""

    conversation_id: Id


ClientFrame = Auth | Ping | Send | Read | Typing
decode_frame = msgspec.json.Decoder(ClientFrame)


class Envelope(msgspec.Struct):
    """Just enough of a frame to tell an unknown type from a malformed frame."""

    type: str


decode_envelope = msgspec.json.Decoder(Envelope)


# --- server frames ------------------------------------------------------------------------


class Ready(msgspec.Struct, tag="ready", frozen=True):
    user_id: str
    session_id: str
    cursor: int


class Item(msgspec.Struct, tag="item", frozen=True):
    cursor: int
    item: msgspec.Raw


class Reset(msgspec.Struct, tag="reset", frozen=True):
    reason: str
    cursor: int


class Pong(msgspec.Struct, tag="pong", frozen=True):
    pass


class Error(msgspec.Struct, tag="error", frozen=True):
    code: str
    detail: str


class Result(msgspec.Struct, tag="result", frozen=True):
    """The answer to a request frame: the HTTP route's status and body, exactly; for a sent
    message also the cursor of its item (null when it did not arrive in time)."""

    ref: str
    status: int
    body: msgspec.Raw
    cursor: int | None = None


class TypingSignal(msgspec.Struct, tag="typing", frozen=True):
    conversation_id: str
    user_id: str


class PresenceSignal(msgspec.Struct, tag="presence", frozen=True):
    user_id: str
    online: bool
    last_seen: datetime | None


ServerFrame = Ready | Item | Reset | Pong | Error | Result | TypingSignal | PresenceSignal
encoder = msgspec.json.Encoder()
