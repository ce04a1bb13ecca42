"""The category aggregate: pure `evolve` and `decide` functions, no I/O and no clock.

Identity: one aggregate per slug, its id `category_id(slug)` — a UUIDv5 of the slug in a
fixed namespace. Deriving it here (not at the edge with the platform's secret key, as
`core.ids.derived_id` would) keeps the mapping pure and the same for every sender: the
handler table computes the aggregate from the command itself, so a CLI or a job creating a
category lands on the same aggregate as the edge. Nothing needs hiding: a slug is public
(it is in every category URL), so a predictable id leaks nothing.

Creating a slug that exists appends with expected sequence 0 first (`creates=True`), fails
with a concurrency conflict, reloads and then answers 409 `category-exists` from the state:
two admins racing for one slug get one category. A deleted category stays the same
aggregate; creating its slug again is allowed and starts it afresh.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

import msgspec

from core.commands import CommandMeta
from core.errors import FieldError
from core.eventstore import AggregateKind
from core.permissions import require
from core.registry import Event
from handlers.categories.commands import ChangeCategory, CreateCategory, DeleteCategory
from handlers.categories.errors import BlankCategoryName, CategoryAlreadyExists, CategoryNotFound
from handlers.categories.events import CategoryChanged, CategoryCreated, CategoryDeleted

#: Fixed for ever: changing it would give every existing slug a new, empty aggregate.
CATEGORY_NAMESPACE = uuid.UUID("8f69c869-8e9e-405e-8a83-7fe1a40c90dd")
#: Who may create, change and delete categories (`core.permissions`).
MANAGE = "categories.manage"

T = TypeVar("T")


def category_id(slug: str) -> str:
    """The id of the one aggregate of `slug` (a UUIDv5: pure, the same everywhere)."""
    return str(uuid.uuid5(CATEGORY_NAMESPACE, slug))


class CategoryState(msgspec.Struct, frozen=True):
    exists: bool = False
    deleted: bool = False
    slug: str = ""
    name_ru: str = ""
    name_en: str = ""
    description_ru: str = ""
    description_en: str = ""
    position: int = 0


def _new_or(new: T | None, old: T) -> T:
    """A `CategoryChanged` field: None means unchanged."""
    return old if new is None else new


def evolve(state: CategoryState, event: Event) -> CategoryState:
    match event:
        case CategoryCreated():
            return CategoryState(
                exists=True,
                deleted=False,
                slug=event.slug,
                name_ru=event.name_ru,
                name_en=event.name_en,
                description_ru=event.description_ru,
                description_en=event.description_en,
                position=event.position,
            )
        case CategoryChanged():
            return msgspec.structs.replace(
                state,
                name_ru=_new_or(event.name_ru, state.name_ru),
                name_en=_new_or(event.name_en, state.name_en),
                description_ru=_new_or(event.description_ru, state.description_ru),
                description_en=_new_or(event.description_en, state.description_en),
                position=_new_or(event.position, state.position),
            )
        case CategoryDeleted():
            return msgspec.structs.replace(state, deleted=True)
        case _:
            return state


CATEGORY = AggregateKind(
    type="categories.category",
    initial=CategoryState,
    evolve=evolve,
    state_type=CategoryState,
    snapshot_every=100,
)


def _blank_check(**fields: str | None) -> None:
    """Names must say something; a description is absent ("") or says something."""
    errors = [
        FieldError(name, "must not be blank")
        for name, value in fields.items()
        if value is not None and not value.strip() and (name.startswith("name_") or value != "")
    ]
    if errors:
        raise BlankCategoryName(errors=errors)


def _live(state: CategoryState) -> None:
    if not state.exists or state.deleted:
        raise CategoryNotFound()


def decide_create(state: CategoryState, command: CreateCategory, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MANAGE)
    if state.exists and not state.deleted:
        raise CategoryAlreadyExists()
    _blank_check(
        name_ru=command.name_ru,
        name_en=command.name_en,
        description_ru=command.description_ru,
        description_en=command.description_en,
    )
    return [
        CategoryCreated(
            category_id=category_id(command.slug),
            slug=command.slug,
            name_ru=command.name_ru,
            name_en=command.name_en,
            description_ru=command.description_ru,
            description_en=command.description_en,
            position=command.position,
            created_at=meta.received_at,
            created_by=meta.actor or "",
        )
    ]


def decide_change(state: CategoryState, command: ChangeCategory, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MANAGE)
    _live(state)
    _blank_check(
        name_ru=command.name_ru,
        name_en=command.name_en,
        description_ru=command.description_ru,
        description_en=command.description_en,
    )
    changed = {
        field: new
        for field in ("name_ru", "name_en", "description_ru", "description_en", "position")
        if (new := getattr(command, field)) is not None and new != getattr(state, field)
    }
    if not changed:
        return []  # nothing changes: no event, the reply carries the current position
    return [
        CategoryChanged(
            category_id=category_id(command.slug),
            slug=command.slug,
            changed_at=meta.received_at,
            changed_by=meta.actor or "",
            **changed,
        )
    ]


def decide_delete(state: CategoryState, command: DeleteCategory, meta: CommandMeta) -> list[Event]:
    require(meta.roles, MANAGE)
    _live(state)
    return [
        CategoryDeleted(
            category_id=category_id(command.slug),
            slug=command.slug,
            deleted_at=meta.received_at,
            deleted_by=meta.actor or "",
        )
    ]
