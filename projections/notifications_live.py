"""Notifications delivered live: each batch of the notifications read model sends every
notification it created or changed (a new reply, one more reaction, marked read on another
device) to its person's inbox, as `GET /v1/notifications` would show it to them.

Which rows a batch touched is recorded by a trigger (`touched`), so the many statements of
the read model need not each remember it. The person's choices and blocks are applied when
the item is made, with the same filter as the list (`_SHOWN`): what the list hides is not
pushed. That filter reads the follows read model; if it is not there yet, the batch simply
sends nothing — delivery never makes the read model fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from core import inbox
from core.envelope import RecordedEvent
from core.logging import get_logger

log = get_logger("quark.projections.notifications")

DDL = """
    CREATE TABLE touched (id text PRIMARY KEY, user_id text NOT NULL, gone boolean NOT NULL);
    CREATE FUNCTION note_touched() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO touched VALUES (OLD.id, OLD.user_id, true)
            ON CONFLICT (id) DO UPDATE SET gone = true;
        ELSE
            INSERT INTO touched VALUES (NEW.id, NEW.user_id, false)
            ON CONFLICT (id) DO UPDATE SET gone = false;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER notifications_touched AFTER INSERT OR UPDATE OR DELETE ON notifications
        FOR EACH ROW EXECUTE FUNCTION note_touched();
"""

#: The notifications of the batch as their people's lists show them (see `list_for`).
_SHOWN_NOW = """
    SELECT shown.*,
           CASE WHEN kind = 'message' THEN (
               SELECT count(*) FROM unread_messages u
               WHERE u.notification_id = shown.id AND u.sender_id = ANY(shown.actors))
           ELSE cardinality(actors) END AS count
    FROM (
        SELECT n.user_id, n.id, n.kind,
               ARRAY(
                   SELECT a FROM unnest(n.actors) WITH ORDINALITY AS x(a, i)
                   WHERE NOT EXISTS (
                           SELECT 1 FROM follows.blocks b
                           WHERE (b.blocker = n.user_id::uuid AND b.blocked::text = a)
                              OR (b.blocked = n.user_id::uuid AND b.blocker::text = a))
                     AND (NOT coalesce(s.only_following, false)
                          OR EXISTS (SELECT 1 FROM follows.follows f
                                     WHERE f.follower = n.user_id::uuid
                                       AND f.followee::text = a))
                   ORDER BY i) AS actors,
               n.target_type, n.target_id, n.post_id, n.at, n.read, n.conversation_id,
               n.state, n.reason, n.decision
        FROM notifications n
        LEFT JOIN settings s ON s.user_id = n.user_id
        WHERE n.id = ANY($1::text[])
          AND NOT (n.kind = ANY(coalesce(s.disabled, '{}')))
    ) shown
    WHERE cardinality(actors) > 0 OR kind = 'moderation'
"""


async def deliver(
    conn: asyncpg.Connection, js: Any, projection: str, events: Sequence[RecordedEvent]
) -> None:
    """Send what this batch touched (once: replays and redeliveries send nothing again)."""
    rows = await conn.fetch("DELETE FROM touched RETURNING id, user_id, gone")
    touched = [r["id"] for r in rows if not r["gone"]]
    gone = [(r["id"], r["user_id"]) for r in rows if r["gone"]]
    if not rows or js is None:
        return
    stream, seq = events[-1].stream, max(e.seq for e in events)
    outbox = await inbox.Outbox.open(conn, projection, stream)
    if not outbox.wanted(seq):
        return
    for notification_id, user_id in gone:
        # Gone from the list (a conversation read to its end): the other devices drop it.
        item_id = f"{stream}:{seq}:{notification_id}"
        outbox.add(
            seq,
            inbox.subject(user_id),
            {"type": "notification.removed", "id": item_id, "notification_id": notification_id},
            item_id,
        )
    try:
        async with conn.transaction():
            rows = await conn.fetch(_SHOWN_NOW, touched) if touched else []
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError) as exc:
        log.warning("notifications_not_delivered", reason=repr(exc))
        rows = []
    for r in rows:
        notification = dict(r)
        user_id = notification.pop("user_id")
        if notification["decision"] is not None:
            notification["decision"] = msgspec.json.decode(notification["decision"])
        outbox.add(
            seq,
            inbox.subject(user_id),
            {
                "type": "notification",
                "id": f"{stream}:{seq}:{r['id']}",
                "notification": notification,
            },
            f"{stream}:{seq}:{r['id']}",
        )
    await outbox.flush(js)
