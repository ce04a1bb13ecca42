"""Moderation: reports by anyone signed in, and the moderators' queue and cases.

A report keeps the content as it was when it was reported, and the moderator also sees
everything the author did after it: the target's own events are read from the log (the
log is the one record an author cannot rewrite), folded to the version at the report and
the versions after it. Editing or deleting reported content hides nothing from moderators.
A profile's text is sealed in the log (crypto-shredding), so a reported profile's snapshot
is what the profiles read model showed the reporter, and its current version is read there.

Who may report: anyone signed in who can see the target — the same checks as reading it,
so a report never confirms that something invisible exists (404 either way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web

from core.envelope import AggregateRef
from core.errors import FieldError, ValidationError
from core.eventstore import subject_of
from core.ids import is_uuid
from core.moderation import APPEAL_WINDOW, reporter_weight
from core.ratelimit import Rule
from edge.auth import Principal, principal, send_as
from edge.authors import Author, authors
from edge.bodies import read_json
from edge.context import command_headers, infra, limit, path_id, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery
from edge.routes.media import visible_media
from edge.routes.posts import CURSOR, PostGone, visible_post
from edge.routing import Param, Route
from handlers.media.errors import MediaNotFound
from handlers.moderation.commands import (
    CATEGORIES,
    TARGET_TYPES,
    AssignCase,
    Category,
    FileReport,
    ReportComment,
    Snapshot,
    TargetType,
    Uuid,
)
from handlers.moderation.decide import MODERATE, case_id
from handlers.moderation.errors import CaseNotFound, OwnContent, TargetNotFound
from handlers.posts.errors import PostNotFound
from projections import chat as chat_model
from projections import comments as comments_model
from projections import media as media_model
from projections import moderation as model
from projections import profiles as profiles_model

PROJECTION = "moderation"
MAX_BODY = 8 * 1024
#: The aggregate type of each reportable target whose text is in the log in the clear.
LOGGED: dict[str, str] = {
    "post": "posts.post",
    "comment": "posts.comment",
    "message": "chat.message",
}
_encoder = msgspec.json.Encoder()


class ReportBody(msgspec.Struct, forbid_unknown_fields=True):
    target_type: TargetType
    target_id: Uuid
    category: Category
    comment: ReportComment | None = None


class ReportResult(msgspec.Struct):
    case_id: str
    position: str


class AssignBody(msgspec.Struct, forbid_unknown_fields=True):
    #: A moderator's user id; null hands the case back to the queue.
    assignee: Uuid | None = None


class CaseSummary(msgspec.Struct):
    id: str
    target_type: str
    target_id: str
    author_id: str
    state: str
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    #: People with an open report (each counts once).
    reporters: int
    categories: list[str]
    #: Hidden pending review: the weighted count of distinct reporters that did it, else null.
    auto_hidden_score: float | None
    #: Decisions that acted against the author before (dismissals not counted), in any case.
    author_decisions: int


class QueuePage(msgspec.Struct):
    items: list[CaseSummary]
    next_cursor: str | None
    #: The authors and assignees named on the page, by id (so a moderator sees a handle,
    #: not an id); someone without a profile is absent.
    people: dict[str, Author] = {}


class Version(msgspec.Struct):
    """The target's text at one commit of the log (`seq`); `deleted` for its tombstone."""

    title: str | None
    body: str
    seq: int
    at: datetime | None
    deleted: bool = False


class ReportView(msgspec.Struct):
    reporter_id: str
    category: str
    comment: str | None
    reported_at: datetime
    updated_at: datetime
    #: The content as it was when this person reported it.
    reported: Version


class DecisionView(msgspec.Struct):
    id: str
    case_id: str
    target_type: str
    target_id: str
    author_id: str
    moderator_id: str
    actions: list[str]
    reason: str
    rule: str | None
    #: The people whose open reports this decision answered.
    reporters: list[str]
    at: datetime
    #: With `suspend`: when it ends (null: indefinitely).
    suspend_until: datetime | None
    #: The author's appeal of it, if any, and its state (open, approved, rejected).
    appeal_id: str | None
    appeal_state: str | None


class MyDecision(msgspec.Struct):
    """A decision about one's own content, as its author sees it: what was decided and why,
    never by whom or on whose report."""

    id: str
    target_type: str
    target_id: str
    actions: list[str]
    reason: str
    rule: str | None
    at: datetime
    #: Until when the author may appeal it (20 days after the decision: `APPEAL_WINDOW`).
    appeal_until: datetime
    suspend_until: datetime | None
    #: Their appeal of it, if any, and its state (open, approved, rejected).
    appeal_id: str | None
    appeal_state: str | None


class MyDecisions(msgspec.Struct):
    items: list[MyDecision]
    next_cursor: str | None


def decision_view(row: model.DecisionRow) -> DecisionView:
    return DecisionView(**msgspec.structs.asdict(row))


class CaseView(msgspec.Struct):
    case: CaseSummary
    reports: list[ReportView]
    #: The target now (None when nothing of it can be read any more).
    current: Version | None
    #: Every version the log has after the earliest open report, oldest first: the edits
    #: and the deletion the author made after being reported.
    after_report: list[Version]
    #: What moderators decided on this case, oldest first.
    decisions: list[DecisionView]
    #: The latest decisions about the author's content in other cases, newest first.
    author_history: list[DecisionView]
    #: For a message in a group or a channel: the messages around it, oldest first (never
    #: for a direct message: only its reporter's side of it is the moderators' business).
    context: list[ContextMessage] = []
    #: Everyone the case names (author, reporters, moderators, senders around a message),
    #: by id; someone without a profile is absent.
    people: dict[str, Author] = {}


class ContextMessage(msgspec.Struct):
    id: str
    seq: int
    sender_id: str
    body: str
    sent_at: datetime
    deleted: bool
    #: The reported message itself.
    reported: bool


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


# --- the target, from the log -------------------------------------------------------------


def _fold(events: list[Any]) -> list[Version]:
    """Every version of a logged target, oldest first: each event that sets its text (or
    deletes it) makes one. Events of every reportable kind carry their text as `body` (and
    a post its `title`); a deletion is any event named `…Deleted`."""
    out: list[Version] = []
    title: str | None = None
    for recorded in events:
        e = recorded.event
        at = recorded.envelope.occurred_at
        if recorded.type.endswith("Deleted"):
            body = out[-1].body if out else ""
            out.append(Version(title, body, recorded.seq, at, deleted=True))
        elif isinstance(getattr(e, "body", None), str):
            title = getattr(e, "title", title)
            out.append(Version(title, e.body, recorded.seq, at))
    return out


async def _log_versions(request: web.Request, target_type: str, target_id: str) -> list[Version]:
    kind = LOGGED[target_type]
    store = infra(request).store
    stream = store.streams.stream_for(kind.split(".", 1)[0])
    events = await store.read_subject(stream, subject_of(AggregateRef(kind, target_id)))
    return _fold(events)


async def _visible_target(request: web.Request, who: Principal, body: ReportBody) -> str:
    """The target's author, if `who` can see the target; 404 otherwise."""
    pool = infra(request).pool
    match body.target_type:
        case "post":
            try:
                return (await visible_post(request, body.target_id)).author_id
            except (PostNotFound, PostGone):
                raise TargetNotFound() from None
        case "comment":
            await wait_for_position(request, "comments")
            comment = await comments_model.get_comment(pool, body.target_id)
            if comment is None or comment.deleted_at is not None:
                raise TargetNotFound()
            if comment.author_id != who.user_id and comment.moderation != "visible":
                raise TargetNotFound()
            try:
                await visible_post(request, comment.post_id)
            except (PostNotFound, PostGone):
                raise TargetNotFound() from None
            return comment.author_id
        case "message":
            await wait_for_position(request, "chat")
            message = await chat_model.get_message(pool, body.target_id)
            if message is None or message.deleted_at is not None:
                raise TargetNotFound()
            conversation = await chat_model.get_conversation(pool, message.conversation_id)
            role = await chat_model.role_of(pool, message.conversation_id, who.user_id)
            if conversation is None or (role is None and conversation.kind != "channel"):
                raise TargetNotFound()
            return message.sender_id
        case "user":
            await wait_for_position(request, "profiles")
            if await profiles_model.by_user(pool, body.target_id) is None:
                raise TargetNotFound()
            return body.target_id
        case _:
            try:
                return (await visible_media(request, body.target_id)).owner_id
            except MediaNotFound:
                raise TargetNotFound() from None


async def _snapshot(request: web.Request, body: ReportBody) -> Snapshot:
    if body.target_type in LOGGED:
        versions = await _log_versions(request, body.target_type, body.target_id)
        if not versions or versions[-1].deleted:
            raise TargetNotFound()
        last = versions[-1]
        stream = infra(request).store.streams.stream_for(LOGGED[body.target_type].split(".")[0])
        return Snapshot(title=last.title, body=last.body, stream=stream, seq=last.seq)
    current = await _unlogged(request, body.target_type, body.target_id)
    if current is None:
        raise TargetNotFound()
    return Snapshot(title=current.title, body=current.body)


async def _unlogged(request: web.Request, target_type: str, target_id: str) -> Version | None:
    """A profile (its name and bio) or a media item (its type and description), now, from
    their read models: their text is not in the log in the clear."""
    pool = infra(request).pool
    if target_type == "user":
        profile = await profiles_model.by_user(pool, target_id)
        if profile is None:
            return None
        name = profile.display_name
        if profile.handle:
            name = f"{name} (@{profile.handle})"
        return Version(name, profile.bio, 0, profile.updated_at)
    media = await media_model.get_media(pool, target_id)
    if media is None:
        return None
    deleted = media.status == "deleted"
    return Version(media.media_type, media.description or "", 0, media.created_at, deleted)


# --- routes ---------------------------------------------------------------------------------


async def _weight(request: web.Request, reporter: str) -> float:
    """The reporter's weight towards hiding the target pending review, from how old their
    account is and how moderators answered their earlier reports (`reporter_weight`)."""
    pool = infra(request).pool
    profile = await profiles_model.by_user(pool, reporter)
    since = profile.created_at if profile is not None and profile.created_at else None
    age = datetime.now(UTC) - since if since is not None else timedelta(0)
    upheld, dismissed = await model.reporter_record(pool, reporter)
    return reporter_weight(age, upheld, dismissed)


async def file_report(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, ReportBody, max_bytes=MAX_BODY)
    rule = Rule.parse("limit_reports", infra(request).settings.limit_reports)
    await limit(request, rule, who.user_id)
    author = await _visible_target(request, who, body)
    if who.user_id == author:
        raise OwnContent()
    snapshot = await _snapshot(request, body)
    threshold = infra(request).settings.auto_hide_score
    reply = await send_as(
        request,
        FileReport(
            target_type=body.target_type,
            target_id=body.target_id,
            category=body.category,
            comment=body.comment,
            author_id=author,
            snapshot=snapshot,
            weight=await _weight(request, who.user_id),
            auto_hide_at=threshold or None,
        ),
        who,
    )
    cid = case_id(body.target_type, body.target_id)
    return _json(201, ReportResult(cid, reply.position or ""), command_headers(reply))


def _summary(row: model.CaseRow) -> CaseSummary:
    return CaseSummary(
        row.id,
        row.target_type,
        row.target_id,
        row.author_id,
        row.state,
        row.assignee,
        row.opened_at,
        row.updated_at,
        row.reporters,
        row.categories,
        row.auto_hidden_score,
        row.author_decisions,
    )


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise ValidationError(
            f"`{name}` is one of {', '.join(allowed)}",
            errors=[FieldError(name, f"one of {', '.join(allowed)}")],
        )
    return value


def keyset(
    request: web.Request, scope: str, filters: list[str | None]
) -> tuple[datetime, str] | None:
    """The (time, id) a page continues after, from its signed cursor: bound to the listing's
    `filters`, so a cursor cannot be replayed against other ones (400 otherwise)."""
    if "cursor" not in request.query:
        return None
    c = decode_cursor(infra(request).secret_key, scope, request.query["cursor"])
    if c.get("f") != filters or not isinstance(c.get("t"), str) or not isinstance(c.get("i"), str):
        raise BadCursor()
    try:
        return datetime.fromisoformat(c["t"]), c["i"]
    except ValueError:
        raise BadCursor() from None


def next_cursor(
    request: web.Request, scope: str, filters: list[str | None], last: tuple[datetime, str] | None
) -> str | None:
    """The cursor of the page after the one ending at `last` (None: no more pages)."""
    if last is None:
        return None
    payload = {"f": filters, "t": last[0].isoformat(), "i": last[1]}
    return encode_cursor(infra(request).secret_key, scope, payload)


async def read_queue(request: web.Request) -> web.Response:
    await principal(request)
    size = QUEUE_LIMIT.read(request)
    state = _choice(request, "state", ("open", "resolved")) or "open"
    category = _choice(request, "category", CATEGORIES)
    target_type = _choice(request, "target_type", TARGET_TYPES)
    assignee = request.query.get("assignee")
    if assignee is not None and not is_uuid(assignee):
        raise ValidationError("`assignee` is a user id", errors=[FieldError("assignee", "a UUID")])
    filters = [state, category, target_type, assignee]
    after = keyset(request, "moderation-queue", filters)
    await wait_for_position(request, PROJECTION)
    rows = await model.queue(
        infra(request).pool,
        state=state,
        category=category,
        target_type=target_type,
        assignee=assignee,
        after=after,
        limit=size + 1,
    )
    page = rows[:size]
    last = (page[-1].opened_at, page[-1].id) if len(rows) > size else None
    cursor = next_cursor(request, "moderation-queue", filters, last)
    named = [r.author_id for r in page] + [r.assignee for r in page if r.assignee]
    return _json(200, QueuePage([_summary(r) for r in page], cursor, await authors(request, named)))


async def _case(request: web.Request) -> model.CaseRow:
    cid = path_id(request, "case_id", CaseNotFound)
    await wait_for_position(request, PROJECTION)
    row = await model.get_case(infra(request).pool, cid)
    if row is None:
        raise CaseNotFound()
    return row


async def read_case(request: web.Request) -> web.Response:
    await principal(request)
    row = await _case(request)
    reports = await model.reports(infra(request).pool, row.id)
    views = [
        ReportView(
            r.reporter_id,
            r.category,
            r.comment,
            r.at,
            r.updated_at,
            Version(r.title, r.body, r.seq, r.at),
        )
        for r in reports
    ]
    current: Version | None
    after: list[Version] = []
    if row.target_type in LOGGED:
        versions = await _log_versions(request, row.target_type, row.target_id)
        current = versions[-1] if versions else None
        since = min((r.seq for r in reports), default=0)
        after = [v for v in versions if v.seq > since]
    else:
        current = await _unlogged(request, row.target_type, row.target_id)
    pool = infra(request).pool
    decided = await model.decisions_of(pool, row.id)
    history = [d for d in await model.author_decisions(pool, row.author_id) if d.case_id != row.id]
    context = await _conversation_context(request, row) if row.target_type == "message" else []
    named = [row.author_id, *(r.reporter_id for r in reports), *(m.sender_id for m in context)]
    named += [row.assignee or "", *(d.moderator_id for d in [*decided, *history])]
    return _json(
        200,
        CaseView(
            _summary(row),
            views,
            current,
            after,
            [decision_view(d) for d in decided],
            [decision_view(d) for d in history],
            context,
            await authors(request, named),
        ),
    )


#: Messages shown on each side of a reported message.
CONTEXT_SPAN = 5


async def _conversation_context(request: web.Request, row: model.CaseRow) -> list[ContextMessage]:
    pool = infra(request).pool
    message = await chat_model.get_message(pool, row.target_id)
    if message is None:
        return []
    conversation = await chat_model.get_conversation(pool, message.conversation_id)
    if conversation is None or conversation.kind == "direct":
        return []
    nearby = await chat_model.around(pool, message.conversation_id, message.seq, span=CONTEXT_SPAN)
    return [
        ContextMessage(
            m.id,
            m.seq,
            m.sender_id,
            m.body,
            m.sent_at,
            m.deleted_at is not None,
            m.id == message.id,
        )
        for m in sorted([*nearby, message], key=lambda m: m.seq)
    ]


async def my_decisions(request: web.Request) -> web.Response:
    who = await principal(request)
    size = QUEUE_LIMIT.read(request)
    before = keyset(request, "my-moderation", [who.user_id])
    await wait_for_position(request, PROJECTION)
    rows = await model.author_decisions(
        infra(request).pool, who.user_id, before=before, limit=size + 1
    )
    page = rows[:size]
    last = (page[-1].at, page[-1].id) if len(rows) > size else None
    items = [
        MyDecision(
            d.id,
            d.target_type,
            d.target_id,
            d.actions,
            d.reason,
            d.rule,
            d.at,
            d.at + APPEAL_WINDOW,
            d.suspend_until,
            d.appeal_id,
            d.appeal_state,
        )
        for d in page
    ]
    cursor = next_cursor(request, "my-moderation", [who.user_id], last)
    return _json(200, MyDecisions(items, cursor))


async def assign_case(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, AssignBody, max_bytes=1024)
    cid = path_id(request, "case_id", CaseNotFound)
    reply = await send_as(request, AssignCase(case_id=cid, assignee=body.assignee), who)
    return _json(200, ReportResult(cid, reply.position or ""), command_headers(reply))


QUEUE_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=20)
CASE_ID = Param("case_id", "path", "Case id", {"type": "string", "format": "uuid"})
_STATE = Param("state", "query", "open (default) or resolved", {"enum": ["open", "resolved"]})
_CATEGORY = Param("category", "query", "Cases with an open report of this category",
                  {"enum": list(CATEGORIES)})  # fmt: skip
_TARGET_TYPE = Param("target_type", "query", "Cases about this kind of target",
                     {"enum": list(TARGET_TYPES)})  # fmt: skip
_ASSIGNEE = Param("assignee", "query", "Cases assigned to this moderator",
                  {"type": "string", "format": "uuid"})  # fmt: skip

ROUTES: list[Route] = [
    Route("POST", "/v1/reports", file_report,
          "Report a post, comment, message or person (one open report per person and target; "
          "reporting again updates it)", "moderation", request=ReportBody, response=ReportResult,
          status=201, raises=(TargetNotFound, OwnContent), auth="bearer", after=True,
          limited=True, name="file_report"),
    Route("GET", "/v1/moderation/queue", read_queue,
          "The moderation queue: one case per target, oldest first (moderators)", "moderation",
          response=QueuePage,
          params=(_STATE, _CATEGORY, _TARGET_TYPE, _ASSIGNEE, QUEUE_LIMIT.param, CURSOR),
          raises=(BadCursor,), auth="bearer", after=True, permission=MODERATE,
          name="moderation_queue"),
    Route("GET", "/v1/moderation/cases/{case_id}", read_case,
          "A case: its reports with the content each reporter saw, the content now and every "
          "version after the report (moderators)", "moderation", response=CaseView,
          params=(CASE_ID,), raises=(CaseNotFound,), auth="bearer", after=True,
          permission=MODERATE, name="moderation_case"),
    Route("GET", "/v1/me/moderation", my_decisions,
          "Moderators' decisions about my content, newest first, with until when each may be "
          "appealed (never who decided or who reported)", "moderation", response=MyDecisions,
          params=(QUEUE_LIMIT.param, CURSOR), raises=(BadCursor,), auth="bearer", after=True,
          while_suspended=True, name="my_moderation"),
    Route("POST", "/v1/moderation/cases/{case_id}/assign", assign_case,
          "Take a case, hand it to another moderator, or back to the queue (null)",
          "moderation", request=AssignBody, response=ReportResult, params=(CASE_ID,),
          raises=(CaseNotFound,), auth="bearer", permission=MODERATE,
          name="assign_case"),
]  # fmt: skip
