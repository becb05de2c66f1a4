"""The FastAPI app: routes, bearer auth, body-size cap, OpenAI-style errors, metrics.

`create_app(state)` takes engines that are already running and holds no
server-wide mutable settings: a request's strategy and options live in the
request. Errors are OpenAI's shape, `{"error": {"message", "type", "param",
"code"}}`, with `param` naming the field or limit at fault.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from reasoner.errors import EngineError, ReasonerError, RequestError
from reasoner.service.chat import completion_body, plan_chat, run_chat, total_cost
from reasoner.service.config import ServiceConfig
from reasoner.service.jobs import ARTIFACTS, JobManager, JobRequest, job_view
from reasoner.service.keys import KeyRing
from reasoner.service.metrics import CONTENT_TYPE, ServiceMetrics
from reasoner.service.pooled import PoolGenerator
from reasoner.service.schemas import ChatRequest, validate
from reasoner.service.store import ServiceDB
from reasoner.service.stream import stream_chat
from reasoner.types import Result
from reasoner.verifiers.prm import PRMSet



@dataclass
class ServiceState:
    """What the app serves with: running generators by model name, verifiers, keys and the job store."""

    config: ServiceConfig
    generators: dict[str, Any]
    verifiers: Any
    """The `VerifierSet` every request and job grades with."""
    keys: KeyRing
    db: ServiceDB
    prms: PRMSet = field(default_factory=PRMSet)
    """The PRMs chat requests and jobs score with, each loaded once, on first use."""


def create_app(state: ServiceState) -> FastAPI:
    metrics = ServiceMetrics()
    jobs = JobManager(state.db, state.config, state.generators, state.verifiers, metrics, state.prms)
    pooled = [g for g in state.generators.values() if isinstance(g, PoolGenerator)]
    for name, generator in state.generators.items():
        if isinstance(generator, PoolGenerator):
            metrics.watch_engine(name, lambda g=generator: g.pool.in_flight)
        elif hasattr(generator, "engine"):
            metrics.watch_engine(name, lambda g=generator: g.engine().get_num_unfinished_requests())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.gather(*(g.start() for g in pooled))  # on this loop, which will use the pools
        jobs.resume_all()
        try:
            yield
        finally:
            await jobs.shutdown()
            await asyncio.gather(*(g.stop() for g in pooled))

    app = FastAPI(title="reasoner", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.metrics, app.state.jobs = metrics, jobs
    app.add_middleware(BodyLimit, max_bytes=state.config.limits.max_body_bytes)
    _add_error_handlers(app)

    app.add_middleware(CountRequests, metrics=metrics)

    def owner(request: Request) -> str:
        return state.keys.owner(request.headers.get("authorization"))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": list(state.generators)}

    @app.get("/metrics")
    async def prometheus(_: str = Depends(owner)) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(_openai_routes(state, metrics), dependencies=[Depends(owner)])
    app.include_router(_job_routes(state, jobs, owner))
    return app


def _openai_routes(state: ServiceState, metrics: ServiceMetrics) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "reasoner"}
                                           for name in state.generators]}

    @router.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = validate(ChatRequest, await _json(request))
        plan = plan_chat(body, tuple(state.generators), state.config.limits)
        generator = state.generators[plan.model]
        started = time.perf_counter()
        metrics.in_flight.inc()

        def finished(results: list[Result] | None) -> None:
            metrics.in_flight.dec()
            if results is None:
                metrics.cancelled.inc()
                return
            metrics.book(plan.model, total_cost(results))
            metrics.latency.labels(model=plan.model, stream=str(body.stream).lower()).observe(
                time.perf_counter() - started)

        def run(listener=None):
            return run_chat(plan, generator, state.verifiers, listener, prms=state.prms)

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
            raise RequestError(f"the strategy failed: {failed[0].splitlines()[0]}", status=500, code="strategy_error")
        return JSONResponse(completion_body(plan, results))

    return router


def _job_routes(state: ServiceState, jobs: JobManager, owner) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/jobs")
    async def create_job(request: Request, who: str = Depends(owner)) -> JSONResponse:
        job_request = validate(JobRequest, await _json(request))
        row = jobs.submit(who, job_request)
        return JSONResponse(job_view(row, 0), status_code=201)

    @router.get("/v1/jobs/{job_id}")
    async def get_job(job_id: str, who: str = Depends(owner)) -> dict[str, Any]:
        row = _own_job(state.db, job_id, who)
        return job_view(row, jobs.done(row))

    @router.get("/v1/jobs/{job_id}/results")
    async def job_results(job_id: str, who: str = Depends(owner)) -> Response:
        row = _own_job(state.db, job_id, who)
        if row.kind == "sweep":
            path = jobs.artifacts(job_id) / "results.jsonl"
            return FileResponse(path, media_type="application/x-ndjson") if path.is_file() else Response(
                b"", media_type="application/x-ndjson")
        lines = (text + "\n" for text in state.db.records(job_id))
        return StreamingResponse(lines, media_type="application/x-ndjson")

    @router.get("/v1/jobs/{job_id}/artifacts/{name}")
    async def job_artifact(job_id: str, name: str, who: str = Depends(owner)) -> FileResponse:
        row = _own_job(state.db, job_id, who)
        path = jobs.artifacts(job_id) / name
        if row.kind != "sweep" or name not in ARTIFACTS or not path.is_file():
            raise RequestError(f"job {job_id!r} has no artifact {name!r} (yet); sweeps have "
                               f"{', '.join(ARTIFACTS)} once they finish", param="name", status=404, code="not_found")
        return FileResponse(path)

    @router.delete("/v1/jobs/{job_id}")
    async def cancel_job(job_id: str, who: str = Depends(owner)) -> dict[str, Any]:
        _own_job(state.db, job_id, who)
        await jobs.cancel(job_id)
        row = state.db.job(job_id)
        return job_view(row, jobs.done(row))

    return router


def _own_job(db: ServiceDB, job_id: str, owner: str):
    row = db.job(job_id, owner)
    if row is None:  # another key's job looks exactly like a missing one
        raise RequestError(f"no job {job_id!r}", param="job_id", status=404, code="not_found")
    return row


async def _json(request: Request) -> Any:
    try:
        raw = await request.body()
    except ClientDisconnect as exc:  # gone before its request was read: nothing was started
        raise RequestError("the client disconnected", status=499, code="client_closed") from exc
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", param="body") from exc


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


def error_body(message: str, param: str | None, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), exc.param, exc.code), status_code=exc.status)

    @app.exception_handler(EngineError)
    async def engine_down(request: Request, exc: EngineError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), None, "engine_error", "server_error"), status_code=503)

    @app.exception_handler(ReasonerError)
    async def misuse(request: Request, exc: ReasonerError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), None, type(exc).__name__), status_code=400)


class BodyLimit:
    """Refuses bodies over `max_bytes` with a 413 naming the limit, before the route reads them."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise RequestError(f"body over {self.max_bytes} bytes", param="max_body_bytes", status=413)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send) -> None:
        body = json.dumps(error_body(f"request body is over the server's limit max_body_bytes={self.max_bytes}",
                                     "max_body_bytes", "limit_exceeded")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


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
