"""Events of the categories context (past tense; schema 1 unless an upcaster says otherwise).

A description is a string, "" meaning none. In `CategoryChanged` only the fields that
changed are set; None means "as it was" (so "" there removes a description).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class CategoryCreated(Event, frozen=True):
    name: ClassVar[str] = "categories.CategoryCreated"
    category_id: str
    slug: str
    name_ru: str
    name_en: str
    description_ru: str
    description_en: str
    position: int
    created_at: datetime
    created_by: str


class CategoryChanged(Event, frozen=True):
    name: ClassVar[str] = "categories.CategoryChanged"
    category_id: str
    slug: str
    changed_at: datetime
    changed_by: str
    name_ru: str | None = None
    name_en: str | None = None
    description_ru: str | None = None
    description_en: str | None = None
    position: int | None = None


class CategoryDeleted(Event, frozen=True):
    name: ClassVar[str] = "categories.CategoryDeleted"
    category_id: str
    slug: str
    deleted_at: datetime
    deleted_by: str


EVENTS = (CategoryCreated, CategoryChanged, CategoryDeleted)
