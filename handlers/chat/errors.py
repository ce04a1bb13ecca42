"""Typed errors of the chat context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError


class ConversationNotFound(NotFoundError):
    """Also what a stranger meets for a conversation they may not see (never 403)."""

    code = "conversation-not-found"
    title = "No such conversation"


class MessageNotFound(NotFoundError):
    code = "message-not-found"
    title = "No such message"


class NotAllowed(ForbiddenError):
    code = "chat-not-allowed"
    title = "Only the conversation's owner or admins may do this"


class Blocked(ForbiddenError):
    code = "chat-blocked"
    title = "One of you blocked the other: no direct messages between you"


class NotMessageSender(ForbiddenError):
    code = "not-message-sender"
    title = "Only its sender may edit a message; its sender or an admin may delete it"


class PostingClosed(ForbiddenError):
    code = "channel-admins-post"
    title = "Only the channel's admins post here"


class ConversationFull(ConflictError):
    code = "conversation-full"
    title = "The conversation has as many members as it may have"


class TooManyMembers(ValidationError):
    code = "too-many-members"
    title = "More members than a group may have"


class MessageIdTaken(ConflictError):
    code = "message-exists"
    title = "A different message with this id already exists"


class BadMembership(ValidationError):
    code = "bad-membership"
    title = "This membership change is not possible"


class RemovedFromChannel(ForbiddenError):
    """Joining a channel after an owner or admin removed one; their invitation lets one
    back in."""

    code = "removed-from-channel"
    title = "An owner or admin removed you from this channel; only their invitation lets you back"
