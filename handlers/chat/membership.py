"""The channel membership aggregate (`chat.membership`, one per channel and person, its id
derived from both like the read marker's): whether the person belongs to the channel, and
whether an owner or admin removed them. Pure `evolve` and `decide`.

A channel may have any number of members joining and leaving at any rate: were they all
recorded on the conversation's aggregate, every join would contend for that one subject
(optimistic concurrency) and a popular channel would answer 409 to simultaneous joins. Each
membership has a subject of its own instead — as each comment has — so joins never conflict
and the conversation aggregate changes only when its settings or roles do.

The events are the conversation's own `MembersAdded` / `MemberRemoved` (one person each), so
every read model keeps reading membership from the same events wherever they are recorded.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.eventstore import AggregateKind
from core.ids import derived_id
from core.registry import Event
from handlers.chat.errors import RemovedFromChannel
from handlers.chat.events import MemberRemoved, MembersAdded


class MembershipState(msgspec.Struct, frozen=True):
    joined: bool = False
    #: Who removed the person (an owner or admin), until someone lets them back in; None when
    #: they left by themselves or were never removed.
    removed_by: str | None = None


def evolve(state: MembershipState, event: Event) -> MembershipState:
    match event:
        case MembersAdded():
            return MembershipState(joined=True)
        case MemberRemoved():
            return MembershipState(removed_by=None if event.by == event.user_id else event.by)
        case _:
            return state


MEMBERSHIP = AggregateKind(type="chat.membership", initial=MembershipState, evolve=evolve)


def membership_id(key: bytes, conversation_id: str, user_id: str) -> str:
    """The aggregate id of one person's membership of one channel: keyed, so nobody can
    address another's membership, and stable, so a retried join finds the same one."""
    return derived_id(key, "channel-membership", conversation_id, user_id)


def decide_join(
    state: MembershipState,
    conversation_id: str,
    user_id: str,
    by: str,
    at: datetime,
) -> list[Event]:
    """Join (`by == user_id`) or be invited (`by` an owner or admin, checked by the
    conversation). Joining twice writes nothing. Someone removed by an owner or admin comes
    back only when one of them invites them: a removal is meant to keep them out."""
    if state.joined:
        return []
    if state.removed_by is not None and by == user_id:
        raise RemovedFromChannel()
    return [MembersAdded(conversation_id=conversation_id, members=[user_id], by=by, at=at)]


def decide_leave(
    state: MembershipState,
    conversation_id: str,
    user_id: str,
    by: str,
    at: datetime,
    *,
    member_elsewhere: bool = False,
) -> list[Event]:
    """Leave (`by == user_id`) or be removed (`by` an owner or admin: the caller checked
    their role on the conversation). `member_elsewhere`: the person belonged through the
    conversation's own aggregate (older joins, people named at the start, roles), whose
    `MemberRemoved` the caller recorded there; a removal is still written here, so that
    they stay out."""
    if state.joined or (member_elsewhere and by != user_id and state.removed_by is None):
        return [MemberRemoved(conversation_id=conversation_id, user_id=user_id, by=by, at=at)]
    return []
