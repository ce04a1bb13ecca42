"""Screening a write with the server-wide word filter: which rules its texts break and what
becomes of it. Pure — the compiled rules of one context (`core.wordfilter.WordFilter`) and
the texts of one write in, a `Verdict` out — so the edge that carries it out holds no rule
of its own, and every case is a unit test.

**Precedence.** `block` > `hold` > `flag` > `censor`: one blocking match refuses the write
whatever else matched; a held write is reported anyway, so a `flag` match beside a `hold`
adds nothing; `censor` is applied to whatever is written (held or flagged text is stored
censored too).

**Per context** an action does what it says where it can, and otherwise the nearest thing:

- posts and comments: all four;
- messages: `hold` acts as `flag` — a chat message is a live conversation, nobody can wait
  for it unseen, so it is delivered and reported;
- profiles: `hold` acts as `block` — a profile has no state in which only its owner sees
  it (its name is on everything its owner does), so it is refused;
- a field that cannot hold an asterisk (a handle, `fixed`): `censor` acts as `block`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from core.wordfilter import WordFilter, censor
from handlers.moderation.commands import REPORT_COMMENT_MAX

#: Strongest first.
PRECEDENCE: tuple[str, ...] = ("block", "hold", "flag", "censor")
#: What an action does in a context where it cannot do what it says (see the module).
INSTEAD: dict[tuple[str, str], str] = {
    ("messages", "hold"): "flag",
    ("profiles", "hold"): "block",
}


def carried_out(context: str, action: str, *, fixed: bool = False) -> str:
    """What `action` does in `context` (in a `fixed` field, censoring is impossible)."""
    if fixed and action == "censor":
        return "block"
    return INSTEAD.get((context, action), action)


@dataclass(frozen=True)
class Hit:
    """One rule matched in one field: the span is the field's own text (as written)."""

    rule_id: str
    #: The action as carried out in this context (`carried_out`), not always the rule's.
    action: str
    field: str
    start: int
    end: int
    matched: str

    def describe(self) -> str:
        return f"rule {self.rule_id} ({self.action}) matched {self.matched!r} in {self.field}"


@dataclass(frozen=True)
class Verdict:
    """What to do with a write. `texts` is what to write: the given texts with every
    `censor` match replaced by asterisks (the same texts when none matched)."""

    texts: dict[str, str | None]
    #: Every match, strongest action first, then by field and place.
    hits: tuple[Hit, ...] = ()

    @property
    def action(self) -> str | None:
        """The strongest action of the matches (None: nothing matched)."""
        return self.hits[0].action if self.hits else None

    def first(self, action: str) -> Hit | None:
        return next((h for h in self.hits if h.action == action), None)

    @property
    def blocked(self) -> Hit | None:
        return self.first("block")

    @property
    def held(self) -> bool:
        return self.action == "hold"

    @property
    def reported(self) -> tuple[Hit, ...]:
        """The matches a report by the system names (hold or flag; none when blocked)."""
        if self.blocked is not None:
            return ()
        return tuple(h for h in self.hits if h.action in ("hold", "flag"))

    def report_comment(self) -> str:
        """The report's comment: the rules that matched and where, within the limit."""
        text = "word filter: " + "; ".join(h.describe() for h in self.reported)
        return text if len(text) <= REPORT_COMMENT_MAX else text[: REPORT_COMMENT_MAX - 1] + "…"


def screen(
    rules: WordFilter | None,
    context: str,
    texts: Mapping[str, str | None],
    *,
    fixed: Collection[str] = (),
) -> Verdict:
    """Screen the `texts` of one write (field → text; None: not written) in `context` with
    `rules` (the compiled rules of that context; None or empty: nothing to screen)."""
    given = dict(texts)
    if rules is None or not rules.rules:
        return Verdict(given)
    hits: list[Hit] = []
    censored = dict(given)
    for field, text in given.items():
        if not text:
            continue
        spans = []
        for match in rules.matches(text):
            action = carried_out(context, match.rule.action, fixed=field in fixed)
            hits.append(
                Hit(
                    match.rule.id,
                    action,
                    field,
                    match.start,
                    match.end,
                    text[match.start : match.end],
                )
            )
            if action == "censor":
                spans.append((match.start, match.end))
        if spans:
            censored[field] = censor(text, spans)
    fields = list(given)
    hits.sort(key=lambda h: (PRECEDENCE.index(h.action), fields.index(h.field), h.start, h.end))
    return Verdict(censored, tuple(hits))
