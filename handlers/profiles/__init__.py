"""The profiles context (people): profiles and handles.

`TABLE` is the index of this context: every command it answers and what carries it out.
"""

from core.bus import HandlerTable, Procedure
from handlers.profiles.commands import UpdateProfile
from handlers.profiles.events import EVENTS
from handlers.profiles.procedures import update_profile

CONTEXT = "profiles"

TABLE: HandlerTable = {
    UpdateProfile: Procedure(update_profile),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE"]
