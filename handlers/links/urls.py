"""The URL rules of the links context, the contract both languages keep.

- `normalise_url` is the one spelling of a link: the edge applies it before it sends
  `PreviewLink` and before it reads a preview, so `HTTP://Example.ORG:80/a#top` and
  `http://example.org/a` are one link. It is syntax only: which *addresses* may be fetched
  is the module's decision, taken on the address it actually connects to.
- `preview_id` is the aggregate of a link's previews: a UUIDv5 of the normalised URL under
  `NAMESPACE`. The Node.js module derives the same id from the URL it receives
  (`modules/link-preview/src/envelope.js`), so one link is one subject whichever side
  names it, and a later preview of it is that subject's next commit.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from urllib.parse import quote, urlsplit

from core.errors import FieldError, ValidationError
from handlers.links.commands import MAX_URL

#: The UUIDv5 namespace of link previews (also in modules/link-preview/src/envelope.js).
NAMESPACE = uuid.UUID("00c8460d-c74d-42e0-90df-4afada47dcf1")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
#: What stays unescaped in a path (RFC 3986 pchar and "/", plus "%" so existing escapes
#: are kept); a query may also hold "?".
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _bad(message: str) -> ValidationError:
    return ValidationError(f"url {message}", errors=[FieldError("url", message)])


def _host(raw: str) -> str:
    """The host in its one spelling: IP literals canonical, names in IDNA ASCII, lower case."""
    if ":" in raw:
        if "%" in raw:
            raise _bad("must not name an IPv6 zone")
        try:
            return f"[{ipaddress.IPv6Address(raw).compressed}]"
        except ValueError:
            raise _bad("has an invalid IPv6 address") from None
    name = raw.removesuffix(".")
    try:
        return str(ipaddress.IPv4Address(name))
    except ValueError:
        pass
    try:
        name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _bad("has an invalid host name") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _bad("has an invalid host name")
    last = labels[-1]
    # A browser (and Node's URL parser) reads a name ending in a number as an IPv4 address
    # in some legacy form (`2130706433`, `0x7f.1`): refuse what is not a plain dotted quad.
    if last.isdigit() or last.startswith("0x"):
        raise _bad("has an invalid IPv4 address")
    return name


def normalise_url(text: str) -> str:
    """`text` as the one spelling of its link: http or https, no credentials, no fragment,
    the host canonical and lower case, the default port left out, the path never empty,
    non-ASCII and unsafe characters percent-encoded.

    Raises:
        ValidationError: naming the field `url` and what is wrong with it.
    """
    value = text.strip()
    if not value:
        raise _bad("must not be empty")
    if len(value) > MAX_URL:
        raise _bad(f"must be at most {MAX_URL} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise _bad("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise _bad("is not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _bad("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise _bad("must not carry a user name or password")
    if not parts.hostname:
        raise _bad("needs a host")
    host = _host(parts.hostname)
    if port == 0:
        raise _bad("has an invalid port")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = quote(parts.query, safe=_QUERY_SAFE)
    url = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    if len(url) > MAX_URL:
        raise _bad(f"must be at most {MAX_URL} characters")
    return url


def preview_id(url: str) -> str:
    """The aggregate id of the previews of `url` (already normalised)."""
    return str(uuid.uuid5(NAMESPACE, url))
