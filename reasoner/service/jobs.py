"""Solve jobs over HTTP: validated before they start, run by `reasoner.jobs.run_job`, stored in SQLite.

A job's problems are stored with it, so a restarted server resumes every
queued or running job from its stored records (`JobManager.resume_all`).
Datasets are named ones only (`arith`, `pyfunc`, `humaneval`) or an upload:
an HTTP client never names a file on the server.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reasoner.errors import DataError, ReasonerError, RequestError
from reasoner.jobs import JobConfig, run_job
from reasoner.service.config import Limits, ServiceConfig
from reasoner.service.schemas import check_bundled_prms
from reasoner.service.store import JobRecords, JobRow, ServiceDB
from reasoner.eval.sweep import plan as sweep_plan
from reasoner.types import Budget, Problem
from reasoner.strategies import STRATEGIES
from reasoner.verifiers.prm import PRMSet


class JobRequest(BaseModel):
    """`POST /v1/jobs`."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = None
    """A named dataset: arith, pyfunc or humaneval."""
    data: str | None = None
    """Or an uploaded JSONL text, in any supported format (reasoner, gsm8k, math, mbpp, humaneval)."""
    format: str | None = None
    """Force the upload's format instead of detecting it."""
    limit: int | None = Field(None, ge=1)
    """Only the first K problems."""
    strategy: str = "cot"
    """A registered strategy name."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Strategy options, e.g. {"n": 8}."""
    model: str | None = None
    """A served model; default the server's first."""
    seed: int | None = 0
    """Base seed."""
    budget: Budget = Budget()
    """Per-problem caps."""
    sweep: dict[str, Any] | None = None
    """Make this a sweep instead: `SweepConfig` options (strategies, budgets, models, max_tokens, ...);
    its curve.png, by_level.png and summary.json become the job's artifacts."""

    @model_validator(mode="after")
    def _one_source(self) -> JobRequest:
        if (self.dataset is None) == (self.data is None):
            raise ValueError("give exactly one of 'dataset' (a named dataset) and 'data' (JSONL text)")
        return self


ARTIFACTS = ("curve.png", "by_level.png", "summary.json")
"""Files of a sweep job that `GET /v1/jobs/{id}/artifacts/{name}` serves."""


def load_problems(request: JobRequest, limits: Limits) -> list[Problem]:
    """The job's problems, or a 400 naming the upload line and field."""
    from reasoner.tasks.datasets import NAMED, load_dataset, load_jsonl

    if request.dataset is not None:
        if request.dataset not in NAMED:
            raise RequestError(f"unknown dataset {request.dataset!r}; named datasets: {', '.join(sorted(NAMED))}; "
                               f"or upload JSONL as 'data'", param="dataset")
        problems = load_dataset(request.dataset, limit=request.limit)
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "upload.jsonl"
            path.write_text(request.data or "", encoding="utf-8")
            try:
                problems = load_jsonl(path, fmt=request.format, limit=request.limit)
            except DataError as exc:
                where = ":".join(str(p) for p in (exc.path, exc.line) if p is not None) + ": "
                line = f"line {exc.line}: " if exc.line is not None else ""
                raise RequestError(line + str(exc).removeprefix(where), param="data") from exc
    if len(problems) > limits.max_job_problems:
        raise RequestError(f"{len(problems)} problems is over the server's limit "
                           f"max_job_problems={limits.max_job_problems}", param="data", code="limit_exceeded")
    return problems


def check_strategy(request: JobRequest, limits: Limits) -> None:
    if request.strategy not in STRATEGIES.names():
        raise RequestError(f"unknown strategy {request.strategy!r}; choose one of {', '.join(STRATEGIES.names())}",
                           param="strategy")
    cls = STRATEGIES.get(request.strategy)
    for key in request.options:
        if key not in cls.model_fields:
            raise RequestError(f"unknown option for strategy {request.strategy!r}; it takes "
                               f"{', '.join(sorted(cls.model_fields))}", param=f"options.{key}")
    from reasoner.service.schemas import validate

    validate(cls, request.options, prefix="options.")
    for key, cap, name in (("n", limits.max_samples, "max_samples"), ("max_tokens", limits.max_tokens, "max_tokens")):
        value = request.options.get(key)
        if isinstance(value, int) and value > cap:
            raise RequestError(f"{value} is over the server's limit {name}={cap}", param=f"options.{key}",
                               code="limit_exceeded")


def job_view(row: JobRow, done: int) -> dict[str, Any]:
    """`GET /v1/jobs/{id}`: status, progress and (when finished) the summary."""
    return {"id": row.id, "object": "job", "kind": row.kind, "status": row.status, "created": row.created,
            "config": row.config, "progress": {"done": done, "total": row.total},
            "summary": row.summary, "error": row.error}


class JobManager:
    """Starts, resumes and cancels the app's jobs; one asyncio task per running job."""

    def __init__(self, db: ServiceDB, config: ServiceConfig, generators: dict[str, Any], verifiers,
                 metrics, prms: PRMSet | None = None) -> None:
        self.db = db
        self.config = config
        self.generators = generators
        self.verifiers = verifiers
        self.prms = prms if prms is not None else PRMSet()
        self.metrics = metrics
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = False

    def submit(self, owner: str, request: JobRequest) -> JobRow:
        limits = self.config.limits
        model = request.model or self.config.models[0]
        if model not in self.generators:
            raise RequestError(f"model {model!r} is not served here; served: {', '.join(self.generators)}",
                               param="model")
        check_bundled_prms(request.options, "options")
        check_bundled_prms(request.sweep, "sweep")
        if request.sweep is None:
            check_strategy(request, limits)
        problems = load_problems(request, limits)
        if self.db.active_jobs(owner) >= limits.max_jobs_per_key:
            raise RequestError(f"this key already has {limits.max_jobs_per_key} unfinished jobs "
                               f"(limit max_jobs_per_key={limits.max_jobs_per_key})", param="max_jobs_per_key",
                               status=429, code="limit_exceeded")
        job_id = f"job-{uuid.uuid4().hex[:20]}"
        if request.sweep is not None:
            sweep = self._sweep_config(job_id, request, model, problems)
            total = len(sweep_plan(sweep).runs) * len(problems) * len(sweep.models)
            self.db.create_job(job_id, owner, sweep.model_dump_json(), sweep.generation_hash, "[]", total, "sweep")
        else:
            dataset = request.dataset or f"upload:{uuid.uuid4().hex[:12]}"
            config = JobConfig(dataset=dataset, strategy=request.strategy, strategy_options=request.options,
                               model=model, backend=self.config.backend, seed=request.seed, budget=request.budget)
            self.db.create_job(job_id, owner, config.model_dump_json(), config.hash,
                               json.dumps([p.model_dump(mode="json") for p in problems]), len(problems))
        self.start(job_id)
        return self.db.job(job_id)

    def artifacts(self, job_id: str) -> Path:
        """The folder of a sweep job's results and plots, beside the database."""
        return self.config.db.parent / f"{self.config.db.stem}-artifacts" / job_id

    def _sweep_config(self, job_id: str, request: JobRequest, model: str, problems: list[Problem]):
        from reasoner.service.schemas import validate
        from reasoner.eval.sweep import SweepConfig

        options = dict(request.sweep or {})
        if request.strategy != "cot" or request.options:
            raise RequestError("a sweep takes its strategies in 'sweep.strategies'", param="strategy")
        for key in ("dataset", "format", "limit"):
            if key in options:
                raise RequestError(f"give {key!r} at the top level of the job", param=f"sweep.{key}")
        if ":" in str(options.get("scorer", "")):
            raise RequestError("only registered scorer names are accepted over HTTP", param="sweep.scorer")
        models = options.setdefault("models", [model])
        for name in models if isinstance(models, list) else []:
            if name not in self.generators:
                raise RequestError(f"model {name!r} is not served here", param="sweep.models")
        dataset = request.dataset
        if dataset is None:
            folder = self.artifacts(job_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "dataset.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in problems))
            dataset = str(folder / "dataset.jsonl")
        options.update(dataset=dataset, limit=request.limit, seed=request.seed or 0,
                       concurrency=options.get("concurrency", self.config.job_concurrency))
        config = validate(SweepConfig, options, prefix="sweep.")
        limits = self.config.limits
        if max(config.budgets) > limits.max_samples:
            raise RequestError(f"budget {max(config.budgets)} is over the server's limit max_samples="
                               f"{limits.max_samples}", param="sweep.budgets", code="limit_exceeded")
        if config.max_tokens > limits.max_tokens:
            raise RequestError(f"{config.max_tokens} is over the server's limit max_tokens={limits.max_tokens}",
                               param="sweep.max_tokens", code="limit_exceeded")
        return config

    def done(self, row: JobRow) -> int:
        """Finished units of work: problems of a solve job, (model, run, problem) records of a sweep."""
        if row.kind != "sweep":
            return self.db.done_count(row.id)
        path = self.artifacts(row.id) / "results.jsonl"
        if not path.is_file():
            return 0
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.endswith(b"\n"))

    def start(self, job_id: str) -> None:
        self._tasks[job_id] = asyncio.create_task(self._run(job_id), name=job_id)

    def resume_all(self) -> list[str]:
        """Start every job a previous server process left queued or running."""
        jobs = self.db.unfinished()
        for job_id in jobs:
            self.start(job_id)
        return jobs

    async def _run(self, job_id: str) -> None:
        row = self.db.job(job_id)
        self.metrics.jobs_running.inc()
        try:
            self.db.set_status(job_id, "running")
            summary = await (self._sweep(row) if row.kind == "sweep" else self._solve(row))
            self.db.set_status(job_id, "succeeded", summary=summary)
        except asyncio.CancelledError:
            if not self._stopping:  # a server shutting down leaves the job to resume
                self.db.set_status(job_id, "cancelled")
            raise
        except ReasonerError as exc:
            self.db.set_status(job_id, "failed", error=str(exc))
        finally:
            self.metrics.jobs_running.dec()
            self._tasks.pop(job_id, None)

    async def _solve(self, row: JobRow) -> dict[str, Any]:
        config = JobConfig.model_validate(row.config)
        problems = [Problem.model_validate(p) for p in json.loads(self.db.problems_json(row.id))]
        store = JobRecords(self.db, row.id, config.hash)
        return (await run_job(config, problems, self._pool(config), progress=False, store=store)).report()

    async def _sweep(self, row: JobRow) -> dict[str, Any]:
        """Run (or resume) the sweep on a loop of its own thread: its summary and plots take CPU seconds
        that must not stall the HTTP loop. Cancelling this coroutine cancels the sweep."""
        from reasoner.eval.sweep import SweepConfig, arun_sweep

        config = SweepConfig.model_validate(row.config)
        folder = self.artifacts(row.id)
        loop = asyncio.new_event_loop()
        work = loop.create_task(arun_sweep(config, folder, self.generators.__getitem__, self.verifiers,
                                           prms=self.prms, progress=False), name=f"sweep-{row.id}")

        def run() -> None:
            try:
                loop.run_until_complete(work)
            finally:
                loop.close()

        try:
            await asyncio.to_thread(run)
        except asyncio.CancelledError:
            loop.call_soon_threadsafe(work.cancel)
            raise
        summary = json.loads((folder / "summary.json").read_text())
        return {"problems": summary["problems"], "rows": len(summary["rows"]),
                "compute_optimal": summary["compute_optimal"], "artifacts": list(ARTIFACTS)}

    def _pool(self, config: JobConfig):
        """The model's Ray pool, which chat requests share (never closed by a job), or its in-process engine."""
        from reasoner.jobs.pool import LocalPool
        from reasoner.service.pooled import PoolGenerator

        generator = self.generators[config.model]
        if isinstance(generator, PoolGenerator):
            return generator.pool
        return LocalPool(generator, self.verifiers, concurrency=self.config.job_concurrency, prms=self.prms)

    async def cancel(self, job_id: str) -> None:
        task = self._tasks.get(job_id)
        if task is None:
            row = self.db.job(job_id)
            if row is not None and row.status in ("queued", "running"):
                self.db.set_status(job_id, "cancelled")
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop running jobs without marking them cancelled, so the next start resumes them."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
