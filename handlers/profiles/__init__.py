"""The profiles context (people): profiles, handles, follows and blocks.

`TABLE` is the index of this context: every command it answers and what carries it out.
"""

from core.bus import HandlerTable, Procedure
from handlers.profiles import procedures as p
from handlers.profiles.commands import Block, Follow, Unblock, Unfollow, UpdateProfile
from handlers.profiles.events import EVENTS

CONTEXT = "profiles"

TABLE: HandlerTable = {
    UpdateProfile: Procedure(p.update_profile),
    Follow: Procedure(p.follow),
    Unfollow: Procedure(p.unfollow),
    Block: Procedure(p.block),
    Unblock: Procedure(p.unblock),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE"]
