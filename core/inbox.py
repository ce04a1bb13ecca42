"""Per-user live delivery (DESIGN §5): items for one person go to `inbox.<user_id>` in the
INBOX stream; websocket sessions replay them from a cursor (the stream sequence) and then
follow live, so a reconnecting client misses nothing.

Producers are reactors (a direct message, a mention, a moderation decision): they call
`deliver` with an item id that makes a retried delivery a no-op (`Nats-Msg-Id`).
"""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext

from core.ids import is_uuid
from core.natsutil import NATS_UNAVAILABLE, unavailable

STREAM = "INBOX"
_encoder = msgspec.json.Encoder()


def subject(user_id: str) -> str:
    if not is_uuid(user_id):
        raise ValueError(f"{user_id!r} is not a user id")
    return f"inbox.{user_id}"


async def deliver(js: JetStreamContext, user_id: str, item: object, *, item_id: str) -> int:
    """Append `item` (a Struct or dict with a `type`) to the user's inbox; returns its cursor.

    Raises:
        UnavailableError: NATS did not confirm; retrying with the same `item_id` is safe.
    """
    try:
        ack = await js.publish(
            subject(user_id), _encoder.encode(item), headers={"Nats-Msg-Id": item_id}
        )
    except NATS_UNAVAILABLE as exc:
        raise unavailable(exc) from None
    return ack.seq
