"""Each person's perks (`core.perks`) as the edge checks them before a command.

The VIP end lives in the profiles read model, so a limit read straight after a grant could
see the old one; waiting for the profiles projection (the request's `Quark-After`, the
person's own writes) makes a grant the client has been told about count at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from core.perks import perks
from edge.context import infra, wait_for_position
from projections.profiles import ProfilesProjection, vip_until_of


async def perks_of(request: web.Request, user_id: str) -> dict[str, int | bool]:
    """`user_id`'s perks now, as of every write this request must see."""
    await wait_for_position(request, ProfilesProjection.name)
    return perks(await vip_until_of(infra(request).pool, user_id), datetime.now(UTC))
