"""Categories: the public list and page, and their management by admins.

Command answers carry the slug; the commit's position is in the `Quark-Position` header
only, because a category's own `position` (its place in the list) is a field of the
resource: the same word for both in one answer would read as one thing.
"""

from __future__ import annotations

import re
from typing import ClassVar

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, infra, wait_for_position
from edge.cursors import BadCursor
from edge.routes.posts import CURSOR, PAGE_LIMIT, PostPage, post_page
from edge.routing import Param, Route
from handlers.categories.commands import (
    SLUG_PATTERN,
    ChangeCategory,
    CreateCategory,
    DeleteCategory,
    Description,
    Name,
    Position,
    Slug,
)
from handlers.categories.errors import BlankCategoryName, CategoryAlreadyExists, CategoryNotFound
from projections import categories as model

PROJECTION = "categories"
#: Room for every field at its longest, in Cyrillic (two bytes a character) and escaped.
MAX_BODY = 16 * 1024
_SLUG = re.compile(SLUG_PATTERN)
_encoder = msgspec.json.Encoder()


class CreateCategoryBody(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name_ru: Name
    name_en: Name
    position: Position
    #: Absent or null: no description in that language.
    description_ru: Description | None = None
    description_en: Description | None = None


class ChangeCategoryBody(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay as they are; a description set to null (or "") is removed."""

    #: A change must change something (checked in the route; the schema says so too).
    __openapi_extra__: ClassVar[dict[str, object]] = {"minProperties": 1}
    name_ru: Name | msgspec.UnsetType = msgspec.UNSET
    name_en: Name | msgspec.UnsetType = msgspec.UNSET
    position: Position | msgspec.UnsetType = msgspec.UNSET
    description_ru: Description | msgspec.UnsetType | None = msgspec.UNSET
    description_en: Description | msgspec.UnsetType | None = msgspec.UNSET


class CategoryRef(msgspec.Struct):
    """What a category command answers; the commit's position is in `Quark-Position`."""

    slug: str


class CategoryView(msgspec.Struct):
    slug: str
    name_ru: str
    name_en: str
    description_ru: str | None
    description_en: str | None
    #: The category's place in the list (lower first; ties by slug).
    position: int


class CategoryList(msgspec.Struct):
    """Every category in one page (categories are few): `next_cursor` is always null."""

    items: list[CategoryView]
    next_cursor: None = None


def _view(row: model.CategoryRow) -> CategoryView:
    return CategoryView(
        row.slug, row.name_ru, row.name_en, row.description_ru, row.description_en, row.position
    )


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def _slug(request: web.Request) -> str:
    """A path slug that cannot exist (not a slug) is simply not found."""
    slug = request.match_info["slug"]
    # fullmatch, not match: `re`'s `$` would accept a trailing newline.
    if _SLUG.fullmatch(slug) is None:
        raise CategoryNotFound()
    return slug


def _description(value: str | msgspec.UnsetType | None) -> str | None:
    """The command's spelling: None leaves it, "" removes it."""
    if value is msgspec.UNSET:
        return None
    return value or ""


async def list_categories(request: web.Request) -> web.Response:
    await wait_for_position(request, PROJECTION)
    rows = await model.list_categories(infra(request).pool)
    return _json(200, CategoryList([_view(r) for r in rows]))


async def read_category(request: web.Request) -> web.Response:
    slug = _slug(request)
    await wait_for_position(request, PROJECTION)
    row = await model.get_category(infra(request).pool, slug)
    if row is None:
        raise CategoryNotFound()
    return _json(200, _view(row))


async def category_posts(request: web.Request) -> web.Response:
    """Posts filed under a category, newest first, as the reader may see them."""
    slug = _slug(request)
    unknown = set(request.query) - {"limit", "cursor", "after"}
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )
    PAGE_LIMIT.read(request)  # a malformed query is 422 before anything is looked up
    await wait_for_position(request, PROJECTION)
    if await model.get_category(infra(request).pool, slug) is None:
        raise CategoryNotFound()
    return await post_page(request, f"category|{slug}", category=slug)


async def create_category(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, CreateCategoryBody, max_bytes=MAX_BODY)
    reply = await send_as(
        request,
        CreateCategory(
            slug=body.slug,
            name_ru=body.name_ru,
            name_en=body.name_en,
            position=body.position,
            description_ru=body.description_ru or "",
            description_en=body.description_en or "",
        ),
        who,
    )
    headers = {**command_headers(reply), "Location": f"/v1/categories/{body.slug}"}
    return _json(201, CategoryRef(body.slug), headers)


async def change_category(request: web.Request) -> web.Response:
    who = await principal(request)
    slug = _slug(request)
    body = await read_json(request, ChangeCategoryBody, max_bytes=MAX_BODY)
    if all(getattr(body, f) is msgspec.UNSET for f in body.__struct_fields__):
        raise ValidationError(
            "nothing to change",
            errors=[FieldError("$", "send at least one of " + ", ".join(body.__struct_fields__))],
        )
    reply = await send_as(
        request,
        ChangeCategory(
            slug=slug,
            name_ru=None if body.name_ru is msgspec.UNSET else body.name_ru,
            name_en=None if body.name_en is msgspec.UNSET else body.name_en,
            position=None if body.position is msgspec.UNSET else body.position,
            description_ru=_description(body.description_ru),
            description_en=_description(body.description_en),
        ),
        who,
    )
    return _json(200, CategoryRef(slug), command_headers(reply))


async def delete_category(request: web.Request) -> web.Response:
    who = await principal(request)
    slug = _slug(request)
    reply = await send_as(request, DeleteCategory(slug=slug), who)
    return _json(200, CategoryRef(slug), command_headers(reply))


_SLUG_PARAM = Param(
    "slug", "path", "Category slug", {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 40}
)

ROUTES: list[Route] = [
    Route("GET", "/v1/categories", list_categories,
          "Every category, by position then slug", "categories", response=CategoryList,
          after=True, name="list_categories"),
    Route("GET", "/v1/categories/{slug}", read_category, "Read a category", "categories",
          response=CategoryView, params=(_SLUG_PARAM,), raises=(CategoryNotFound,), after=True,
          name="read_category"),
    Route("GET", "/v1/categories/{slug}/posts", category_posts,
          "Posts filed under a category, newest first", "categories", response=PostPage,
          params=(_SLUG_PARAM, PAGE_LIMIT.param, CURSOR), raises=(CategoryNotFound, BadCursor),
          auth="optional", after=True, name="category_posts"),
    Route("POST", "/v1/admin/categories", create_category, "Create a category (admins)",
          "admin", request=CreateCategoryBody, response=CategoryRef, status=201,
          raises=(CategoryAlreadyExists, BlankCategoryName), auth="bearer",
          idempotent_create=True, permission="categories.manage", name="create_category"),
    Route("PATCH", "/v1/admin/categories/{slug}", change_category,
          "Change a category's names, descriptions or position (admins)", "admin",
          request=ChangeCategoryBody, response=CategoryRef, params=(_SLUG_PARAM,),
          raises=(CategoryNotFound, BlankCategoryName), auth="bearer",
          permission="categories.manage", name="change_category"),
    Route("DELETE", "/v1/admin/categories/{slug}", delete_category,
          "Delete a category (admins); its slug may be created again", "admin",
          response=CategoryRef, params=(_SLUG_PARAM,), raises=(CategoryNotFound,),
          auth="bearer", permission="categories.manage", name="delete_category"),
]  # fmt: skip
