"""What free text may contain, for every context: no control characters.

PostgreSQL cannot store NUL in `text` or `\\u0000` in `jsonb`, so a NUL that reaches an event
sends it to the dead-letter queue of every projection that stores it, long after the command
was answered 200; and no other control character belongs in a name, a title or a reason. The
patterns go on the `msgspec.Meta` of the commands' (and request bodies') string types, so the
edge refuses such text with 422 naming the field and `/openapi.json` publishes the rule.
"""

from __future__ import annotations

#: One line: no control characters at all.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
#: Several lines: tabs, newlines and carriage returns, no other control character.
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def has_control_characters(text: str, *, multiline: bool = False) -> bool:
    """True if `text` breaks `MULTILINE` (or `ONE_LINE`): for text that arrives outside a
    body (a query string) and is checked by hand."""
    allowed = {"\t", "\n", "\r"} if multiline else set()
    return any((ord(c) < 32 and c not in allowed) or ord(c) == 127 for c in text)


#: A person's handle: its length bounds, shared by the profiles context (which owns
#: handles) and the posts context (which links `@handle` mentions).
HANDLE_MIN, HANDLE_MAX = 3, 30
