"""One link, one spelling, one aggregate: the URL rules the edge applies and the Node.js
module relies on (handlers/links/urls.py)."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from handlers.links.urls import normalise_url, preview_id


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("HTTP://Example.ORG:80/a#top", "http://example.org/a"),
        ("https://example.org:443", "https://example.org/"),
        ("  http://example.org/?  ", "http://example.org/"),
        ("http://example.org:8080/a b".replace(" ", "%20"), "http://example.org:8080/a%20b"),
        ("https://exa.org/p?q=1&r=é", "https://exa.org/p?q=1&r=%C3%A9"),
        ("http://Пример.рф/путь", "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C"),
        ("http://[0:0::1]:8080/x", "http://[::1]:8080/x"),
        ("http://127.0.0.1./", "http://127.0.0.1/"),
        ("http://example.org./", "http://example.org/"),
    ],
)
def test_spellings_of_one_link_normalise_to_one(given: str, normalised: str) -> None:
    assert normalise_url(given) == normalised
    assert normalise_url(normalised) == normalised  # idempotent


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "must not be empty"),
        ("ftp://example.org/", "must be an http or https URL"),
        ("javascript:alert(1)", "must be an http or https URL"),
        ("http://user:pw@example.org/", "must not carry a user name or password"),
        ("http:///path", "needs a host"),
        ("http://exa mple.org/", "must not contain spaces or control characters"),
        ("http://example.org/\x00", "must not contain spaces or control characters"),
        ("http://a..b/", "has an invalid host name"),
        ("http://a_b.-c/", "has an invalid host name"),
        ("http://2130706433/", "has an invalid IPv4 address"),
        ("http://0x7f.1/", "has an invalid IPv4 address"),
        ("http://[::1%25eth0]/", "must not name an IPv6 zone"),
        ("http://example.org:0/", "has an invalid port"),
        ("http://example.org:99999/", "is not a URL"),
        ("http://example.org/" + "a" * 2048, "must be at most 2048 characters"),
    ],
)
def test_what_is_not_a_previewable_link_is_refused_naming_the_field(
    given: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        normalise_url(given)
    assert [(e.field, e.message) for e in refused.value.errors] == [("url", message)]


def test_a_link_is_one_aggregate_the_node_module_names_alike() -> None:
    # modules/link-preview/test/envelope.test.js asserts the same id for the same URL.
    assert preview_id("http://example.org/") == "706ad72e-d899-549d-8046-904cd946c77a"
    assert preview_id(normalise_url("HTTP://EXAMPLE.org#x")) == preview_id("http://example.org/")
