"""The profiles context (people): profiles, handles, follows and blocks.

`TABLE` is the index of this context: every command it answers and what carries it out.
"""

from typing import Any

from core.bus import HandlerTable, Procedure
from handlers.profiles import procedures as p
from handlers.profiles.commands import (
    Block,
    ChangePrivacy,
    Follow,
    Unblock,
    Unfollow,
    UpdateProfile,
)
from handlers.profiles.events import EVENTS

CONTEXT = "profiles"

TABLE: HandlerTable = {
    UpdateProfile: Procedure(p.update_profile),
    ChangePrivacy: Procedure(p.change_privacy),
    Follow: Procedure(p.follow),
    Unfollow: Procedure(p.unfollow),
    Block: Procedure(p.block),
    Unblock: Procedure(p.unblock),
}


def background(infra: Any) -> list[Any]:
    """Reacting to the accounts context: an erased person's handle is released."""
    from core.reactor import Reactor

    async def react(recorded: Any) -> None:
        await p.release_handle_of_erased(infra, recorded)

    return [
        Reactor(
            js=infra.nc.jetstream(),
            registry=infra.registry,
            name="profiles_on_erasure",
            stream=infra.store.streams.stream_for("accounts"),
            filter_subject="ev.accounts.account.>",
            reacts_to=frozenset({"accounts.AccountErased"}),
            react=react,
        )
    ]


__all__ = ["CONTEXT", "EVENTS", "TABLE", "background"]
