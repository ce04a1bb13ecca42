"""The word filter's rules: one aggregate per rule (`moderation.word_filter`), pure `evolve`
and `decide`, no I/O and no clock.

A rule is an admin's decision like any other: added, changed and removed by events that
name the admin, so the list has a history and the edge's compiled filter is a read model
(`projections.word_filters`) that a replay rebuilds. One aggregate per rule (not one list):
two admins editing two rules never conflict, and the rule's id is its subject.

Rules are checked here, where every sender's commands pass: a pattern is text (never a
regular expression) of at most 200 characters that keeps a letter or a digit once folded
(`core.wordfilter.letters_of`: "..." or "--" would match nothing, or everything), and its
contexts are each named once. Only admins (`moderation.rules`) manage rules: a rule screens
every person's writes.
"""

from __future__ import annotations

import msgspec

from core.commands import CommandMeta
from core.errors import FieldError
from core.eventstore import AggregateKind
from core.permissions import require
from core.registry import Event
from core.wordfilter import letters_of
from handlers.moderation.commands import AddWordFilter, ChangeWordFilter, RemoveWordFilter
from handlers.moderation.errors import BadWordFilter, WordFilterExists, WordFilterNotFound
from handlers.moderation.events import WordFilterAdded, WordFilterChanged, WordFilterRemoved

#: Who may add, change and remove rules (`core.permissions`).
MANAGE_RULES = "moderation.rules"


class RuleState(msgspec.Struct, frozen=True):
    exists: bool = False
    removed: bool = False
    pattern: str = ""
    whole_word: bool = False
    action: str = ""
    contexts: tuple[str, ...] = ()
    note: str | None = None


def evolve(state: RuleState, event: Event) -> RuleState:
    match event:
        case WordFilterAdded():
            return RuleState(
                exists=True,
                pattern=event.pattern,
                whole_word=event.whole_word,
                action=event.action,
                contexts=tuple(event.contexts),
                note=event.note,
            )
        case WordFilterChanged():
            # Only what changed is set; a note of "" was removed.
            changed: dict[str, object] = {
                field: value
                for field in ("pattern", "whole_word", "action")
                if (value := getattr(event, field)) is not None
            }
            if event.contexts is not None:
                changed["contexts"] = tuple(event.contexts)
            if event.note is not None:
                changed["note"] = event.note or None
            return msgspec.structs.replace(state, **changed)
        case WordFilterRemoved():
            return msgspec.structs.replace(state, removed=True)
        case _:
            return state


WORD_FILTER = AggregateKind(
    type="moderation.word_filter",
    initial=RuleState,
    evolve=evolve,
    state_type=RuleState,
    snapshot_every=100,
)


def check_rule(pattern: str | None, contexts: list[str] | None) -> None:
    """Refuse a pattern that folds to nothing and a context named twice (422
    `bad-word-filter`, naming the field)."""
    errors = []
    if pattern is not None:
        try:
            letters_of(pattern)
        except ValueError:
            errors.append(FieldError("pattern", "needs a letter or a digit"))
    if contexts is not None and len(set(contexts)) != len(contexts):
        errors.append(FieldError("contexts", "each context once"))
    if errors:
        raise BadWordFilter(errors[0].message, errors=errors)


def _live(state: RuleState) -> None:
    if not state.exists or state.removed:
        raise WordFilterNotFound()


def decide_add(state: RuleState, command: AddWordFilter, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MANAGE_RULES)
    if state.exists:
        raise WordFilterExists()
    check_rule(command.pattern, list(command.contexts))
    return [
        WordFilterAdded(
            rule_id=command.rule_id,
            pattern=command.pattern,
            whole_word=command.whole_word,
            action=command.action,
            contexts=list(command.contexts),
            note=command.note or None,
            at=meta.received_at,
            by=meta.actor or "",
        )
    ]


def decide_change(state: RuleState, command: ChangeWordFilter, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MANAGE_RULES)
    _live(state)
    contexts = None if command.contexts is None else list(command.contexts)
    check_rule(command.pattern, contexts)
    changed: dict[str, object] = {
        field: new
        for field in ("pattern", "whole_word", "action")
        if (new := getattr(command, field)) is not None and new != getattr(state, field)
    }
    if contexts is not None and tuple(contexts) != state.contexts:
        changed["contexts"] = contexts
    if command.note is not None and (command.note or None) != state.note:
        changed["note"] = command.note
    if not changed:
        return []  # nothing changes: no event, the reply carries the current position
    return [
        WordFilterChanged(
            rule_id=command.rule_id,
            at=meta.received_at,
            by=meta.actor or "",
            **changed,  # type: ignore[arg-type]
        )
    ]


def decide_remove(state: RuleState, command: RemoveWordFilter, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MANAGE_RULES)
    _live(state)
    return [WordFilterRemoved(rule_id=command.rule_id, at=meta.received_at, by=meta.actor or "")]
