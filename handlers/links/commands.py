"""Commands of the links context (answered by `modules/link-preview`, in Node.js)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from core.commands import Command

#: The longest URL a preview is made for (after normalisation): what browsers and
#: sitemaps agree on in practice.
MAX_URL = 2048

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_URL)]


class PreviewLink(Command, frozen=True):
    """Fetch the page at `url` (normalised by `handlers.links.urls.normalise_url`) and
    record what it says about itself. The same URL is always the same aggregate, so a later
    preview of it is that aggregate's next commit."""

    context: ClassVar[str] = "links"
    url: Url
