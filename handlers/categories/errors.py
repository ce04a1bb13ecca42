"""Typed errors of the categories context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ConflictError, NotFoundError, ValidationError


class CategoryNotFound(NotFoundError):
    code = "category-not-found"
    title = "No such category"


class CategoryAlreadyExists(ConflictError):
    code = "category-exists"
    title = "A category with this slug already exists"


class BlankCategoryName(ValidationError):
    code = "blank-category-name"
    title = "A category's names and description must not be blank"
