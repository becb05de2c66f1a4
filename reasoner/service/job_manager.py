"""Solve jobs over HTTP: validated before they start, run by `reasoner.jobs.run_job`, stored in SQLite.

A job's problems are stored with it, so a restarted server resumes every
queued or running job from its stored records (`JobManager.resume_all`).
Datasets are named ones only (`arith`, `pyfunc`, `humaneval`) or an upload:
an HTTP client never names a file on the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reasoner.errors import ConfigError, DataError, RequestError
from reasoner.eval.sweep import plan as sweep_plan
from reasoner.jobs import JobConfig, run_job
from reasoner.registry import check_names, registered_names_only
from reasoner.service.caps import check_caps, over
from reasoner.service.config import Limits, ServiceConfig
from reasoner.service.http_errors import incident
from reasoner.service.schemas import validate
from reasoner.service.store import JobRecords, JobRow, ServiceDB
from reasoner.strategies import build_strategy, client_names
from reasoner.types import Budget, Problem
from reasoner.verifiers.prm import PRMSet

log = logging.getLogger("reasoner.service")


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
    from reasoner.tasks.datasets import CONVERTERS, NAMED, load_dataset, load_jsonl

    if request.format is not None and request.format not in CONVERTERS:
        raise RequestError(f"unknown format {request.format[:40]!r}; formats: {', '.join(sorted(CONVERTERS))}",
                           param="format")
    if request.dataset is not None:
        if request.dataset not in NAMED:
            raise RequestError(f"unknown dataset {request.dataset[:80]!r}; named datasets: "
                               f"{', '.join(sorted(NAMED))}; or upload JSONL as 'data'", param="dataset")
        problems = load_dataset(request.dataset, limit=request.limit)
    else:
        with tempfile.TemporaryDirectory() as folder:  # removed whatever happens
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


def check_strategy(request: JobRequest, limits: Limits) -> dict[str, Any]:
    """The job's strategy options, checked by the one rule for client names and the caps; the options
    to run with (a router name becomes the operator's file)."""
    check_caps(request.options, limits, "options")
    try:
        strategy = build_strategy(request.strategy, request.options, registered_only=True)
    except ConfigError as exc:
        param = "strategy" if exc.field in (None, "strategy") else f"options.{exc.field}"
        raise RequestError(str(exc), param=param) from None
    router = request.options.get("router")
    return {**request.options, "router": getattr(strategy, "router")} if router is not None else request.options


def check_budget(budget: Budget, limits: Limits, where: str = "budget") -> Budget:
    """`budget` within the caps, the caps filling what it leaves open."""
    check_caps(budget.model_dump(exclude_none=True), limits, where)
    return budget.model_copy(update={"samples": budget.samples or limits.max_samples,
                                     "generated_tokens": budget.generated_tokens or limits.max_generated_tokens})


def _routers_resolved(per_strategy: Any) -> Any:
    """A sweep's per-strategy options with each router name (already checked) replaced by its file."""
    from reasoner.strategies import ROUTERS

    if not isinstance(per_strategy, dict):
        return per_strategy
    return {name: {**options, "router": ROUTERS.get(options["router"], registered_only=True)}
            if isinstance(options, dict) and isinstance(options.get("router"), str) else options
            for name, options in per_strategy.items()}


def job_view(row: JobRow, done: int) -> dict[str, Any]:
    """`GET /v1/jobs/{id}`: status, progress and (when finished) the summary; router files by their names."""
    from reasoner.strategies import ROUTERS

    files = {str(ROUTERS.get(name, registered_only=True)): name for name in ROUTERS.names()}
    config = _renamed(row.config, files)
    if row.kind == "sweep" and str(config.get("dataset", "")).endswith("dataset.jsonl"):
        config["dataset"] = "upload"  # the server's copy of the upload: not a path for the client to see
    return {"id": row.id, "object": "job", "kind": row.kind, "status": row.status, "created": row.created,
            "config": config, "progress": {"done": done, "total": row.total},
            "summary": row.summary, "error": row.error}


def _renamed(config: Any, files: dict[str, str]) -> Any:
    if isinstance(config, dict):
        return {key: files.get(value, value) if key == "router" and isinstance(value, str) else
                _renamed(value, files) for key, value in config.items()}
    if isinstance(config, list):
        return [_renamed(value, files) for value in config]
    return config


class JobManager:
    """Starts, resumes, cancels and deletes the app's jobs; one asyncio task per running job.

    A job always ends: any exception marks it `failed` with a client-safe message (the details go to the
    server log), and a job a restarted server cannot resume (its model is not served any more, its strategy
    is not registered) is marked `failed` with the reason."""

    def __init__(self, db: ServiceDB, config: ServiceConfig, pools: dict[str, Any], generators: dict[str, Any],
                 verifiers, metrics, code_allowed: bool = True, prms: PRMSet | None = None) -> None:
        self.db = db
        self.config = config
        self.pools = pools
        """Per served model, where its solve jobs run (shared with chat; never closed by a job)."""
        self.generators = generators
        """Per served model, what sweep jobs generate with (the pool's engine, or its Ray face)."""
        self.verifiers = verifiers
        self.prms = prms if prms is not None else PRMSet()
        self.metrics = metrics
        self.code_allowed = code_allowed
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = False

    def submit(self, owner: str, request: JobRequest) -> JobRow:
        limits = self.config.limits
        model = request.model or self.config.models[0]
        if model not in self.generators:
            raise RequestError(f"model {model[:80]!r} is not served here; served: {', '.join(self.generators)}",
                               param="model")
        budget = check_budget(request.budget, limits)
        if request.limit is not None and request.limit > limits.max_job_problems:
            raise over("limit", request.limit, "max_job_problems", limits.max_job_problems)
        options = check_strategy(request, limits) if request.sweep is None else None
        sweep = self._sweep_options(request, model) if request.sweep is not None else None
        problems = load_problems(request, limits)
        self._check_code(problems)
        self._check_queue(owner)
        job_id = f"job-{uuid.uuid4().hex[:20]}"
        if sweep is not None:
            self._create_sweep(job_id, owner, request, sweep, problems)
        else:
            dataset = request.dataset or f"upload:{uuid.uuid4().hex[:12]}"
            config = JobConfig(dataset=dataset, strategy=request.strategy, strategy_options=options,
                               model=model, backend=self.config.backend, seed=request.seed, budget=budget)
            self.db.create_job(job_id, owner, config.model_dump_json(), config.hash,
                               json.dumps([p.model_dump(mode="json") for p in problems]), len(problems))
        self.start(job_id)
        return self.db.job(job_id)

    def view(self, row: JobRow) -> dict[str, Any]:
        return job_view(row, self.done(row))

    def _check_code(self, problems: list[Problem]) -> None:
        if not self.code_allowed and any(p.domain == "code" for p in problems):
            raise RequestError("this server cannot isolate code from its own files, so it runs no code jobs; the "
                               "operator may allow them with --allow-unsandboxed-code", param="data",
                               code="code_disabled")

    def _check_queue(self, owner: str) -> None:
        limits = self.config.limits
        if self.db.active_jobs(owner) >= limits.max_jobs_per_key:
            raise RequestError(f"this key already has {limits.max_jobs_per_key} unfinished jobs (limit "
                               f"max_jobs_per_key={limits.max_jobs_per_key})", param="max_jobs_per_key",
                               status=429, code="rate_limit_exceeded", retry_after=30)
        if self.db.active_jobs(None) >= limits.max_queued_jobs:
            raise RequestError(f"the server already has {limits.max_queued_jobs} unfinished jobs (limit "
                               f"max_queued_jobs={limits.max_queued_jobs})", param="max_queued_jobs",
                               status=429, code="rate_limit_exceeded", retry_after=30)

    def artifacts(self, job_id: str) -> Path:
        """The folder of a sweep job's results and plots, beside the database."""
        return self.config.db.parent / f"{self.config.db.stem}-artifacts" / job_id

    def _sweep_options(self, request: JobRequest, model: str) -> dict[str, Any]:
        """The sweep's options, checked (names, caps, served models) before anything is written."""
        from reasoner.eval.sweep import SweepConfig

        options = dict(request.sweep or {})
        if request.strategy != "cot" or request.options:
            raise RequestError("a sweep takes its strategies in 'sweep.strategies'", param="strategy")
        for key in ("dataset", "format", "limit", "seed"):
            if key in options:
                raise RequestError(f"give {key!r} at the top level of the job", param=f"sweep.{key}")
        check_caps(options, self.config.limits, "sweep")
        try:
            check_names(options, {**client_names(), "models": tuple(self.generators)}, "sweep")
        except ConfigError as exc:
            raise RequestError(str(exc), param=exc.field) from None
        options.setdefault("models", [model])
        options["concurrency"] = options.get("concurrency", min(self.config.job_concurrency,
                                                                self.config.limits.max_job_concurrency))
        given = options.get("strategy_options")
        if "strategy_options" in options:
            options["strategy_options"] = _routers_resolved(options["strategy_options"])
        with registered_names_only():
            config = validate(SweepConfig, {**options, "dataset": "placeholder"}, prefix="sweep.")
        self._check_sweep(config, given if isinstance(given, dict) else {})
        return options

    def _check_sweep(self, config, given: dict[str, Any]) -> None:
        """Each swept strategy built by the one rule for client names, from the options the client gave."""
        limits = self.config.limits
        if max(config.budgets) > limits.max_samples:
            raise over("sweep.budgets", max(config.budgets), "max_samples", limits.max_samples)
        unknown = sorted(set(config.strategy_options) - set(config.strategies))
        if unknown:
            raise RequestError("options for a strategy the sweep does not run",
                               param=f"sweep.strategy_options.{unknown[0]}")
        for name in config.strategies:
            try:
                build_strategy(name, given.get(name) or {}, registered_only=True)
            except ConfigError as exc:
                raise RequestError(str(exc), param=f"sweep.strategy_options.{name}.{exc.field or 'strategy'}") \
                    from None

    def _create_sweep(self, job_id: str, owner: str, request: JobRequest, options: dict[str, Any],
                      problems: list[Problem]) -> None:
        from reasoner.eval.sweep import SweepConfig

        dataset = request.dataset
        folder = self.artifacts(job_id)
        try:
            if dataset is None:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "dataset.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in problems))
                dataset = str(folder / "dataset.jsonl")
            sweep = SweepConfig.model_validate({**options, "dataset": dataset, "limit": request.limit,
                                                "seed": request.seed or 0})
            total = len(sweep_plan(sweep).runs) * len(problems) * len(sweep.models)
            self.db.create_job(job_id, owner, sweep.model_dump_json(), sweep.generation_hash, "[]", total, "sweep")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # nothing of a refused job stays behind
            raise

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

    def purge_expired(self) -> list[str]:
        """Delete finished jobs older than the retention limit (records and artifacts too)."""
        expired = self.db.finished_before(time.time() - self.config.limits.job_retention_s)
        for job_id in expired:
            self.delete(job_id)
        return expired

    def delete(self, job_id: str) -> None:
        """Remove a finished job, its records and its artifacts."""
        self.db.delete(job_id)
        shutil.rmtree(self.artifacts(job_id), ignore_errors=True)

    async def _run(self, job_id: str) -> None:
        row = self.db.job(job_id)
        self.metrics.jobs_running.inc()
        try:
            self.db.set_status(job_id, "running")
            self._check_resumable(row)
            summary = await (self._sweep(row) if row.kind == "sweep" else self._solve(row))
            self.db.set_status(job_id, "succeeded", summary=summary)
        except asyncio.CancelledError:
            if not self._stopping:  # a server shutting down leaves the job to resume
                self.db.set_status(job_id, "cancelled")
            raise
        except RequestError as exc:
            self.db.set_status(job_id, "failed", error=str(exc))
        except Exception as exc:  # any fault ends the job; the client sees its type and an incident id
            self.db.set_status(job_id, "failed", error=incident(f"job {job_id} failed", exc))
        finally:
            self.metrics.jobs_running.dec()
            self._tasks.pop(job_id, None)

    def _check_resumable(self, row: JobRow) -> None:
        """A `RequestError` (stored as the job's error) when this server cannot run the job as stored."""
        models = row.config.get("models") if row.kind == "sweep" else [row.config.get("model")]
        missing = [m for m in models or [] if m not in self.generators]
        if missing:
            raise RequestError(f"model {missing[0]!r} is not served by this server (it was when the job was "
                               f"made); served: {', '.join(self.generators)}")

    async def _solve(self, row: JobRow) -> dict[str, Any]:
        config = JobConfig.model_validate(row.config)
        problems = [Problem.model_validate(p) for p in json.loads(self.db.problems_json(row.id))]
        store = JobRecords(self.db, row.id, config.hash)
        return (await run_job(config, problems, self.pools[config.model], progress=False, store=store)).report()

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
