"""One aggregate per person (its id: the person's): their notification settings and the
record of what they marked read. Pure functions, no I/O; the procedures below run them
for the command's actor, so nobody acts on someone else's notifications."""

from __future__ import annotations

import msgspec

from core.bus import transact
from core.commands import CommandMeta, CommandReply
from core.errors import UnauthorizedError
from core.eventstore import AggregateKind
from core.ids import is_uuid
from core.registry import Event
from handlers.notifications.commands import ChangeNotificationSettings, MarkNotificationsRead
from handlers.notifications.events import NotificationSettingsChanged, NotificationsRead


class NotificationState(msgspec.Struct, frozen=True):
    disabled: tuple[str, ...] = ()
    only_following: bool = False


def evolve(state: NotificationState, event: Event) -> NotificationState:
    match event:
        case NotificationSettingsChanged():
            return NotificationState(tuple(event.disabled), event.only_following)
        case _:
            return state


PERSON = AggregateKind(type="notifications.person", initial=NotificationState, evolve=evolve)


def decide_read(
    state: NotificationState, command: MarkNotificationsRead, meta: CommandMeta
) -> list[Event]:
    return [
        NotificationsRead(
            user_id=meta.actor or "", ids=list(dict.fromkeys(command.ids)), at=meta.received_at
        )
    ]


def decide_settings(
    state: NotificationState, command: ChangeNotificationSettings, meta: CommandMeta
) -> list[Event]:
    disabled = (
        tuple(sorted(set(command.disabled))) if command.disabled is not None else state.disabled
    )
    only = state.only_following if command.only_following is None else command.only_following
    if (disabled, only) == (state.disabled, state.only_following):
        return []
    return [
        NotificationSettingsChanged(
            user_id=meta.actor or "",
            disabled=list(disabled),
            only_following=only,
            at=meta.received_at,
        )
    ]


def _person(meta: CommandMeta) -> str:
    if not is_uuid(meta.actor or ""):
        raise UnauthorizedError("sign in first")
    return meta.actor or ""


async def mark_read(
    infra: object, command: MarkNotificationsRead, meta: CommandMeta
) -> CommandReply:
    outcome = await transact(
        infra.store,  # type: ignore[attr-defined]
        PERSON,
        _person(meta),
        lambda state: decide_read(state, command, meta),
        meta,
    )
    return CommandReply(ok=True, position=outcome.position)


async def change_settings(
    infra: object, command: ChangeNotificationSettings, meta: CommandMeta
) -> CommandReply:
    outcome = await transact(
        infra.store,  # type: ignore[attr-defined]
        PERSON,
        _person(meta),
        lambda state: decide_settings(state, command, meta),
        meta,
    )
    return CommandReply(ok=True, position=outcome.position)
