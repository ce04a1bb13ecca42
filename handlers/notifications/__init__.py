"""The notifications context: what a person marked read, and which notifications they want.

The notifications themselves are a read model (`projections/notifications.py`), made from
the other contexts' events (mentions, replies, reactions, follows); this context records
only the person's own acts on them. `TABLE` is the index of its commands.
"""

from core.bus import HandlerTable, Procedure
from handlers.notifications.commands import ChangeNotificationSettings, MarkNotificationsRead
from handlers.notifications.decide import change_settings, mark_read
from handlers.notifications.events import EVENTS

CONTEXT = "notifications"

TABLE: HandlerTable = {
    MarkNotificationsRead: Procedure(mark_read),
    ChangeNotificationSettings: Procedure(change_settings),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE"]
