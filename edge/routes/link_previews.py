"""Link previews: a signed-in person asks for the preview of a link (what the page says about
itself), and anyone reads the latest preview of a link.

The command is answered by a module in Node.js (`modules/link-preview`), through the same bus
as every Python handler: the edge neither knows nor cares. The URL is normalised here
(`handlers.links.urls`), so one link is one preview however it was spelled; the module
decides which addresses it may fetch. Asking costs the module a fetch, so it is rate-limited
per person (`QUARK_LIMIT_LINK_PREVIEWS`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import msgspec
from aiohttp import web

from core.errors import FieldError, QuarkError, ValidationError
from core.ratelimit import Rule
from edge.auth import optional_principal, principal, send_as
from edge.bodies import read_json
from edge.context import command_headers, infra, limit, wait_for_position
from edge.params import query_text
from edge.routing import Param, Route
from handlers.links.commands import MAX_URL, PreviewLink
from handlers.links.errors import (
    LinkNotAllowed,
    LinkPreviewNotFound,
    LinkTimedOut,
    LinkUnreachable,
)
from handlers.links.urls import normalise_url
from projections import link_previews as model
from projections.link_previews import LinkPreview

PROJECTION = model.LinkPreviewsProjection.name
#: A URL at its longest, every character escaped in JSON.
MAX_BODY = 16 * 1024
#: The link in the query, before normalisation (percent-encoding may lengthen it).
MAX_QUERY_URL = 3 * MAX_URL
_encoder = msgspec.json.Encoder()


class PreviewLinkBody(msgspec.Struct, forbid_unknown_fields=True):
    #: An http or https URL; it is normalised (lower-case host, no fragment, no default
    #: port) before anything else.
    url: Annotated[
        str, msgspec.Meta(min_length=1, max_length=MAX_URL, pattern="^[Hh][Tt][Tt][Pp][Ss]?://")
    ]


class LinkPreviewResult(LinkPreview, frozen=True):
    """The preview just made, with the position of its commit (also in `Quark-Position`)."""

    position: str


def _json(status: int, value: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=_encoder.encode(value), content_type="application/json", headers=headers
    )


def _location(url: str) -> str:
    return f"/v1/link-previews?url={quote(url, safe='')}"


async def preview_link(request: web.Request) -> web.Response:
    who = await principal(request)
    i = infra(request)
    body = await read_json(request, PreviewLinkBody, max_bytes=MAX_BODY)
    url = normalise_url(body.url)
    # After validation: a refused body costs none of the person's allowance.
    await limit(
        request, Rule.parse("limit_link_previews", i.settings.limit_link_previews), who.user_id
    )
    reply = await send_as(request, PreviewLink(url=url), who)
    try:
        preview = msgspec.convert(reply.result, LinkPreview, strict=False)
    except msgspec.ValidationError as exc:
        # The module broke the contract (handlers/links/events.py): not the client's fault.
        raise QuarkError(f"the link-preview module answered no preview ({exc})") from None
    answer = LinkPreviewResult(**msgspec.structs.asdict(preview), position=reply.position or "")
    headers = {**command_headers(reply), "Location": _location(url)}
    return _json(201, answer, headers)


async def read_preview(request: web.Request) -> web.Response:
    await optional_principal(request)  # a token, when sent, must be valid
    unknown = set(request.query) - {"url", "after"}
    if unknown:
        raise ValidationError(
            f"unknown query parameter {sorted(unknown)[0]!r}",
            errors=[FieldError(name, "unknown parameter") for name in sorted(unknown)],
        )
    raw = query_text(request, "url", max_length=MAX_QUERY_URL)
    if not raw:
        raise ValidationError("url is required", errors=[FieldError("url", "an http(s) URL")])
    url = normalise_url(raw)
    await wait_for_position(request, PROJECTION)
    row = await model.get_preview(infra(request).pool, url)
    if row is None:
        raise LinkPreviewNotFound()
    return _json(200, row)


_URL_PARAM = Param(
    "url",
    "query",
    "The link (http or https); normalised as POST /v1/link-previews does",
    {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_URL},
    required=True,
)

ROUTES: list[Route] = [
    Route("POST", "/v1/link-previews", preview_link,
          "Preview a link: fetch the page and record its title, description, site and image",
          "links", request=PreviewLinkBody, response=LinkPreviewResult, status=201,
          raises=(LinkNotAllowed, LinkUnreachable, LinkTimedOut), auth="bearer", limited=True,
          idempotent_create=True, name="preview_link"),
    Route("GET", "/v1/link-previews", read_preview, "The latest preview of a link", "links",
          response=LinkPreview, params=(_URL_PARAM,), raises=(LinkPreviewNotFound,),
          auth="optional", after=True, name="read_link_preview"),
]  # fmt: skip
