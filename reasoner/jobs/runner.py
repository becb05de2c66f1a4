"""The one runner: many units of work, records streamed to a store, resumable.

Solve jobs, sweeps and the service's jobs all run through `run_many`: each
finished unit becomes one record, appended to a `RecordStore` and flushed at
once, so a crash loses only the units in flight. A store knows which keys it
holds, so re-running skips them; every record carries the configuration hash
of the run that made it, and a store refuses to mix configurations.

`run_job` is the solve job on top of it: one `JobRecord` per problem, a
`JobSummary` built as records arrive (constant memory, however large the job).

Not here: where problems are solved (`reasoner.jobs.pool`), or what a record means
for accuracy (`reasoner.jobs.summary`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import JobError, ResumeMismatchError
from reasoner.jobs.summary import JobSummary
from reasoner.progress import Progress
from reasoner.types import Budget, Problem, Result, TraceEvent

Work = TypeVar("Work")
Record = dict[str, Any]


class SolveSpec(BaseModel):
    """How to solve a problem: which strategy, with which options, budget and seed.

    Pools take one with every problem, so one engine serves problems solved
    with different strategies at once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = "cot"
    """Strategy name or `module:Class`."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options for the strategy, e.g. {"n": 8}."""
    budget: Budget = Budget()
    """Per-problem spending caps."""
    seed: int | None = 0
    """Base seed; each problem derives its own from it and its id."""

    def build(self):
        """The strategy object (`reasoner.strategies.build_strategy`)."""
        from reasoner.strategies import build_strategy

        return build_strategy(self.strategy, self.options)


class JobConfig(BaseModel):
    """Everything that determines a job's per-problem results."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    """Dataset name or file path."""
    strategy: str = "cot"
    """Strategy name or `module:Class`."""
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options for the strategy, e.g. {"n": 8}."""
    model: str = "tiny"
    """Model name or path."""
    backend: str = "vllm"
    """Generation backend."""
    seed: int | None = 0
    """Base seed; each problem derives its own from it and its id."""
    budget: Budget = Budget()
    """Per-problem spending caps."""

    @property
    def spec(self) -> SolveSpec:
        """How each problem of the job is solved."""
        return SolveSpec(strategy=self.strategy, options=self.strategy_options, budget=self.budget, seed=self.seed)

    @property
    def hash(self) -> str:
        """Short digest of the configuration and the model's weights; records from others are not mixed."""
        from reasoner.engine.models import weights_fingerprint

        settings = {**self.model_dump(mode="json"), "weights": weights_fingerprint(self.model)}
        prms = sorted(self.prms)
        if prms:  # only then, so the hashes of jobs without a PRM stay what they were
            settings["prm_weights"] = {name: weights_fingerprint(name) for name in prms}
        return config_digest(settings)

    @property
    def prms(self) -> frozenset[str]:
        """The PRMs the job's strategy scores with (as the strategy declares them)."""
        from reasoner.strategies.base import prms_of

        return prms_of(self.spec.build())


def config_digest(settings: dict[str, Any]) -> str:
    """16 hex digits identifying a JSON-able configuration."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class CandidateRecord(BaseModel):
    """One candidate as a record keeps it."""

    text: str
    num_tokens: int
    finish_reason: str
    mean_logprob: float | None


class JobRecord(BaseModel):
    """The record of one solved problem, one JSON line of a solve job's output."""

    problem_id: str
    config_hash: str
    strategy: str
    level: int | None
    answer: str | None
    reference: str | None
    """The reference answer, for problems that have one (tests are not copied)."""
    status: str | None
    """The verdict's status, `error` when the problem failed, None when it has no reference."""
    score: float | None
    correct: bool
    detail: str | None
    stop_reason: str
    error: str | None
    cost: dict[str, Any]
    chosen: int | None
    candidates: list[CandidateRecord]
    trace: list[TraceEvent] = Field(default_factory=list)
    """The strategy's trace; a search strategy's last event is its tree (`reasoner tree` draws it)."""

    @classmethod
    def of(cls, problem: Problem, result: Result, config_hash: str) -> JobRecord:
        verdict = result.verdict
        return cls(
            problem_id=problem.id, config_hash=config_hash, strategy=result.strategy, level=problem.level,
            answer=result.answer, reference=problem.answer,
            status=verdict.status.value if verdict else ("error" if result.error else None),
            score=verdict.score if verdict else None, correct=bool(verdict and verdict.correct),
            detail=verdict.detail if verdict else None, stop_reason=result.stop_reason, error=result.error,
            cost=result.cost.model_dump(), chosen=result.chosen,
            candidates=[CandidateRecord(text=c.text, num_tokens=c.num_tokens, finish_reason=c.finish_reason.value,
                                        mean_logprob=c.mean_logprob) for c in result.candidates],
            trace=result.trace,
        )


def record_of(problem: Problem, result: Result, config_hash: str) -> Record:
    """The JSONL record for one solved problem."""
    return JobRecord.of(problem, result, config_hash).model_dump()


# Stores


class RecordStore(Protocol):
    """Where a run's records go. Implementations: `JsonlStore`, `MemoryStore`, the service's SQLite store."""

    def done(self) -> set[Hashable]:
        """Keys of the records already held."""
        ...

    def write(self, record: Record) -> None:
        """Keep `record` durably before returning; a record whose key is held already is dropped."""
        ...

    def records(self) -> Iterator[Record]:
        """Every record held, oldest first, read lazily."""
        ...

    def close(self) -> None: ...


def by_problem(record: Record) -> Hashable:
    return record["problem_id"]


class JsonlStore:
    """Records in a JSONL file: one line each, flushed per record; a torn last line is dropped.

    Opening reads the file once for its keys and configuration hashes (not
    keeping the records), and refuses a file made by another configuration.
    """

    def __init__(self, path: Path, config_hash: str, key: Callable[[Record], Hashable] = by_problem,
                 mismatch: str = "") -> None:
        if path.is_dir():
            raise JobError(f"--out {path} is a directory; give a .jsonl file path")
        self.path, self.config_hash, self.key = path, config_hash, key
        self._done: set[Hashable] = set()
        others: set[str] = set()
        for record in iter_records(path):
            self._done.add(key(record))
            if record.get("config_hash") != config_hash:
                others.add(str(record.get("config_hash")))
        if others:
            raise ResumeMismatchError(
                f"{path} holds results of another configuration (hash {sorted(others)[0]}, this run is "
                f"{config_hash}); use a new --out or the original settings. {mismatch}".rstrip())
        self._repair_torn_tail()
        self._handle: TextIO | None = None

    def _repair_torn_tail(self) -> None:
        if self.path.exists() and self.path.stat().st_size:
            data = self.path.read_bytes()
            if not data.endswith(b"\n"):
                self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def done(self) -> set[Hashable]:
        return set(self._done)

    def write(self, record: Record) -> None:
        key = self.key(record)
        if key in self._done:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        self._done.add(key)

    def records(self) -> Iterator[Record]:
        if self._handle is not None:
            self._handle.flush()
        return iter_records(self.path)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class MemoryStore:
    """Records kept in memory, for runs with no output file."""

    def __init__(self, key: Callable[[Record], Hashable] = by_problem) -> None:
        self.key = key
        self._records: dict[Hashable, Record] = {}

    def done(self) -> set[Hashable]:
        return set(self._records)

    def write(self, record: Record) -> None:
        self._records.setdefault(self.key(record), record)

    def records(self) -> Iterator[Record]:
        return iter(list(self._records.values()))

    def close(self) -> None:
        pass


def iter_records(path: Path) -> Iterator[Record]:
    """Complete records in `path`, one at a time; a torn last line from a crash is ignored."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        previous: tuple[int, str] | None = None
        for number, line in enumerate(handle, start=1):
            if previous is not None:
                yield _parse(path, *previous, last=False)
            previous = (number, line) if line.strip() else None
        if previous is not None:
            record = _parse(path, *previous, last=True)
            if record is not None:
                yield record


def _parse(path: Path, number: int, line: str, last: bool) -> Record | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        if last and not line.endswith("\n"):
            return None
        raise JobError(f"{path}:{number}: corrupt record ({exc.msg}); fix or remove the line") from exc


def read_records(path: Path) -> list[Record]:
    """Every complete record in `path` (see `iter_records`)."""
    return list(iter_records(path))


# The runner


async def run_many(work: Iterable[Work], solve: Callable[[Work], Awaitable[Record]], store: RecordStore, *,
                   capacity: int, listeners: Sequence[Callable[[Record], None]] = ()) -> None:
    """Solve every unit of `work`, at most `capacity` at once, writing each record to `store` as it
    finishes, then telling `listeners` (progress bars, summaries, service events).

    Units' own failures must come back as records; an exception escaping `solve`
    is infrastructure (a dead engine) and stops the run, with what finished kept.
    """
    if capacity < 1:
        raise JobError(f"capacity must be at least 1, got {capacity}")
    slots = asyncio.Semaphore(capacity)

    async def one(unit: Work) -> None:
        async with slots:
            record = await solve(unit)
        store.write(record)
        for listener in listeners:
            listener(record)

    try:
        async with asyncio.TaskGroup() as group:
            for unit in work:
                group.create_task(one(unit))
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    finally:
        store.close()


async def run_job(config: JobConfig, problems: Sequence[Problem], pool, out: Path | None = None,
                  progress: bool = True, listeners: Sequence[Callable[[Record], None]] = (),
                  store: RecordStore | None = None) -> JobSummary:
    """Solve `problems` on `pool` (a `reasoner.jobs.pool.WorkerPool`), streaming records to `out` (or `store`).

    `writer` replaces the JSONL file with another record store of the same methods
    (`done`, `records`, `write`, `close`), e.g. the service's SQLite store.
    Returns the summary of every record for these problems, including ones
    finished by earlier runs of the same job.
    """
    config_hash = config.hash
    if store is None:
        store = JsonlStore(out, config_hash, mismatch=f"This job: {config.model_dump_json()}") \
            if out is not None else MemoryStore()
    done = store.done()
    wanted = {p.id for p in problems}
    summary = JobSummary()
    for record in store.records():
        if record["problem_id"] in wanted:
            summary.add(record)
    pending = [p for p in problems if p.id not in done]
    spec = config.spec
    spec.build()  # an unknown strategy or a bad option stops the job here, before any work

    async def solve(problem: Problem) -> Record:
        return record_of(problem, await pool.solve(problem, spec), config_hash)

    with Progress(len(pending), config.strategy, stream=None if progress else _Null()) as bar:
        def show(record: Record) -> None:
            bar.update(record["cost"]["generated_tokens"], record["correct"])

        await run_many(pending, solve, store, capacity=pool.capacity, listeners=[summary.add, show, *listeners])
    return summary


class _Null:
    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
