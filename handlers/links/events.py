"""Events of the links context (past tense; schema 1 unless an upcaster says otherwise).

Appended by the Node.js module `modules/link-preview`: every field is always present (null
when the page does not say), so a payload decodes strictly on both sides.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from core.registry import Event


class LinkPreviewed(Event, frozen=True):
    name: ClassVar[str] = "links.LinkPreviewed"
    #: The URL asked for (normalised); its aggregate is `urls.preview_id(url)`.
    url: str
    #: Where the page was after redirects (at most 3).
    final_url: str
    title: str | None
    description: str | None
    site_name: str | None
    #: An absolute http(s) URL of the page's preview image; never fetched by the module.
    image: str | None
    fetched_at: datetime


EVENTS = (LinkPreviewed,)
