"""Read models, one module each: schema, `apply` and the queries that read it. A projection
never calls another service; it reads events and writes only its own tables or keys."""

from core.projection import Projection


def projections() -> dict[str, Projection]:
    """Every read model by name (the `quark replay` and worker catalogue)."""
    from projections.activity import ActivityProjection
    from projections.author_stats import AuthorStatsProjection
    from projections.categories import CategoriesProjection
    from projections.chat import ChatProjection
    from projections.comments import CommentsProjection
    from projections.follows import FollowsProjection
    from projections.link_previews import LinkPreviewsProjection
    from projections.live import LiveProjection
    from projections.media import MediaProjection
    from projections.moderation import ModerationProjection
    from projections.notifications import NotificationsProjection
    from projections.posts import PostsProjection
    from projections.profiles import ProfilesProjection
    from projections.reactions import ReactionsProjection
    from projections.security_log import SecurityLogProjection
    from projections.sessions import SessionsProjection
    from projections.stats import StatsProjection
    from projections.timelines import TimelinesProjection
    from projections.word_filters import WordFiltersProjection

    items: list[Projection] = [
        PostsProjection(),
        AuthorStatsProjection(),
        SessionsProjection(),
        SecurityLogProjection(),
        ProfilesProjection(),
        FollowsProjection(),
        ActivityProjection(),
        MediaProjection(),
        CategoriesProjection(),
        ReactionsProjection(),
        CommentsProjection(),
        NotificationsProjection(),
        TimelinesProjection(),
        ChatProjection(),
        LiveProjection(),
        ModerationProjection(),
        StatsProjection(),
        LinkPreviewsProjection(),
        WordFiltersProjection(),
    ]
    return {p.name: p for p in items}
