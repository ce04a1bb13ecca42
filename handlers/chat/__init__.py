"""The chat context: conversations (direct, group, channel), their members and roles, and
their messages.

`TABLE` below is the index of this context: every command it answers and the function that
decides it.
"""

from core.bus import Decider, HandlerTable, Procedure
from handlers.chat import channels, conversation, marker, message
from handlers.chat.commands import (
    AddMembers,
    ChangeConversation,
    DeleteMessage,
    EditMessage,
    JoinChannel,
    MarkRead,
    MuteConversation,
    RemoveMember,
    SendMessage,
    SetRole,
    StartConversation,
    UnmuteConversation,
)
from handlers.chat.events import EVENTS
from handlers.chat.moderation import background

CONTEXT = "chat"


def _conversation(c: StartConversation) -> str:
    return c.conversation_id


def _message(c: SendMessage) -> str:
    return c.message_id


_C = conversation.CONVERSATION
_M = message.MESSAGE

TABLE: HandlerTable = {
    StartConversation: Decider(_C, _conversation, conversation.decide_start, creates=True),
    ChangeConversation: Decider(_C, lambda c: c.conversation_id, conversation.decide_change),
    # A channel's members each have a membership aggregate (`membership.py`): these read the
    # conversation and write there, so joins and leaves never contend (`channels.py`).
    AddMembers: Procedure(channels.add_members),
    RemoveMember: Procedure(channels.remove_member),
    JoinChannel: Procedure(channels.join_channel),
    SetRole: Procedure(channels.set_role),
    SendMessage: Decider(_M, _message, message.decide_send, creates=True),
    EditMessage: Decider(_M, lambda c: c.message_id, message.decide_edit),
    DeleteMessage: Decider(_M, lambda c: c.message_id, message.decide_delete),
    MarkRead: Decider(marker.MARKER, lambda c: c.marker_id, marker.decide_mark),
    MuteConversation: Decider(marker.MARKER, lambda c: c.marker_id, marker.decide_mute),
    UnmuteConversation: Decider(marker.MARKER, lambda c: c.marker_id, marker.decide_unmute),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE", "background"]
