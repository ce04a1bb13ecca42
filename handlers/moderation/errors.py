"""Typed errors of the moderation context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ConflictError, NotFoundError, ValidationError


class CaseNotFound(NotFoundError):
    code = "case-not-found"
    title = "No such moderation case"


class TargetNotFound(NotFoundError):
    code = "report-target-not-found"
    title = "Nothing to report there (or you cannot see it)"


class BadDecision(ValidationError):
    code = "bad-decision"
    title = "These actions do not go together or do not apply to this target"


class OwnContent(ValidationError):
    code = "own-content"
    title = "You cannot report yourself or your own content"


class DecisionNotFound(NotFoundError):
    code = "decision-not-found"
    title = "No such decision about your content"


class AppealNotFound(NotFoundError):
    code = "appeal-not-found"
    title = "No such appeal"


class AppealRefused(ConflictError):
    code = "appeal-refused"
    title = "This decision cannot be appealed (already appealed, or too late)"


class AppealDecidedAlready(ConflictError):
    code = "appeal-decided"
    title = "This appeal has been decided already"


class WordFilterNotFound(NotFoundError):
    code = "word-filter-not-found"
    title = "No such word filter rule"


class WordFilterExists(ConflictError):
    code = "word-filter-exists"
    title = "A word filter rule with this id exists already"


class BadWordFilter(ValidationError):
    code = "bad-word-filter"
    title = "This word filter rule cannot be used"


class WordFilterBlocked(ValidationError):
    """Raised by the edge (the write never reaches a handler): the text matched a rule whose
    action is `block` (or `hold` where a write cannot be held: a profile)."""

    code = "word-filter-blocked"
    title = "The text matches a word filter rule that does not allow it"
