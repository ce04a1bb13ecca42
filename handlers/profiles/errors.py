"""Typed errors of the profiles context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError


class HandleTaken(ConflictError):
    code = "handle-taken"
    title = "This handle is taken"


class HandleCoolingOff(ConflictError):
    code = "handle-cooling-off"
    title = "This handle was released recently and is not free yet"


class HandleReserved(ValidationError):
    code = "handle-reserved"
    title = "This handle is reserved"


class InvalidProfile(ValidationError):
    code = "invalid-profile"
    title = "The profile change is not valid"


class UserNotFound(NotFoundError):
    code = "user-not-found"
    title = "No such user"


class BlockedError(ForbiddenError):
    code = "blocked"
    title = "This person has blocked you, or you have blocked them"


class SelfRelation(ValidationError):
    code = "self-relation"
    title = "You cannot follow or block yourself"
