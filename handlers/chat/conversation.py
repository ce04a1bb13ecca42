"""The conversation aggregate (`chat.conversation`, one per conversation): its kind, name,
settings and members with their roles. Pure `evolve` and `decide`.

Messages are not part of it (see `handlers.chat.message`): the conversation's subject holds
only the rare membership and settings changes, so it loads fast and sending never contends
for it. Nor are the people who join a channel (see `handlers.chat.membership`): `members` of
a channel holds its owner and admins, the people named when it started, and those who
joined before memberships had aggregates of their own (their events stay valid).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.commands import CommandMeta
from core.errors import ConflictError
from core.eventstore import AggregateKind
from core.registry import Event
from handlers.chat.commands import (
    AddMembers,
    ChangeConversation,
    RemoveMember,
    SetRole,
    StartConversation,
)
from handlers.chat.errors import (
    BadMembership,
    ConversationFull,
    ConversationNotFound,
    NotAllowed,
    TooManyMembers,
)
from handlers.chat.events import (
    ConversationChanged,
    ConversationStarted,
    MemberRemoved,
    MembersAdded,
    RoleChanged,
)

MANAGERS = frozenset({"owner", "admin"})


class ConversationState(msgspec.Struct, frozen=True):
    exists: bool = False
    kind: str = ""
    title: str | None = None
    everyone_posts: bool = False
    max_members: int = 0
    members: dict[str, str] = {}


def evolve(state: ConversationState, event: Event) -> ConversationState:
    match event:
        case ConversationStarted():
            return ConversationState(
                True,
                event.kind,
                event.title,
                event.everyone_posts,
                event.max_members,
                dict(event.members),
            )
        case ConversationChanged():
            return msgspec.structs.replace(
                state,
                title=state.title if event.title is None else event.title,
                everyone_posts=state.everyone_posts
                if event.everyone_posts is None
                else event.everyone_posts,
            )
        case MembersAdded():
            return msgspec.structs.replace(
                state, members={**state.members, **dict.fromkeys(event.members, "member")}
            )
        case MemberRemoved():
            members = dict(state.members)
            members.pop(event.user_id, None)
            return msgspec.structs.replace(state, members=members)
        case RoleChanged():
            return msgspec.structs.replace(
                state, members={**state.members, event.user_id: event.role}
            )
        case _:
            return state


CONVERSATION = AggregateKind(type="chat.conversation", initial=ConversationState, evolve=evolve)


def _actor(meta: CommandMeta) -> str:
    if not meta.actor:
        raise NotAllowed("a conversation needs a person")
    return meta.actor


def _existing(state: ConversationState, actor: str) -> None:
    """Strangers to a private conversation learn nothing of it."""
    if not state.exists or (state.kind != "channel" and actor not in state.members):
        raise ConversationNotFound()


def _manager(state: ConversationState, actor: str) -> None:
    _existing(state, actor)
    if state.kind == "direct" or state.members.get(actor) not in MANAGERS:
        raise NotAllowed()


def decide_start(
    state: ConversationState, command: StartConversation, meta: CommandMeta
) -> list[Event]:
    actor = _actor(meta)
    others = list(dict.fromkeys(m for m in command.members if m != actor))
    if command.kind == "direct":
        if len(others) != 1 or len(command.members) != 1:
            raise BadMembership("a direct conversation has exactly one other member")
        members = {actor: "member", others[0]: "member"}
    else:
        members = {actor: "owner", **dict.fromkeys(others, "member")}
        if command.kind == "group" and len(members) > command.max_members:
            raise TooManyMembers(f"a group has at most {command.max_members} members")
    if state.exists:
        # Asking again (the same pair, or a retried create) answers the conversation there is.
        if state.kind == command.kind and (command.kind != "direct" or actor in state.members):
            return []
        raise ConflictError("a conversation with this id already exists")
    return [
        ConversationStarted(
            conversation_id=command.conversation_id,
            kind=command.kind,
            started_by=actor,
            members=members,
            started_at=meta.received_at,
            title=command.name,
            everyone_posts=command.everyone_posts,
            max_members=command.max_members,
        )
    ]


def decide_change(
    state: ConversationState, command: ChangeConversation, meta: CommandMeta
) -> list[Event]:
    actor = _actor(meta)
    _manager(state, actor)
    title = command.name if command.name not in (None, state.title) else None
    posts = command.everyone_posts
    if posts == state.everyone_posts or state.kind != "channel":
        posts = None
    if title is None and posts is None:
        return []
    return [
        ConversationChanged(
            conversation_id=command.conversation_id,
            changed_by=actor,
            at=meta.received_at,
            title=title,
            everyone_posts=posts,
        )
    ]


def decide_add(state: ConversationState, command: AddMembers, meta: CommandMeta) -> list[Event]:
    actor = _actor(meta)
    _manager(state, actor)
    new = [m for m in dict.fromkeys(command.members) if m not in state.members]
    if not new:
        return []
    if state.kind == "group" and len(state.members) + len(new) > state.max_members:
        raise ConversationFull(f"a group has at most {state.max_members} members")
    return [
        MembersAdded(
            conversation_id=command.conversation_id, members=new, by=actor, at=meta.received_at
        )
    ]


def check_join(state: ConversationState, actor: str) -> None:
    """Anyone may join a channel that exists; nobody joins a group or direct conversation
    (strangers to them learn nothing of them)."""
    _existing(state, actor)
    if state.kind != "channel":
        raise NotAllowed("only channels are open to anyone")


def check_manager(state: ConversationState, actor: str) -> None:
    """The actor is an owner or admin of the conversation."""
    _manager(state, actor)


def decide_remove(
    state: ConversationState, command: RemoveMember, meta: CommandMeta
) -> list[Event]:
    actor = _actor(meta)
    _existing(state, actor)
    role = state.members.get(command.user_id)
    if role is None:
        return []
    if state.kind == "direct":
        raise BadMembership("nobody leaves a direct conversation")
    if command.user_id != actor:
        mine = state.members.get(actor)
        # Owners remove anyone; admins remove members only.
        if mine != "owner" and not (mine == "admin" and role == "member"):
            raise NotAllowed()
    elif role == "owner" and (len(state.members) > 1 or state.kind == "channel"):
        # A channel's members are not all counted here (see `handlers.chat.membership`):
        # its owner always hands it over, so that a channel never goes without one.
        raise BadMembership("an owner hands ownership to someone else before leaving")
    return [
        MemberRemoved(
            conversation_id=command.conversation_id,
            user_id=command.user_id,
            by=actor,
            at=meta.received_at,
        )
    ]


def decide_role(
    state: ConversationState, command: SetRole, meta: CommandMeta, *, joined: bool = False
) -> list[Event]:
    """`joined`: the person is a member of the channel through their own membership
    aggregate (checked by the caller); once given a role they are in `members` too."""
    actor = _actor(meta)
    _existing(state, actor)
    if state.kind == "direct" or state.members.get(actor) != "owner":
        raise NotAllowed("only the owner gives and takes roles")
    current = state.members.get(command.user_id) or ("member" if joined else None)
    if current is None:
        raise BadMembership("roles are for members")
    if command.role == "owner" and command.user_id not in state.members:
        # Someone who only joined could be leaving at this very moment (their membership is
        # another aggregate): a channel's ownership goes to one of its admins.
        raise BadMembership("a channel's ownership goes to one of its admins")
    if current == command.role:
        return []
    if command.user_id == actor:
        raise BadMembership("an owner hands ownership to someone else")

    def change(user_id: str, role: str) -> RoleChanged:
        return RoleChanged(
            conversation_id=command.conversation_id,
            user_id=user_id,
            role=role,
            by=actor,
            at=meta.received_at,
        )

    if command.role == "owner":
        return [change(command.user_id, "owner"), change(actor, "admin")]
    return [change(command.user_id, command.role)]


def decide_drop(
    state: ConversationState, conversation_id: str, user_id: str, by: str, at: datetime
) -> list[Event]:
    """Take a channel member who is no longer one out of `members`: their role was given
    while they were being removed or leaving on their membership aggregate (see
    `handlers.chat.channels`). The owner is never dropped (ownership goes to admins only)."""
    if state.members.get(user_id) in (None, "owner"):
        return []
    return [MemberRemoved(conversation_id=conversation_id, user_id=user_id, by=by, at=at)]
