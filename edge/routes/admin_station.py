"""The station's health for admins on the edge's own origin (`GET /v1/admin/station`): the
web app's policy lets its pages connect to their own origin only, and the hub listens on a
port of its own, so the app cannot ask the hub.

The edge does not relay to the hub: it asks the station itself, as `quark status` does
(`hub.health.survey`: discovery, the dependencies, the read models' consumers, the dead
letters). So the answer is the same the hub would give, and it still comes when the hub is
down — which it then shows, as the `hub` module down and no dashboard to link to.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from edge.auth import principal
from edge.context import infra
from edge.routing import Route
from hub.health import Health, survey

#: Who may read it (`core.permissions`): admins, as on the hub.
VIEW_STATION = "station.view"
_encoder = msgspec.json.Encoder()


class StationView(Health, kw_only=True):
    """The hub's health answer (`GET /v1/hub/health`), with where its dashboard is."""

    #: The hub's dashboard, as the hub announced its address; null while no hub answers.
    dashboard_url: str | None


async def read_station(request: web.Request) -> web.Response:
    await principal(request)
    found, report = await survey(infra(request))
    hub = next((i.url for i in found if i.module == "hub" and i.url), None)
    view = StationView(
        **msgspec.structs.asdict(report), dashboard_url=f"{hub.rstrip('/')}/" if hub else None
    )
    return web.Response(status=200, body=_encoder.encode(view), content_type="application/json")


ROUTES: list[Route] = [
    Route("GET", "/v1/admin/station", read_station,
          "The station's health: dependencies, modules, read models' lag, dead letters, and "
          "the hub dashboard's address (admins)", "admin", response=StationView,
          auth="bearer", permission=VIEW_STATION, name="station_health"),
]  # fmt: skip
