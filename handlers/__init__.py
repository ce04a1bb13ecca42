"""Bounded contexts: commands, events, pure `decide`/`evolve`, and the handler table each
context's worker serves. Contexts never import each other; they share only `core`."""

from types import ModuleType


def contexts() -> dict[str, ModuleType]:
    """Every context package by name; each has `CONTEXT`, `EVENTS` and `TABLE`.

    A context whose commands a module in another language serves (`links`, in Node.js) has
    an empty `TABLE` and names that module in `MODULE`: its events and commands are
    declared here all the same, for the edge and the read models (`served_by`)."""
    import handlers.accounts
    import handlers.categories
    import handlers.chat
    import handlers.links
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
            handlers.links,
            handlers.media,
            handlers.moderation,
            handlers.notifications,
            handlers.posts,
            handlers.profiles,
            handlers.reactions,
        )
    }


def served_by(context: ModuleType) -> str | None:
    """The module of the station's catalogue that serves `context`'s commands when no Python
    handler worker does (None: a Python worker serves its `TABLE`)."""
    return None if context.TABLE else getattr(context, "MODULE", None)


def all_events() -> list[type]:
    return [e for m in contexts().values() for e in m.EVENTS]
