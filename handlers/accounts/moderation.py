"""Carrying out moderators' account actions: the accounts context reacts to the moderation
events (`core.moderation`: decisions and approved appeals; hiding pending review does
nothing to an account) and records the author's new standing on the account's own subject —
`AccountLimited` / `AccountUnlimited`, `AccountSuspended` (until a time, or indefinitely) /
`AccountUnsuspended` (`standing.decide_standing`). A suspension ends every session in its
commit, and the ended sessions are announced like an admin's suspension.

Idempotent like the content contexts' reactors: the command id is the moderation event's
position (`core.moderation.meta_of`), so a redelivered event appends nothing, and a
standing set twice is not set again. An erased account is left as it is.
"""

from __future__ import annotations

from typing import Any

from core.bus import transact
from core.ids import is_uuid
from core.moderation import account_effect, meta_of, moderator, reactor, reason
from core.registry import Event
from handlers.accounts.account import ACCOUNT, AccountState
from handlers.accounts.common import publish_ended_sessions
from handlers.accounts.standing import decide_standing


async def apply_decision(infra: Any, recorded: Any) -> None:
    event = recorded.event
    effect = account_effect(event)
    if effect.limited is None and effect.suspended is None:
        return
    user_id = event.author_id
    if not is_uuid(user_id):
        return  # no account: nothing to carry out
    meta = meta_of(recorded)

    def decide(state: AccountState) -> list[Event]:
        return decide_standing(
            state,
            effect,
            user_id=user_id,
            by=moderator(event),
            reason=reason(event),
            now=meta.received_at,
        )

    outcome = await transact(infra.store, ACCOUNT, user_id, decide, meta)
    await publish_ended_sessions(infra, user_id, outcome)


def background(infra: Any) -> list[Any]:
    async def react(recorded: Any) -> None:
        await apply_decision(infra, recorded)

    return [reactor(infra, "accounts_on_moderation", react)]
