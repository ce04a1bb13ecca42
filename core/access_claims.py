"""What an access token says (`AccessClaims`) and the bounds of its life (`ACCESS_TTL`,
`CLOCK_SKEW`). Kept apart because more than the token service depends on them: the key ring
keeps a replaced key until every token it signed has expired, and `core.access` remembers
ended sessions for as long as a token can live.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

#: Lifetime of an access token (seconds); a client refreshes it with its session.
ACCESS_TTL: Final = 900
ISSUER: Final = "quark"
AUDIENCE: Final = "quark-api"
#: Clock difference tolerated between the host that issued a token and the one verifying it.
CLOCK_SKEW: Final = 30

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What an access token asserts; decoded strictly (an `exp` of "123" is not a number)."""

    sub: NonEmpty
    sid: NonEmpty
    roles: tuple[str, ...]
    iss: str
    aud: str | tuple[str, ...]
    iat: int
    exp: int
    jti: NonEmpty
    #: The session of a suspended account: it reaches only what a suspended person may still
    #: do (the edge's `Route.while_suspended`). Absent from every other token.
    restricted: bool = False
    #: With `restricted`: when the suspension ends (unix seconds); absent: indefinitely.
    suspended_until: int | None = None

    def restricted_at(self, now: int) -> bool:
        """Whether the token is a suspended account's session at `now` (unix seconds): past
        the suspension's end it is an ordinary one (every later suspension ends every
        session, so none outlives a suspension it does not name)."""
        return self.restricted and (self.suspended_until is None or now < self.suspended_until)
