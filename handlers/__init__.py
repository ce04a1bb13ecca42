"""Bounded contexts: commands, events, pure `decide`/`evolve`, and the handler table each
context's worker serves. Contexts never import each other; they share only `core`."""

from types import ModuleType


def contexts() -> dict[str, ModuleType]:
    """Every context package by name; each has `CONTEXT`, `EVENTS` and `TABLE`."""
    import handlers.accounts
    import handlers.categories
    import handlers.chat
    import handlers.media
    import handlers.moderation
    import handlers.notifications
    import handlers.posts
    import handlers.profiles
    import handlers.reactions

    return {
        m.CONTEXT: m
        for m in (
            handlers.accounts,
            handlers.categories,
            handlers.chat,
            handlers.media,
            handlers.moderation,
            handlers.notifications,
            handlers.posts,
            handlers.profiles,
            handlers.reactions,
        )
    }


def all_events() -> list[type]:
    return [e for m in contexts().values() for e in m.EVENTS]
