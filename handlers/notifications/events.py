"""Events of the notifications context (past tense; schema 1 unless an upcaster says otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class NotificationsRead(Event, frozen=True):
    """`ids` empty: every notification of `user_id` up to `at` is read."""

    name: ClassVar[str] = "notifications.NotificationsRead"
    user_id: str
    ids: list[str]
    at: datetime


class NotificationSettingsChanged(Event, frozen=True):
    name: ClassVar[str] = "notifications.NotificationSettingsChanged"
    user_id: str
    disabled: list[str]
    only_following: bool
    at: datetime


EVENTS = (NotificationsRead, NotificationSettingsChanged)
