"""Commands and their replies on the wire, shared by the edge (sender) and the handler
workers (receivers). Metadata travels in headers; the body is the command Struct as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from core.errors import FieldError

H_COMMAND_ID = "Quark-Command-Id"
H_ACTOR = "Quark-Actor"
H_ROLES = "Quark-Roles"
H_CORRELATION_ID = "Quark-Correlation-Id"
#: Unix time (ms) after which the sender has stopped waiting: the handler drops the command
#: instead of executing it. Without it, a request nats-py buffered during a disconnect would
#: run after the client was already told 503.
H_DEADLINE = "Quark-Deadline"


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every command. `context` names the handler context it is sent to; the NATS
    subject is `cmd.<context>.<ClassName>`."""

    context: ClassVar[str]

    @classmethod
    def subject(cls) -> str:
        return f"cmd.{cls.context}.{cls.__name__}"


@dataclass(frozen=True)
class CommandMeta:
    """Who sent a command and when it was received; `decide` reads it for authorisation
    and timestamps, so `decide` itself never reads a clock."""

    command_id: str
    actor: str | None
    roles: frozenset[str]
    correlation_id: str
    received_at: datetime


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    status: int
    title: str
    detail: str
    errors: list[FieldError] = []
    retry_after: float | None = None
    #: The problem's extension members (`QuarkError.members`).
    members: dict[str, Any] = {}


class CommandReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """`position` is `<STREAM>:<seq>` of the commit; clients hand it back in `Quark-After`."""

    ok: bool
    position: str | None = None
    aggregate_id: str | None = None
    duplicate: bool = False
    error: ErrorBody | None = None
    #: What a procedure answers besides the position (tokens, a new verification's id).
    result: dict[str, Any] | None = None
    #: The person whose reads must reflect this commit when it is not the actor: whoever
    #: signed in or up through an anonymous command (read-your-writes, `edge/writes.py`).
    writer: str | None = None


def format_position(stream: str, seq: int) -> str:
    return f"{stream}:{seq}"


def parse_position(value: str) -> tuple[str, int]:
    """`CONTENT:42` → ('CONTENT', 42).

    Raises:
        ValueError: when the value is not a position this platform produced.
    """
    stream, sep, seq = value.strip().partition(":")
    # isascii first: isalnum/isdigit accept any script's letters and digits (`²`, `٣`),
    # which int() refuses or reads as another number.
    if (
        not sep
        or not (stream.isascii() and seq.isascii())
        or (not stream.isalnum() and "_" not in stream)
        or not seq.isdigit()
        or len(seq) > 19
    ):
        raise ValueError(f"{value!r} is not a position")
    return stream, int(seq)
