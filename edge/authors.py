"""People as posts and comments show them: who wrote something (handle, name, avatar, VIP
badge) and whom a body mentions. One place, so a post, a comment and a search hit show a
person the same way, and one query per page (plus one for avatars), never one per item."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec
from aiohttp import web

from core.ids import is_uuid
from core.perks import is_vip
from edge.context import db, infra
from edge.routes.media import MediaView, media_views
from handlers.posts.commands import MAX_MENTIONS
from handlers.posts.markdown import extract_mentions
from projections import profiles as profiles_model


async def mentioned(request: web.Request, body: str) -> dict[str, str]:
    """The handles a body mentions that belong to someone, with whose they are (only those
    become links, their owners are notified; the commands carry them, so rendering and
    notifying stay pure functions of the log)."""
    handles = extract_mentions(body)[:MAX_MENTIONS]
    return await profiles_model.handle_owners(infra(request).pool, handles)


class Author(msgspec.Struct):
    id: str
    handle: str | None
    display_name: str
    #: The avatar with its variants (avatars are public), or null.
    avatar: MediaView | None
    #: The VIP badge, as of the moment of reading.
    vip: bool


async def authors(request: web.Request, user_ids: Iterable[str]) -> dict[str, Author]:
    """The authors of a page by id; someone without a profile row is absent, and so is an
    actor that is not a person (the word filter's reports are by `system`)."""
    wanted = list({u for u in user_ids if u and is_uuid(u)})
    if not wanted:
        return {}
    rows = await profiles_model.by_users(db(request), wanted)
    avatars = await media_views(
        request, [r.avatar_media_id for r in rows.values() if r.avatar_media_id]
    )
    now = datetime.now(UTC)
    return {
        r.user_id: Author(
            r.user_id,
            r.handle,
            r.display_name,
            avatars.get(r.avatar_media_id) if r.avatar_media_id else None,
            is_vip(r.vip_until, now),
        )
        for r in rows.values()
    }
