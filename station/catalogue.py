"""Which modules the station has: every handler context, every read model, the edge, the
workers that are modules of their own, and the hub. What the hub expects to find running
(a missing one is `down`) and what the manager can start, stop and scale."""

from __future__ import annotations

#: Workers started with a context's handlers that are modules of their own.
WORKERS = {"media-worker": "media", "sms-sender": "accounts"}


def modules() -> dict[str, str]:
    """Module name -> kind."""
    from handlers import contexts
    from projections import projections

    out = {name: "handler" for name in contexts()}
    out.update({f"projection-{name}": "projection" for name in projections()})
    out.update({name: "worker" for name in WORKERS})
    out.update({"edge": "edge", "hub": "hub"})
    return out


def station() -> object:
    """The hub's view of this station (`hub.app.Station`)."""
    from hub.app import Station
    from projections import projections

    return Station(expected=modules(), projections=sorted(projections()))
