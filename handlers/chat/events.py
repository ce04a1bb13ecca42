"""Events of the chat context (past tense; schema 1)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class ConversationStarted(Event, frozen=True):
    """`members` maps each first member to a role (the creator is `owner` of a group or
    channel; both people of a direct conversation are `member`)."""

    name: ClassVar[str] = "chat.ConversationStarted"
    conversation_id: str
    kind: str
    started_by: str
    members: dict[str, str]
    started_at: datetime
    title: str | None = None
    everyone_posts: bool = False
    max_members: int = 0


class ConversationChanged(Event, frozen=True):
    """Only what changed (None: as it was)."""

    name: ClassVar[str] = "chat.ConversationChanged"
    conversation_id: str
    changed_by: str
    at: datetime
    title: str | None = None
    everyone_posts: bool | None = None


class MembersAdded(Event, frozen=True):
    """`by` is the inviter, or the person themself for a channel join."""

    name: ClassVar[str] = "chat.MembersAdded"
    conversation_id: str
    members: list[str]
    by: str
    at: datetime


class MemberRemoved(Event, frozen=True):
    """`by == user_id` when the person left."""

    name: ClassVar[str] = "chat.MemberRemoved"
    conversation_id: str
    user_id: str
    by: str
    at: datetime


class RoleChanged(Event, frozen=True):
    name: ClassVar[str] = "chat.RoleChanged"
    conversation_id: str
    user_id: str
    role: str
    by: str
    at: datetime


class MessageSent(Event, frozen=True):
    """The message's place in its conversation is this commit's position (the
    conversations projection assigns it)."""

    name: ClassVar[str] = "chat.MessageSent"
    message_id: str
    conversation_id: str
    sender_id: str
    body: str
    sent_at: datetime
    reply_to: str | None = None
    media_ids: list[str] = []
    mentions: list[str] | None = None
    #: Whose each handle of `mentions` was when sent (the notifications read model notifies
    #: them from it, so a replay notifies the same people); None in events from before.
    mention_owners: dict[str, str] | None = None


class MessageEdited(Event, frozen=True):
    name: ClassVar[str] = "chat.MessageEdited"
    message_id: str
    conversation_id: str
    body: str
    edited_at: datetime
    mentions: list[str] | None = None
    #: As in `MessageSent`.
    mention_owners: dict[str, str] | None = None


class MessageDeleted(Event, frozen=True):
    """A tombstone: the message keeps its place, its text goes."""

    name: ClassVar[str] = "chat.MessageDeleted"
    message_id: str
    conversation_id: str
    deleted_by: str
    deleted_at: datetime


class MessageModerated(Event, frozen=True):
    """A moderator's decision (or hiding pending review) carried out on a message: `hidden`
    and `removed` keep its place and withhold its text from everyone but its sender;
    `visible` shows it again."""

    name: ClassVar[str] = "chat.MessageModerated"
    message_id: str
    conversation_id: str
    state: str
    by: str
    reason: str
    at: datetime


class ConversationRead(Event, frozen=True):
    """The reader has read everything up to `message_id` (at `seq`) in the conversation."""

    name: ClassVar[str] = "chat.ConversationRead"
    conversation_id: str
    user_id: str
    message_id: str
    seq: int
    at: datetime


class ConversationMuted(Event, frozen=True):
    """The person wants no message notifications from the conversation until `until`
    (None: until they unmute it). A time already past mutes nothing: mutes are judged
    against each message's time, never rewritten when they end."""

    name: ClassVar[str] = "chat.ConversationMuted"
    conversation_id: str
    user_id: str
    until: datetime | None
    at: datetime


class ConversationUnmuted(Event, frozen=True):
    name: ClassVar[str] = "chat.ConversationUnmuted"
    conversation_id: str
    user_id: str
    at: datetime


EVENTS = (
    ConversationStarted,
    ConversationChanged,
    MembersAdded,
    MemberRemoved,
    RoleChanged,
    MessageSent,
    MessageEdited,
    MessageDeleted,
    MessageModerated,
    ConversationRead,
    ConversationMuted,
    ConversationUnmuted,
)
