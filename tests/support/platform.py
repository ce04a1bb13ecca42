"""The whole platform in-process for integration and e2e tests, plus the waiting helpers
that replace sleeps: wait for a projection to reach a position."""

from __future__ import annotations

from core.bootstrap import Infra
from core.commands import parse_position
from core.projection_worker import checkpoint_lookups
from edge.positions import PositionWatcher
from handlers import contexts
from projections import projections
from station.runner import Workers
from tests.support.projections import APPLY_LOG_READS


class Platform:
    def __init__(
        self, infra: Infra, *, edge: bool = True, projection_names: list[str] | None = None
    ) -> None:
        self.infra = infra
        self.workers = Workers(infra)
        self.edge = edge
        self.projection_names = (
            list(projections()) if projection_names is None else projection_names
        )
        self.watcher = PositionWatcher(
            infra.nc,
            infra.pool,
            # And the test read model of `tests.support.projections`, declared by its test.
            {**infra.decl.read_streams(), "apply_log": APPLY_LOG_READS},
        )

    @property
    def base_url(self) -> str:
        return self.workers.urls[0]

    async def __aenter__(self) -> Platform:
        await self.watcher.start()
        try:
            for name, lookup in checkpoint_lookups(self.infra, projections()).items():
                self.watcher.checkpoint_source(name, lookup)
            await self.workers.start_handlers(contexts())
            await self.workers.start_projections(self.projection_names)
            if self.edge:
                await self.workers.start_edge("127.0.0.1", self.infra.settings.http_port)
        except BaseException:
            # Whatever started must stop, or its supervisors retry forever.
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.workers.stop()
        await self.watcher.stop()

    async def wait(self, projection: str, position: str, timeout: float = 10.0) -> None:
        """Until `projection` has applied `position` (no sleeping, no polling)."""
        stream, seq = parse_position(position)
        await self.watcher.wait(projection, stream, seq, timeout)
