"""What a decision returns when it must record a failure as well as refuse: a wrong code
counts as an attempt, so the events are committed *and then* the error is raised. Shared by
the aggregates of the accounts context (`verification.py`, `account.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import QuarkError
from core.registry import Event


@dataclass
class Verdict:
    """Events to commit, then (optionally) an error to answer with."""

    events: list[Event] = field(default_factory=list)
    error: QuarkError | None = None
