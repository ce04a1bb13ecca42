"""The edge remembers that content is public for a few seconds, never longer, and never
remembers anything else."""

from __future__ import annotations

from edge.routes.media import PublicContent

SHA = "a" * 64
OTHER = "b" * 64


def test_content_never_said_public_is_not_public() -> None:
    assert not PublicContent(seconds=5).is_public(SHA, 100.0)


def test_public_content_is_remembered_for_its_lifetime_only() -> None:
    known = PublicContent(seconds=5)
    known.remember(SHA, 100.0)
    assert known.is_public(SHA, 104.9)
    assert not known.is_public(SHA, 105.0)
    assert not known.is_public(SHA, 104.9)  # forgotten once expired, not revived


def test_remembering_again_restarts_the_lifetime() -> None:
    known = PublicContent(seconds=5)
    known.remember(SHA, 100.0)
    known.remember(SHA, 103.0)
    assert known.is_public(SHA, 107.9)


def test_a_full_memory_forgets_the_oldest_first() -> None:
    known = PublicContent(seconds=5, entries=2)
    known.remember(SHA, 100.0)
    known.remember(OTHER, 101.0)
    known.remember("c" * 64, 102.0)
    assert not known.is_public(SHA, 102.0)
    assert known.is_public(OTHER, 102.0) and known.is_public("c" * 64, 102.0)


def test_expired_entries_go_when_new_ones_come() -> None:
    known = PublicContent(seconds=5, entries=100)
    for n in range(10):
        known.remember(f"{n:064x}", 100.0)
    known.remember(OTHER, 200.0)
    assert len(known._until) == 1
