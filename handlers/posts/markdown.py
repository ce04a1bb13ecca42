"""The Markdown of posts and comments: rendering to safe HTML, mentions and hashtags.

Pure functions, no I/O: the posts context and its projections call them, and projections
render every body again on replay, so the parser and the sanitiser are built once here.

A body is CommonMark (markdown-it-py) with strikethrough, tables and links for bare URLs,
then the HTML goes through nh3 (Ammonia). What a body can become, and why:

- **No raw HTML.** markdown-it's `html` option is off, so `<b>` in a body is text. nh3 runs
  after rendering all the same, with its own allow-list, as the second line of defence.
- **Links** keep only `http`, `https` and `mailto` destinations; any other link (a
  `javascript:` or `data:` URL, a relative path, `//host`) is unwrapped to its text. Every
  link gets `rel="nofollow ugc noopener"` and no `target`.
- **Bare URLs** are linked when written with their scheme (`https://…`), as `www.…`, or as
  an email address. `example.com` or `setup.py` without a scheme stay text: linkify-it's
  fuzzy matching would link every file name whose extension is also a country's domain.
- **Images are never embedded**: a remote image would tell a third party the IP address of
  every reader (posts have attachments for pictures). `![alt](url)` becomes a link to the
  URL showing the alt text (the URL itself when the alt text is empty), so a reader who
  wants the picture opens it on purpose.
- **Headings** become a bold paragraph: a post's title is its only heading, and a `# Huge`
  line in a feed or a comment would outshout the page's own headings.
- **Code** keeps no language class: there is no highlighter yet, and the info string is
  free text from the author.
- **Table alignment** is dropped with the `style` attribute that carries it.
- **Newlines** inside a paragraph are line breaks (`<br>`), as people writing a post expect.
- **Mentions** (`@handle`) and **hashtags** (`#tag`) are found in the token stream, in text
  outside code and links, never by a regex over HTML; a backslash (`\\@bob`, `\\#tag`) or an
  entity (`&#64;bob`) writes one without mentioning or tagging.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from core.text import HANDLE_MAX, HANDLE_MIN

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "LINK_REL",
    "TAG_MAX",
    "extract_mentions",
    "extract_tags",
    "normalise_tag",
    "plain_text",
    "render",
    "sanitise",
]

#: Longest hashtag (normalised); a longer `#word` is text, neither linked nor extracted.
TAG_MAX = 100
LINK_REL = "nofollow ugc noopener"
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "blockquote", "ul", "ol", "li", "pre"}
    | {"em", "strong", "del", "code", "a"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
#: `class` on `a` is not here: nh3 allows only the two classes in `_CLASSES`.
ALLOWED_ATTRIBUTES = {"a": frozenset({"href"}), "ol": frozenset({"start"})}
_CLASSES = {"a": {"mention", "hashtag"}}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Not after a word character, `@` (an email or `@bob@host`) or `/` (a path in a URL that
# linkify left alone); not followed by more handle-like text or a domain (`@bob.com`).
_MENTION = re.compile(rf"(?<![\w@/])@([A-Za-z0-9_]{{{HANDLE_MIN},{HANDLE_MAX}}})(?![\w@]|\.\w)")
# Zero-width (non-)joiners belong inside words of Persian and Indic scripts.
_JOINERS = frozenset("\u200c\u200d")


def normalise_tag(raw: str) -> str:
    """The one form of a hashtag: NFKC, then case-folded.

    `#Привет`, `#ПРИВЕТ` and `#привет` are one tag, and so are a Latin tag
    and its fullwidth form.

    Args:
        raw: The tag as written, without its `#`.

    Returns:
        The normalised tag, used in `tag_url` and by `extract_tags`.
    """
    return unicodedata.normalize("NFKC", raw).casefold()


def render(
    body: str,
    *,
    mention_url: Callable[[str], str | None] | None = None,
    tag_url: Callable[[str], str] | None = None,
) -> str:
    """Render a post's or comment's Markdown to sanitised HTML (see the module's rules).

    Args:
        body: The Markdown source.
        mention_url: The URL of the profile with this (lower-cased) handle, or None when no
            such profile exists: the mention then stays text. None links no mention.
        tag_url: The URL of the page of this normalised tag. None links no tag.

    Returns:
        HTML with only `ALLOWED_TAGS` and `ALLOWED_ATTRIBUTES`.
    """
    if is_plain_paragraph(body):
        # Most posts are a sentence or two of prose: nothing in them is Markdown, so the
        # parser would only escape them into one paragraph. Skipping it is 20 times faster
        # (replays render every post), and the output is the same (tested).
        return sanitise(f"<p>{escapeHtml(body)}</p>\n")
    return render_markdown(body, mention_url=mention_url, tag_url=tag_url)


def render_markdown(
    body: str,
    *,
    mention_url: Callable[[str], str | None] | None = None,
    tag_url: Callable[[str], str] | None = None,
) -> str:
    """`render` without its shortcut for plain prose: always through markdown-it."""
    env = {"mention_url": mention_url, "tag_url": tag_url}
    return sanitise(_MD.render(body, env))


#: One line of prose that starts with a letter and holds nothing Markdown, linkify, a
#: mention or a tag would act on: letters, digits, spaces and `,.;:?!'"()-`.
_PLAIN = re.compile(r"[^\W\d_][^\W_]*(?:[ ,.;:?!'\"()\-]+[^\W_]*)*")


def is_plain_paragraph(body: str) -> bool:
    return (
        len(body) <= 2000
        and _PLAIN.fullmatch(body) is not None
        and body == body.strip()
        and "www." not in body.lower()
    )


def sanitise(html: str) -> str:
    """The second line of defence that `render` ends with: nh3 with Quark's allow-list.

    Only `ALLOWED_TAGS` and `ALLOWED_ATTRIBUTES` stay (plus `class="mention"` or
    `"hashtag"` on links), `href` only with `LINK_SCHEMES` or a path on this site, every
    link gets `rel="nofollow ugc noopener"`, comments go. `<script>` and `<style>` go with
    their content; other refused tags leave their text.

    Args:
        html: An HTML fragment.

    Returns:
        The sanitised fragment.
    """
    return _CLEANER.clean(html)


def extract_tags(body: str, limit: int = 10) -> list[str]:
    """The distinct normalised hashtags of a body, in order of first appearance.

    Found exactly where `render` links them: not in code, links or URLs, not in words
    (`C#`), not a pure number (`#1`), at most `TAG_MAX` characters.

    Args:
        body: The Markdown source.
        limit: At most this many tags are returned (the first ones).

    Returns:
        The tags, normalised with `normalise_tag`.
    """
    if "#" not in body and "&" not in body:  # no tag can be there (the command path's case)
        return []
    env: dict[str, Any] = {}
    _MD.parse(body, env)
    return list(env["tags"])[:limit]


def extract_mentions(body: str) -> list[str]:
    """The distinct lower-cased handles mentioned in a body, in order of first appearance.

    Found exactly where `render` links them: not in code, links, URLs or email addresses.

    Args:
        body: The Markdown source.

    Returns:
        The handles, lower-cased, without their `@`.
    """
    if "@" not in body and "&" not in body:  # no mention can be there
        return []
    env: dict[str, Any] = {}
    _MD.parse(body, env)
    return list(env["mentions"])


def plain_text(body: str, limit: int = 1000) -> str:
    """The text a reader sees in a body, without markup, for search snippets.

    Whitespace runs collapse to one space. A longer text is cut on a word boundary and ends
    with `…`; the result is never longer than `limit` characters.

    Args:
        body: The Markdown source.
        limit: The most characters returned (at least 1).

    Returns:
        The text content of the rendered body.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if is_plain_paragraph(body):
        # The search read model takes the text of every post on replay: plain prose is its
        # own text (the same as the parser's, property-tested), as `render` knows too.
        text = " ".join(body.split())
    else:
        text = " ".join(" ".join(_text_parts(body)).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Cut before the word that the limit falls in, unless the text is one long word.
    if not text[limit - 1].isspace() and " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def _text_parts(body: str) -> Iterator[str]:
    for token in _MD.parse(body, {}):
        if token.type == "inline":
            yield _text_of(token.children or [])
        elif token.type in ("fence", "code_block"):
            yield token.content


# -- the token stream ---------------------------------------------------------------------


def _link_allowed(href: str) -> bool:
    # markdown-it has decoded entities (`javascript&#58;`) and percent-encoded what is not
    # URL-safe (NUL, spaces, a fullwidth colon) before this: anything but a plain ASCII
    # scheme, including a relative path or `//host`, has no scheme here and is refused.
    match = _SCHEME.match(href)
    return match is not None and match.group(1).lower() in LINK_SCHEMES


def _text_of(tokens: list[Token]) -> str:
    """What inline tokens show as text (an image shows its alt text)."""
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "text_special", "code_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif token.type == "image":
            out.append(_text_of(token.children or []))
    return "".join(out)


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)


def _link(href: str, text: str, css_class: str | None = None) -> list[Token]:
    attrs: dict[str, str | int | float] = {"href": href}
    if css_class:
        attrs["class"] = css_class
    return [
        Token("link_open", "a", 1, attrs=attrs),
        _text(text),
        Token("link_close", "a", -1),
    ]


def _is_tag_char(char: str) -> bool:
    return char.isalnum() or char == "_" or unicodedata.category(char)[0] == "M"


def _tags_in(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, normalised tag) of each hashtag in one text run."""
    start = text.find("#")
    while start != -1:
        end = start + 1
        before = text[start - 1] if start else " "
        first = text[end : end + 1]
        # Not inside a word (`C#x`), a URL's path or fragment (`/#x`), or `##x`.
        inside = _is_tag_char(before) or before in _JOINERS or before in "#/&@"
        if not inside and first and (first.isalnum() or first == "_"):
            while end < len(text) and (_is_tag_char(text[end]) or text[end] in _JOINERS):
                end += 1
            while text[end - 1] in _JOINERS:
                end -= 1
            raw = text[start + 1 : end]
            tag = normalise_tag(raw)
            # A pure number (`#1`, `#2024`) is a number, not a tag.
            if any(char.isalpha() for char in raw) and len(tag) <= TAG_MAX:
                yield start, end, tag
        start = text.find("#", end)


def _words_in(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, value) of each mention and hashtag in one text run, in order."""
    found = [(m.start(), m.end(), "mention", m.group(1).lower()) for m in _MENTION.finditer(text)]
    found.extend((start, end, "hashtag", tag) for start, end, tag in _tags_in(text))
    found.sort()
    return found


def _link_words(token: Token, env: MutableMapping[str, Any]) -> list[Token]:
    """Split one text token around its mentions and hashtags, linking those with a URL."""
    text = token.content
    if "@" not in text and "#" not in text:
        return [token]
    out: list[Token] = []
    done = 0
    for start, end, kind, value in _words_in(text):
        url: str | None = None
        if kind == "mention":
            env["mentions"].setdefault(value, None)
            if env.get("mention_url"):
                url = env["mention_url"](value)
        else:
            env["tags"].setdefault(value, None)
            if env.get("tag_url"):
                url = env["tag_url"](value)
        if url is None:
            continue
        if start > done:
            out.append(_text(text[done:start]))
        out.extend(_link(url, text[start:end], kind))
        done = end
    if not out:
        return [token]
    if done < len(text):
        out.append(_text(text[done:]))
    return out


def _inline(children: list[Token], env: MutableMapping[str, Any]) -> list[Token]:
    out: list[Token] = []
    kept: list[bool] = []  # per open link: whether its tokens are kept
    depth = 0  # kept links around the current token
    for index, token in enumerate(children):
        kind = token.type
        if kind == "link_open":
            href = str(token.attrGet("href") or "")
            keep = depth == 0 and _link_allowed(href)
            if keep and token.markup == "linkify" and not href.startswith("mailto:"):
                # A fuzzy match (`example.com`) is linked only when written as `www.…`.
                shown = children[index + 1].content if index + 1 < len(children) else ""
                keep = _SCHEME.match(shown) is not None or shown[:4].lower() == "www."
            kept.append(keep)
            if keep:
                depth += 1
                token.attrs = {"href": href}  # no title: nothing but the destination
                out.append(token)
        elif kind == "link_close":
            if kept.pop():
                depth -= 1
                out.append(token)
        elif kind == "image":
            src = str(token.attrGet("src") or "")
            alt = _text_of(token.children or [])
            if depth == 0 and _link_allowed(src):
                out.extend(_link(src, alt or src))
            elif alt:
                out.append(_text(alt))
        elif kind == "text" and depth == 0:
            out.extend(_link_words(token, env))
        else:
            if kind in ("s_open", "s_close"):
                token.tag = "del"  # struck-out text is removed text, as GFM writes it
            out.append(token)
    return out


def _quark_rules(state: StateCore) -> None:
    """Quark's rules on the parsed stream (before `text_join`, so an escaped `\\@` or
    `\\#` is still its own `text_special` token and starts no mention or tag)."""
    env = state.env
    env.setdefault("mentions", {})
    env.setdefault("tags", {})
    tokens: list[Token] = []
    in_heading = False
    for token in state.tokens:
        if token.type == "heading_open":
            in_heading = True
            tokens.append(Token("paragraph_open", "p", 1, block=True, map=token.map))
        elif token.type == "heading_close":
            in_heading = False
            tokens.append(Token("paragraph_close", "p", -1, block=True))
        else:
            if token.type == "fence":
                token.info = ""
            elif token.type == "inline" and token.children:
                token.children = _inline(token.children, env)
                if in_heading:
                    strong = Token("strong_open", "strong", 1)
                    token.children = [strong, *token.children, Token("strong_close", "strong", -1)]
            tokens.append(token)
    state.tokens = tokens


def _build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["strikethrough", "table", "linkify"])
    md.linkify.add("//", None)  # no protocol-relative links
    # Accept every destination while parsing, so that a refused link keeps its text (the
    # default validator leaves `[x](javascript:…)` as literal brackets); `_inline` decides.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.core.ruler.before("text_join", "quark", _quark_rules)
    return md


def _site_path(url: str) -> str | None:
    # Relative URLs reach nh3 only from `mention_url` and `tag_url`: keep paths on this
    # site, never `//host` or `/\host`, which browsers open on another host.
    return url if url.startswith("/") and url[1:2] not in ("/", "\\") else None


_MD = _build_parser()
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    # "*": nothing on every tag (Ammonia would otherwise keep `lang` and `title` anywhere).
    attributes={"*": set()} | {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    allowed_classes=_CLASSES,
    url_schemes=set(LINK_SCHEMES),
    url_relative=_site_path,
    link_rel=LINK_REL,
    strip_comments=True,
)
