"""Commands of the categories context. Limits live here so the edge's validation, the
OpenAPI document and the handler agree on them."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from core.commands import Command
from core.text import ONE_LINE

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
NAME_MAX = 60
DESCRIPTION_MAX = 300
POSITION_MAX = 10_000

#: Lower-case ASCII letters, digits and hyphens, starting with a letter or digit: a slug is
#: a URL path segment and, through `category_id`, the identity of its aggregate.
Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN, max_length=40)]
#: Plain one-line text (`core.text`): a name is a label in menus and lists.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=ONE_LINE)]
#: One line too; the empty string is "no description" (see `ChangeCategory`).
Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_MAX, pattern=ONE_LINE)]
#: Where the category stands in lists: lower first, ties by slug.
Position = Annotated[int, msgspec.Meta(ge=0, le=POSITION_MAX)]


class CreateCategory(Command, frozen=True):
    context: ClassVar[str] = "categories"
    slug: Slug
    name_ru: Name
    name_en: Name
    position: Position
    description_ru: Description = ""
    description_en: Description = ""


class ChangeCategory(Command, frozen=True):
    """None leaves a field as it is; for a description, "" removes it."""

    context: ClassVar[str] = "categories"
    slug: Slug
    name_ru: Name | None = None
    name_en: Name | None = None
    position: Position | None = None
    description_ru: Description | None = None
    description_en: Description | None = None


class DeleteCategory(Command, frozen=True):
    context: ClassVar[str] = "categories"
    slug: Slug
