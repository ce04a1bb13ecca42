"""Presence (online / last seen) and the privacy setting that hides it.

Presence itself lives in Redis (`core.presence`), written by the websocket gateway; who may
see it comes from read models: the person's privacy setting (profiles) and blocks (follows).
Someone who hides their presence shows `online: null, last_seen: null` to everyone else (as
"last seen: nobody" does); people blocked either way do not exist for each other (404).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from aiohttp import web

from core.errors import FieldError, ValidationError
from core.ids import is_uuid
from core.permissions import PermissionDenied
from core.presence import PresenceState
from edge.auth import principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, infra, path_id, wait_for_position
from edge.routing import Param, Route
from handlers.profiles.commands import ChangePrivacy
from handlers.profiles.errors import InvalidProfile, UserNotFound
from projections import follows as follows_model
from projections import profiles as profiles_model

#: People one batch asks about: a messenger's contact list screen.
MAX_IDS = 100
_encoder = msgspec.json.Encoder()


class PrivacyBody(msgspec.Struct, forbid_unknown_fields=True):
    #: Others see whether I am online and when I was last seen.
    show_presence: bool


class PrivacySettings(msgspec.Struct):
    show_presence: bool


class PrivacyChanged(msgspec.Struct):
    show_presence: bool
    position: str


class PresenceView(msgspec.Struct):
    """`null` both: hidden by the person. `online: false, last_seen: null`: never seen."""

    online: bool | None
    last_seen: datetime | None


class PresenceOf(msgspec.Struct):
    id: str
    online: bool | None
    last_seen: datetime | None


class PresenceList(msgspec.Struct):
    """The people asked about, in the order asked, without those unknown or blocked."""

    items: list[PresenceOf]


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


async def read_privacy(request: web.Request) -> web.Response:
    who = await principal(request)
    await wait_for_position(request, "profiles")
    found = await profiles_model.privacy_of(infra(request).pool, who.user_id)
    # No row yet (the sign-up not applied): the defaults are what holds.
    privacy = found or profiles_model.Privacy()
    return _json(200, PrivacySettings(privacy.show_presence))


async def change_privacy(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, PrivacyBody, max_bytes=1024)
    reply = await send_as(request, ChangePrivacy(show_presence=body.show_presence), who)
    return _json(
        200, PrivacyChanged(body.show_presence, reply.position or ""), command_headers(reply)
    )


async def _visible(request: web.Request, reader: str, user_ids: list[str]) -> dict[str, bool]:
    """Of `user_ids`, those the reader may ask about, each with whether their presence is
    shown to the reader (always, for the reader themself)."""
    await wait_for_position(request, "profiles")
    await wait_for_position(request, "follows")
    pool = infra(request).pool
    shown = await profiles_model.presence_shown(pool, user_ids)
    blocked = await follows_model.block_partners(pool, reader)
    return {u: shown[u] or u == reader for u in user_ids if u in shown and u not in blocked}


def _view(state: PresenceState | None) -> tuple[bool | None, datetime | None]:
    """None: hidden from this reader."""
    return (state.online, state.last_seen) if state is not None else (None, None)


async def presence_of(request: web.Request) -> web.Response:
    who = await principal(request)
    user_id = path_id(request, "user_id", UserNotFound)
    visible = await _visible(request, who.user_id, [user_id])
    if user_id not in visible:
        raise UserNotFound()
    states = await infra(request).presence.states([user_id] if visible[user_id] else [])
    return _json(200, PresenceView(*_view(states.get(user_id))))


def _ids(request: web.Request) -> list[str]:
    """`?ids=a,b,c`: 1-100 distinct user ids, in the order given."""
    raw = request.query.get("ids", "")
    ids = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not ids:
        raise ValidationError("name someone", errors=[FieldError("ids", "1-100 user ids")])
    if len(ids) > MAX_IDS:
        raise ValidationError(
            f"at most {MAX_IDS} people at once", errors=[FieldError("ids", "1-100 user ids")]
        )
    wrong = [i for i in ids if not is_uuid(i)]
    if wrong:
        raise ValidationError(
            "ids are user ids", errors=[FieldError("ids", f"not a user id: {wrong[0][:64]}")]
        )
    return ids


async def presence_of_many(request: web.Request) -> web.Response:
    who = await principal(request)
    ids = _ids(request)  # input first: a bad list is 422 whoever is named
    visible = await _visible(request, who.user_id, ids)
    # Redis is asked only about those shown: a hidden person's state is never read.
    states = await infra(request).presence.states([u for u, shown in visible.items() if shown])
    items = [PresenceOf(u, *_view(states.get(u))) for u in visible]
    return _json(200, PresenceList(items))


_USER_ID = Param("user_id", "path", "A user id", {"type": "string", "format": "uuid"})
_IDS = Param(
    "ids",
    "query",
    f"1-{MAX_IDS} user ids, comma-separated",
    {"type": "string", "minLength": 1},
    required=True,
)

ROUTES: list[Route] = [
    Route("GET", "/v1/me/privacy", read_privacy, "My privacy settings", "presence",
          response=PrivacySettings, auth="bearer", after=True, name="privacy"),
    Route("PUT", "/v1/me/privacy", change_privacy,
          "Choose what others see of me (presence: online and last seen)", "presence",
          request=PrivacyBody, response=PrivacyChanged, auth="bearer",
          raises=(InvalidProfile, PermissionDenied), name="change_privacy"),
    Route("GET", "/v1/users/{user_id}/presence", presence_of,
          "Whether someone is online, or when they were last seen", "presence",
          response=PresenceView, auth="bearer", after=True, raises=(UserNotFound,),
          params=(_USER_ID,), name="presence"),
    Route("GET", "/v1/presence", presence_of_many,
          f"Presence of up to {MAX_IDS} people at once (a contact list)", "presence",
          response=PresenceList, auth="bearer", after=True, params=(_IDS,),
          name="presence_of_many"),
]  # fmt: skip
