"""Carrying out the membership commands, whose decisions need two aggregates for a channel:
the conversation (does it exist, is it a channel, what is the actor's role) and the person's
own membership (`handlers.chat.membership`).

Procedures rather than `Decider` rows because a channel membership's id is keyed from the
conversation and the person (the actor, or the person named), with the worker's secret key.
The conversation is only *read* when a join or leave is decided, so any number of people
join and leave one channel at once: each append goes to its own membership's subject. (It
is appended to only for the few who also belong through the conversation itself — a role,
a place from the channel's start, a join from before memberships had aggregates.) Groups and direct conversations keep their members on the
conversation aggregate (a group is small and only its admins invite), so for them these
procedures are the plain single-aggregate decision.

Why the remover's role is checked here, on the conversation, rather than at the edge
against the read model: the conversation aggregate is where roles are decided, so reading it
(the latest state, not the read model's lagging copy) at the moment of the removal costs one
load and no new rule; the membership aggregate then decides the removal itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from core.bootstrap import Infra
from core.bus import Outcome, transact
from core.commands import CommandMeta, CommandReply, format_position, parse_position
from core.ids import is_uuid
from core.registry import Event
from handlers.chat.commands import AddMembers, JoinChannel, RemoveMember, SetRole
from handlers.chat.conversation import (
    CONVERSATION,
    MANAGERS,
    ConversationState,
    check_join,
    check_manager,
    decide_add,
    decide_drop,
    decide_remove,
    decide_role,
)
from handlers.chat.errors import ConversationNotFound, NotAllowed
from handlers.chat.membership import (
    MEMBERSHIP,
    MembershipState,
    decide_join,
    decide_leave,
    membership_id,
)


def _actor(meta: CommandMeta) -> str:
    if not meta.actor:
        raise NotAllowed("a conversation needs a person")
    return meta.actor


def _latest(outcomes: list[Outcome[Any]]) -> str:
    """The latest of the commits' positions: reading after it shows all of them."""
    return max((o.position for o in outcomes), key=lambda p: parse_position(p)[1])


def _reply(conversation_id: str, outcomes: list[Outcome[Any]]) -> CommandReply:
    return CommandReply(
        ok=True,
        position=_latest(outcomes),
        aggregate_id=conversation_id,
        duplicate=any(o.duplicate for o in outcomes),
    )


async def _conversation(infra: Infra, conversation_id: str) -> Outcome[ConversationState]:
    """The conversation as it is now, read without deciding anything: a join or a leave
    never appends to it, so never contends with anyone for it."""
    if not is_uuid(conversation_id):
        raise ConversationNotFound()
    loaded = await infra.store.load(CONVERSATION, conversation_id)
    stream = infra.store.streams.stream_for(CONVERSATION.context)
    return Outcome(loaded.state, format_position(stream, loaded.seq), [])


async def _membership(
    infra: Infra,
    conversation_id: str,
    user_id: str,
    decide: Callable[[MembershipState], list[Event]],
    meta: CommandMeta,
    *,
    creates: bool = False,
    step: str = "",
) -> Outcome[MembershipState]:
    return await transact(
        infra.store,
        MEMBERSHIP,
        membership_id(infra.secret_key, conversation_id, user_id),
        decide,
        meta,
        creates=creates,
        step=step,
    )


async def join_channel(infra: Infra, command: JoinChannel, meta: CommandMeta) -> CommandReply:
    """Join a channel: one append to the person's membership, none to the conversation."""
    actor = _actor(meta)
    conversation = await _conversation(infra, command.conversation_id)
    check_join(conversation.state, actor)
    if actor in conversation.state.members:
        # A member through the conversation itself (a role, or an older join).
        return _reply(command.conversation_id, [conversation])
    joined = await _membership(
        infra,
        command.conversation_id,
        actor,
        lambda state: decide_join(state, command.conversation_id, actor, actor, meta.received_at),
        meta,
        creates=True,
    )
    return _reply(command.conversation_id, [joined])


async def add_members(infra: Infra, command: AddMembers, meta: CommandMeta) -> CommandReply:
    """Invite people: to a group on its conversation aggregate (its size limit needs it);
    to a channel on each person's membership, which also lets back in someone an owner or
    admin had removed."""
    actor = _actor(meta)
    conversation = await _conversation(infra, command.conversation_id)
    if conversation.state.kind != "channel":
        added = await transact(
            infra.store,
            CONVERSATION,
            command.conversation_id,
            lambda state: decide_add(state, command, meta),
            meta,
        )
        return _reply(command.conversation_id, [added])
    check_manager(conversation.state, actor)
    invited = [m for m in dict.fromkeys(command.members) if m not in conversation.state.members]

    async def invite(user_id: str) -> Outcome[MembershipState]:
        return await _membership(
            infra,
            command.conversation_id,
            user_id,
            lambda state: decide_join(
                state, command.conversation_id, user_id, actor, meta.received_at
            ),
            meta,
            step=f"invite-{user_id}",
        )

    # Each invitee's membership is its own aggregate: the appends do not wait for each other.
    outcomes = await asyncio.gather(*(invite(u) for u in invited))
    return _reply(command.conversation_id, [conversation, *outcomes])


async def remove_member(infra: Infra, command: RemoveMember, meta: CommandMeta) -> CommandReply:
    """Leave, or remove someone. In a channel the person may belong through the
    conversation (a role, a place from its start or an older join) and through their own
    membership: both are cleared, the conversation first, so its rules (admins remove
    members only, the owner hands over first) are checked before anything is written. The
    read models see one or two `MemberRemoved` for the person and apply the second as the
    no-op it is."""
    actor = _actor(meta)
    conversation = await _conversation(infra, command.conversation_id)
    state = conversation.state
    if state.kind != "channel":
        removed = await transact(
            infra.store,
            CONVERSATION,
            command.conversation_id,
            lambda s: decide_remove(s, command, meta),
            meta,
        )
        return _reply(command.conversation_id, [removed])
    # The remover's role, from the conversation as it is now (see the module's docstring).
    if command.user_id != actor and state.members.get(actor) not in MANAGERS:
        raise NotAllowed()
    outcomes: list[Outcome[Any]] = [conversation]
    in_conversation = command.user_id in state.members
    if in_conversation:
        outcomes.append(
            await transact(
                infra.store,
                CONVERSATION,
                command.conversation_id,
                lambda s: decide_remove(s, command, meta),
                meta,
            )
        )
    outcomes.append(
        await _membership(
            infra,
            command.conversation_id,
            command.user_id,
            lambda s: decide_leave(
                s,
                command.conversation_id,
                command.user_id,
                actor,
                meta.received_at,
                member_elsewhere=in_conversation,
            ),
            meta,
            step="membership",
        )
    )
    if not in_conversation:
        # Given a role meanwhile? Then the conversation has them too (see `set_role`).
        now = await _conversation(infra, command.conversation_id)
        if command.user_id in now.state.members:
            target = membership_id(infra.secret_key, command.conversation_id, command.user_id)
            # Unless they came back and were given the role since (then they are a member).
            if not (await infra.store.load(MEMBERSHIP, target)).state.joined:
                outcomes.append(await _drop(infra, command, command.user_id, actor, meta))
    return _reply(command.conversation_id, outcomes)


async def _drop(
    infra: Infra, command: RemoveMember | SetRole, user_id: str, by: str, meta: CommandMeta
) -> Outcome[ConversationState]:
    return await transact(
        infra.store,
        CONVERSATION,
        command.conversation_id,
        lambda s: decide_drop(s, command.conversation_id, user_id, by, meta.received_at),
        meta,
        step="drop",
    )


async def set_role(infra: Infra, command: SetRole, meta: CommandMeta) -> CommandReply:
    """Give a role: decided on the conversation, which keeps the roles. A channel's member
    who joined on their own membership is known to be one from it."""
    conversation = await _conversation(infra, command.conversation_id)
    target = membership_id(infra.secret_key, command.conversation_id, command.user_id)
    joined = False
    state = conversation.state
    if state.kind == "channel" and command.user_id not in state.members:
        joined = (await infra.store.load(MEMBERSHIP, target)).state.joined
    changed = await transact(
        infra.store,
        CONVERSATION,
        command.conversation_id,
        lambda s: decide_role(s, command, meta, joined=joined),
        meta,
    )
    outcomes: list[Outcome[Any]] = [conversation, changed]
    if joined and changed.events:
        # The role is written on the conversation, the membership lives on its own aggregate:
        # a removal or leave may have landed in between. Each side writes its own aggregate,
        # then reads the other's (`remove_member` does the same the other way round), so at
        # least one of them sees both and takes the person out of the conversation too.
        membership = await infra.store.load(MEMBERSHIP, target)
        if not membership.state.joined:
            by = membership.state.removed_by or command.user_id
            outcomes.append(await _drop(infra, command, command.user_id, by, meta))
    return _reply(command.conversation_id, outcomes)
