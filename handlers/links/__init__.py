"""The links context: previews of the pages people link to (title, description, site name,
image from the page's Open Graph / Twitter tags, `<title>` as a fallback).

Its commands are served by a module in another language: `modules/link-preview` (Node.js)
fetches the page and appends `links.LinkPreviewed` with the same envelope, subjects and
reply format as every Python handler (`docs/architecture.md`, "Modules in other
languages"). This package is the Python side of that contract: the command the edge sends,
the event the read model applies, the errors a client can meet and the URL rules both sides
agree on. `TABLE` is empty because no Python worker serves the context; `MODULE` names the
module that does (`station/catalogue.py` starts it).
"""

from core.bus import HandlerTable
from handlers.links.events import EVENTS

CONTEXT = "links"
#: The module (in the station's catalogue) that answers this context's commands.
MODULE = "link-preview"

TABLE: HandlerTable = {}

__all__ = ["CONTEXT", "EVENTS", "MODULE", "TABLE"]
