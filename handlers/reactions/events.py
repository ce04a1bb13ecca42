"""Events of the reactions context (past tense; schema 1 unless an upcaster says otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class ReactionAdded(Event, frozen=True):
    name: ClassVar[str] = "reactions.ReactionAdded"
    target_type: str
    target_id: str
    user_id: str
    kind: str
    at: datetime


class ReactionRemoved(Event, frozen=True):
    name: ClassVar[str] = "reactions.ReactionRemoved"
    target_type: str
    target_id: str
    user_id: str
    kind: str
    at: datetime


EVENTS = (ReactionAdded, ReactionRemoved)
