"""What the `stats` read model counts from each event, and on which UTC day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from core.personal import Sealed
from handlers.accounts import events as accounts
from handlers.chat import events as chat
from handlers.media import events as media
from handlers.posts import events as posts
from handlers.reactions import events as reactions
from projections.stats import (
    COMMENTS,
    MESSAGES,
    POSTS,
    SIGN_UPS,
    UPLOADS,
    StatsProjection,
    facts,
    utc_day,
)

ANN = "0190a5c0-0000-7000-8000-000000000001"
AT = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)


def test_the_day_is_the_utc_date_of_the_events_own_time() -> None:
    # 01:30 in Moscow on the 27th is still the 26th in UTC.
    moscow = datetime(2026, 11, 27, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert utc_day(moscow) == date(2026, 11, 26)
    assert utc_day(datetime(2026, 11, 26, 23, 59, 59)) == date(2026, 11, 26)


def test_each_creation_counts_its_metric_and_its_author_as_active() -> None:
    assert facts(
        posts.PostPublished(post_id="p", author_id=ANN, title=None, body="b", published_at=AT)
    ) == (AT, POSTS, ANN)
    assert facts(
        posts.CommentAdded(
            comment_id="c", post_id="p", post_author_id="x", author_id=ANN, body="b", added_at=AT
        )
    ) == (AT, COMMENTS, ANN)
    assert facts(
        chat.MessageSent(message_id="m", conversation_id="c", sender_id=ANN, body="b", sent_at=AT)
    ) == (AT, MESSAGES, ANN)
    received = media.MediaReceived(
        media_id="m",
        owner_id=ANN,
        sha256="s",
        size=1,
        media_type="image/png",
        upload_key="k",
        received_at=AT,
    )
    assert facts(received) == (AT, UPLOADS, ANN)
    sealed = Sealed(n="n", c="c")
    registered = accounts.AccountRegistered(
        user_id=ANN,
        phone_hash="h",
        phone=sealed,
        display_name=sealed,
        password_hash="p",
        roles=[],
        registered_at=AT,
    )
    assert facts(registered) == (AT, SIGN_UPS, ANN)


def test_reacting_and_refreshing_a_session_make_a_person_active_without_a_creation() -> None:
    reacted = reactions.ReactionAdded(
        target_type="post", target_id="p", user_id=ANN, kind="like", at=AT
    )
    assert facts(reacted) == (AT, None, ANN)
    refreshed = accounts.SessionRefreshed(
        user_id=ANN, session_id="s", refresh_hash="h", refreshed_at=AT
    )
    assert facts(refreshed) == (AT, None, ANN)


def test_every_consumed_event_type_is_counted_somehow_and_no_other_is() -> None:
    assert media.MediaProcessed.name not in StatsProjection.consumes  # one upload, once
    assert posts.PostDeleted.name not in StatsProjection.consumes  # creations stay counted
    assert {
        accounts.AccountRegistered.name,
        posts.PostPublished.name,
        posts.CommentAdded.name,
        chat.MessageSent.name,
        media.MediaReceived.name,
        "moderation.ReportFiled",
        accounts.SessionOpened.name,
        reactions.ReactionAdded.name,
    } <= StatsProjection.consumes
    assert (
        facts(media.MediaDeleted(media_id="m", reason="owner", deleted_at=AT, deleted_by=ANN))
        is None
    )
