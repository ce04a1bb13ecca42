"""A category made the way an admin makes one (the posts tests file posts under it)."""

from __future__ import annotations

from typing import Any

from tests.support.identity import IdentityClient


async def create_category(
    client: IdentityClient,
    with_role: Any,
    slug: str,
    name_ru: str = "Раздел",
    name_en: str = "Section",
) -> str:
    """`slug` created by a new admin; the commit's position."""
    admin = (await with_role("admin"))["access_token"]
    status, body, headers = await client.post(
        "/v1/admin/categories",
        {"slug": slug, "name_ru": name_ru, "name_en": name_en, "position": 1},
        admin,
    )
    assert status == 201, body
    return headers["Quark-Position"]
