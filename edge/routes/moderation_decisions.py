"""Moderation decisions: one case's, the same decision on many cases at once, and the log of
every decision (split from `edge.routes.moderation` by flow: reports and the queue there).

A decision is one command on one case, so a bulk decision is atomic per case and reported
per case: some cases may be refused (not found, actions that do not apply to their target)
while the others are decided. The content actions are carried out by the contexts that
own the targets, reacting to `moderation.DecisionTaken` (`handlers/posts/moderation.py`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web

from core.errors import FieldError, QuarkError, ValidationError
from core.ids import is_uuid
from edge.auth import principal, send_as
from edge.authors import Author, authors
from edge.bodies import read_json
from edge.context import command_headers, created_id, infra, path_id, wait_for_position
from edge.cursors import BadCursor
from edge.params import IntQuery
from edge.routes.moderation import (
    CASE_ID,
    PROJECTION,
    DecisionView,
    decision_view,
    keyset,
    next_cursor,
)
from edge.routes.posts import CURSOR, rfc3339_time
from edge.routing import Param, Route
from handlers.moderation.commands import Actions, DecideCase, Reason, Rule, Uuid
from handlers.moderation.decide import MODERATE
from handlers.moderation.errors import BadDecision, CaseNotFound
from projections import moderation as model

#: Cases one bulk decision may decide.
BULK_MAX = 200
#: Cases decided at once within a bulk decision (each is a command and a durable append).
BULK_CONCURRENCY = 16
#: Who reads the log of every moderator's decisions (`core.permissions`): admins.
AUDIT = "moderation.audit"
MAX_BODY = 32 * 1024
_encoder = msgspec.json.Encoder()


class DecisionBody(msgspec.Struct, forbid_unknown_fields=True):
    actions: Actions
    #: Shown to the author with the decision.
    reason: Reason
    rule: Rule | None = None
    #: With `suspend`: when the suspension ends by itself (omitted: indefinitely).
    suspend_until: datetime | None = None


class BulkBody(msgspec.Struct, forbid_unknown_fields=True):
    case_ids: Annotated[list[Uuid], msgspec.Meta(min_length=1, max_length=BULK_MAX)]
    actions: Actions
    reason: Reason
    rule: Rule | None = None
    suspend_until: datetime | None = None


class DecisionResult(msgspec.Struct):
    decision_id: str
    case_id: str
    position: str


class CaseOutcome(msgspec.Struct):
    case_id: str
    #: The status this case alone would have been answered with (201 decided).
    status: int
    decision_id: str | None = None
    position: str | None = None
    #: The problem type (`quark:<code>`) and its detail, for a refused case.
    type: str | None = None
    detail: str | None = None


class BulkResult(msgspec.Struct):
    results: list[CaseOutcome]
    decided: int
    refused: int


class DecisionLog(msgspec.Struct):
    items: list[DecisionView]
    next_cursor: str | None
    #: The moderators and authors named on the page, by id; someone without a profile is
    #: absent.
    people: dict[str, Author] = {}


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def decide_case(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, DecisionBody, max_bytes=MAX_BODY)
    cid = path_id(request, "case_id", CaseNotFound)
    decision_id = created_id(request, "decision")
    reply = await send_as(
        request,
        DecideCase(
            case_id=cid,
            decision_id=decision_id,
            actions=body.actions,
            reason=body.reason,
            rule=body.rule,
            suspend_until=body.suspend_until,
        ),
        who,
    )
    # The case shows its decisions: it is where this one is read.
    headers = {**command_headers(reply), "Location": f"/v1/moderation/cases/{cid}"}
    return _json(201, DecisionResult(decision_id, cid, reply.position or ""), headers)


async def decide_cases(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, BulkBody, max_bytes=MAX_BODY)
    if len(set(body.case_ids)) != len(body.case_ids):
        raise ValidationError("each case once", errors=[FieldError("case_ids", "each case once")])
    gate = asyncio.Semaphore(BULK_CONCURRENCY)

    async def one(case_id: str) -> CaseOutcome:
        decision_id = created_id(request, f"decision-{case_id}")
        async with gate:
            try:
                reply = await send_as(
                    request,
                    DecideCase(
                        case_id=case_id,
                        decision_id=decision_id,
                        actions=body.actions,
                        reason=body.reason,
                        rule=body.rule,
                        suspend_until=body.suspend_until,
                    ),
                    who,
                    step=case_id,
                )
            except QuarkError as exc:
                if exc.status >= 500 or exc.status in (401, 403, 429):
                    raise  # the whole request is refused or failed: say so once
                return CaseOutcome(case_id, exc.status, type=f"quark:{exc.code}", detail=exc.detail)
        return CaseOutcome(case_id, 201, decision_id, reply.position or "")

    results = list(await asyncio.gather(*(one(c) for c in body.case_ids)))
    decided = [r.position for r in results if r.status == 201 and r.position]
    # Every decision is on the MODERATION stream: the latest covers them all for Quark-After.
    latest = max(decided, key=lambda p: int(p.rpartition(":")[2]), default="")
    return _json(
        200,
        BulkResult(results, len(decided), len(results) - len(decided)),
        {"Quark-Position": latest},
    )


def _time(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    return None if value is None else rfc3339_time(value, name)


async def read_log(request: web.Request) -> web.Response:
    await principal(request)
    size = LOG_LIMIT.read(request)
    moderator, target = request.query.get("moderator"), request.query.get("target_id")
    for name, value in (("moderator", moderator), ("target_id", target)):
        if value is not None and not is_uuid(value):
            raise ValidationError(f"`{name}` is an id", errors=[FieldError(name, "a UUID")])
    since, until = _time(request, "since"), _time(request, "until")
    filters = [moderator, target, request.query.get("since"), request.query.get("until")]
    before = keyset(request, "moderation-log", filters)
    await wait_for_position(request, PROJECTION)
    rows = await model.decision_log(
        infra(request).pool,
        moderator=moderator,
        target_id=target,
        since=since,
        until=until,
        before=before,
        limit=size + 1,
    )
    page = rows[:size]
    last = (page[-1].at, page[-1].id) if len(rows) > size else None
    cursor = next_cursor(request, "moderation-log", filters, last)
    named = [who for r in page for who in (r.moderator_id, r.author_id)]
    return _json(
        200, DecisionLog([decision_view(r) for r in page], cursor, await authors(request, named))
    )


LOG_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=50)
_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}

ROUTES: list[Route] = [
    Route("POST", "/v1/moderation/cases/{case_id}/decisions", decide_case,
          "Decide a case: several actions at once, with the reason the author is shown "
          "(moderators)", "moderation", request=DecisionBody, response=DecisionResult,
          status=201, params=(CASE_ID,), raises=(CaseNotFound, BadDecision), auth="bearer",
          idempotent_create=True, permission=MODERATE, name="decide_case"),
    Route("POST", "/v1/moderation/decisions", decide_cases,
          f"The same decision on up to {BULK_MAX} cases, atomic and reported per case "
          "(moderators)", "moderation", request=BulkBody, response=BulkResult,
          auth="bearer", idempotent=True, permission=MODERATE, name="decide_cases"),
    Route("GET", "/v1/moderation/log", read_log,
          "Every decision, newest first, by moderator, target and time (admins)", "moderation",
          response=DecisionLog,
          params=(Param("moderator", "query", "Decisions by this moderator", _UUID),
                  Param("target_id", "query", "Decisions about this target", _UUID),
                  Param("since", "query", "Decisions at or after this time", _TIME),
                  Param("until", "query", "Decisions before this time", _TIME),
                  LOG_LIMIT.param, CURSOR),
          raises=(BadCursor,), auth="bearer", after=True, permission=AUDIT,
          name="moderation_log"),
]  # fmt: skip
