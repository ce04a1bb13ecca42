"""The reaction aggregate: what one person has on one target. Pure `evolve` and `decide`
functions, no I/O and no clock.

One aggregate per (person, target) rather than one per target: reactions of different
people never contend (50 people reacting at once are 50 appends with expected sequence 0,
not 50 retries on one subject), and a person's repeated PUT is decided against their own
state, so it is idempotent without any read model.
"""

from __future__ import annotations

import uuid

import msgspec

from core.commands import CommandMeta
from core.eventstore import AggregateKind
from core.ids import is_uuid
from core.registry import Event
from handlers.reactions.commands import KINDS, React, Unreact
from handlers.reactions.errors import InvalidReaction, UnknownReactionKind
from handlers.reactions.events import ReactionAdded, ReactionRemoved

#: Fixed forever: changing it would give every existing reaction a new aggregate, and a
#: person could then react twice with the same kind.
REACTION_NAMESPACE = uuid.UUID("67ee2c33-22de-495e-8b11-3567868c1e23")


def reaction_id(target_type: str, target_id: str, user_id: str) -> str:
    """The id of `user_id`'s reaction aggregate on a target.

    A name-based UUID (version 5) rather than a keyed hash (`core.ids.derived_id`): its
    inputs are ids that the aggregate's own events carry in the clear, so the subject
    reveals nothing the log does not, and no personal value (phone, name) goes in. Being
    unkeyed, it does not change if the platform's secret key is ever replaced (a keyed id
    would then split a person's reactions into two aggregates), and any worker or tool
    can compute it without the secret.
    """
    return str(uuid.uuid5(REACTION_NAMESPACE, f"{target_type}:{target_id}:{user_id}"))


class ReactionState(msgspec.Struct, frozen=True):
    kinds: frozenset[str] = frozenset()


def evolve(state: ReactionState, event: Event) -> ReactionState:
    match event:
        case ReactionAdded():
            return ReactionState(state.kinds | {event.kind})
        case ReactionRemoved():
            return ReactionState(state.kinds - {event.kind})
        case _:
            return state


REACTION = AggregateKind(
    type="reactions.reaction",
    initial=ReactionState,
    evolve=evolve,
    state_type=ReactionState,
    # Only a person toggling one reaction many times makes a long history.
    snapshot_every=100,
)


def _reactor(command: React | Unreact, meta: CommandMeta) -> str:
    """The person reacting; the target and kind checked again here, whoever sent it."""
    if command.kind not in KINDS:
        raise UnknownReactionKind(f"{command.kind!r} is not one of {', '.join(KINDS)}")
    # Both ids land in uuid columns of the read model: a malformed one would be an event
    # no projection can store.
    if not meta.actor or not is_uuid(meta.actor):
        raise InvalidReaction("sign in to react")
    if not is_uuid(command.target_id):
        raise InvalidReaction(f"{command.target_id!r} is not a {command.target_type} id")
    return meta.actor


def decide_react(state: ReactionState, command: React, meta: CommandMeta) -> list[Event]:
    user_id = _reactor(command, meta)
    if command.kind in state.kinds:
        return []  # already there: no event, the reply carries the current position
    return [
        ReactionAdded(
            target_type=command.target_type,
            target_id=command.target_id,
            user_id=user_id,
            kind=command.kind,
            at=meta.received_at,
        )
    ]


def decide_unreact(state: ReactionState, command: Unreact, meta: CommandMeta) -> list[Event]:
    user_id = _reactor(command, meta)
    if command.kind not in state.kinds:
        return []
    return [
        ReactionRemoved(
            target_type=command.target_type,
            target_id=command.target_id,
            user_id=user_id,
            kind=command.kind,
            at=meta.received_at,
        )
    ]
