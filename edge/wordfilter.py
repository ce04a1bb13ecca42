"""The word filter at the edge: the rules compiled per context, and screening a write with
them before its command is sent (`handlers.moderation.screening` decides what happens; this
module only carries it out).

**The compiled rules** (`WordFilters`, one per edge process) come from the `word_filters`
read model. They are compiled once per context (`core.wordfilter.WordFilter`: about 15 ms
for 1,000 rules) and used until the read model changes: a write looks again when the
projection announced a new position (`edge.positions.PositionWatcher`, no I/O to learn it)
or at most every `MAX_AGE` seconds (notices can be missed), and looking is one single-row
read of the model's `revision`; only a new revision reads and compiles the rules again. A
write also honours `Quark-After` and its writer's own writes for the rules (the route waits
for the read model like a read), so a rule an admin has just been told about screens the
next write that names its position.

**No rules, no write.** Until the read model exists, a screened write answers 503 with
`Retry-After` (`read-model-unavailable`): a platform that cannot say whether a text is
allowed does not publish it.

**The report is a second command.** A `hold` or `flag` files a report by the system after
the write's own command was committed and answered (`file_report`): the content's context
and the moderation context are two aggregates, appended one after the other, never in one
commit. The report's command id derives from the write's commit position, so a retry of
the request (`Idempotency-Key`: the write deduplicates and answers the same position) files
the same report once. If the report fails, the request answers that failure (503, never
swallowed) with the content already written — held content then waits unseen, flagged
content stands unreported, until the client retries with its key. Held content is never
visible without a moderator's decision either way; what can be lost without a retry is the
queue entry, the trade-off of not having one transaction across two aggregates. (A sign-up
takes no key and cannot be sent twice: if its flagged display name's report fails, the
account stands and the name goes unreported; the person signs in.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping

from aiohttp import web

from core.bootstrap import Infra
from core.commands import CommandReply, parse_position
from core.errors import FieldError
from core.moderation import SYSTEM
from core.wordfilter import Rule, WordFilter
from edge.context import INFRA, correlation_id, wait_for_position
from edge.positions import PositionWatcher
from handlers.moderation.commands import FileReport, Snapshot
from handlers.moderation.errors import WordFilterBlocked
from handlers.moderation.screening import Verdict, screen
from projections import word_filters as model

PROJECTION = model.WordFiltersProjection.name
#: Seconds a compiled filter is used without looking at the read model (the position
#: notices make it sooner).
MAX_AGE = 1.0


class WordFilters:
    """The rules of the `word_filters` read model, compiled per context on first use."""

    def __init__(self, infra: Infra, watcher: PositionWatcher, *, max_age: float = MAX_AGE) -> None:
        self.pool = infra.pool
        self.stream = infra.store.streams.stream_for("moderation")
        self.watcher = watcher
        self.max_age = max_age
        self._rules: list[Rule] | None = None
        self._compiled: dict[str, WordFilter] = {}
        self._revision = -1
        #: The projection's position (as the watcher knew it) and the time of the last look.
        self._seen = -1
        self._looked = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return (
            self._rules is not None
            and self.watcher.known(PROJECTION, self.stream) <= self._seen
            and time.monotonic() - self._looked < self.max_age
        )

    async def _refresh(self) -> None:
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():
                return  # another write looked while this one waited
            seen = self.watcher.known(PROJECTION, self.stream)
            looked = time.monotonic()
            # Raises asyncpg.UndefinedTableError before the first build: 503 (edge.app).
            revision = await model.revision(self.pool)
            if revision != self._revision:
                rows = await model.list_rules(self.pool)
                self._rules = [
                    Rule(r.id, r.pattern, r.whole_word, r.action, frozenset(r.contexts))
                    for r in rows
                ]
                self._compiled = {}
                self._revision = revision
            self._seen, self._looked = seen, looked

    async def for_context(self, context: str) -> WordFilter:
        """The compiled rules that screen `context` (posts, comments, messages, profiles)."""
        await self._refresh()
        compiled = self._compiled.get(context)
        if compiled is None:
            rules = self._rules or []
            compiled = WordFilter(r for r in rules if context in r.contexts)
            self._compiled[context] = compiled
        return compiled


WORD_FILTERS = web.AppKey("word_filters", WordFilters)


async def screened(
    request: web.Request,
    context: str,
    texts: Mapping[str, str | None],
    *,
    fixed: Collection[str] = (),
) -> Verdict:
    """The verdict on a write's `texts` (field → text; None: not written) in `context`,
    after the rules this request must see. A blocked write raises 422
    `word-filter-blocked` naming the rule, the field and the text that matched; otherwise
    the caller writes `verdict.texts` (censored), holds if `verdict.held`, and calls
    `file_report` after its command."""
    await wait_for_position(request, PROJECTION)
    rules = await request.app[WORD_FILTERS].for_context(context)
    verdict = screen(rules, context, texts, fixed=fixed)
    hit = verdict.blocked
    if hit is not None:
        raise WordFilterBlocked(
            f"word filter rule {hit.rule_id} does not allow {hit.matched!r} in {hit.field}",
            errors=[
                FieldError(hit.field, f"matches word filter rule {hit.rule_id}: {hit.matched!r}")
            ],
        )
    return verdict


async def file_report(
    request: web.Request,
    verdict: Verdict,
    reply: CommandReply,
    *,
    target_type: str,
    target_id: str,
    author_id: str,
    title: str | None = None,
    body: str = "",
) -> None:
    """After a held or flagged write: the system's report of it (nothing otherwise), with
    the content as written at the write's commit (`reply`)."""
    reported = verdict.reported
    if not reported or not reply.position:
        return
    stream, seq = parse_position(reply.position)
    infra: Infra = request.app[INFRA]
    await infra.bus.send(
        FileReport(
            target_type=target_type,  # type: ignore[arg-type]
            target_id=target_id,
            category="other",
            author_id=author_id,
            snapshot=Snapshot(title=title, body=body, stream=stream, seq=seq),
            comment=verdict.report_comment(),
            weight=0.0,
            word_filter_rules=list(dict.fromkeys(h.rule_id for h in reported))[:50],
            held=verdict.held,
        ),
        actor=SYSTEM,
        correlation_id=correlation_id(request),
        # One report per commit: a retried request (same commit) files it once.
        command_id=f"word-filter-{stream}-{seq}-{target_type}-{target_id}",
    )
