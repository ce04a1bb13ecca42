"""Typed errors of the links context; codes are stable (`quark:<code>` problem types).

The Node.js module answers with these codes in its `ErrorBody`; the classes exist here so
the edge's OpenAPI document names what a client can meet (`Route.raises`).
"""

from core.errors import NotFoundError, QuarkError, ValidationError


class LinkNotAllowed(ValidationError):
    """The URL points at an address a preview must never fetch: a private, loopback,
    link-local or otherwise non-public network (server-side request forgery)."""

    code = "link-not-allowed"
    title = "Links to this address are not previewed"


class LinkUnreachable(ValidationError):
    """The page could not be previewed: its name does not resolve, the connection failed,
    it answered an error status, too many redirects, or it is not an HTML page."""

    code = "link-unreachable"
    title = "The linked page could not be previewed"


class LinkTimedOut(QuarkError):
    """The page did not answer within the module's time limit (5 s, less when the sender's
    deadline is nearer). Nothing is recorded; a later retry may succeed."""

    code = "link-timed-out"
    status = 504
    title = "The linked page did not answer in time"


class LinkPreviewNotFound(NotFoundError):
    code = "link-preview-not-found"
    title = "No preview of this link yet"
