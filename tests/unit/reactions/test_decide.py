"""The reaction aggregate's rules, with plain values: no servers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from core.commands import CommandMeta
from core.ids import is_uuid, new_id
from handlers.reactions.commands import KINDS, React, Unreact
from handlers.reactions.decide import (
    ReactionState,
    decide_react,
    decide_unreact,
    evolve,
    reaction_id,
)
from handlers.reactions.errors import InvalidReaction, UnknownReactionKind
from handlers.reactions.events import ReactionAdded, ReactionRemoved

PERSON = new_id()
POST = new_id()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def meta(actor: str | None = PERSON) -> CommandMeta:
    return CommandMeta(new_id(), actor, frozenset({"user"}), "corr", NOW)


def react(kind: str = "like", target_id: str = POST) -> React:
    return React(target_type="post", target_id=target_id, kind=kind)  # type: ignore[arg-type]


def unreact(kind: str = "like") -> Unreact:
    return Unreact(target_type="post", target_id=POST, kind=kind)  # type: ignore[arg-type]


def after(*kinds: str) -> ReactionState:
    state = ReactionState()
    for kind in kinds:
        for event in decide_react(state, react(kind), meta()):
            state = evolve(state, event)
    return state


def test_a_first_reaction_is_added_for_the_actor() -> None:
    [event] = decide_react(ReactionState(), react("love"), meta())
    assert event == ReactionAdded(
        target_type="post", target_id=POST, user_id=PERSON, kind="love", at=NOW
    )


def test_reacting_again_with_the_same_kind_yields_nothing() -> None:
    assert decide_react(after("like"), react("like"), meta()) == []


def test_a_person_holds_several_kinds_on_one_target() -> None:
    state = after("like", "wow")
    assert state.kinds == {"like", "wow"}
    [event] = decide_react(state, react("sad"), meta())
    assert isinstance(event, ReactionAdded) and event.kind == "sad"


def test_taking_a_reaction_back_removes_only_that_kind() -> None:
    state = after("like", "wow")
    [event] = decide_unreact(state, unreact("like"), meta())
    assert event == ReactionRemoved(
        target_type="post", target_id=POST, user_id=PERSON, kind="like", at=NOW
    )
    assert evolve(state, event).kinds == {"wow"}


def test_taking_back_a_reaction_that_is_not_there_yields_nothing() -> None:
    assert decide_unreact(ReactionState(), unreact("like"), meta()) == []
    assert decide_unreact(after("wow"), unreact("like"), meta()) == []


def test_every_kind_can_be_added_and_removed() -> None:
    state = after(*KINDS)
    assert state.kinds == set(KINDS)
    for kind in KINDS:
        [event] = decide_unreact(state, unreact(kind), meta())
        state = evolve(state, event)
    assert state.kinds == frozenset()


@pytest.mark.parametrize("actor", [None, "", "not-a-uuid"])
def test_a_reaction_needs_a_person(actor: str | None) -> None:
    with pytest.raises(InvalidReaction):
        decide_react(ReactionState(), react(), meta(actor))


def test_a_reaction_needs_a_target_id_the_read_model_can_store() -> None:
    with pytest.raises(InvalidReaction):
        decide_react(ReactionState(), react(target_id="post-1"), meta())


def test_an_unknown_kind_is_refused_on_the_wire_and_in_decide() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            b'{"target_type": "post", "target_id": "x", "kind": "heart"}', type=React
        )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            b'{"target_type": "profile", "target_id": "x", "kind": "like"}', type=React
        )
    with pytest.raises(UnknownReactionKind):
        decide_react(ReactionState(), msgspec.structs.replace(react(), kind="heart"), meta())


def test_one_aggregate_per_person_and_target() -> None:
    mine = reaction_id("post", POST, PERSON)
    assert is_uuid(mine)
    assert mine == reaction_id("post", POST, PERSON)  # every worker derives the same id
    assert mine != reaction_id("post", POST, new_id())
    assert mine != reaction_id("post", new_id(), PERSON)
    assert mine != reaction_id("comment", POST, PERSON)
    # A name-based UUID: fixed by its namespace and inputs, no secret key involved.
    assert uuid.UUID(mine).version == 5


def test_the_state_survives_a_snapshot() -> None:
    state = after("like", "angry")
    # Snapshots are JSON in the KV bucket (`core.eventstore`).
    assert msgspec.json.decode(msgspec.json.encode(state), type=ReactionState) == state
