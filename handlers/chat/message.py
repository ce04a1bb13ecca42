"""The message aggregate (`chat.message`, one per message): pure `evolve` and `decide`.

Every message is its own aggregate, created with expected sequence 0 and named by the
client's id (or one derived from its `Idempotency-Key`): a thousand people writing in one
channel at once are a thousand independent first appends with no conflict, and a resend
with the same id finds the message there and appends nothing. Each event carries the
conversation's id; the conversation's order is the commit position of each `MessageSent`.
"""

from __future__ import annotations

import msgspec

from core.commands import CommandMeta
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.chat.commands import DeleteMessage, EditMessage, SendMessage
from handlers.chat.errors import MessageIdTaken, MessageNotFound, NotMessageSender
from handlers.chat.events import MessageDeleted, MessageEdited, MessageModerated, MessageSent


class MessageState(msgspec.Struct, frozen=True):
    exists: bool = False
    deleted: bool = False
    conversation_id: str = ""
    sender_id: str = ""
    body: str = ""
    reply_to: str | None = None
    media_ids: tuple[str, ...] = ()
    #: `visible`, or what moderators made of it (`hidden`, `removed`).
    moderation: str = "visible"


def evolve(state: MessageState, event: Event) -> MessageState:
    match event:
        case MessageSent():
            return MessageState(
                True,
                False,
                event.conversation_id,
                event.sender_id,
                event.body,
                event.reply_to,
                tuple(event.media_ids),
            )
        case MessageEdited():
            return msgspec.structs.replace(state, body=event.body)
        case MessageDeleted():
            return msgspec.structs.replace(state, deleted=True, body="")
        case MessageModerated():
            return msgspec.structs.replace(state, moderation=event.state)
        case _:
            return state


MESSAGE = AggregateKind(type="chat.message", initial=MessageState, evolve=evolve)


def decide_send(state: MessageState, command: SendMessage, meta: CommandMeta) -> list[Event]:
    if not meta.actor:
        raise NotMessageSender("a message needs a sender")
    if state.exists:
        same = (
            state.sender_id,
            state.conversation_id,
            state.body,
            state.reply_to,
            state.media_ids,
        ) == (
            meta.actor,
            command.conversation_id,
            command.body,
            command.reply_to,
            tuple(command.media_ids),
        )
        if same or (state.deleted and state.sender_id == meta.actor):
            return []
        raise MessageIdTaken()
    return [
        MessageSent(
            message_id=command.message_id,
            conversation_id=command.conversation_id,
            sender_id=meta.actor,
            body=command.body,
            sent_at=meta.received_at,
            reply_to=command.reply_to,
            media_ids=list(command.media_ids),
            mentions=command.mentions,
            mention_owners=command.mention_owners,
        )
    ]


def _live(state: MessageState) -> None:
    if not state.exists or state.deleted:
        raise MessageNotFound()


def decide_edit(state: MessageState, command: EditMessage, meta: CommandMeta) -> list[Event]:
    _live(state)
    if meta.actor != state.sender_id:
        raise NotMessageSender()
    if command.body == state.body:
        return []
    return [
        MessageEdited(
            message_id=command.message_id,
            conversation_id=state.conversation_id,
            body=command.body,
            edited_at=meta.received_at,
            mentions=command.mentions,
            mention_owners=command.mention_owners,
        )
    ]


def decide_delete(state: MessageState, command: DeleteMessage, meta: CommandMeta) -> list[Event]:
    _live(state)
    if meta.actor != state.sender_id and not command.as_admin:
        raise NotMessageSender()
    return [
        MessageDeleted(
            message_id=command.message_id,
            conversation_id=state.conversation_id,
            deleted_by=meta.actor or "",
            deleted_at=meta.received_at,
        )
    ]
