"""A generator whose model calls go to a Ray pool: how `reasoner serve --workers N | --ray-address` serves chat.

A chat request's strategy runs in the service process, so its progress
streams as it happens and the request's conversation view (history, stop
strings) applies; each of its model calls is sent by the pool to the least
busy actor's engine (`RayPool.generate`). Jobs use the same pool and solve
whole problems inside the actors (`RayPool.solve`). Dispatch, retries after
an actor dies and cancellation are the pool's; this is only the `Generator`
face of it. No engine runs in the service process.
"""

from __future__ import annotations

import os

from reasoner.engine.generation import Generation, GenerationRequest, ModelInfo
from reasoner.jobs.pool import RayPool


class PoolGenerator:
    """A `Generator` over a `RayPool` of one model; `start` brings the actors up, `stop` ends them."""

    def __init__(self, pool: RayPool) -> None:
        self.pool = pool
        self._info: ModelInfo | None = None

    @property
    def info(self) -> ModelInfo:
        """As the actors' own generators report it: the name as given, parameters from the local folder."""
        if self._info is None:
            from reasoner.engine.models import resolve_model
            from reasoner.engine.models import count_parameters

            path = resolve_model(self.pool.model)
            params = count_parameters(path) if os.path.isdir(path) else None
            self._info = ModelInfo(name=self.pool.model, parameters=params or None)
        return self._info

    async def start(self) -> PoolGenerator:
        await self.pool.start()
        return self

    async def generate(self, request: GenerationRequest) -> Generation:
        return await self.pool.generate(request)

    async def close(self) -> None:
        """The pool is shared by every request and job; `stop` ends it."""

    async def stop(self) -> None:
        await self.pool.close()
