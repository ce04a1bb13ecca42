"""The server-wide word filter's rules, managed by admins (`moderation.rules`): list, read,
add, change and remove. What a rule does to a write is `edge.wordfilter` and
`handlers.moderation.screening`; a change applies to the writes screened after the edge
sees it (at most a second later, or at once for a write naming its position in
`Quark-After`).

The list is read in the order rules were added, 100 a page by default, with signed
cursors; every read honours `Quark-After` and the admin's own writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, path_id, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery
from edge.routes.posts import CURSOR
from edge.routing import Param, Route
from edge.wordfilter import PROJECTION
from handlers.moderation.commands import (
    AddWordFilter,
    ChangeWordFilter,
    Note,
    Pattern,
    RemoveWordFilter,
    ScreenedContexts,
    WordFilterAction,
)
from handlers.moderation.errors import BadWordFilter, WordFilterExists, WordFilterNotFound
from handlers.moderation.wordfilters import MANAGE_RULES
from projections import word_filters as model

#: Room for every field at its longest, in Cyrillic (two bytes a character) and escaped.
MAX_BODY = 8 * 1024
PAGE_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=500, default=100)
_SCOPE = "word-filters"
_encoder = msgspec.json.Encoder()


class AddWordFilterBody(msgspec.Struct, forbid_unknown_fields=True):
    #: Text (never a regular expression), matched Unicode-aware: case, yo/ye, Latin letters
    #: that look Cyrillic and separators inside a word do not get past it.
    pattern: Pattern
    #: `block` (422), `hold` (only its author sees it until a moderator decides), `flag`
    #: (published, reported by the system) or `censor` (stored with `*` for the match).
    action: WordFilterAction
    #: Which writes it screens: posts, comments, messages, profiles.
    contexts: ScreenedContexts
    #: A whole word only (true), or anywhere, inside longer words too (false).
    whole_word: bool = True
    note: Note | None = None


class ChangeWordFilterBody(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay as they are; `note: null` (or "") removes the note."""

    #: A change must change something (checked in the route; the schema says so too).
    __openapi_extra__: ClassVar[dict[str, object]] = {"minProperties": 1}
    pattern: Pattern | msgspec.UnsetType = msgspec.UNSET
    action: WordFilterAction | msgspec.UnsetType = msgspec.UNSET
    contexts: ScreenedContexts | msgspec.UnsetType = msgspec.UNSET
    whole_word: bool | msgspec.UnsetType = msgspec.UNSET
    note: Note | msgspec.UnsetType | None = msgspec.UNSET


class WordFilterResult(msgspec.Struct):
    id: str
    position: str


class WordFilterView(msgspec.Struct):
    id: str
    pattern: str
    whole_word: bool
    action: str
    contexts: list[str]
    note: str | None
    created_at: datetime
    #: The admins who added it and changed it last.
    created_by: str
    updated_at: datetime
    updated_by: str


class WordFilterPage(msgspec.Struct):
    items: list[WordFilterView]
    next_cursor: str | None


def _view(row: model.WordFilterRow) -> WordFilterView:
    return WordFilterView(
        row.id,
        row.pattern,
        row.whole_word,
        row.action,
        row.contexts,
        row.note,
        row.created_at,
        row.created_by,
        row.updated_at,
        row.updated_by,
    )


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def list_word_filters(request: web.Request) -> web.Response:
    unknown = set(request.query) - {"limit", "cursor", "after"}
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )
    size = PAGE_LIMIT.read(request)
    i = infra(request)
    after: tuple[int, str] | None = None
    if "cursor" in request.query:
        c = decode_cursor(i.secret_key, _SCOPE, request.query["cursor"])
        if not isinstance(c.get("n"), int) or not isinstance(c.get("i"), str):
            raise BadCursor()
        after = (c["n"], c["i"])
    await wait_for_position(request, PROJECTION)
    rows = await model.list_rules(i.pool, after=after, limit=size + 1)
    page, more = rows[:size], len(rows) > size
    cursor = None
    if more:
        cursor = encode_cursor(i.secret_key, _SCOPE, {"n": page[-1].added_seq, "i": page[-1].id})
    return _json(200, WordFilterPage([_view(r) for r in page], cursor))


async def read_word_filter(request: web.Request) -> web.Response:
    rule_id = path_id(request, "rule_id", WordFilterNotFound)
    await wait_for_position(request, PROJECTION)
    row = await model.get_rule(infra(request).pool, rule_id)
    if row is None:
        raise WordFilterNotFound()
    return _json(200, _view(row))


async def add_word_filter(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AddWordFilterBody, max_bytes=MAX_BODY)
    rule_id = created_id(request, "word-filter")
    reply = await send_as(
        request,
        AddWordFilter(
            rule_id=rule_id,
            pattern=body.pattern,
            whole_word=body.whole_word,
            action=body.action,
            contexts=body.contexts,
            note=body.note or None,
        ),
        who,
    )
    headers = {**command_headers(reply), "Location": f"/v1/admin/word-filters/{rule_id}"}
    return _json(201, WordFilterResult(rule_id, reply.position or ""), headers)


async def change_word_filter(request: web.Request) -> web.Response:
    who = await principal(request)
    rule_id = path_id(request, "rule_id", WordFilterNotFound)
    body = await read_json(request, ChangeWordFilterBody, max_bytes=MAX_BODY)
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}
    if not given:
        raise ValidationError(
            "nothing to change",
            errors=[FieldError("$", "send at least one of " + ", ".join(body.__struct_fields__))],
        )
    if "note" in given:
        given["note"] = given["note"] or ""  # the command's spelling of "remove it"
    reply = await send_as(request, ChangeWordFilter(rule_id=rule_id, **given), who)
    return _json(200, WordFilterResult(rule_id, reply.position or ""), command_headers(reply))


async def remove_word_filter(request: web.Request) -> web.Response:
    who = await principal(request)
    rule_id = path_id(request, "rule_id", WordFilterNotFound)
    reply = await send_as(request, RemoveWordFilter(rule_id=rule_id), who)
    return _json(200, WordFilterResult(rule_id, reply.position or ""), command_headers(reply))


_RULE_ID = Param("rule_id", "path", "Word filter rule id", {"type": "string", "format": "uuid"})

ROUTES: list[Route] = [
    Route("GET", "/v1/admin/word-filters", list_word_filters,
          "The word filter's rules, in the order they were added (admins)", "admin",
          response=WordFilterPage, params=(PAGE_LIMIT.param, CURSOR), raises=(BadCursor,),
          auth="bearer", after=True, permission=MANAGE_RULES, name="list_word_filters"),
    Route("POST", "/v1/admin/word-filters", add_word_filter,
          "Add a word filter rule (admins)", "admin", request=AddWordFilterBody,
          response=WordFilterResult, status=201, raises=(BadWordFilter, WordFilterExists),
          auth="bearer", idempotent_create=True, permission=MANAGE_RULES,
          name="add_word_filter"),
    Route("GET", "/v1/admin/word-filters/{rule_id}", read_word_filter,
          "Read a word filter rule (admins)", "admin", response=WordFilterView,
          params=(_RULE_ID,), raises=(WordFilterNotFound,), auth="bearer", after=True,
          permission=MANAGE_RULES, name="read_word_filter"),
    Route("PATCH", "/v1/admin/word-filters/{rule_id}", change_word_filter,
          "Change a word filter rule's pattern, action, contexts, whole-word or note (admins)",
          "admin", request=ChangeWordFilterBody, response=WordFilterResult,
          params=(_RULE_ID,), raises=(WordFilterNotFound, BadWordFilter), auth="bearer",
          permission=MANAGE_RULES, name="change_word_filter"),
    Route("DELETE", "/v1/admin/word-filters/{rule_id}", remove_word_filter,
          "Remove a word filter rule (admins)", "admin", response=WordFilterResult,
          params=(_RULE_ID,), raises=(WordFilterNotFound,), auth="bearer",
          permission=MANAGE_RULES, name="remove_word_filter"),
]  # fmt: skip
