"""The FastAPI app: routes, keys and roles, limits, OpenAI-style errors, metrics.

`create_app(state)` takes engines that are already running and holds no
server-wide mutable settings: a request's strategy and options live in the
request. Every request passes `RequestGuard` (JSON only, allowed Host and
Origin, body size) before a route sees it; a route then authenticates the
key (`Caller`), counts the request against the key's limits
(`KeyLimiter`) and parses the body with its depth and numbers capped. Errors
are OpenAI's shape (`reasoner.service.http_errors`).

Routes: `/health` (says only ok), `/metrics` (admin), `/openapi.json` (the
request schemas, for clients and the fuzzer), `/v1/models`,
`/v1/chat/completions`, the jobs API (`reasoner.service.job_routes`), the console's read endpoints
(`reasoner.service.read_routes`) and the web console at `/ui` (`reasoner.service.ui`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from reasoner.errors import RequestError
from reasoner.service.chat import completion_body, plan_chat, run_chat, total_cost
from reasoner.service.config import ServiceConfig
from reasoner.service.guard import RequestGuard, parse_json
from reasoner.service.http_errors import incident, install
from reasoner.service.job_routes import job_routes
from reasoner.service.read_routes import read_routes
from reasoner.service.ui import ui_routes
from reasoner.service.job_manager import JobManager
from reasoner.service.keys import Caller, KeyRing
from reasoner.service.limiter import KeyLimiter
from reasoner.service.prometheus import CONTENT_TYPE, ServiceMetrics
from reasoner.service.openapi import publish_schema
from reasoner.jobs.pool import RayPool, WorkerPool
from reasoner.service.pooled import PoolGenerator
from reasoner.service.schemas import ChatRequest, validate
from reasoner.service.store import ServiceDB
from reasoner.service.stream import stream_chat
from reasoner.types import Result
from reasoner.verifiers.prm import PRMSet


@dataclass
class ServiceState:
    """What the app serves with: a pool per model, verifiers, PRMs, keys and the job store."""

    config: ServiceConfig
    pools: dict[str, WorkerPool]
    """Per served model, where its jobs are solved (`make_pool`): an in-process engine, or Ray actors."""
    verifiers: Any
    """The `VerifierSet` every request and job grades with."""
    keys: KeyRing
    db: ServiceDB
    code_allowed: bool = True
    """Whether code is graded: the sandbox hides the server's files, or the operator allowed it anyway."""
    prms: PRMSet = field(default_factory=PRMSet)
    """The PRMs chat requests and jobs score with, each loaded once, on first use (registered names only)."""
    generators: dict[str, Any] = field(init=False)
    """Per served model, what chat requests generate with: the pool's engine, or the `Generator` face of a
    Ray pool (`PoolGenerator`)."""

    def __post_init__(self) -> None:
        self.generators = {name: PoolGenerator(pool) if isinstance(pool, RayPool) else pool.generator
                           for name, pool in self.pools.items()}


def create_app(state: ServiceState) -> FastAPI:
    metrics = ServiceMetrics()
    limiter = KeyLimiter(state.config.limits)
    jobs = JobManager(state.db, state.config, state.pools, state.generators, state.verifiers, metrics,
                      state.code_allowed, state.prms)
    pooled = [g for g in state.generators.values() if isinstance(g, PoolGenerator)]
    _watch_engines(metrics, state.generators)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.gather(*(g.start() for g in pooled))  # on this loop, which will use the pools
        jobs.purge_expired()
        jobs.resume_all()
        purging = asyncio.create_task(_purge_hourly(jobs), name="purge-expired-jobs")
        try:
            yield
        finally:
            purging.cancel()
            await jobs.shutdown()
            await asyncio.gather(*(g.stop() for g in pooled))

    app = FastAPI(title="reasoner", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.metrics, app.state.jobs, app.state.limiter = metrics, jobs, limiter
    install(app)
    app.add_middleware(RequestGuard, limits=state.config.limits, keyless=not state.keys.enabled,
                       allowed_hosts=state.config.allowed_hosts, cors_origins=state.config.cors_origins)
    if state.config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(state.config.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["authorization", "content-type"])
    app.add_middleware(CountRequests, metrics=metrics)

    def caller(request: Request) -> Caller:
        return state.keys.caller(request.headers.get("authorization"))

    def admin(who: Caller = Depends(caller)) -> Caller:
        if not who.admin:
            raise RequestError("this needs an admin key", param="authorization", status=403, code="forbidden")
        return who

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus(_: Caller = Depends(admin)) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(_openai_routes(state, metrics, limiter, caller))
    app.include_router(job_routes(state.db, jobs, limiter, caller))
    app.include_router(read_routes(state.db, jobs, caller, state.verifiers))
    app.include_router(ui_routes(keys_required=state.keys.enabled))
    publish_schema(app)
    return app


async def _purge_hourly(jobs: JobManager) -> None:
    """Delete finished jobs past their retention once an hour (and at start-up, in the lifespan)."""
    while True:
        await asyncio.sleep(3600)
        jobs.purge_expired()


def _watch_engines(metrics: ServiceMetrics, generators: dict[str, Any]) -> None:
    for name, generator in generators.items():
        if isinstance(generator, PoolGenerator):
            metrics.watch_engine(name, lambda g=generator: g.pool.in_flight)
        elif hasattr(generator, "engine"):
            metrics.watch_engine(name, lambda g=generator: g.engine().get_num_unfinished_requests())


def _openai_routes(state: ServiceState, metrics: ServiceMetrics, limiter: KeyLimiter, caller) -> APIRouter:
    router = APIRouter()
    limits = state.config.limits

    @router.get("/v1/models")
    async def models(_: Caller = Depends(caller)) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "reasoner"}
                                           for name in state.generators]}

    @router.post("/v1/chat/completions")
    async def chat(request: Request, who: Caller = Depends(caller)) -> Response:
        limiter.request(who.owner)
        body = validate(ChatRequest, parse_json(await _body(request), limits))
        plan = plan_chat(body, tuple(state.generators), limits, state.code_allowed)
        generator = state.generators[plan.model]
        limiter.acquire(who.owner)
        started = time.perf_counter()
        metrics.in_flight.inc()

        def finished(results: list[Result] | None) -> None:
            metrics.in_flight.dec()
            limiter.release(who.owner)
            if results is None:
                metrics.cancelled.inc()
                return
            cost = total_cost(results)
            limiter.book_tokens(who.owner, cost.prompt_tokens + cost.generated_tokens)
            metrics.book(plan.model, cost)
            metrics.latency.labels(model=plan.model, stream=str(body.stream).lower()).observe(
                time.perf_counter() - started)

        async def run(listener=None) -> list[Result]:
            try:
                return await asyncio.wait_for(
                    run_chat(plan, generator, state.verifiers, listener, prms=state.prms), limits.request_timeout_s)
            except TimeoutError:
                raise RequestError(f"the request ran past the server's limit request_timeout_s="
                                   f"{limits.request_timeout_s:g} and was stopped", param="request_timeout_s",
                                   status=504, code="timeout") from None

        if body.stream:
            return StreamingResponse(stream_chat(plan, run, finished), media_type="text/event-stream")
        results = None
        try:
            results = await _until_disconnect(request, run())
        finally:
            finished(results)
        if results is None:
            return Response(status_code=499)
        failed = [r.error for r in results if r.error]
        if failed:
            raise RequestError(incident("the strategy failed", detail=failed[0]), status=500,
                               code="strategy_error")
        return JSONResponse(completion_body(plan, results))

    return router


async def _body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect as exc:  # gone before its request was read: nothing was started
        raise RequestError("the client disconnected", status=499, code="client_closed") from exc


async def _until_disconnect(request: Request, work: Coroutine[Any, Any, list[Result]]) -> list[Result] | None:
    """`work`'s result, or None (with the work cancelled, so the engine aborts it) if the client left.

    The body has been read, so the next ASGI message can only be the disconnect; waiting for it (rather
    than polling `is_disconnected`, whose cancelled read can drop the message) sees it at once."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return None
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class CountRequests:
    """Counts responses by route and status (plain ASGI, so it leaves the request's messages alone)."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def sent(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route=route, status=str(status)).inc()
