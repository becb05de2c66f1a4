"""Solve jobs: many problems, one strategy, results streamed to JSONL.

Each finished problem is appended to the output file and flushed at once, so
a crash loses only the problems in flight. Re-running with the same output
file skips problems already recorded; the job's configuration hash is kept
in every record, and a different configuration is refused rather than mixed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import JobError, ResumeMismatchError
from reasoner.metrics import summarize
from reasoner.progress import Progress
from reasoner.types import Budget, Problem, Result


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
    def hash(self) -> str:
        """Short digest of the configuration and the model's weights; records from others are not mixed."""
        from reasoner.models import weights_fingerprint

        settings = {**self.model_dump(mode="json"), "weights": weights_fingerprint(self.model)}
        canonical = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def record_of(problem: Problem, result: Result, config_hash: str) -> dict[str, Any]:
    """The JSONL record for one solved problem."""
    verdict = result.verdict
    return {
        "problem_id": problem.id,
        "config_hash": config_hash,
        "strategy": result.strategy,
        "level": problem.level,
        "answer": result.answer,
        "reference": problem.answer if problem.domain == "math" else None,
        "status": verdict.status.value if verdict else ("error" if result.error else None),
        "score": verdict.score if verdict else None,
        "correct": bool(verdict and verdict.correct),
        "detail": verdict.detail if verdict else None,
        "stop_reason": result.stop_reason,
        "error": result.error,
        "cost": result.cost.model_dump(),
        "chosen": result.chosen,
        "candidates": [
            {"text": c.text, "num_tokens": c.num_tokens, "finish_reason": c.finish_reason.value,
             "mean_logprob": c.mean_logprob}
            for c in result.candidates
        ],
    }


def read_records(path: Path) -> list[dict[str, Any]]:
    """Complete records in `path`; a torn last line from a crash is ignored."""
    if not path.exists():
        return []
    records = []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                break
            raise JobError(f"{path}:{number}: corrupt record ({exc.msg}); fix or remove the line") from exc
    return records


class ResultWriter:
    """Appends records to a JSONL file, one flush per record, never twice per problem."""

    def __init__(self, path: Path, config: JobConfig) -> None:
        self.path = path
        self.config_hash = config.hash
        self.records = read_records(path)
        self._check_config(config)
        self.done = {r["problem_id"] for r in self.records}
        self._repair_torn_tail()
        self._handle: TextIO | None = None

    def _check_config(self, config: JobConfig) -> None:
        others = {r.get("config_hash") for r in self.records} - {self.config_hash}
        if others:
            raise ResumeMismatchError(
                f"{self.path} holds results of another configuration (hash {sorted(others)[0]}, this job "
                f"is {self.config_hash}); use a new --out or the original settings. This job: "
                f"{config.model_dump_json()}")

    def _repair_torn_tail(self) -> None:
        if self.path.exists() and self.path.stat().st_size:
            data = self.path.read_bytes()
            if not data.endswith(b"\n"):
                self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def write(self, record: dict[str, Any]) -> None:
        if record["problem_id"] in self.done:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        self.done.add(record["problem_id"])
        self.records.append(record)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def run_job(config: JobConfig, problems: Sequence[Problem], pool, out: Path | None = None,
                  progress: bool = True, writer: ResultWriter | None = None) -> dict[str, Any]:
    """Solve `problems` on `pool` (a `reasoner.pool.WorkerPool`), streaming records to `out`.

    `writer` replaces the JSONL file with another record store of the same methods
    (`done`, `records`, `write`, `close`), e.g. the service's SQLite store.
    Returns the summary of every record for these problems, including ones
    finished by earlier runs of the same job.
    """
    if out is not None and out.is_dir():
        raise JobError(f"--out {out} is a directory; give a .jsonl file path")
    if writer is None:
        writer = ResultWriter(out, config) if out is not None else _MemoryWriter(None, config)
    pending = [p for p in problems if p.id not in writer.done]
    slots = asyncio.Semaphore(pool.capacity)
    wanted = {p.id for p in problems}

    async def one(problem: Problem, bar: Progress) -> None:
        async with slots:
            result = await pool.solve(problem)
        writer.write(record_of(problem, result, config.hash))
        bar.update(result.cost.generated_tokens, result.correct)

    try:
        with Progress(len(pending), config.strategy, stream=None if progress else _Null()) as bar:
            async with asyncio.TaskGroup() as group:
                for problem in pending:
                    group.create_task(one(problem, bar))
    except ExceptionGroup as group:
        # Problems' own failures are recorded as data; what escapes is infrastructure.
        raise group.exceptions[0] from None
    finally:
        writer.close()
    return summarize(r for r in writer.records if r["problem_id"] in wanted)


class _MemoryWriter(ResultWriter):
    def __init__(self, path: Path | None, config: JobConfig) -> None:  # noqa: D107 - no file
        self.config_hash = config.hash
        self.records, self.done = [], set()

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.done.add(record["problem_id"])

    def close(self) -> None:
        pass


class _Null:
    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
