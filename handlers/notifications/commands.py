"""Commands of the notifications context: a person marks their notifications read and
chooses which they get. The person is the command's actor, never a field."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, get_args

import msgspec

from core.commands import Command

#: What a notification is about. `message` and `moderation` come with the messaging and
#: moderation contexts; settings already accept them.
Kind = Literal["mention", "reply", "reaction", "follow", "message", "moderation"]
KINDS: tuple[str, ...] = get_args(Kind)
#: At most this many notifications are marked read by id in one command.
MAX_IDS = 200
NotificationId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class MarkNotificationsRead(Command, frozen=True):
    """`ids` empty: every notification up to the command's time."""

    context: ClassVar[str] = "notifications"
    ids: Annotated[list[NotificationId], msgspec.Meta(max_length=MAX_IDS)] = []


class ChangeNotificationSettings(Command, frozen=True):
    """None: as it was."""

    context: ClassVar[str] = "notifications"
    #: The kinds the person does not want (all others they get).
    disabled: Annotated[list[Kind], msgspec.Meta(max_length=len(KINDS))] | None = None
    #: Only notifications caused by people they follow (against harassment by strangers).
    only_following: bool | None = None
