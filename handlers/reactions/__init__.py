"""The reactions context: a person's reactions (like, love, …) on posts and comments.

`TABLE` below is the index of this context: every command it answers and what carries it
out. Whether the target exists and is visible to the person is the edge's check against the
read models before it sends the command: the aggregate of one person's reaction cannot see
the post's aggregate, and a reaction left on a post deleted meanwhile is harmless (reads of
a deleted post's reactions answer 404).
"""

from core.bus import HandlerTable, Procedure
from handlers.reactions import procedures as p
from handlers.reactions.commands import React, Unreact
from handlers.reactions.events import EVENTS

CONTEXT = "reactions"

TABLE: HandlerTable = {
    React: Procedure(p.react),
    Unreact: Procedure(p.unreact),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE"]
