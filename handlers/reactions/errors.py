"""Typed errors of the reactions context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ValidationError


class UnknownReactionKind(ValidationError):
    code = "unknown-reaction-kind"
    title = "No such reaction kind"


class InvalidReaction(ValidationError):
    code = "invalid-reaction"
    title = "A reaction needs a signed-in person and a target id"
