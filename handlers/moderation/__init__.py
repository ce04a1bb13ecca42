"""The moderation context: reports, the cases that gather them, and what moderators do
with them.

`TABLE` is the index of this context: every command it answers and the function that
decides it. One aggregate per reported target (`decide.case_id`), and one per rule of the
server-wide word filter (`wordfilters`).
"""

from core.bus import Decider, HandlerTable
from handlers.moderation import wordfilters
from handlers.moderation.commands import (
    AddWordFilter,
    AssignCase,
    ChangeWordFilter,
    DecideAppeal,
    DecideCase,
    FileAppeal,
    FileReport,
    RemoveWordFilter,
)
from handlers.moderation.decide import (
    CASE,
    case_id,
    decide_appeal,
    decide_appeal_filing,
    decide_assign,
    decide_decision,
    decide_report,
)
from handlers.moderation.events import EVENTS

CONTEXT = "moderation"

TABLE: HandlerTable = {
    FileReport: Decider(CASE, lambda c: case_id(c.target_type, c.target_id), decide_report),
    AssignCase: Decider(CASE, lambda c: c.case_id, decide_assign),
    DecideCase: Decider(CASE, lambda c: c.case_id, decide_decision),
    FileAppeal: Decider(CASE, lambda c: c.case_id, decide_appeal_filing),
    DecideAppeal: Decider(CASE, lambda c: c.case_id, decide_appeal),
    AddWordFilter: Decider(
        wordfilters.WORD_FILTER, lambda c: c.rule_id, wordfilters.decide_add, creates=True
    ),
    ChangeWordFilter: Decider(
        wordfilters.WORD_FILTER, lambda c: c.rule_id, wordfilters.decide_change
    ),
    RemoveWordFilter: Decider(
        wordfilters.WORD_FILTER, lambda c: c.rule_id, wordfilters.decide_remove
    ),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE"]
