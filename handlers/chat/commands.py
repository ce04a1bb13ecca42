"""Commands of the chat context. Limits live here so the edge's validation, the OpenAPI
document and the handler agree on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec

from core.commands import Command
from core.text import MULTILINE, ONE_LINE

NAME_MAX = 100
#: The longest message anyone may send (VIP); `core.perks` sets each person's own limit.
BODY_MAX = 20_000
MEDIA_MAX = 10
#: People named in one create or invite.
INVITE_MAX = 100

Kind = Literal["direct", "group", "channel"]
Role = Literal["owner", "admin", "member"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=ONE_LINE)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=BODY_MAX, pattern=MULTILINE)]
MediaIds = Annotated[list[str], msgspec.Meta(max_length=MEDIA_MAX)]
UserIds = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=36)]], msgspec.Meta(max_length=INVITE_MAX)
]
Mentions = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=50)]


class StartConversation(Command, frozen=True):
    """`max_members` is filled in by the edge from `QUARK_GROUP_MAX_MEMBERS`: the aggregate
    keeps it, so a later invite is judged by the limit the group was made with."""

    context: ClassVar[str] = "chat"
    conversation_id: str
    kind: Kind
    members: UserIds = []
    name: Name | None = None
    everyone_posts: bool = False
    max_members: int = 0


class ChangeConversation(Command, frozen=True):
    context: ClassVar[str] = "chat"
    conversation_id: str
    name: Name | None = None
    everyone_posts: bool | None = None


class AddMembers(Command, frozen=True):
    context: ClassVar[str] = "chat"
    conversation_id: str
    members: UserIds


class RemoveMember(Command, frozen=True):
    """Removing oneself is leaving."""

    context: ClassVar[str] = "chat"
    conversation_id: str
    user_id: str


class JoinChannel(Command, frozen=True):
    context: ClassVar[str] = "chat"
    conversation_id: str


class SetRole(Command, frozen=True):
    """`owner` transfers ownership (the owner becomes an admin)."""

    context: ClassVar[str] = "chat"
    conversation_id: str
    user_id: str
    role: Role


class SendMessage(Command, frozen=True):
    """Checked by the edge against the conversations read model (the sender belongs, may
    post, is not blocked) the way a comment's post is checked: the message is its own
    aggregate, so a busy conversation is many independent first appends, never a queue of
    conflicts on one subject."""

    context: ClassVar[str] = "chat"
    message_id: str
    conversation_id: str
    body: Body
    reply_to: str | None = None
    media_ids: MediaIds = []
    mentions: Mentions | None = None
    mention_owners: dict[str, str] | None = None


class EditMessage(Command, frozen=True):
    context: ClassVar[str] = "chat"
    message_id: str
    body: Body
    mentions: Mentions | None = None
    mention_owners: dict[str, str] | None = None


class DeleteMessage(Command, frozen=True):
    """`as_admin` is set by the edge when the deleter is an owner or admin of the
    message's conversation (checked in the read model)."""

    context: ClassVar[str] = "chat"
    message_id: str
    as_admin: bool = False


class MarkRead(Command, frozen=True):
    """Move the reader's marker in a conversation up to a message; `seq` (its place) is
    filled in by the edge from the read model. A marker only moves forward."""

    context: ClassVar[str] = "chat"
    marker_id: str
    conversation_id: str
    message_id: str
    seq: int


class MuteConversation(Command, frozen=True):
    """Mute on the reader's marker aggregate (`marker_id` as for `MarkRead`): muting is
    one person's view of one conversation, like their read marker. `until` None: until
    unmuted."""

    context: ClassVar[str] = "chat"
    marker_id: str
    conversation_id: str
    until: datetime | None = None


class UnmuteConversation(Command, frozen=True):
    context: ClassVar[str] = "chat"
    marker_id: str
    conversation_id: str
