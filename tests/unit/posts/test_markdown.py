"""The Markdown of posts and comments: what reaches a reader's browser, mentions and tags."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.posts.markdown import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    TAG_MAX,
    _text_parts,  # the parser's path, to compare with
    extract_mentions,
    extract_tags,
    is_plain_paragraph,
    normalise_tag,
    plain_text,
    render,
    render_markdown,
    sanitise,
)

# The attributes a rendered body may carry: the allow-list plus what nh3 adds or filters.
ATTRIBUTES = {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["a"] |= {"rel", "class"}
FORBIDDEN_MARKUP = ("<script", "<iframe", "<svg", "<img", "<style", "<object", "<embed", "<form")


class Collected(HTMLParser):
    """Every start tag of a fragment with its attributes (values entity-decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.tags if tag == "a"]


def mention_url(handle: str) -> str | None:
    return None if handle == "nobody" else f"/@{handle}"


def tag_url(tag: str) -> str:
    return f"/tags/{tag}"


def assert_safe(html: str) -> None:
    lowered = html.lower()
    for markup in FORBIDDEN_MARKUP:
        assert markup not in lowered, markup
    # An event handler inside a tag (text such as `onerror=` outside tags is escaped text).
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered)
    for tag, attrs in Collected(html).tags:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= ATTRIBUTES.get(tag, set()), (tag, attrs)
        assert not any(name.startswith("on") for name in attrs)
        for name in ("href", "src"):
            if name in attrs:
                value = re.sub(r"[\x00-\x20]", "", attrs[name]).lower()
                assert not value.startswith(("javascript:", "vbscript:", "data:")), value
                assert value.startswith(("http://", "https://", "mailto:", "/")), value
                assert not value.startswith(("//", "/\\")), value
        if "class" in attrs:
            assert attrs["class"] in ("mention", "hashtag")


XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](javas&#x09;cript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1) )",
    '<a href="javascript:alert(1)">x</a>',
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<javascript&#58;alert(1)>",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](<data:image/svg+xml,<svg onload=alert(1)>>)",
    "[![y](javascript:alert(1))](javascript:alert(2))",
    "<scr<script>ipt>alert(1)</script>",
    '<div style="background:url(javascript:alert(1))">unclosed',
    "<b onclick=alert(1)>unclosed",
    "<a href=https://ok.example OnMoUsEoVeR=alert(1)>x</a>",
    "<p ONLOAD=alert(1)>x</p>",
    "<!-- <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<style>body{background:red}</style>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '[x](https://ok.example "title\\" onmouseover=\\"alert(1)")',
    "[x](https://ok.example 'a\" onclick=\"alert(1)')",
    '[x](https://ok.example/" onmouseover="alert(1))',
    '[x](https://ok.example/"onmouseover="alert(1))',
    "**_[x](javascript:alert(1))_**",
    "*[**x**](javascript:alert(1))*",
    "[x][evil]\n\n[evil]: javascript:alert(1)",
    "[x]\n\n[x]: <javascript:alert(1)> 'title'",
    "[x](java\u0000script:alert(1))",
    "[x](javascript\uff1aalert(1))",
    "[x](\u3000javascript:alert(1))",
    "[x](//evil.example/path)",
    "[x](/\\evil.example/path)",
    'https://ok.example/"><script>alert(1)</script>',
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "<x onload=alert(1)>unknown tag</x>",
    '<a href="https://ok.example" target="_blank">x</a>',
    "[x](file:///etc/passwd)",
]


@pytest.mark.parametrize("body", XSS)
def test_hostile_markdown_renders_to_allow_listed_markup_only(body: str) -> None:
    html = render(body, mention_url=mention_url, tag_url=tag_url)
    assert_safe(html)


def test_the_xss_corpus_is_large_enough() -> None:
    assert len(XSS) >= 30


PIECES = [*"<>[]()!#@:*_`&;\"'/\\= \n\t.x", "javascript", "data", "img", "on", "https://", "&#58;"]


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
@settings(max_examples=300, deadline=None, database=None)
def test_random_markdown_renders_to_allow_listed_markup_only(body: str) -> None:
    assert_safe(render(body, mention_url=mention_url, tag_url=tag_url))


@pytest.mark.parametrize("html", XSS)
def test_the_sanitiser_alone_turns_hostile_html_into_allow_listed_markup(html: str) -> None:
    # markdown-it emits no raw HTML, so this is what stands if that line ever fails.
    assert_safe(sanitise(html))


def test_the_sanitiser_keeps_safe_links_and_gives_them_the_rel_for_user_content() -> None:
    html = '<a href="https://a.example" target="_blank" rel="opener" title="t" lang="en">x</a>'
    assert sanitise(html) == '<a href="https://a.example" rel="nofollow ugc noopener">x</a>'


def test_the_sanitiser_keeps_only_the_mention_and_hashtag_classes() -> None:
    html = (
        '<a href="/@a" class="mention">@a</a><a href="/t" class="button">x</a><p class="mention">'
    )
    # Ammonia empties a class attribute it filters rather than dropping it: harmless.
    assert sanitise(html) == (
        '<a href="/@a" class="mention" rel="nofollow ugc noopener">@a</a>'
        '<a href="/t" class="" rel="nofollow ugc noopener">x</a><p></p>'
    )


def test_html_in_the_source_is_text_not_markup() -> None:
    html = render("<b>bold</b> & <i>not italic</i>")
    assert html == "<p>&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;not italic&lt;/i&gt;</p>\n"


def test_the_sanitiser_still_runs_after_rendering() -> None:
    # The callbacks are ours, but nh3 is the second line of defence for anything that
    # slips past the token rules: a hostile URL from them is still dropped.
    html = render(
        "@alice #tag", mention_url=lambda h: "javascript:alert(1)", tag_url=lambda t: "//x.example"
    )
    assert_safe(html)
    assert "href" not in html


def test_every_link_has_exactly_the_rel_for_user_content_and_no_target() -> None:
    body = (
        "[inline](https://a.example) <https://b.example> https://c.example www.d.org "
        "e@f.org ![pic](https://g.example/p.png) @alice #tag [ref]\n\n[ref]: http://h.example"
    )
    links = Collected(render(body, mention_url=mention_url, tag_url=tag_url)).links()
    assert len(links) == 9
    for attrs in links:
        assert attrs["rel"] == LINK_REL == "nofollow ugc noopener"
        assert "target" not in attrs
        assert "title" not in attrs


@pytest.mark.parametrize(
    "body",
    [
        "[click me](javascript:alert(1))",
        "[click me](data:text/html,hi)",
        "[click me](ftp://files.example/x)",
        # Decided: a relative link in a post has no base that every reader shares (the web
        # app, a feed reader, an email digest), so it is unwrapped like a refused scheme.
        "[click me](/posts/123)",
        "[click me](//evil.example)",
    ],
)
def test_a_refused_link_keeps_its_text(body: str) -> None:
    html = render(body)
    assert html == "<p>click me</p>\n"


def test_http_https_and_mailto_links_are_kept() -> None:
    html = render("[a](http://a.example) [b](HTTPS://b.example) [c](mailto:c@d.example)")
    hrefs = [attrs["href"] for attrs in Collected(html).links()]
    assert hrefs == ["http://a.example", "HTTPS://b.example", "mailto:c@d.example"]


def test_bare_urls_with_a_scheme_or_www_and_emails_are_linked() -> None:
    # linkify-it finds a domain without scheme only under a known top-level domain.
    html = render("https://a.example/x?y=1 www.b.org c@d.org")
    hrefs = [attrs["href"] for attrs in Collected(html).links()]
    assert hrefs == ["https://a.example/x?y=1", "http://www.b.org", "mailto:c@d.org"]


def test_a_domain_without_scheme_or_www_stays_text() -> None:
    # Decided: linkify-it's fuzzy links would turn `setup.py` (Paraguay) into a link.
    assert render("see example.com and setup.py") == "<p>see example.com and setup.py</p>\n"


def test_an_image_becomes_a_link_showing_its_alt_text() -> None:
    html = render("![a cat](https://img.example/cat.png)")
    assert html == (
        '<p><a href="https://img.example/cat.png" rel="nofollow ugc noopener">a cat</a></p>\n'
    )


def test_an_image_without_alt_text_shows_its_url() -> None:
    html = render("![](https://img.example/cat.png)")
    assert Collected(html).text == ["https://img.example/cat.png", "\n"]


def test_an_image_inside_a_link_is_its_alt_text() -> None:
    html = render("[![a cat](https://img.example/cat.png)](https://cats.example)")
    assert html == '<p><a href="https://cats.example" rel="nofollow ugc noopener">a cat</a></p>\n'


def test_an_image_with_a_refused_url_is_its_alt_text() -> None:
    assert render("![a cat](javascript:alert(1))") == "<p>a cat</p>\n"


def test_headings_become_bold_paragraphs() -> None:
    assert render("# Big *news*\n\nText") == (
        "<p><strong>Big <em>news</em></strong></p>\n<p>Text</p>\n"
    )


def test_strikethrough_tables_lists_quotes_and_code_render() -> None:
    body = (
        "~~old~~ **bold** *em*\n\n> quoted\n\n3. three\n4. four\n\n- a\n\n---\n\n"
        "```python\nx = 1\n```\n\n| a | b |\n|:--|--:|\n| 1 | 2 |"
    )
    html = render(body)
    assert_safe(html)
    tags = [tag for tag, _ in Collected(html).tags]
    for tag in ("del", "strong", "em", "blockquote", "ol", "ul", "li", "hr", "pre", "code"):
        assert tag in tags, tag
    assert tags.count("td") == 2
    assert '<ol start="3">' in html
    # Decided: no language class (no highlighter yet) and no alignment style on cells.
    assert "<pre><code>x = 1\n</code></pre>" in html
    assert "style" not in html


def test_a_newline_in_a_paragraph_is_a_line_break() -> None:
    assert render("one\ntwo") == "<p>one<br>\ntwo</p>\n"


def test_a_mention_links_to_the_profile_of_its_lower_cased_handle() -> None:
    html = render("Hi @Alice_1!", mention_url=mention_url)
    assert html == (
        '<p>Hi <a href="/@alice_1" class="mention" rel="nofollow ugc noopener">@Alice_1</a>!</p>\n'
    )


def test_a_mention_of_an_unknown_handle_stays_text() -> None:
    assert render("Hi @nobody", mention_url=mention_url) == "<p>Hi @nobody</p>\n"


def test_without_callbacks_nothing_is_linked() -> None:
    assert render("@alice #tag") == "<p>@alice #tag</p>\n"


@pytest.mark.parametrize(
    "body",
    [
        "`@alice`",
        "```\n@alice\n```",
        "    @alice",
        "mail a@bob.com",
        "bob@alice.org",
        "bob@alice.example",
        "https://social.example/@alice",
        "[a link @alice](https://a.example)",
        "@alice@other.example",
        "@al",
        "@" + "a" * 31,
        "@alicé",
        "\\@alice",
        "&#64;alice",
        "@alice.example",
    ],
)
def test_no_mention_outside_plain_text(body: str) -> None:
    html = render(body, mention_url=mention_url)
    assert 'class="mention"' not in html
    assert extract_mentions(body) == []


def test_a_mention_may_end_a_sentence_or_follow_punctuation() -> None:
    assert extract_mentions("(@alice) .@bob, @carol. **@dave**") == [
        "alice",
        "bob",
        "carol",
        "dave",
    ]


def test_extract_mentions_gives_distinct_lower_cased_handles_in_order() -> None:
    assert extract_mentions("@Bob @alice @BOB @bob_2 @" + "x" * 30) == [
        "bob",
        "alice",
        "bob_2",
        "x" * 30,
    ]


def test_a_hashtag_links_to_the_page_of_its_normalised_tag() -> None:
    html = render("Hello #Привет", tag_url=tag_url)
    assert html == (
        '<p>Hello <a href="/tags/привет" class="hashtag" rel="nofollow ugc noopener">'
        "#Привет</a></p>\n"
    )


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("Привет", "привет"),
        ("ПРИВЕТ", "привет"),
        ("привет", "привет"),
        ("Python", "python"),
        ("PYTHON", "python"),
        ("\uff30\uff39\uff34\uff28\uff2f\uff2e", "python"),  # fullwidth PYTHON
        ("café", "café"),
        ("cafe\u0301", "café"),  # decomposed é
        ("Straße", "strasse"),
    ],
)
def test_tags_normalise_to_one_form(raw: str, tag: str) -> None:
    assert normalise_tag(raw) == tag
    assert extract_tags(f"#{raw}") == [tag]


def test_tags_in_any_script_are_found() -> None:
    body = "#привет #café #東京 #नमस्ते #مرحبا #snake_case"
    assert extract_tags(body) == ["привет", "café", "東京", "नमस्ते", "مرحبا", "snake_case"]


@pytest.mark.parametrize(
    "body",
    [
        "`#tag`",
        "```\n#tag\n```",
        "https://a.example/#tag",
        "https://a.example/page#tag",
        "[a link #tag](https://a.example)",
        "C#",
        "C#tag",
        "I love C# and F#",
        "#1",
        "#2024",
        "##tag",
        "\\#tag",
        "&#35;tag",
        "# heading",
        "#",
        "#" + "a" * (TAG_MAX + 1),
    ],
)
def test_no_hashtag_outside_plain_text(body: str) -> None:
    html = render(body, tag_url=tag_url)
    assert 'class="hashtag"' not in html
    assert extract_tags(body) == []


def test_a_tag_may_be_as_long_as_the_limit() -> None:
    assert extract_tags("#" + "a" * TAG_MAX) == ["a" * TAG_MAX]


def test_a_tag_with_digits_and_letters_is_a_tag() -> None:
    # Decided: only a pure number is refused; `#1st` and `#web3` name things.
    assert extract_tags("#1st #web3") == ["1st", "web3"]


def test_a_tag_ends_at_punctuation() -> None:
    assert extract_tags("#rust, #go. (#zig) #c-lang") == ["rust", "go", "zig", "c"]


def test_extract_tags_gives_distinct_tags_in_order_of_first_appearance() -> None:
    body = "#Zeta #alpha #ZETA #Привет #привет #beta"
    assert extract_tags(body) == ["zeta", "alpha", "привет", "beta"]


def test_extract_tags_stops_at_the_limit() -> None:
    body = " ".join(f"#tag{n}x" for n in range(20))
    assert extract_tags(body) == [f"tag{n}x" for n in range(10)]
    assert extract_tags(body, limit=3) == ["tag0x", "tag1x", "tag2x"]


@pytest.mark.parametrize(
    "body",
    [
        "#one `#two` #three https://a.example/#four five#six\n\n```\n#seven\n```\n\n> #eight",
        "# #heading-tag\n\n- #item\n\n| #cell |\n|---|\n| #row |",
        "[#linked](https://a.example) **#bold** ~~#struck~~ @alice #Alice",
    ],
)
def test_render_links_exactly_the_tags_and_mentions_that_are_extracted(body: str) -> None:
    links = Collected(render(body, mention_url=mention_url, tag_url=tag_url)).links()
    tags = [a["href"].removeprefix("/tags/") for a in links if a.get("class") == "hashtag"]
    mentions = [a["href"].removeprefix("/@") for a in links if a.get("class") == "mention"]
    assert list(dict.fromkeys(tags)) == extract_tags(body)
    assert list(dict.fromkeys(mentions)) == extract_mentions(body)


def test_plain_text_drops_markup_and_collapses_whitespace() -> None:
    body = "# Title\n\nSome **bold**   and `code`,\n\n- [a link](https://a.example)\n- <b>x</b> & y"
    assert plain_text(body) == "Title Some bold and code, a link <b>x</b> & y"


def test_plain_text_keeps_code_blocks_alt_text_mentions_and_tags() -> None:
    body = "```\nx = 1\n```\n\n![a cat](https://img.example/c.png) @alice #tag"
    assert plain_text(body) == "x = 1 a cat @alice #tag"


def test_plain_text_within_the_limit_is_whole() -> None:
    assert plain_text("one two three", limit=13) == "one two three"


def test_plain_text_is_cut_on_a_word_boundary() -> None:
    text = plain_text("one two three four", limit=12)
    assert text == "one two…"
    assert len(text) <= 12


def test_plain_text_of_one_long_word_is_cut_inside_it() -> None:
    assert plain_text("a" * 50, limit=10) == "a" * 9 + "…"


def test_plain_text_is_never_longer_than_the_limit() -> None:
    body = "word " * 2000
    for limit in (1, 2, 5, 17, 1000):
        assert len(plain_text(body, limit)) <= limit
    assert len(plain_text(body)) <= 1000


def test_plain_text_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="limit"):
        plain_text("x", limit=0)


_PROSE = st.text(
    alphabet=st.sampled_from(
        list("abcXYZ\u0430\u0431\u0432\u0416\u0401019 ,.;:?!'\"()-_*#@<>&[]`~|\\/=+\n")
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=500, database=None, deadline=None)
@given(_PROSE)
def test_the_plain_prose_shortcut_renders_exactly_what_markdown_it_does(body: str) -> None:
    """`render` skips markdown-it for one line of plain prose: for every body it takes the
    shortcut on, the HTML is the parser's own, character for character."""
    if is_plain_paragraph(body):
        assert render(body) == render_markdown(body)


@settings(max_examples=300, database=None, deadline=None)
@given(_PROSE)
def test_the_plain_prose_shortcut_gives_the_parsers_plain_text(body: str) -> None:
    """`plain_text` takes the same shortcut (search text on replay): same text."""
    if is_plain_paragraph(body):
        assert plain_text(body) == " ".join(" ".join(_text_parts(body)).split())


def test_the_shortcut_is_taken_for_prose_and_not_for_markup() -> None:
    assert is_plain_paragraph("Event sourcing keeps every change; read models fold.")
    for body in ("1. list", "- item", "a *b*", "#tag", "@bob", "a\nb", "www.x.org", " x", "a_b"):
        assert not is_plain_paragraph(body), body


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
@settings(max_examples=300, deadline=None, database=None)
def test_the_shortcuts_of_extract_agree_with_what_render_links(body: str) -> None:
    """`extract_tags` and `extract_mentions` skip the parser when no `#` (`@`) and no
    entity is in the body: then `render` must link none either."""
    html = render(body, mention_url=lambda h: f"/@{h}", tag_url=lambda t: f"/tags/{t}")
    if "&" not in body:
        if "#" not in body:
            assert extract_tags(body) == [] and 'class="hashtag"' not in html
        if "@" not in body:
            assert extract_mentions(body) == [] and 'class="mention"' not in html
    assert bool(extract_tags(body)) == ('class="hashtag"' in html)
    assert bool(extract_mentions(body)) == ('class="mention"' in html)
