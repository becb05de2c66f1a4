"""Compute sweeps: accuracy against test-time compute, per model, strategy and budget.

`run_sweep(config, out, ...)` fills the folder `out` with:

- `results.jsonl`: one record per problem x model x generation run, flushed as
  each finishes. Every candidate is kept with its answer, equivalence label,
  mean logprob, token count, verdict and scorer score, so any metric can be
  recomputed later.
- `summary.json`: a `SweepSummary`: one `SweepRow` per model x strategy x
  budget, and the compute-optimal choice per difficulty level.
- `curve.png` and `by_level.png`, drawn by `reasoner.plots`.

How a budget is spent:

- Sampling strategies (`SAMPLED`) share one generation per problem: n = the
  largest budget samples, drawn with the request self-consistency and
  best-of-n make, each graded on its own. Budget k is estimated from the
  size-k subsets of those n (see `reasoner.metrics`). Its cost is scaled from
  the generation's: the prompt once plus k/n of the generated tokens, FLOPs
  as 2 x parameters x those tokens, and wall time x k/n, which is an estimate.
- Adaptive self-consistency (`POOLED`) is read off the same samples, capped
  at the largest budget: for a random order of the n samples,
  `AdaptiveConsistency.samples_drawn` says where the strategy would stop,
  and the vote over that prefix is its answer. Accuracy, generated tokens
  and samples are averaged over `draws` orders; the prompt is counted once
  per round, as the strategy sends it. Because the samples are shared, its
  gap to self-consistency at n is measured on the same samples, not on new ones.
- The other strategies (`RERUN`) run once per budget through `solve_problem`:
  cot at budget 1 (greedy), revision at budget b as 1 chain of b - 1 revisions.

Accuracy is the mean over problems of each problem's (expected) correctness;
its interval is a 95% percentile bootstrap over problems. Under the
verifiers' score rule (`verifiers.base`) a missing or unparseable answer is
simply wrong; an ungradable verdict (status `error`: a reference that does not
parse, a verifier failure) counts as not correct, as in `metrics.summarize`'s
`accuracy`, and is counted in the row's `errors`.

Re-running into the same folder resumes: records present for the same
generation settings are kept and only missing (model, run, problem) records
are made. A folder written with other generation settings is refused.

Not here: drawing (`reasoner.plots`), or building engines (callers pass a
generator factory; the CLI uses `VLLMGenerator.shared`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from math import isfinite
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reasoner.budget import Meter
from reasoner.errors import ConfigError, DataError, JobError, ResumeMismatchError
from reasoner.generation import GenerationRequest, Generator
from reasoner.jobs import read_records, record_of
from reasoner.metrics import (TIE_RULE, Choice, GradedSample, Stats, SweepRow, compute_optimal,
                              majority_winner, mean_stats, sample_metrics)
from reasoner.models import weights_fingerprint
from reasoner.progress import Progress
from reasoner.solve import grade, problem_seed, solve_problem
from reasoner.types import Candidate, Problem, Result, SamplingConfig
from strategies import make_strategy
from strategies.base import SolveContext, extract_final
from strategies.scorers import SCORERS
from strategies.self_consistency import group_labels
from verifiers.base import Verdict

SAMPLED: dict[str, str] = {"self_consistency": "maj_at_k", "best_of_n": "best_of_k"}
"""Strategies estimated from the shared samples, and the metric that is their accuracy."""


def _cot_runs(config: SweepConfig) -> dict[int, dict[str, Any]]:
    """Greedy, so one run at budget 1 whatever the budgets."""
    return {1: {"max_tokens": config.max_tokens}}


def _revision_runs(config: SweepConfig) -> dict[int, dict[str, Any]]:
    """Budget b: one chain, its first attempt then b - 1 revisions."""
    return {b: {"chains": 1, "revisions": b - 1, "max_tokens": config.max_tokens,
                "temperature": config.temperature, "top_p": config.top_p} for b in config.budgets}


POOLED = ("adaptive_consistency",)
"""Strategies read off the shared samples by replaying their stopping rule, at the largest budget."""

RERUN: dict[str, Callable[[SweepConfig], dict[int, dict[str, Any]]]] = {
    "cot": _cot_runs,
    "revision": _revision_runs,
}
"""Strategies that cannot be subsampled: budget -> strategy options of each run."""


class SweepConfig(BaseModel):
    """What a sweep runs. Lists may be given as comma-separated strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    """Dataset name or JSONL file."""
    format: str | None = None
    """Force the file format (reasoner, gsm8k, math, mbpp, humaneval)."""
    limit: int | None = Field(None, ge=1)
    """Use only the first K problems."""
    models: tuple[str, ...] = ("tiny",)
    """Model names or paths, swept one after another."""
    strategies: tuple[str, ...] = ("cot", "self_consistency", "best_of_n", "revision")
    """Strategies to sweep: names in `SAMPLED`, `POOLED` or `RERUN`."""
    budgets: tuple[int, ...] = (1, 2, 4, 8, 16)
    """Samples per problem; sorted and distinct."""
    seed: int = 0
    """Base seed for sampling, subsets and bootstrap resamples."""
    max_tokens: int = Field(256, ge=1)
    """Cap on generated tokens per candidate."""
    temperature: float = Field(0.8, ge=0.0)
    """Sampling temperature of every strategy but cot."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    """Nucleus mass of every strategy but cot."""
    scorer: str = "public_tests"
    """Best-of-n scorer, a name in `strategies.scorers.SCORERS` or `module:Class`."""
    draws: int = Field(200, ge=1)
    """Random subsets per problem and budget for maj@k, when enumerating all would take more."""
    resamples: int = Field(1000, ge=10)
    """Bootstrap resamples of the problems behind each interval."""
    concurrency: int = Field(64, ge=1)
    """Problems in flight at once per model, across all runs; one engine batches them."""

    @field_validator("models", "strategies", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not value:
            raise ValueError("needs at least one name")
        return tuple(dict.fromkeys(value))

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = [*SAMPLED, *POOLED, *RERUN]
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown strategy {unknown[0]!r} for a sweep; choose from {', '.join(known)}")
        return value

    @field_validator("budgets", mode="before")
    @classmethod
    def _parse_budgets(cls, value: Any) -> tuple[int, ...]:
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            budgets = [_positive_int(part) for part in parts]
        except ValueError:
            raise ValueError(f"budgets must be positive integers like 1,2,4,8; got {value!r}") from None
        if not budgets:
            raise ValueError("needs at least one budget")
        return tuple(sorted(set(budgets)))

    @property
    def generation_hash(self) -> str:
        """Digest of the settings that fix each run's output; a folder holds one."""
        settings = self.model_dump(include={"dataset", "format", "seed", "max_tokens", "temperature",
                                            "top_p", "scorer"})
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def sampled(self) -> list[str]:
        """The strategies estimated from shared samples."""
        return [name for name in self.strategies if name in SAMPLED or name in POOLED]

    def budgets_of(self, strategy: str) -> list[int]:
        """The budgets at which `strategy` gets a row."""
        if strategy in SAMPLED:
            return list(self.budgets)
        return [max(self.budgets)] if strategy in POOLED else sorted(RERUN[strategy](self))


def _positive_int(text: Any) -> int:
    number = int(str(text).strip())
    if number < 1:
        raise ValueError(number)
    return number


def make_config(**options: Any) -> SweepConfig:
    """A `SweepConfig` from user options (None means default); bad values raise ConfigError."""
    try:
        return SweepConfig(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'sweep'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise ConfigError(f"bad sweep options: {problems}") from exc


class SweepSummary(BaseModel):
    """Contents of `summary.json`."""

    config: SweepConfig
    problems: int
    rows: list[SweepRow]
    compute_optimal: dict[str, Choice]
    """Level ("all" for every problem) -> the cheapest row reaching the best accuracy."""
    notes: dict[str, str]
    """How the numbers were made."""


NOTES = {
    "accuracy": "mean over problems of expected correctness; subsampled rows average over random size-k "
                "subsets of the n samples (exact when there are at most `draws` subsets)",
    "ci": "95% percentile bootstrap over problems, `resamples` resamples, paired across rows",
    "cost": "subsampled rows: prompt tokens once plus generated tokens x k/n per problem; adaptive rows: "
            "the tokens of the samples it draws, the prompt once per round",
    "wall": "subsampled rows: the generation's wall time x k/n, an estimate",
    "compute_optimal": TIE_RULE,
}


# Running


class SamplesRun(BaseModel):
    """n samples per problem, shared by every strategy in `SAMPLED`."""

    model_config = ConfigDict(frozen=True)
    n: int

    @property
    def key(self) -> str:
        return f"samples@{self.n}"

    @property
    def budget(self) -> int:
        return self.n

    async def solve(self, problem: Problem, generator: Generator, math, code,
                    config: SweepConfig) -> dict[str, Any]:
        meter = Meter(generator)
        ctx = SolveContext(meter=meter, math=math, code=code, seed=problem_seed(config.seed, problem.id))
        sampling = SamplingConfig(temperature=config.temperature, top_p=config.top_p,
                                  max_tokens=config.max_tokens, seed=ctx.seed)
        candidates = await meter.generate(GenerationRequest(prompt=problem.prompt, n=self.n, sampling=sampling))
        answers = [extract_final(problem, c.text) for c in candidates]
        labels = await group_labels(problem, answers, ctx)
        scores = await SCORERS.get(config.scorer)().score(problem, candidates, ctx)
        cost = meter.finish()  # sampling and selection work; grading below is evaluation, not strategy cost
        # A verdict depends only on (problem, answer): grade each distinct answer once.
        distinct = list(dict.fromkeys(answers))
        graded = await asyncio.gather(*(_grade_answer(problem, answer, math, code) for answer in distinct))
        verdict_of = dict(zip(distinct, graded))
        verdicts = [verdict_of[answer] for answer in answers]
        return {
            "problem_id": problem.id, "level": problem.level, "cost": cost.model_dump(),
            "reference": problem.answer if problem.domain == "math" else None,
            "candidates": [_sample_record(*each) for each in zip(candidates, answers, labels, scores, verdicts)],
        }


async def _grade_answer(problem: Problem, answer: str | None, math, code) -> Verdict | None:
    """The verdict `reasoner solve` would give a strategy that chose `answer`."""
    graded = await grade(problem, Result(problem_id=problem.id, strategy="sample", answer=answer), math, code)
    return graded.verdict


def _sample_record(candidate: Candidate, answer: str | None, label: int | None, score: float,
                   verdict: Verdict | None) -> dict[str, Any]:
    return {"text": candidate.text, "num_tokens": candidate.num_tokens,
            "finish_reason": candidate.finish_reason.value, "mean_logprob": candidate.mean_logprob,
            "answer": answer, "label": label, "score": score if isfinite(score) else None,
            "status": verdict.status.value if verdict else None, "correct": bool(verdict and verdict.correct)}


class StrategyRun(BaseModel):
    """One strategy at one budget, solved and graded like `reasoner solve` does."""

    model_config = ConfigDict(frozen=True)
    strategy: str
    budget: int
    options: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.strategy}@{self.budget}"

    async def solve(self, problem: Problem, generator: Generator, math, code,
                    config: SweepConfig) -> dict[str, Any]:
        strategy = make_strategy(self.strategy, **self.options)
        result = await solve_problem(problem, strategy, generator, math, code, seed=config.seed)
        return record_of(problem, result, config.generation_hash)


def plan(config: SweepConfig) -> list[SamplesRun | StrategyRun]:
    """The generation runs a sweep needs, per model."""
    runs: list[SamplesRun | StrategyRun] = [SamplesRun(n=max(config.budgets))] if config.sampled else []
    for name in config.strategies:
        if name in RERUN:
            runs += [StrategyRun(strategy=name, budget=budget, options=options)
                     for budget, options in RERUN[name](config).items()]
    return runs


def stale_models(records: Sequence[dict[str, Any]], fingerprints: dict[str, str | None]) -> list[str]:
    """The models among `fingerprints` with records made by other weights (or written before records said)."""
    return sorted({r["model"] for r in records if r.get("model") in fingerprints
                   and r.get("weights") != fingerprints[r["model"]]})


class SweepWriter:
    """Appends records to results.jsonl, one flush each; knows which (model, run, problem) are done."""

    def __init__(self, path: Path, config_hash: str) -> None:
        self.path = path
        self.records = read_records(path)
        others = {r.get("config_hash") for r in self.records} - {config_hash}
        if others:
            raise ResumeMismatchError(
                f"{path} holds a sweep with other generation settings (dataset, seed, sampling, scorer; "
                f"hash {sorted(others)[0]}, this sweep is {config_hash}); use a new --out or the original "
                f"settings")
        self.done = {record_key(r) for r in self.records}
        if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            data = path.read_bytes()  # a torn last line from a crash; read_records skipped it
            path.write_bytes(data[: data.rfind(b"\n") + 1])
        self._handle: TextIO | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        self.done.add(record_key(record))
        self.records.append(record)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def record_key(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["model"], record["run"], record["problem_id"]


def run_sweep(config: SweepConfig, out: Path, open_generator: Callable[[str], Generator], math, code, *,
              close_finished_models: bool = False, progress: bool = True) -> list[SweepRow]:
    """Blocking `arun_sweep`, run on the process's engine loop."""
    from reasoner.runtime import run_sync

    return run_sync(arun_sweep(config, out, open_generator, math, code,
                               close_finished_models=close_finished_models, progress=progress))


async def arun_sweep(config: SweepConfig, out: Path, open_generator: Callable[[str], Generator], math, code, *,
                     close_finished_models: bool = False, progress: bool = True) -> list[SweepRow]:
    """Run (or resume) the sweep into folder `out`; writes every output file and returns the rows.

    `open_generator(model)` gives each model's generator. With
    `close_finished_models`, a model's generator is closed before the next
    model starts; the last one is left up for the caller either way.
    """
    from reasoner.datasets import load_dataset

    problems = load_dataset(config.dataset, limit=config.limit, fmt=config.format)
    _require_references(problems)
    if out.exists() and not out.is_dir():
        raise JobError(f"--out {out} is a file; a sweep writes a folder")
    out.mkdir(parents=True, exist_ok=True)
    writer = SweepWriter(out / "results.jsonl", config.generation_hash)
    fingerprints = {model: weights_fingerprint(model) for model in config.models}
    if stale := stale_models(writer.records, fingerprints):
        raise ResumeMismatchError(f"{out / 'results.jsonl'} holds results of {', '.join(stale)} made with other "
                                  f"weights than the model now under that name, or written before results "
                                  f"recorded their weights; use a new --out")
    runs = plan(config)
    todo = {model: [(run, p) for run in runs for p in problems if (model, run.key, p.id) not in writer.done]
            for model in config.models}
    try:
        with Progress(sum(map(len, todo.values())), "sweep", stream=None if progress else io.StringIO()) as bar:
            for position, model in enumerate(config.models):
                if todo[model]:
                    last = position == len(config.models) - 1
                    await _sweep_model(model, fingerprints[model], todo[model], open_generator(model), math, code,
                                       config, writer, bar, close=close_finished_models and not last)
    finally:
        writer.close()
    rows = summarize_sweep(config, problems, writer.records)
    _write_outputs(out, config, len(problems), rows)
    return rows


async def _sweep_model(model: str, weights: str | None, todo, generator: Generator, math, code, config: SweepConfig,
                       writer: SweepWriter, bar: Progress, close: bool) -> None:
    slots = asyncio.Semaphore(config.concurrency)
    parameters = generator.info.parameters

    async def one(run: SamplesRun | StrategyRun, problem: Problem) -> None:
        async with slots:
            record = await run.solve(problem, generator, math, code, config)
        record.update(model=model, run=run.key, budget=run.budget, parameters=parameters,
                      weights=weights, config_hash=config.generation_hash)
        writer.write(record)
        bar.update(record["cost"]["generated_tokens"], _headline_correct(record))

    try:
        async with asyncio.TaskGroup() as group:
            for run, problem in todo:
                group.create_task(one(run, problem))
    except ExceptionGroup as failures:
        # Problems' own failures are recorded as data; what escapes is infrastructure.
        raise failures.exceptions[0] from None
    finally:
        if close:
            await generator.close()


def _headline_correct(record: dict[str, Any]) -> bool:
    if "correct" in record:
        return bool(record["correct"])
    samples = graded_samples(record)
    winner = majority_winner(samples)
    return winner is not None and samples[winner].correct


def _require_references(problems: Sequence[Problem]) -> None:
    missing = [p.id for p in problems if p.reference is None]
    if missing:
        raise DataError(f"a sweep grades every problem, but {len(missing)} have no reference answer or tests",
                        record_id=missing[0])


# Summarising


class Point(NamedTuple):
    """One problem's outcome in one row."""

    level: int | None
    metrics: dict[str, float]
    tokens: float
    flops: float
    wall_s: float
    error: bool


def graded_samples(record: dict[str, Any]) -> list[GradedSample]:
    """A samples record's candidates as the estimators take them."""
    return [GradedSample(label=c["label"], correct=c["correct"], logprob=c["mean_logprob"], score=c["score"])
            for c in record["candidates"]]


def summarize_sweep(config: SweepConfig, problems: Sequence[Problem],
                    records: Sequence[dict[str, Any]]) -> list[SweepRow]:
    """One row per model x strategy x budget from the sweep's records."""
    index = {record_key(r): r for r in records if r.get("config_hash") == config.generation_hash}
    rows = []
    for model in config.models:
        sampled = {k: _sampled_points(model, problems, index, k, config) for k in config.budgets} \
            if config.sampled else {}
        for strategy in config.strategies:
            for budget in config.budgets_of(strategy):
                if strategy in SAMPLED:
                    rows.append(_row(model, strategy, budget, sampled[budget], SAMPLED[strategy], config))
                elif strategy in POOLED:
                    points = _adaptive_points(model, problems, index, config)
                    rows.append(_row(model, strategy, budget, points, "accuracy", config))
                else:
                    points = [_run_point(index[(model, f"{strategy}@{budget}", p.id)]) for p in problems]
                    rows.append(_row(model, strategy, budget, points, "accuracy", config))
    return rows


def _sampled_points(model: str, problems: Sequence[Problem], index: dict, k: int,
                    config: SweepConfig) -> list[Point]:
    n = max(config.budgets)
    points = []
    for problem in problems:
        record = index[(model, f"samples@{n}", problem.id)]
        samples = graded_samples(record)
        if len(samples) != n:
            raise JobError(f"{problem.id}: {len(samples)} samples recorded, the sweep needs {n}")
        cost, share = record["cost"], k / n
        tokens = cost["prompt_tokens"] + cost["generated_tokens"] * share
        seed = problem_seed(config.seed, f"{problem.id}@{k}")
        points.append(Point(
            level=record["level"], metrics=sample_metrics(samples, k, config.draws, seed),
            tokens=cost["generated_tokens"] * share, flops=2.0 * (record["parameters"] or 0) * tokens,
            wall_s=cost["wall_seconds"] * share, error=_ungradable(record)))
    return points


def _ungradable(record: dict[str, Any]) -> bool:
    return any(c.get("status") == "error" for c in record["candidates"])


def _adaptive_points(model: str, problems: Sequence[Problem], index: dict, config: SweepConfig) -> list[Point]:
    """Adaptive self-consistency with its default rule, replayed on random orders of each pool."""
    import numpy as np

    from strategies.adaptive_consistency import AdaptiveConsistency

    n = max(config.budgets)
    strategy = AdaptiveConsistency(max_n=n)
    points = []
    for problem in problems:
        record = index[(model, f"samples@{n}", problem.id)]
        samples, candidates = graded_samples(record), record["candidates"]
        rng = np.random.default_rng(problem_seed(config.seed, f"{problem.id}@adaptive"))
        correct = tokens = prompt_tokens = drawn_total = 0.0
        for _ in range(config.draws):
            order = rng.permutation(len(samples))
            drawn = strategy.samples_drawn([samples[i].label for i in order])
            chosen = [samples[i] for i in order[:drawn]]
            winner = majority_winner(chosen)
            correct += winner is not None and chosen[winner].correct
            tokens += sum(candidates[i]["num_tokens"] for i in order[:drawn])
            prompt_tokens += record["cost"]["prompt_tokens"] * -(-drawn // strategy.batch)
            drawn_total += drawn
        share = drawn_total / config.draws / n
        points.append(Point(
            level=record["level"], metrics={"accuracy": correct / config.draws, "samples": share * n},
            tokens=tokens / config.draws,
            flops=2.0 * (record["parameters"] or 0) * (tokens + prompt_tokens) / config.draws,
            wall_s=record["cost"]["wall_seconds"] * share, error=_ungradable(record)))
    return points


def _run_point(record: dict[str, Any]) -> Point:
    cost = record["cost"]
    return Point(level=record["level"], metrics={"accuracy": float(record["correct"])},
                 tokens=cost["generated_tokens"], flops=cost["flops"], wall_s=cost["wall_seconds"],
                 error=bool(record.get("error")) or record.get("status") == "error")


def _row(model: str, strategy: str, budget: int, points: list[Point], metric: str,
         config: SweepConfig) -> SweepRow:
    levels = sorted({p.level for p in points if p.level is not None})
    by_level = {str(level): _stats([p for p in points if p.level == level], metric, config) for level in levels}
    shared = strategy in SAMPLED or strategy in POOLED
    metrics = {} if not shared else \
        {name: sum(p.metrics[name] for p in points) / len(points) for name in points[0].metrics}
    return SweepRow(model=model, strategy=strategy, budget=budget, subsampled=shared,
                    errors=sum(p.error for p in points), metrics=metrics, by_level=by_level,
                    **_stats(points, metric, config).model_dump())


def _stats(points: list[Point], metric: str, config: SweepConfig) -> Stats:
    return mean_stats([p.metrics[metric] for p in points], [p.tokens for p in points], [p.flops for p in points],
                      [p.wall_s for p in points], config.resamples, config.seed)


def _write_outputs(out: Path, config: SweepConfig, problems: int, rows: list[SweepRow]) -> None:
    from reasoner.plots import plot_by_level, plot_curves

    summary = SweepSummary(config=config, problems=problems, rows=rows, compute_optimal=compute_optimal(rows),
                           notes=NOTES)
    (out / "summary.json").write_text(summary.model_dump_json(indent=1) + "\n", encoding="utf-8")
    plot_curves(rows, out / "curve.png")
    plot_by_level(rows, out / "by_level.png")


def load_summary(folder: Path) -> SweepSummary:
    """The `summary.json` of a sweep folder."""
    path = folder / "summary.json"
    if not path.is_file():
        raise JobError(f"no summary.json in {folder}; run `reasoner sweep --out {folder}` first")
    try:
        return SweepSummary.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise JobError(f"{path} is not a sweep summary: {exc}") from exc


def report_tables(summary: SweepSummary) -> list[Any]:
    """Rich tables: every row, then the compute-optimal choice per level."""
    from rich.table import Table

    levels = sorted({level for row in summary.rows for level in row.by_level}, key=int)
    rows = Table(title=f"sweep on {summary.config.dataset} ({summary.problems} problems)")
    for column in ("model", "strategy", "budget", "accuracy", "95% CI", "tokens", "FLOPs", "wall s",
                   *(f"L{level}" for level in levels)):
        rows.add_column(column, justify="left" if column in ("model", "strategy") else "right")
    for row in summary.rows:
        wall = f"~{row.mean_wall_s:.2f}" if row.subsampled else f"{row.mean_wall_s:.2f}"
        rows.add_row(Path(row.model).name, row.strategy, str(row.budget), f"{row.accuracy:.3f}",
                     f"{row.ci_low:.3f}-{row.ci_high:.3f}", f"{row.mean_generated_tokens:.1f}",
                     f"{row.mean_flops:.3g}", wall,
                     *(f"{row.by_level[lv].accuracy:.3f}" if lv in row.by_level else "-" for lv in levels))
    optimal = Table(title="compute-optimal per level (cheapest reaching the best row's 95% interval)")
    for column in ("level", "model", "strategy", "budget", "accuracy", "FLOPs", "best", "best acc"):
        optimal.add_column(column)
    for level, choice in summary.compute_optimal.items():
        optimal.add_row(level, Path(choice.model).name, choice.strategy, str(choice.budget),
                        f"{choice.accuracy:.3f}", f"{choice.mean_flops:.3g}", choice.best,
                        f"{choice.best_accuracy:.3f}")
    return [rows, optimal]
