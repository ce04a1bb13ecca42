"""The server-wide word filter's matching: Unicode-aware and hard to dodge with the usual
tricks: case, the Russian letter yo written for ye, Latin letters that look Cyrillic (and
back), and separators inside a word (`s.p.a.m`, `s p a m`, `sp-am`, zero-width characters).

Both a rule's pattern and the text are folded to one *skeleton*: NFKC, case-folded, yo to
ye, and each look-alike pair mapped to one letter (`LOOKALIKES`). A rule then matches its
skeleton with up to `MAX_GAP` separators (anything that is not a letter or digit) between
any two of its letters; a whole-word rule also needs no letter or digit right before and
after. The skeleton keeps one character per character of the text (the folds here never
change lengths; what would, like sharp s to "ss", is left as it is), so a match's span is
the original text's span, which `censor` replaces with asterisks.

Matching is one pass of an Aho-Corasick automaton (pyahocorasick) over the text's letters
and digits alone, whatever the number of rules; each hit is then checked against the gaps
that were dropped (at most `MAX_GAP` separators inside a word; none for a word boundary).
One regular expression of 1,000 alternatives took a second per post.

Why our own folding: Unicode's confusables skeleton (TR39) maps every script onto Latin and would
fold far more than the Russian and English this filter is for; the pairs that matter for
evasion here are a short table anyone can read and extend. Patterns are escaped: a rule is
text, never a regular expression an admin could make catastrophic.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

#: Letters that look alike in Latin and Cyrillic, each pair folded to the Cyrillic one, and
#: digits that stand for letters. Applied after case folding.
LOOKALIKES: dict[str, str] = {
    "a": "\u0430",  # Cyrillic a
    "b": "\u0432",  # ve (as in upper case B)
    "c": "\u0441",  # es
    "e": "\u0435",  # ie
    "\u0451": "\u0435",  # yo -> ie
    "h": "\u043d",  # en (as in upper case H)
    "k": "\u043a",  # ka
    "m": "\u043c",  # em
    "o": "\u043e",  # o
    "p": "\u0440",  # er
    "t": "\u0442",  # te
    "x": "\u0445",  # ha
    "y": "\u0443",  # u
    "0": "\u043e",  # the digit zero for o
    "3": "\u0437",  # the digit three for ze
}
#: Separators tolerated between two letters of a word ("s . p a m" has gaps of 3).
MAX_GAP = 3
#: Zero-width characters are dropped before matching (they are neither letters nor gaps).
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


@functools.lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """One character's skeleton: the same length (one character), or the character itself
    when its fold would be longer."""
    folded = unicodedata.normalize("NFKC", ch).casefold()
    if len(folded) != 1:
        return ch.lower() if len(ch.lower()) == 1 else ch
    return LOOKALIKES.get(folded, folded)


def skeleton(text: str) -> str:
    """`text` folded character by character (`fold_char`): as long as `text`."""
    return "".join(map(fold_char, text))


def letters_of(pattern: str) -> str:
    """What a rule matches: its skeleton's letters and digits (separators in a pattern are
    gaps, as in a text; regular-expression syntax is nothing but separators)."""
    letters = "".join(ch for ch in skeleton(pattern) if ch.isalnum())
    if not letters:
        raise ValueError("a rule needs at least one letter or digit")
    return letters


@dataclass(frozen=True)
class Rule:
    """One filter rule. `action` and `contexts` are the moderation context's business;
    matching reads `pattern` and `whole_word` only."""

    id: str
    pattern: str
    whole_word: bool
    action: str = "block"
    contexts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Match:
    rule: Rule
    #: The span in the original text, from the first letter to the last.
    start: int
    end: int


class WordFilter:
    """Rules compiled into one automaton; `matches` says which rules a text breaks and
    where."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: list[Rule] = list(rules)
        by_letters: dict[str, list[int]] = {}
        for n, rule in enumerate(self.rules):
            by_letters.setdefault(letters_of(rule.pattern), []).append(n)
        self._automaton: Any = None
        if by_letters:
            automaton = ahocorasick.Automaton()
            for letters, ids in by_letters.items():
                automaton.add_word(letters, (len(letters), tuple(ids)))
            automaton.make_automaton()
            self._automaton = automaton

    def matches(self, text: str) -> list[Match]:
        """Every match (overlapping ones too), by where they start; spans are `text`'s own."""
        if self._automaton is None or not text:
            return []
        folded = skeleton(text)
        where: list[int] = []  # the text index of each letter or digit
        gaps: list[int] = []  # separators (visible ones) just before each of them
        gap = 0
        for i, ch in enumerate(folded):
            if ch.isalnum():
                where.append(i)
                gaps.append(gap)
                gap = 0
            elif ch not in _INVISIBLE:
                gap += 1
        letters = "".join(folded[i] for i in where)
        found: list[Match] = []
        for last, (length, ids) in self._automaton.iter(letters):
            first = last - length + 1
            if any(gaps[k] > MAX_GAP for k in range(first + 1, last + 1)):
                continue
            bounded = (first == 0 or gaps[first] > 0) and (
                last + 1 == len(letters) or gaps[last + 1] > 0
            )
            for n in ids:
                rule = self.rules[n]
                if bounded or not rule.whole_word:
                    found.append(Match(rule, where[first], where[last] + 1))
        found.sort(key=lambda m: (m.start, m.end))
        return found

    def first(self, text: str, actions: Sequence[str]) -> Match | None:
        """The first match of a rule whose action is one of `actions`."""
        return next((m for m in self.matches(text) if m.rule.action in actions), None)


def censor(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span's letters and digits replaced by `*` (separators stay, so the
    shape of what was written is kept)."""
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i].isalnum():
                chars[i] = "*"
    return "".join(chars)
