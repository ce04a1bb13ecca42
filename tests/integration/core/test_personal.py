"""Crypto-shredding against a real NATS key-value bucket: personal fields are sealed per
person, and erasing the person turns every copy in the log into "[erased]"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import ClassVar

import msgspec
import pytest

from core.bootstrap import Infra
from core.envelope import AggregateRef
from core.ids import new_id
from core.personal import ERASED, ErasedPerson, Sealed, TamperedError, Vault
from core.registry import Event


class PersonNamed(Event, frozen=True):
    """A test event with a personal field, as identity events will have."""

    name: ClassVar[str] = "posts.PersonNamed"
    person_id: str
    display_name: Sealed
    at: datetime


async def test_a_sealed_value_opens_for_its_person_and_field_only(infra: Infra) -> None:
    alice, bob = new_id(), new_id()
    sealed = await infra.vault.seal(alice, "display_name", "Alice Liddell")
    assert "Alice" not in msgspec.json.encode(sealed).decode()
    assert await infra.vault.open(alice, "display_name", sealed) == "Alice Liddell"
    await infra.vault.seal(bob, "display_name", "Bob")
    with pytest.raises(TamperedError):
        await infra.vault.open(bob, "display_name", sealed)  # another person's key
    with pytest.raises(TamperedError):
        await infra.vault.open(alice, "phone", sealed)  # another field
    forged = Sealed(n=sealed.n, c=sealed.c[:-4] + "AAA=")
    with pytest.raises(TamperedError):
        await infra.vault.open(alice, "display_name", forged)


async def test_erasing_a_person_turns_their_fields_in_the_log_into_erased(infra: Infra) -> None:
    infra.registry.register(PersonNamed)
    person = new_id()
    sealed = await infra.vault.seal(person, "display_name", "Carol Danvers")
    event = PersonNamed(person_id=person, display_name=sealed, at=datetime.now(UTC))
    await infra.store.append(AggregateRef("posts.person", person), 0, [event], command_id=new_id())
    raw = await infra.nc.jetstream().get_last_msg("CONTENT", f"ev.posts.person.{person}")
    assert b"Carol" not in (raw.data or b"")

    async def name_in_log(vault: Vault) -> str:
        [recorded] = await infra.store.read_subject("CONTENT", f"ev.posts.person.{person}")
        return await vault.open(person, "display_name", recorded.event.display_name)

    assert await name_in_log(infra.vault) == "Carol Danvers"
    await infra.vault.erase(person)
    assert await name_in_log(infra.vault) == ERASED
    # Another process (no cache) reading the log from the start sees the same.
    other = await Vault.connect(infra.nc.jetstream(), infra.secret_key)
    assert await name_in_log(other) == ERASED
    assert await other.is_erased(person)
    with pytest.raises(ErasedPerson):
        await other.seal(person, "display_name", "written after erasure")


async def test_concurrent_first_seals_of_one_person_agree_on_one_key(infra: Infra) -> None:
    person = new_id()
    vaults = [await Vault.connect(infra.nc.jetstream(), infra.secret_key) for _ in range(8)]
    sealed = await asyncio.gather(
        *(v.seal(person, "f", f"value {i}") for i, v in enumerate(vaults))
    )
    fresh = await Vault.connect(infra.nc.jetstream(), infra.secret_key)
    opened = [await fresh.open(person, "f", s) for s in sealed]
    assert opened == [f"value {i}" for i in range(8)]


async def test_lookup_hashes_are_keyed_normalised_and_separated_by_purpose(infra: Infra) -> None:
    vault = infra.vault
    h = vault.lookup_hash("phone", "+79161234567")
    assert h == vault.lookup_hash("phone", " +79161234567 ")
    assert vault.lookup_hash("Handle", "Alice") == vault.lookup_hash("Handle", "alice")
    assert h != vault.lookup_hash("email", "+79161234567")
    assert len(h) == 32 and all(c in "0123456789abcdef" for c in h)
    assert "9161234567" not in h
    other = await Vault.connect(infra.nc.jetstream(), b"another secret key" * 2)
    assert other.lookup_hash("phone", "+79161234567") != h


async def test_person_ids_must_be_ids(infra: Infra) -> None:
    with pytest.raises(ValueError, match="not a person id"):
        await infra.vault.seal("a.b", "f", "x")
