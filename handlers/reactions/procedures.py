"""Carrying out reaction commands. A procedure rather than a `Decider` row only because the
aggregate id depends on the actor (the command's metadata), which a `Decider`'s
`aggregate_id(command)` cannot see; the decision itself stays in `decide.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.bootstrap import Infra
from core.bus import transact
from core.commands import CommandMeta, CommandReply
from core.registry import Event
from handlers.reactions.commands import React, Unreact
from handlers.reactions.decide import (
    REACTION,
    ReactionState,
    decide_react,
    decide_unreact,
    reaction_id,
)


def _procedure(
    decide: Callable[[ReactionState, Any, CommandMeta], list[Event]], *, creates: bool
) -> Callable[[Infra, Any, CommandMeta], Any]:
    async def run(infra: Infra, command: React | Unreact, meta: CommandMeta) -> CommandReply:
        aggregate_id = reaction_id(command.target_type, command.target_id, meta.actor or "")
        outcome = await transact(
            infra.store,
            REACTION,
            aggregate_id,
            lambda state: decide(state, command, meta),
            meta,
            creates=creates,
        )
        return CommandReply(
            ok=True,
            position=outcome.position,
            aggregate_id=aggregate_id,
            duplicate=outcome.duplicate,
        )

    return run


#: A person's first reaction on a target is the common case: decide against the empty state
#: and append with expected sequence 0, skipping the load (a conflict loads and decides again).
react = _procedure(decide_react, creates=True)
unreact = _procedure(decide_unreact, creates=False)
