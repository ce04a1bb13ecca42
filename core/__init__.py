"""Quark kernel: no domain knowledge, only the machinery every context docks into.

The event store, command bus, projection runtime, settings, logging and the `quark` CLI live
here; contexts in `handlers/`, read models in `projections/` and the HTTP edge in `edge/` build
on it and share code only through it.
"""
