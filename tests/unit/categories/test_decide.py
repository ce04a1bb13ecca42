"""The category aggregate's rules, with plain values: no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from core.commands import CommandMeta
from core.ids import is_uuid, new_id
from core.permissions import PermissionDenied, allowed
from handlers.categories import TABLE
from handlers.categories.commands import ChangeCategory, CreateCategory, DeleteCategory
from handlers.categories.decide import (
    CategoryState,
    category_id,
    decide_change,
    decide_create,
    decide_delete,
    evolve,
)
from handlers.categories.errors import BlankCategoryName, CategoryAlreadyExists, CategoryNotFound
from handlers.categories.events import CategoryChanged, CategoryCreated, CategoryDeleted

ADMIN = new_id()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def meta(roles: frozenset[str] = frozenset({"user", "admin"})) -> CommandMeta:
    return CommandMeta(new_id(), ADMIN, roles, "corr", NOW)


def create(slug: str = "travel", **changes: object) -> CreateCategory:
    fields: dict[str, object] = {
        "slug": slug,
        "name_ru": "Путешествия",
        "name_en": "Travel",
        "position": 10,
        **changes,
    }
    return CreateCategory(**fields)  # type: ignore[arg-type]


def created(slug: str = "travel") -> CategoryState:
    [event] = decide_create(CategoryState(), create(slug), meta())
    return evolve(CategoryState(), event)


def deleted(slug: str = "travel") -> CategoryState:
    state = created(slug)
    [event] = decide_delete(state, DeleteCategory(slug=slug), meta())
    return evolve(state, event)


def test_a_slug_always_names_the_same_aggregate_and_different_slugs_different_ones() -> None:
    assert category_id("travel") == category_id("travel")
    assert category_id("travel") != category_id("travel-2")
    assert is_uuid(category_id("travel"))
    # The handler table derives it from the command itself: any sender lands on it.
    assert TABLE[CreateCategory].aggregate_id(create("travel")) == category_id("travel")
    assert TABLE[DeleteCategory].aggregate_id(DeleteCategory(slug="travel")) == category_id(
        "travel"
    )


def test_creating_expects_a_new_aggregate() -> None:
    assert TABLE[CreateCategory].creates is True
    assert TABLE[ChangeCategory].creates is False


def test_creating_a_category_yields_category_created_by_the_admin() -> None:
    [event] = decide_create(CategoryState(), create(description_en="Trips"), meta())
    assert isinstance(event, CategoryCreated)
    assert (event.category_id, event.slug, event.name_ru, event.name_en, event.position) == (
        category_id("travel"),
        "travel",
        "Путешествия",
        "Travel",
        10,
    )
    assert (event.description_ru, event.description_en) == ("", "Trips")
    assert (event.created_at, event.created_by) == (NOW, ADMIN)


def test_creating_an_existing_slug_is_a_conflict() -> None:
    with pytest.raises(CategoryAlreadyExists):
        decide_create(created(), create(), meta())


def test_a_deleted_slug_may_be_created_again_from_scratch() -> None:
    [event] = decide_create(deleted(), create(name_en="Journeys", position=3), meta())
    state = evolve(deleted(), event)
    assert state.exists and not state.deleted
    assert (state.name_en, state.position, state.description_en) == ("Journeys", 3, "")


@pytest.mark.parametrize(
    ("decide", "command", "state"),
    [
        (decide_create, create(), CategoryState()),
        (decide_change, ChangeCategory(slug="travel", position=1), created()),
        (decide_delete, DeleteCategory(slug="travel"), created()),
    ],
)
def test_only_a_role_with_categories_manage_may_decide(
    decide: object, command: object, state: CategoryState
) -> None:
    for roles in (frozenset({"user"}), frozenset({"user", "moderator"}), frozenset()):
        with pytest.raises(PermissionDenied):
            decide(state, command, meta(roles))  # type: ignore[operator]


def test_the_permission_belongs_to_admins_only() -> None:
    assert allowed({"admin"}, "categories.manage")
    assert not allowed({"moderator"}, "categories.manage")
    assert not allowed({"user"}, "categories.manage")


def test_blank_names_and_descriptions_are_refused_naming_the_fields() -> None:
    with pytest.raises(BlankCategoryName) as info:
        decide_create(CategoryState(), create(name_ru="   ", description_en=" \u3000 "), meta())
    assert [e.field for e in info.value.errors] == ["name_ru", "description_en"]
    with pytest.raises(BlankCategoryName) as info:
        decide_change(created(), ChangeCategory(slug="travel", name_en=" "), meta())
    assert [e.field for e in info.value.errors] == ["name_en"]


def test_a_change_carries_only_the_fields_that_change() -> None:
    state = created()
    [event] = decide_change(
        state,
        ChangeCategory(slug="travel", name_ru="Путешествия", name_en="Trips", position=10),
        meta(),
    )
    assert isinstance(event, CategoryChanged)
    assert (event.name_ru, event.name_en, event.position) == (None, "Trips", None)
    assert (event.description_ru, event.description_en) == (None, None)
    assert (event.changed_at, event.changed_by, event.slug) == (NOW, ADMIN, "travel")
    after = evolve(state, event)
    assert (after.name_ru, after.name_en, after.position) == ("Путешествия", "Trips", 10)


def test_an_empty_description_removes_it() -> None:
    state = created()
    [added] = decide_change(state, ChangeCategory(slug="travel", description_ru="Поездки"), meta())
    state = evolve(state, added)
    assert state.description_ru == "Поездки"
    [removed] = decide_change(state, ChangeCategory(slug="travel", description_ru=""), meta())
    assert isinstance(removed, CategoryChanged) and removed.description_ru == ""
    assert evolve(state, removed).description_ru == ""


def test_a_change_that_changes_nothing_yields_no_event() -> None:
    assert decide_change(created(), ChangeCategory(slug="travel", position=10), meta()) == []


@pytest.mark.parametrize("state", [CategoryState(), deleted()], ids=["never", "deleted"])
def test_changing_or_deleting_a_missing_category_is_not_found(state: CategoryState) -> None:
    with pytest.raises(CategoryNotFound):
        decide_change(state, ChangeCategory(slug="travel", position=1), meta())
    with pytest.raises(CategoryNotFound):
        decide_delete(state, DeleteCategory(slug="travel"), meta())


def test_deleting_yields_category_deleted_and_the_state_is_deleted() -> None:
    state = created()
    [event] = decide_delete(state, DeleteCategory(slug="travel"), meta())
    assert isinstance(event, CategoryDeleted)
    assert (event.category_id, event.slug, event.deleted_by) == (
        category_id("travel"),
        "travel",
        ADMIN,
    )
    assert evolve(state, event).deleted


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Travel"),
        ("slug", "-travel"),
        ("slug", "a" * 41),
        ("slug", "trav.el"),
        ("slug", ""),
        ("name_ru", ""),
        ("name_en", "x" * 61),
        ("name_en", "two\nlines"),
        ("position", -1),
        ("position", 10_001),
        ("description_ru", "d" * 301),
    ],
)
def test_the_command_refuses_values_outside_its_limits(field: str, value: object) -> None:
    good = {"slug": "travel", "name_ru": "П", "name_en": "T", "position": 0}
    raw = msgspec.json.encode({**good, field: value})
    with pytest.raises(msgspec.ValidationError, match=field):
        msgspec.json.decode(raw, type=CreateCategory)


def test_the_command_accepts_values_at_its_limits() -> None:
    raw = msgspec.json.encode(
        {
            "slug": "a" + "-" * 39,
            "name_ru": "я" * 60,
            "name_en": "x",
            "position": 10_000,
            "description_en": "d" * 300,
        }
    )
    command = msgspec.json.decode(raw, type=CreateCategory)
    assert command.position == 10_000 and len(command.slug) == 40
