"""Signed tokens of the platform's own (cursors, links): a payload cannot overwrite the
token's own fields."""

from __future__ import annotations

import pytest

from core import signing

KEY = b"k" * 32


@pytest.mark.parametrize("key", ["s", "x"])
def test_a_payload_cannot_name_the_token_s_own_fields(key: str) -> None:
    """`s` (the scope) or `x` (the expiry) in a payload would overwrite the token's own;
    once a cursor made that way never verified. `sign` refuses them."""
    with pytest.raises(ValueError, match="reserved"):
        signing.sign(KEY, "cursor", {key: 1})


def test_a_payload_comes_back_as_signed_and_only_for_its_scope() -> None:
    token = signing.sign(KEY, "cursor", {"p": 1, "t": "a"})
    assert signing.unsign(KEY, "cursor", token) == {"p": 1, "t": "a"}
    with pytest.raises(ValueError, match="scope"):
        signing.unsign(KEY, "other", token)
