"""The command bus: the edge sends commands as NATS requests, handler workers answer.

A handler worker is a NATS micro service (discoverable through `$SRV.*`) whose endpoints
listen in a queue group, so any number of processes share the load. For each command the
worker loads the aggregate, runs the context's pure `decide`, appends the resulting events as
one commit and replies with its position. On a concurrency conflict it reloads and decides
again (bounded), then answers 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
import nats.errors
import structlog
from nats import micro
from nats.aio.client import Client as NATS
from nats.micro.request import Request

from core import modules
from core.commands import (
    H_ACTOR,
    H_COMMAND_ID,
    H_CORRELATION_ID,
    H_DEADLINE,
    H_ROLES,
    Command,
    CommandMeta,
    CommandReply,
    ErrorBody,
    format_position,
)
from core.envelope import AggregateRef, utc_now
from core.errors import (
    ConcurrencyError,
    ConflictError,
    OverloadedError,
    QuarkError,
    RemoteError,
    UnavailableError,
    ValidationError,
)
from core.eventstore import AggregateKind, EventStore, Loaded
from core.ids import is_uuid, new_id
from core.logging import get_logger
from core.metrics import COMMAND_SECONDS, COMMANDS_TOTAL, IN_FLIGHT, SHED_TOTAL
from core.natsutil import NATS_UNAVAILABLE
from core.registry import Event

C = TypeVar("C", bound=Command)
S = TypeVar("S")

#: Reload-and-decide attempts before a conflict reaches the client as 409.
MAX_DECISION_ATTEMPTS = 8
#: Where a handler announces `"<person> <STREAM>:<seq>"` for every committed command,
#: before replying: every edge learns of a person's writes before the person can
#: (read-your-writes without asking, `edge/writes.py`).
WRITES_SUBJECT = "quark.writes"

log = get_logger("quark.bus")
_reply_encoder = msgspec.json.Encoder()
_reply_decoder = msgspec.json.Decoder(CommandReply)


@dataclass(frozen=True)
class Decider(Generic[C, S]):
    """One row of a context's handler table: how a command maps to an aggregate and which
    pure function decides it.

    `creates=True` marks commands that usually start a new aggregate: the first attempt
    decides against the initial state with expected sequence 0 and skips the load round
    trip; if the aggregate exists after all, the conflict makes it load and decide again.
    """

    kind: AggregateKind[S]
    aggregate_id: Callable[[C], str]
    decide: Callable[[S, C, CommandMeta], list[Event]]
    creates: bool = False


HandlerTable = dict[type[Command], "Decider[Any, Any] | Procedure[Any]"]


def _error_body(exc: QuarkError) -> ErrorBody:
    return ErrorBody(
        code=exc.code,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        errors=list(exc.errors),
        retry_after=exc.retry_after,
        members=dict(exc.members),
    )


@dataclass(frozen=True)
class Procedure(Generic[C]):
    """A row of a handler table for a command that spans several aggregates or needs the
    worker's services (the vault, Redis, password hashing): `run(services, command, meta)`
    composes `transact` calls and returns the reply itself."""

    run: Callable[[Any, C, CommandMeta], Awaitable[CommandReply]]


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """What one `transact` did: the state after it, its position, the events it committed
    (none when `decide` found nothing to change) and whether it was a retry's duplicate."""

    state: S
    position: str
    events: list[Event]
    duplicate: bool = False


def _check_id(aggregate_id: str) -> None:
    if not is_uuid(aggregate_id):
        # Ids become subject tokens: a dot or a wildcard here would address other aggregates.
        raise ValidationError(f"{aggregate_id!r} is not a valid id")


async def transact(
    store: EventStore,
    kind: AggregateKind[S],
    aggregate_id: str,
    decide: Callable[[S], list[Event]],
    meta: CommandMeta,
    *,
    creates: bool = False,
    step: str = "",
) -> Outcome[S]:
    """Load, decide, append one aggregate; reload and decide again on conflicts.

    `step` names this append within a command that touches several aggregates: JetStream
    deduplicates by message id per stream, so each append of one command needs its own.
    Domain errors raised by `decide` propagate.
    """
    _check_id(aggregate_id)
    command_id = f"{meta.command_id}/{step}" if step else meta.command_id
    stream = store.streams.stream_for(kind.context)
    for attempt in range(MAX_DECISION_ATTEMPTS):
        loaded: Loaded[S]
        if attempt == 0 and creates:
            loaded = Loaded(AggregateRef(kind.type, aggregate_id), kind.initial(), 0, 0, {})
        else:
            loaded = await store.load(kind, aggregate_id)
        earlier = loaded.commands.get(command_id)
        if earlier is not None:
            # A retry of a command that already committed: answer as the first time.
            return Outcome(loaded.state, format_position(stream, earlier), [], duplicate=True)
        events = decide(loaded.state)
        if not events:
            return Outcome(loaded.state, format_position(stream, loaded.seq), [])
        try:
            result = await store.append(
                loaded.ref,
                loaded.seq,
                events,
                command_id=command_id,
                actor=meta.actor,
                correlation_id=meta.correlation_id,
            )
        except ConcurrencyError:
            if attempt:
                # Back off a little, with jitter, so hot aggregates do not livelock.
                await asyncio.sleep(
                    min(0.002 * (2**attempt), 0.05) * (0.5 + hash(command_id) % 100 / 100)
                )
            continue
        state = loaded.state
        for e in events:
            state = kind.evolve(state, e)
        if kind.snapshot_every:
            await store.maybe_snapshot(kind, loaded, state, result.seq, command_id, len(events))
        return Outcome(
            state, format_position(result.stream, result.seq), events, duplicate=result.duplicate
        )
    raise ConflictError(
        f"{kind.type} {aggregate_id} kept changing; gave up after {MAX_DECISION_ATTEMPTS} attempts"
    )


async def execute(
    store: EventStore, decider: Decider[C, S], command: C, meta: CommandMeta
) -> CommandReply:
    """One command, one aggregate: the handler table's `Decider` rows."""
    aggregate_id = decider.aggregate_id(command)
    outcome = await transact(
        store,
        decider.kind,
        aggregate_id,
        lambda state: decider.decide(state, command, meta),
        meta,
        creates=decider.creates,
    )
    return CommandReply(
        ok=True,
        position=outcome.position,
        aggregate_id=aggregate_id,
        duplicate=outcome.duplicate,
    )


@dataclass
class HandlerWorker:
    """Serves one context's handler table as a NATS micro service.

    nats-py runs a subscription's callbacks one after another, so each request is handed to
    its own task (at most `concurrency` at once) and the callback returns at once.
    """

    nc: NATS
    store: EventStore
    context: str
    table: HandlerTable
    version: str = "0.1.0"
    concurrency: int = 512
    #: Handed to `Procedure` rows (the composition root's `Infra`).
    services: Any = None
    _service: micro.Service | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._service = await micro.add_service(
            self.nc,
            name=f"quark-{self.context}",
            version=self.version,
            description=f"Command handlers of the {self.context} context",
            metadata=modules.metadata("handler", self.context, context=self.context),
            # Each endpoint's stats carry the worker's commands in flight (an object, as the
            # micro schema wants: nats-py would send null).
            stats_handler=lambda _endpoint: {"in_flight": len(self._tasks)},
        )
        for command_type, decider in self.table.items():
            if command_type.context != self.context:
                raise ValueError(
                    f"{command_type.__name__} belongs to {command_type.context}, not {self.context}"
                )
            await self._service.add_endpoint(
                name=command_type.__name__,
                subject=command_type.subject(),
                queue_group=f"handlers.{self.context}",
                handler=self._dispatcher(command_type, decider),
            )

    def _dispatcher(
        self, command_type: type[Command], decider: Decider[Any, Any] | Procedure[Any]
    ) -> Callable[[Request], Any]:
        decoder = msgspec.json.Decoder(command_type)

        async def on_request(request: Request) -> None:
            if len(self._tasks) >= self.concurrency:
                # Shed at once: waiting here would stall this subscription (every later
                # command queues behind it) until the senders time out.
                name = command_type.__name__
                COMMANDS_TOTAL.labels(self.context, name, "overloaded").inc()
                SHED_TOTAL.labels(f"handler-{self.context}", "command").inc()
                busy = OverloadedError(
                    f"the {self.context} handler has {self.concurrency} commands in flight"
                )
                with contextlib.suppress(*NATS_UNAVAILABLE):
                    await request.respond(
                        _reply_encoder.encode(CommandReply(ok=False, error=_error_body(busy)))
                    )
                return
            task = asyncio.create_task(self._handle(request, decoder, decider))
            self._tasks.add(task)
            IN_FLIGHT.labels(f"handler-{self.context}", "command").set(len(self._tasks))
            task.add_done_callback(self._done)

        return on_request

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        IN_FLIGHT.labels(f"handler-{self.context}", "command").set(len(self._tasks))

    async def _handle(
        self,
        request: Request,
        decoder: msgspec.json.Decoder[Any],
        decider: Decider[Any, Any] | Procedure[Any],
    ) -> None:
        headers = request.headers or {}
        name = request.subject.rsplit(".", 1)[-1]
        command_id = headers.get(H_COMMAND_ID) or new_id()
        correlation_id = headers.get(H_CORRELATION_ID) or command_id
        # Each request runs in its own task (its own context copy): every log line of this
        # command carries its ids.
        structlog.contextvars.bind_contextvars(
            command=name, command_id=command_id, correlation_id=correlation_id
        )
        deadline = headers.get(H_DEADLINE, "")
        if deadline.isdigit() and int(deadline) < time.time() * 1000:
            # The sender gave up (and answered its client 503): executing now would surprise.
            COMMANDS_TOTAL.labels(self.context, name, "expired").inc()
            log.warning("command_expired")
            return
        started = asyncio.get_running_loop().time()
        outcome = "ok"
        try:
            try:
                command = decoder.decode(request.data)
            except msgspec.ValidationError as exc:
                raise ValidationError(str(exc)) from None
            except msgspec.DecodeError as exc:
                raise ValidationError(f"malformed command: {exc}") from None
            meta = CommandMeta(
                command_id=command_id,
                actor=headers.get(H_ACTOR) or None,
                roles=frozenset(r for r in headers.get(H_ROLES, "").split(",") if r),
                correlation_id=correlation_id,
                received_at=utc_now(),
            )
            if isinstance(decider, Procedure):
                reply = await decider.run(self.services, command, meta)
            else:
                reply = await execute(self.store, decider, command, meta)
        except QuarkError as exc:
            outcome = exc.code
            reply = CommandReply(ok=False, error=_error_body(exc))
            log.info("command_refused", context=self.context, code=exc.code)
        except Exception:
            # Never leave the sender waiting for a timeout: answer, log the trace here only.
            outcome = "internal"
            log.exception("command_failed")
            reply = CommandReply(
                ok=False, error=_error_body(QuarkError("the command could not be handled"))
            )
        COMMANDS_TOTAL.labels(self.context, name, outcome).inc()
        COMMAND_SECONDS.labels(self.context, name).observe(
            asyncio.get_running_loop().time() - started
        )
        writer = reply.writer or (headers.get(H_ACTOR) if reply.ok else None)
        with contextlib.suppress(*NATS_UNAVAILABLE):
            if writer and reply.position:
                # Published before the reply on the same connection: NATS routes it to
                # every edge before the reply reaches the sender.
                await self.nc.publish(WRITES_SUBJECT, f"{writer} {reply.position}".encode())
            await request.respond(_reply_encoder.encode(reply))

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop taking commands, then let the ones in flight finish (graceful drain)."""
        if self._service is not None:
            with contextlib.suppress(Exception):
                await self._service.stop()
            self._service = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class CommandBus:
    """The sending side, used by the edge: one request per command, typed reply or error."""

    def __init__(self, nc: NATS, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.timeout = timeout
        self._encoder = msgspec.json.Encoder()

    async def send(
        self,
        command: Command,
        *,
        actor: str | None,
        roles: frozenset[str] | set[str] = frozenset(),
        correlation_id: str | None = None,
        command_id: str | None = None,
    ) -> CommandReply:
        """Send `command` and wait for its reply.

        Raises:
            RemoteError: the handler rejected the command with a typed domain error.
            UnavailableError: no handler answered in time, or NATS is down. The command may
                or may not have been committed; resending it with the same `command_id` is
                safe (idempotent).
        """
        if not self.nc.is_connected:
            # Fail fast: a request queued while reconnecting would only time out.
            raise UnavailableError("NATS is not connected")
        command_id = command_id or new_id()
        headers = {
            H_COMMAND_ID: command_id,
            H_CORRELATION_ID: correlation_id or command_id,
            H_DEADLINE: str(int((time.time() + self.timeout) * 1000)),
        }
        if actor:
            headers[H_ACTOR] = actor
        if roles:
            headers[H_ROLES] = ",".join(sorted(roles))
        try:
            msg = await self.nc.request(
                type(command).subject(),
                self._encoder.encode(command),
                timeout=self.timeout,
                headers=headers,
            )
        except nats.errors.NoRespondersError:
            raise UnavailableError(f"no {type(command).context} handler is running") from None
        except NATS_UNAVAILABLE as exc:
            raise UnavailableError(
                f"the command was not confirmed ({type(exc).__name__})"
            ) from None
        reply = _reply_decoder.decode(msg.data)
        if not reply.ok:
            err = reply.error
            assert err is not None
            raise RemoteError(
                err.code,
                err.status,
                err.title,
                err.detail,
                list(err.errors),
                err.retry_after,
                members=err.members,
            )
        return reply
