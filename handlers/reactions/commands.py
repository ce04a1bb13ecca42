"""Commands of the reactions context. The kinds live here so the edge's validation, the
OpenAPI document, the handler and the read model agree on them."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from core.commands import Command

#: What a person can react with. A fixed set: the read model keeps one counter per kind,
#: and clients draw one button per kind.
Kind = Literal["like", "love", "laugh", "wow", "sad", "angry"]
KINDS: tuple[str, ...] = get_args(Kind)
#: What can be reacted to.
TargetType = Literal["post", "comment"]


class React(Command, frozen=True):
    """The actor (the person reacting) travels in the command's metadata, never the body:
    nobody can react in someone else's name."""

    context: ClassVar[str] = "reactions"
    target_type: TargetType
    target_id: str
    kind: Kind


class Unreact(Command, frozen=True):
    context: ClassVar[str] = "reactions"
    target_type: TargetType
    target_id: str
    kind: Kind
