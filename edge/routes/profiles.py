"""Profiles: my profile (read, change), public profiles by handle, and search."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec
from aiohttp import web

from core.commands import Command
from core.errors import FieldError, ValidationError
from core.ids import is_uuid
from core.perks import is_vip, perks
from core.permissions import PermissionDenied
from edge.auth import principal, send_as, token_holder
from edge.bodies import read_json
from edge.context import command_headers, infra, wait_for_position
from edge.cursors import BadCursor, decode_cursor, encode_cursor
from edge.params import IntQuery, query_text
from edge.routing import Param, Route
from edge.wordfilter import file_report, screened
from handlers.media.commands import AttachMedia
from handlers.media.errors import MediaNotFound, MediaNotReady, NotAnImage
from handlers.moderation.errors import WordFilterBlocked
from handlers.profiles.commands import (
    HANDLE_MAX,
    Bio,
    Block,
    DisplayName,
    Follow,
    Handle,
    Locale,
    Unblock,
    Unfollow,
    UpdateProfile,
)
from handlers.profiles.errors import (
    BlockedError,
    HandleCoolingOff,
    HandleReserved,
    HandleTaken,
    InvalidProfile,
    SelfRelation,
    UserNotFound,
)
from projections import activity as activity_model
from projections import follows as follows_model
from projections import profiles as model

PROJECTION = "profiles"
_encoder = msgspec.json.Encoder()
_HANDLE = re.compile(r"^[a-z0-9_]{3,30}$")


class MeBody(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay as they are; `avatar_media_id: null` removes the avatar."""

    __openapi_extra__: ClassVar[dict[str, object]] = {"minProperties": 1}
    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    bio: Bio | msgspec.UnsetType = msgspec.UNSET
    handle: Handle | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET
    avatar_media_id: str | msgspec.UnsetType | None = msgspec.UNSET


class Relationship(msgspec.Struct):
    """How the signed-in reader and the person relate (what their buttons show)."""

    following: bool
    followed_by: bool
    blocking: bool
    blocked_by: bool


class PublicProfile(msgspec.Struct):
    id: str
    handle: str | None
    display_name: str
    bio: str
    avatar_media_id: str | None
    created_at: datetime | None
    #: The VIP badge (derived from the grant's end at the moment of asking).
    vip: bool = False
    followers: int | None = None
    following: int | None = None
    #: For a signed-in reader looking at someone else (else null): `GET /v1/users/{handle}`.
    relationship: Relationship | None = None


class MyProfile(msgspec.Struct):
    id: str
    handle: str | None
    display_name: str
    bio: str
    locale: str | None
    avatar_media_id: str | None
    created_at: datetime | None
    updated_at: datetime
    vip: bool
    vip_until: datetime | None
    #: What this account may do (upload size, message length): `core/perks.py`.
    perks: dict[str, int | bool]
    #: Suspended now (signed in, this is a restricted session: appeal, export, erase).
    suspended: bool = False
    #: With `suspended`: when it ends (null: indefinitely).
    suspended_until: datetime | None = None
    #: Limited by a moderator: my posts reach only my followers.
    limited: bool = False


class ProfileChanged(msgspec.Struct):
    id: str
    position: str


class ProfileList(msgspec.Struct):
    items: list[PublicProfile]


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def public_profile(row: model.ProfileRow) -> PublicProfile:
    """The public face of a profile (shared with search)."""
    return PublicProfile(
        row.user_id,
        row.handle,
        row.display_name,
        row.bio,
        row.avatar_media_id,
        row.created_at,
        vip=is_vip(row.vip_until, datetime.now(UTC)),
    )


async def get_me(request: web.Request) -> web.Response:
    who = await principal(request)
    await wait_for_position(request, PROJECTION)
    row = await model.by_user(infra(request).pool, who.user_id)
    if row is None:
        raise UserNotFound("your profile is not there yet; retry with Quark-After")
    now = datetime.now(UTC)
    return _json(
        200,
        MyProfile(
            row.user_id,
            row.handle,
            row.display_name,
            row.bio,
            row.locale,
            row.avatar_media_id,
            row.created_at,
            row.updated_at,
            is_vip(row.vip_until, now),
            row.vip_until,
            perks(row.vip_until, now),
            suspended=row.suspended,
            suspended_until=row.suspended_until,
            limited=row.limited,
        ),
    )


async def patch_me(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, MeBody, max_bytes=8192)
    given: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET
    }
    if not given:
        raise ValidationError("nothing to change", errors=[FieldError("$", "send a field")])
    # The word filter: a profile is never held (a hold refuses it), and a handle cannot
    # carry an asterisk (censoring refuses it too).
    texts = {k: given.get(k) for k in ("display_name", "bio", "handle")}
    verdict = await screened(request, "profiles", texts, fixed={"handle"})
    given.update((k, v) for k, v in verdict.texts.items() if k in given)
    avatar = given.pop("avatar_media_id", msgspec.UNSET)
    if isinstance(avatar, str):
        # The avatar must be the person's own ready image: the media context decides, and
        # records the attachment (public: anyone sees an avatar) before the profile names it.
        if not is_uuid(avatar):
            raise ValidationError(
                "not a media id", errors=[FieldError("avatar_media_id", "a media id")]
            )
        await send_as(
            request,
            AttachMedia(media_id=avatar, ref=f"avatar:{who.user_id}", public=True, image_only=True),
            who,
            step="avatar",
        )
    command = UpdateProfile(
        **given,
        avatar_media_id=avatar if isinstance(avatar, str) else None,
        clear_avatar=avatar is None,
    )
    reply = await send_as(request, command, who)
    if verdict.reported:
        # The profile as it is after the change (the read model's text for what it left).
        row = await model.by_user(infra(request).pool, who.user_id)
        name = given.get("display_name", row.display_name if row else "")
        handle = given.get("handle", row.handle if row else None)
        await file_report(
            request,
            verdict,
            reply,
            target_type="user",
            target_id=who.user_id,
            author_id=who.user_id,
            title=f"{name} (@{handle})" if handle else name,
            body=given.get("bio", row.bio if row else ""),
        )
    return _json(200, ProfileChanged(who.user_id, reply.position or ""), command_headers(reply))


async def get_user(request: web.Request) -> web.Response:
    handle = request.match_info["handle"].lower()
    if not _HANDLE.match(handle):
        raise UserNotFound()
    await wait_for_position(request, PROJECTION)
    await wait_for_position(request, "follows")  # the counters come from there
    pool = infra(request).pool
    row = await model.by_handle(pool, handle)
    if row is None:
        raise UserNotFound()
    followers, following = await follows_model.counts(pool, row.user_id)
    # Whoever holds a token (a suspended person too: reading a profile is not acting).
    reader = await token_holder(request)
    relationship = None
    if reader is not None and reader.user_id != row.user_id:
        relationship = Relationship(
            *await follows_model.relationship(pool, reader.user_id, row.user_id)
        )
    view = msgspec.structs.replace(
        public_profile(row),
        followers=followers,
        following=following,
        relationship=relationship,
    )
    return _json(200, view)


async def search_users(request: web.Request) -> web.Response:
    query = query_text(request, "query", max_length=64) or ""
    if not 1 <= len(query) <= 64:
        raise ValidationError(
            "query must be 1-64 characters", errors=[FieldError("query", "1-64 characters")]
        )
    limit = _SEARCH_LIMIT.read(request)
    await wait_for_position(request, PROJECTION)
    rows = await model.search(infra(request).pool, query, limit)
    return _json(200, ProfileList([public_profile(r) for r in rows]))


class Relation(msgspec.Struct):
    id: str
    handle: str | None
    display_name: str
    since: datetime


class RelationPage(msgspec.Struct):
    items: list[Relation]
    next_cursor: str | None


class RelationChanged(msgspec.Struct):
    id: str
    position: str


async def _target(request: web.Request) -> str:
    """The user id behind the path's handle (read model: addressing, not a uniqueness check)."""
    handle = request.match_info["handle"].lower()
    if not _HANDLE.match(handle):
        raise UserNotFound()
    await wait_for_position(request, PROJECTION)  # a handle just claimed: pass Quark-After
    row = await model.by_handle(infra(request).pool, handle)
    if row is None:
        raise UserNotFound()
    return row.user_id


def _relation(kind: type[Command]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        who = await principal(request)
        target = await _target(request)
        reply = await send_as(request, kind(target_id=target), who)  # type: ignore[call-arg]
        return _json(200, RelationChanged(target, reply.position or ""), command_headers(reply))

    return handler


def _listing(direction: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        i = infra(request)
        limit = _PAGE_LIMIT.read(request)  # input first: a bad one is 422 whoever is named
        target = await _target(request)
        scope = f"{direction}:{target}"
        cursor = request.query.get("cursor")
        before = decode_cursor(i.secret_key, scope, cursor)["p"] if cursor else None
        await wait_for_position(request, "follows")
        rows = await follows_model.page(
            i.pool, target, direction=direction, before=before, limit=limit
        )
        people = await model.by_users(i.pool, [r.user_id for r in rows])
        items = [
            Relation(
                r.user_id,
                people[r.user_id].handle if r.user_id in people else None,
                people[r.user_id].display_name if r.user_id in people else "",
                r.since,
            )
            for r in rows
        ]
        next_cursor = (
            encode_cursor(i.secret_key, scope, {"p": rows[-1].position})
            if len(rows) == limit
            else None
        )
        return _json(200, RelationPage(items, next_cursor))

    return handler


class ActivityEntry(msgspec.Struct):
    kind: str
    at: datetime
    detail: dict[str, Any]


class ActivityPage(msgspec.Struct):
    items: list[ActivityEntry]
    next_cursor: str | None


async def activity_of(request: web.Request, user_id: str) -> web.Response:
    """A person's activity, newest first. A VIP grant that has run out shows as
    `vip-expired` at its end: derived from the stored end, like the badge, no job needed."""
    i = infra(request)
    limit = ACTIVITY_LIMIT.read(request)
    scope = f"activity:{user_id}"
    cursor = request.query.get("cursor")
    before = decode_cursor(i.secret_key, scope, cursor)["b"] if cursor else None
    await wait_for_position(request, "activity")
    rows = await activity_model.page(i.pool, user_id, before=before, limit=limit)
    items = [ActivityEntry(r.kind, r.at, r.detail) for r in rows]
    profile = await model.by_user(i.pool, user_id)
    now = datetime.now(UTC)
    if profile is not None and profile.vip_until is not None and profile.vip_until <= now:
        newest = datetime.fromisoformat(before[0]) if before else None
        oldest = rows[-1].at if len(rows) == limit else None
        if (newest is None or profile.vip_until < newest) and (
            oldest is None or profile.vip_until >= oldest
        ):
            items.append(ActivityEntry("vip-expired", profile.vip_until, {}))
            items.sort(key=lambda e: e.at, reverse=True)
    next_cursor = (
        encode_cursor(i.secret_key, scope, {"b": list(rows[-1].cursor)})
        if len(rows) == limit
        else None
    )
    return _json(200, ActivityPage(items, next_cursor))


async def my_activity(request: web.Request) -> web.Response:
    who = await principal(request)
    return await activity_of(request, who.user_id)


_HANDLE_PARAM = Param("handle", "path", f"3-{HANDLE_MAX} of a-z, 0-9, _")
_PAGE_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=100, default=20)
_SEARCH_LIMIT = IntQuery("limit", "How many", minimum=1, maximum=50, default=20)
#: Shared with the admins' view of anyone's activity.
ACTIVITY_LIMIT = IntQuery("limit", "Page size", minimum=1, maximum=200, default=50)
ACTIVITY_CURSOR = Param("cursor", "query", "From next_cursor")
_PAGE_PARAMS = (_HANDLE_PARAM, Param("cursor", "query", "From next_cursor"), _PAGE_LIMIT.param)
#: What the profiles handler refuses in any command a person sends about themself or others.
_COMMAND_ERRORS = (InvalidProfile, PermissionDenied)
_RELATION_ERRORS = (UserNotFound, SelfRelation, *_COMMAND_ERRORS)

ROUTES: list[Route] = [
    Route("GET", "/v1/me", get_me, "My profile and my account's standing", "profiles",
          response=MyProfile, auth="bearer", after=True, raises=(UserNotFound,),
          while_suspended=True),
    Route("PATCH", "/v1/me", patch_me, "Change my profile (name, bio, handle, locale, avatar)",
          "profiles", request=MeBody, response=ProfileChanged, auth="bearer",
          raises=(HandleTaken, HandleCoolingOff, HandleReserved, MediaNotFound, MediaNotReady,
                  NotAnImage, WordFilterBlocked, *_COMMAND_ERRORS),
          # The word filter's rules as of the writes the request names.
          after=True),
    Route("GET", "/v1/users/{handle}", get_user, "A public profile", "profiles",
          response=PublicProfile, after=True, raises=(UserNotFound,), params=(_HANDLE_PARAM,)),
    Route("GET", "/v1/users", search_users, "Find people by handle or name (prefix)",
          "profiles", response=ProfileList, after=True,
          params=(Param("query", "query", "1-64 characters", {"type": "string", "minLength": 1,
                                                                "maxLength": 64}, required=True),
                  _SEARCH_LIMIT.param)),
    Route("GET", "/v1/me/activity", my_activity,
          "What I did and what was done to my account, newest first", "profiles",
          response=ActivityPage, auth="bearer", after=True, raises=(BadCursor,),
          params=(ACTIVITY_CURSOR, ACTIVITY_LIMIT.param)),
    Route("POST", "/v1/users/{handle}/follow", _relation(Follow), "Follow someone", "profiles",
          response=RelationChanged, auth="bearer", after=True,
          raises=(BlockedError, *_RELATION_ERRORS), params=(_HANDLE_PARAM,), name="follow"),
    Route("DELETE", "/v1/users/{handle}/follow", _relation(Unfollow), "Stop following",
          "profiles", response=RelationChanged, auth="bearer", after=True,
          raises=_RELATION_ERRORS, params=(_HANDLE_PARAM,), name="unfollow"),
    Route("POST", "/v1/users/{handle}/block", _relation(Block),
          "Block someone: no follows either way, no access to your posts", "profiles",
          response=RelationChanged, auth="bearer", after=True, raises=_RELATION_ERRORS,
          params=(_HANDLE_PARAM,), name="block"),
    Route("DELETE", "/v1/users/{handle}/block", _relation(Unblock), "Unblock", "profiles",
          response=RelationChanged, auth="bearer", after=True, raises=_RELATION_ERRORS,
          params=(_HANDLE_PARAM,), name="unblock"),
    Route("GET", "/v1/users/{handle}/followers", _listing("followers"), "Who follows them",
          "profiles", response=RelationPage, after=True, raises=(UserNotFound, BadCursor),
          params=_PAGE_PARAMS, name="followers"),
    Route("GET", "/v1/users/{handle}/following", _listing("following"), "Whom they follow",
          "profiles", response=RelationPage, after=True, raises=(UserNotFound, BadCursor),
          params=_PAGE_PARAMS, name="following"),
]  # fmt: skip
