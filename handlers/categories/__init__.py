"""The categories context: the list of post categories, managed by admins.

`TABLE` below is the index of this context: every command it answers and the function that
decides it. One aggregate per slug (`decide.category_id`).
"""

from core.bus import Decider, HandlerTable
from handlers.categories.commands import ChangeCategory, CreateCategory, DeleteCategory
from handlers.categories.decide import (
    CATEGORY,
    category_id,
    decide_change,
    decide_create,
    decide_delete,
)
from handlers.categories.events import EVENTS

CONTEXT = "categories"

TABLE: HandlerTable = {
    CreateCategory: Decider(CATEGORY, lambda c: category_id(c.slug), decide_create, creates=True),
    ChangeCategory: Decider(CATEGORY, lambda c: category_id(c.slug), decide_change),
    DeleteCategory: Decider(CATEGORY, lambda c: category_id(c.slug), decide_delete),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE"]
