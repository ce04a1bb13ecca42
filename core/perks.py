"""What VIP changes, in one table other modules read: `perks(vip_until, now)`.

VIP status is derived from the stored `until` at the moment of asking, so expiry needs no
job: a grant that has run out simply reads as standard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

STANDARD: Final = {
    "upload_limit_mb": 20,
    "uploads_per_hour": 60,
    #: Mastodon allows 300 posts per 3 hours.
    "posts_per_hour": 100,
    "storage_mb": 2_048,
    "message_max_chars": 4_000,
    #: Chat messages a person may send per minute.
    "messages_per_minute": 60,
    "badge": False,
}
VIP: Final = {
    "upload_limit_mb": 200,
    "uploads_per_hour": 600,
    "posts_per_hour": 1_000,
    "storage_mb": 20_480,
    "message_max_chars": 20_000,
    "messages_per_minute": 300,
    "badge": True,
}


def is_vip(vip_until: datetime | None, now: datetime) -> bool:
    return vip_until is not None and now < vip_until


def perks(vip_until: datetime | None, now: datetime) -> dict[str, int | bool]:
    return dict(VIP if is_vip(vip_until, now) else STANDARD)
