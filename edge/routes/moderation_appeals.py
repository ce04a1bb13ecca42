"""Appeals: the author of content under a decision asks for it to be reviewed again (once,
within 20 days, `core.moderation.APPEAL_WINDOW`), and a moderator approves — the decision is
reversed: content shown again, limit and suspension lifted — or rejects it, saying why.
Both the author and the moderator who decided are notified (`projections/notifications`).

The appeal is an event on the decided case's aggregate, so "once per decision" and "only
the author" are decided where the decision is known, not by a read model that may lag.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from core.permissions import allowed
from edge.auth import principal, send_as
from edge.authors import Author, authors
from edge.bodies import read_json
from edge.context import (
    POSITIONS,
    command_headers,
    created_id,
    infra,
    path_id,
    wait_for_position,
)
from edge.cursors import BadCursor
from edge.params import IntQuery
from edge.routes.moderation import PROJECTION, keyset, next_cursor
from edge.routes.posts import CURSOR
from edge.routing import Param, Route
from handlers.moderation.commands import AppealText, DecideAppeal, FileAppeal, Reason, Uuid
from handlers.moderation.decide import MODERATE, REPORT
from handlers.moderation.errors import (
    AppealDecidedAlready,
    AppealNotFound,
    AppealRefused,
    DecisionNotFound,
)
from projections import moderation as model

MAX_BODY = 16 * 1024
STATES = ("open", "approved", "rejected")
_encoder = msgspec.json.Encoder()


class AppealBody(msgspec.Struct, forbid_unknown_fields=True):
    decision_id: Uuid
    #: Why the decision should be reversed (plain text, up to 2,000 characters).
    text: AppealText


class RulingBody(msgspec.Struct, forbid_unknown_fields=True):
    #: Shown to the author.
    reason: Reason


class AppealResult(msgspec.Struct):
    appeal_id: str
    decision_id: str
    position: str


class AppealView(msgspec.Struct):
    id: str
    case_id: str
    decision_id: str
    author_id: str
    text: str
    #: `open`, `approved` (the decision was reversed) or `rejected`.
    state: str
    at: datetime
    decided_at: datetime | None
    #: Which moderator ruled on the appeal (moderators only: null for its author, who is
    #: never told which moderator decided).
    decided_by: str | None
    #: The moderator's reason for approving or rejecting.
    reason: str | None
    #: Who took the appealed decision (moderators only, like `decided_by`).
    decision_moderator: str | None


class AppealPage(msgspec.Struct):
    items: list[AppealView]
    next_cursor: str | None
    #: The authors and moderators named on the page, by id; someone without a profile is
    #: absent.
    people: dict[str, Author] = {}


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def _view(row: model.AppealRow) -> AppealView:
    return AppealView(**msgspec.structs.asdict(row))


async def _caught_up_with_the_log(request: web.Request) -> None:
    """Until the moderation read model has applied the moderation stream's head (bounded by
    `QUARK_READ_WAIT_TIMEOUT`; 503 beyond, like any read that must wait)."""
    i = infra(request)
    stream = i.store.streams.stream_for("moderation")
    head = (await i.nc.jetstream().stream_info(stream)).state.last_seq
    await request.app[POSITIONS].wait(PROJECTION, stream, head, i.settings.read_wait_timeout)


async def file_appeal(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AppealBody, max_bytes=MAX_BODY)
    await wait_for_position(request, PROJECTION)
    decision = await model.get_decision(infra(request).pool, body.decision_id)
    if decision is None:
        # The decision is someone else's write (a moderator's): the author may have heard of
        # it (a notification) before this read model applied it. Wait once for the log's
        # head before calling it unknown.
        await _caught_up_with_the_log(request)
        decision = await model.get_decision(infra(request).pool, body.decision_id)
    # Someone else's decision is as unknown as one that does not exist.
    if decision is None or decision.author_id != who.user_id:
        raise DecisionNotFound()
    appeal_id = created_id(request, "appeal")
    reply = await send_as(
        request,
        FileAppeal(
            case_id=decision.case_id,
            decision_id=decision.id,
            appeal_id=appeal_id,
            text=body.text,
        ),
        who,
    )
    headers = {**command_headers(reply), "Location": f"/v1/moderation/appeals/{appeal_id}"}
    return _json(201, AppealResult(appeal_id, decision.id, reply.position or ""), headers)


async def list_appeals(request: web.Request) -> web.Response:
    await principal(request)
    state = request.query.get("state", "open")
    if state not in STATES:
        raise ValidationError(
            f"`state` is one of {', '.join(STATES)}", errors=[FieldError("state", "unknown")]
        )
    size = LIMIT.read(request)
    after = keyset(request, "appeals", [state])
    await wait_for_position(request, PROJECTION)
    rows = await model.appeals(infra(request).pool, state=state, after=after, limit=size + 1)
    page = rows[:size]
    last = (page[-1].at, page[-1].id) if len(rows) > size else None
    named = [who for r in page for who in (r.author_id, r.decided_by, r.decision_moderator)]
    cursor = next_cursor(request, "appeals", [state], last)
    return _json(200, AppealPage([_view(r) for r in page], cursor, await authors(request, named)))


async def read_appeal(request: web.Request) -> web.Response:
    who = await principal(request)
    appeal_id = path_id(request, "appeal_id", AppealNotFound)
    await wait_for_position(request, PROJECTION)
    row = await model.get_appeal(infra(request).pool, appeal_id)
    # Moderators, and the author of their own appeal; to anyone else it does not exist.
    moderator = allowed(who.roles, MODERATE)
    if row is None or not (row.author_id == who.user_id or moderator):
        raise AppealNotFound()
    view = _view(row)
    if not moderator:
        view.decided_by = view.decision_moderator = None
    return _json(200, view)


async def _rule(request: web.Request, approve: bool) -> web.Response:
    who = await principal(request)
    appeal_id = path_id(request, "appeal_id", AppealNotFound)
    body = await read_json(request, RulingBody, max_bytes=MAX_BODY)
    await wait_for_position(request, PROJECTION)
    row = await model.get_appeal(infra(request).pool, appeal_id)
    if row is None:
        raise AppealNotFound()
    reply = await send_as(
        request,
        DecideAppeal(case_id=row.case_id, appeal_id=appeal_id, approve=approve, reason=body.reason),
        who,
    )
    return _json(
        200, AppealResult(appeal_id, row.decision_id, reply.position or ""), command_headers(reply)
    )


async def approve(request: web.Request) -> web.Response:
    return await _rule(request, True)


async def reject(request: web.Request) -> web.Response:
    return await _rule(request, False)


LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=50)
APPEAL_ID = Param("appeal_id", "path", "The appeal", {"type": "string", "format": "uuid"})

ROUTES: list[Route] = [
    Route("POST", "/v1/moderation/appeals", file_appeal,
          "Appeal a decision about one's own content: once, within 20 days", "moderation",
          request=AppealBody, response=AppealResult, status=201,
          raises=(DecisionNotFound, AppealRefused), auth="bearer", idempotent_create=True, after=True,
          permission=REPORT, while_suspended=True, name="file_appeal"),
    Route("GET", "/v1/moderation/appeals", list_appeals,
          "Appeals in a state, oldest first (moderators)", "moderation", response=AppealPage,
          params=(Param("state", "query", "open (the default), approved or rejected",
                        {"type": "string", "enum": list(STATES)}),
                  LIMIT.param, CURSOR),
          raises=(BadCursor,), auth="bearer", after=True, permission=MODERATE,
          name="list_appeals"),
    Route("GET", "/v1/moderation/appeals/{appeal_id}", read_appeal,
          "One appeal (moderators, and its author)", "moderation", response=AppealView,
          params=(APPEAL_ID,), raises=(AppealNotFound,), auth="bearer", after=True,
          permission=REPORT, while_suspended=True, name="read_appeal"),
    Route("POST", "/v1/moderation/appeals/{appeal_id}/approve", approve,
          "Approve an appeal: the decision is reversed (moderators)", "moderation",
          request=RulingBody, response=AppealResult, params=(APPEAL_ID,),
          raises=(AppealNotFound, AppealDecidedAlready), auth="bearer", after=True,
          permission=MODERATE, name="approve_appeal"),
    Route("POST", "/v1/moderation/appeals/{appeal_id}/reject", reject,
          "Reject an appeal, saying why (moderators)", "moderation", request=RulingBody,
          response=AppealResult, params=(APPEAL_ID,),
          raises=(AppealNotFound, AppealDecidedAlready), auth="bearer", after=True,
          permission=MODERATE, name="reject_appeal"),
]  # fmt: skip
