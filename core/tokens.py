"""Access tokens: short-lived JWTs signed with Ed25519 (JWS `EdDSA`) by the key ring of
`core.signing_keys`, issued and verified by `TokenService`.

- Encoding and verification are PyJWT's: the signature, the one accepted algorithm, the
  required claims, issuer, audience, and `exp`/`iat` with `CLOCK_SKEW` of leeway. What PyJWT
  does not do is ours: the key ring, its rotation, and sealing the private keys at rest
  (`core.signing_keys`).
- Around PyJWT we keep a few checks that are stricter than the standard asks for: the
  algorithm is compared before any key is looked up, a token has a maximum length and one
  spelling (no base64 padding), unknown header members (`jwk`, `jku`, `x5u`, `crit`...) are
  refused, claims are decoded strictly into `AccessClaims`, and `sub`/`sid` must be ids.
- Every worker verifies a token on its own with the public half of a key; nothing is looked
  up per request (revoking a session is the edge's separate Redis check). The signature check
  is remembered per process; expiry and the key's liveness are checked on every call.
- The verifier accepts exactly one algorithm, `EdDSA`, whatever the header claims: the
  classic JWT forgeries (`alg: none`, HS256 keyed with the public key) fail on that check.

Two clocks: PyJWT checks `exp` and `iat` against the wall clock when it verifies a token,
while `TokenService.verify` takes `now` (the edge passes the wall clock) and checks both
against it on every call, remembered or not. Both use the same bound, so in a running edge
they agree; a test that moves `now` moves only the second check.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final

import jwt
import msgspec

from core.access_claims import ACCESS_TTL, AUDIENCE, CLOCK_SKEW, ISSUER, AccessClaims, NonEmpty
from core.errors import UnauthorizedError
from core.ids import is_uuid
from core.signing_keys import ALGORITHM, KeyRing, SigningKey

#: Tokens whose signature was checked, remembered per edge process (LRU).
VERIFIED_CACHE_SIZE: Final = 20_000
#: Longest token accepted; anything longer is rejected before any decoding.
MAX_TOKEN_BYTES: Final = 4096


class InvalidToken(UnauthorizedError):
    """The access token is malformed, forged, expired or not meant for us.

    The detail names the check that failed (for logs and tests); it never echoes the token.
    """

    code = "invalid-token"
    title = "The access token is not valid"


#: The claims every token has; PyJWT refuses a token missing one before other claim checks.
_REQUIRED_CLAIMS: Final = AccessClaims.__struct_fields__[
    : len(AccessClaims.__struct_fields__) - len(AccessClaims.__struct_defaults__)
]


class _Header(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # Unknown members are refused: we never issue `jwk`, `jku`, `x5u` or `crit`, and a
    # verifier that ignored them could be talked into trusting a key the token brings along.
    # PyJWT reads only `alg`, `kid`, `crit` and `b64`, and lets the others through.
    alg: str
    kid: NonEmpty
    typ: str = "JWT"


class TokenService:
    """Issues and verifies access tokens with a `KeyRing`."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        ttl: int = ACCESS_TTL,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self.ring = ring
        self._cache_size = cache_size
        self._verified: OrderedDict[str, tuple[AccessClaims, str]] = OrderedDict()
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl

    def issue(
        self,
        sub: str,
        sid: str,
        roles: Iterable[str],
        now: int,
        *,
        restricted: bool = False,
        suspended_until: int | None = None,
    ) -> tuple[str, int]:
        """A signed access token for a user's session, and its lifetime in seconds;
        `restricted` (with the suspension's end) for a suspended account's session.

        Raises:
            ValueError: `sub` or `sid` is not an id (they end up in subjects downstream).
            NoSigningKey: the ring has no active key.
        """
        if not is_uuid(sub) or not is_uuid(sid):
            raise ValueError("sub and sid must be ids")
        key = self.ring.signing_key(now)
        claims = AccessClaims(
            sub=sub,
            sid=sid,
            roles=tuple(roles),
            iss=self.issuer,
            aud=self.audience,
            iat=now,
            exp=now + self.ttl,
            jti=secrets.token_urlsafe(16),
            restricted=restricted,
            suspended_until=suspended_until if restricted else None,
        )
        return sign(key, claims), self.ttl

    async def verify(self, token: str, now: int) -> AccessClaims:
        """The claims of a token we issued that is valid at `now`.

        A client sends the same token with every request for up to 15 minutes: the result of
        PyJWT's check (the costly part: the signature) is remembered per token, while the
        expiry and the key's liveness are checked against `now` on every call.

        Raises:
            InvalidToken: for any reason at all; the detail names the failed check.
            UnavailableError: an unknown kid required a reload and NATS did not answer.
        """
        cached = self._verified.get(token)
        if cached is None:
            cached = await self._verify_signature(token, now)
            if self._cache_size:
                self._verified[token] = cached
                if len(self._verified) > self._cache_size:
                    self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)  # least recently used goes first, not oldest
        claims, kid = cached
        if await self.ring.verification_key(kid, now) is None:
            raise InvalidToken("unknown or retired signing key")
        _check_times(claims, now)
        return claims

    async def _verify_signature(self, token: str, now: int) -> tuple[AccessClaims, str]:
        """Claims and kid of a token whose signature is ours and whose registered claims
        PyJWT accepted (against the wall clock); `verify` checks the times against `now`.

        Raises:
            InvalidToken: for any reason at all; the detail names the failed check.
            UnavailableError: an unknown kid required a reload and NATS did not answer.
        """
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too long")
        if token.count(".") != 2:
            raise InvalidToken("malformed token: not three segments")
        if "=" in token:
            # PyJWT accepts padded segments. We keep one spelling per token, so a padded copy
            # of a valid token is not a second token (nor a cache miss costing a signature).
            raise InvalidToken("malformed token: padding")
        # Only the header segment is handed over: PyJWT checks base64 byte by byte in Python,
        # and `jwt.decode` below checks the whole token again anyway (some 50 us a token).
        header_segment = token.partition(".")[0]
        try:
            header = msgspec.convert(jwt.get_unverified_header(f"{header_segment}.."), _Header)
        except (jwt.InvalidTokenError, msgspec.ValidationError):
            raise InvalidToken("malformed token") from None
        # Exactly one algorithm, compared before any key is touched: never let the token
        # choose how it is checked. (PyJWT compares it again with `algorithms`.)
        if header.alg != ALGORITHM:
            raise InvalidToken("algorithm not accepted")
        if header.typ != "JWT":
            raise InvalidToken("not a JWT")
        key = await self.ring.verification_key(header.kid, now)
        if key is None:
            raise InvalidToken("unknown or retired signing key")
        try:
            payload = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_SKEW,
                options={"require": list(_REQUIRED_CLAIMS)},
            )
        except jwt.InvalidTokenError as exc:
            raise _refusal(exc) from None
        try:
            # PyJWT checks the registered claims' meaning, not their JSON types (an `exp`
            # of "123" passes `int()`); the strict decode refuses what we never issue.
            claims = msgspec.convert(payload, AccessClaims)
        except msgspec.ValidationError as exc:
            raise InvalidToken(f"invalid claims: {exc}") from None
        if not is_uuid(claims.sub) or not is_uuid(claims.sid):
            # They end up in NATS subjects and SQL downstream.
            raise InvalidToken("invalid claims: sub and sid must be ids")
        return claims, header.kid


def sign(key: SigningKey, claims: AccessClaims) -> str:
    """The compact JWS of `claims` signed with `key` (no checks: `TokenService.issue` is the
    way to mint a token; this is its last step, public for tools and tests)."""
    return jwt.encode(
        msgspec.to_builtins(claims), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
    )


def _refusal(exc: jwt.InvalidTokenError) -> InvalidToken:
    """PyJWT's reason in our words; PyJWT's own message says which part did not decode (a
    segment's base64, the payload's JSON, a time claim that is not a number)."""
    match exc:
        case jwt.InvalidSignatureError():  # a DecodeError too: matched first
            return InvalidToken("bad signature")
        case jwt.DecodeError():
            return InvalidToken(f"malformed token: {exc}")
        case jwt.InvalidAlgorithmError():
            return InvalidToken("algorithm not accepted")
        case jwt.ExpiredSignatureError():
            return InvalidToken("token expired")
        case jwt.ImmatureSignatureError():
            return InvalidToken("token issued in the future")
        case jwt.InvalidIssuerError():
            return InvalidToken("wrong issuer")
        case jwt.InvalidAudienceError():
            return InvalidToken("wrong audience")
        case jwt.MissingRequiredClaimError():
            return InvalidToken(f"invalid claims: missing {exc.claim}")
        case _:
            return InvalidToken(f"invalid claims: {exc}")


def _check_times(claims: AccessClaims, now: int) -> None:
    """PyJWT's time checks, against the caller's clock, for every call (a remembered
    signature must not outlive its token). Same bounds as `jwt.decode(leeway=CLOCK_SKEW)`."""
    if now >= claims.exp + CLOCK_SKEW:
        raise InvalidToken("token expired")
    if claims.iat > now + CLOCK_SKEW:
        raise InvalidToken("token issued in the future")
