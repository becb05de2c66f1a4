"""Compute sweeps: accuracy against test-time compute, per model, strategy and budget.

`run_sweep(config, out, ...)` fills the folder `out` with:

- `results.jsonl`: one record per problem x model x run, flushed as each
  finishes (through `reasoner.jobs.run_many`, the runner solve jobs use).
  Shared-sample records keep every candidate with its answer, equivalence
  label, mean logprob, token count, scorer scores and verdict, so any metric
  can be recomputed later.
- `summary.json`: a `SweepSummary`: one `SweepRow` per model x strategy x
  budget, and the compute-optimal choice per difficulty level.
- `curve.png` and `by_level.png`, drawn by `reasoner.eval.plots`.

The sweep names no strategy. It asks each one how it can be measured:

- A `Replayable` strategy (one that chooses among i.i.d. samples:
  self-consistency, best-of-n, adaptive self-consistency) is read off shared
  samples: per problem, n = the largest budget samples drawn with the
  strategy's own `sample_request`, each labelled and graded once, and shared
  by every replayable strategy with the same sampling settings. The
  strategy's `replay` says what it would have done with k of them (its own
  `select` on subsets, or its stopping rule on random orders). Costs: the
  prompt once per model call the strategy would make, the expected generated
  tokens, FLOPs as 2 x parameters x those tokens plus the scorer's own FLOPs
  (a PRM's) for the samples used, wall time scaled by the share of samples
  used (an estimate).
- Any other strategy runs once per budget through `solve_problem`, as
  `strategy.at_budget(b)` (a budget it returns None for gets no row; a
  strategy without `at_budget` runs once, at budget 1), costed as booked.

Accuracy is the mean over problems of each problem's (expected) correctness;
its interval is a 95% percentile bootstrap over problems. Under the
verifiers' score rule (`reasoner.verifiers.base`) a missing or unparseable answer is
simply wrong; an ungradable verdict (status `error`: a reference that does not
parse, a verifier failure) counts as not correct, as in `metrics.summarize`'s
`accuracy`, and is counted in the row's `errors`.

Re-running into the same folder resumes: records present for the same
generation settings are kept and only missing (model, run, problem) records
are made. A folder written with other generation settings is refused.

Not here: drawing (`reasoner.eval.plots`), or building engines (callers pass a
generator factory; the CLI uses `open_generator`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from math import isfinite
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reasoner.budget import Meter
from reasoner.errors import ConfigError, DataError, JobError, ResumeMismatchError
from reasoner.engine.generation import Generator
from reasoner.jobs import JsonlStore, Record, config_digest, record_of, run_many
from reasoner.eval.frontier import TIE_RULE, Choice, Stats, SweepRow, compute_optimal, mean_stats
from reasoner.stats import GradedSample
from reasoner.engine.models import weights_fingerprint
from reasoner.progress import Progress
from reasoner.jobs.solve import grade_answer, hand_prms, problem_seed, solve_problem
from reasoner.types import Problem
from reasoner.strategies import STRATEGIES, build_strategy
from reasoner.strategies.base import Replayable, SolveContext, Strategy
from reasoner.strategies.scorers import ScorerChoice
from reasoner.verifiers import VerifierSet
from reasoner.verifiers.prm import PRMSet

SHARED_SETTINGS = ("temperature", "top_p", "max_tokens", "scorer")
"""Sweep-level settings given to every strategy whose options have a field of that name."""


class SweepConfig(BaseModel):
    """What a sweep runs. Lists may be given as comma-separated strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    """Dataset name or JSONL file."""
    format: str | None = None
    """Force the file format (reasoner, gsm8k, math, mbpp, humaneval)."""
    split: Literal["train", "dev", "test"] | None = None
    """Split of a bundled task family (None: its test split); tune on `dev`, report on `test`."""
    limit: int | None = Field(None, ge=1)
    """Use only the first K problems."""
    models: tuple[str, ...] = ("tiny",)
    """Model names or paths, swept one after another."""
    strategies: tuple[str, ...] = ("cot", "self_consistency", "best_of_n", "revision")
    """Strategies to sweep: registered names or `module:Class` paths."""
    strategy_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per strategy name, options that override the sweep-level settings."""
    budgets: tuple[int, ...] = (1, 2, 4, 8, 16)
    """Samples per problem; sorted and distinct."""
    seed: int = 0
    """Base seed for sampling, subsets and bootstrap resamples."""
    max_tokens: int = Field(256, ge=1)
    """Cap on generated tokens per candidate."""
    temperature: float = Field(0.8, ge=0.0)
    """Sampling temperature of every strategy that samples."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    """Nucleus mass of every strategy that samples."""
    scorer: str = "public_tests"
    """Scorer of strategies that take one (best-of-n): a name in `reasoner.strategies.scorers.SCORERS` or `module:Class`."""
    draws: int = Field(200, ge=1)
    """Random subsets (or orders) per problem and budget when enumerating all would take more."""
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
        for name in value:
            try:
                STRATEGIES.get(name)
            except ConfigError as exc:
                raise ValueError(f"{exc}") from None
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
        fields = {"dataset", "format", "seed", "max_tokens", "temperature", "top_p", "scorer", "strategy_options"}
        if self.split is not None:  # so folders written before splits existed keep their digest
            fields.add("split")
        return config_digest(self.model_dump(include=fields))

    def strategy(self, name: str) -> Strategy:
        """The strategy `name` with the sweep's shared settings and its own options."""
        fields = getattr(STRATEGIES.get(name), "model_fields", {})
        shared = {key: getattr(self, key) for key in SHARED_SETTINGS if key in fields}
        return build_strategy(name, {**shared, **self.strategy_options.get(name, {})})


def _positive_int(text: Any) -> int:
    number = int(str(text).strip())
    if number < 1:
        raise ValueError(number)
    return number


def make_config(**options: Any) -> SweepConfig:
    """A `SweepConfig` from user options (None means default); bad values raise ConfigError."""
    try:
        config = SweepConfig(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'sweep'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise ConfigError(f"bad sweep options: {problems}") from exc
    for name in config.strategies:
        config.strategy(name)  # bad options for a strategy fail here, before any work
    from reasoner.tasks.datasets import check_split

    check_split(config.dataset, config.split)
    return config


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
    "accuracy": "mean over problems of expected correctness; replayed rows average over random size-k "
                "subsets (or orders) of the n shared samples (exact when there are at most `draws` subsets)",
    "ci": "95% percentile bootstrap over problems, `resamples` resamples, paired across rows",
    "cost": "replayed rows: the prompt once per model call the strategy would make, plus the generated "
            "tokens of the samples it would use, plus its scorer's FLOPs (a PRM's) for those samples; run rows: "
            "as booked, PRM FLOPs included",
    "wall": "replayed rows: the generation's wall time x the share of samples used, an estimate",
    "compute_optimal": TIE_RULE,
}


# Planning: which runs a sweep makes, asked of the strategies


class SamplesRun(BaseModel):
    """n shared samples per problem, drawn with the requests of the replayable strategies that use them."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    key: str
    n: int
    strategy: Any
    """One of the replayable strategies sharing these samples; its `sample_request` draws them."""
    scorers: tuple[ScorerChoice, ...]
    """Scorers whose scores each sample needs."""

    @property
    def budget(self) -> int:
        return self.n

    async def solve(self, problem: Problem, generator: Generator, verifiers: VerifierSet,
                    config: SweepConfig, prms: PRMSet) -> Record:
        needed = frozenset().union(*(choice.prms() for choice in self.scorers))
        ctx = SolveContext(meter=Meter(generator), verifiers=verifiers, seed=problem_seed(config.seed, problem.id),
                           prms=await hand_prms(needed, prms, "the sweep's scorers"), policy=generator.info)
        candidates = await ctx.meter.generate(self.strategy.sample_request(problem, self.n, ctx.seed))
        answers = [ctx.extract(problem, c.text) for c in candidates]
        labels = await ctx.group(problem, answers)
        scores, scorer_flops = {}, {}
        for choice in self.scorers:  # each scorer's own FLOPs (a PRM's), charged to the rows that use it
            before = ctx.meter.cost.prm_flops
            scores[choice.key] = await choice.build().score(problem, candidates, ctx)
            scorer_flops[choice.key] = ctx.meter.cost.prm_flops - before
        cost = ctx.meter.finish()  # sampling and selection work; grading below is evaluation, not strategy cost
        # A verdict depends only on (problem, answer): grade each distinct answer once.
        distinct = list(dict.fromkeys(answers))
        verdict_of = {answer: await grade_answer(problem, answer, verifiers) for answer in distinct}
        return {
            "problem_id": problem.id, "level": problem.level, "cost": cost.model_dump(), "scorer_flops": scorer_flops,
            "reference": problem.answer,
            "candidates": [
                {"text": c.text, "num_tokens": c.num_tokens, "finish_reason": c.finish_reason.value,
                 "mean_logprob": c.mean_logprob, "answer": answer, "label": label,
                 "scores": {key: _finite(values[i]) for key, values in scores.items()},
                 "status": verdict_of[answer].status.value if verdict_of[answer] else None,
                 "correct": bool(verdict_of[answer] and verdict_of[answer].correct)}
                for i, (c, answer, label) in enumerate(zip(candidates, answers, labels))],
        }


class StrategyRun(BaseModel):
    """One strategy at one budget, solved and graded like `reasoner solve` does."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    name: str
    budget: int
    strategy: Any

    @property
    def key(self) -> str:
        return f"{self.name}@{self.budget}"

    async def solve(self, problem: Problem, generator: Generator, verifiers: VerifierSet,
                    config: SweepConfig, prms: PRMSet) -> Record:
        result = await solve_problem(problem, self.strategy, generator, verifiers, seed=config.seed, prms=prms)
        return record_of(problem, result, config.generation_hash)


class Plan(NamedTuple):
    """The runs of a sweep, per model, and where each strategy's rows come from."""

    runs: list[SamplesRun | StrategyRun]
    replayed: dict[str, SamplesRun]
    """Replayable strategy name -> its shared samples."""
    rerun: dict[str, list[StrategyRun]]
    """Other strategy name -> its runs, one per budget it has."""


def plan(config: SweepConfig) -> Plan:
    """Ask each strategy how it is measured at the sweep's budgets."""
    n = max(config.budgets)
    groups: dict[str, list[tuple[str, Any]]] = {}
    rerun: dict[str, list[StrategyRun]] = {}
    for name in config.strategies:
        strategy = config.strategy(name)
        if isinstance(strategy, Replayable):
            groups.setdefault(_samples_key(config, strategy, n), []).append((name, strategy))
        else:
            rerun[name] = _budget_runs(name, strategy, config.budgets)
    replayed: dict[str, SamplesRun] = {}
    for key, members in groups.items():
        scorers = tuple({s.replay_scorer.key: s.replay_scorer for _, s in members if s.replay_scorer}.values())
        run = SamplesRun(key=key, n=n, strategy=members[0][1], scorers=scorers)
        replayed.update({name: run for name, _ in members})
    shared = list({run.key: run for run in replayed.values()}.values())
    runs = shared + [run for runs in rerun.values() for run in runs]
    return Plan(runs=runs, replayed=replayed, rerun=rerun)


def _samples_key(config: SweepConfig, strategy: Any, n: int) -> str:
    sampling = strategy.sampling_config(None)
    default = (config.temperature, config.top_p, config.max_tokens)
    if (sampling.temperature, sampling.top_p, sampling.max_tokens) == default:
        return f"samples@{n}"
    return f"samples@{n}~{config_digest(sampling.model_dump(mode='json'))[:8]}"


def _budget_runs(name: str, strategy: Any, budgets: Sequence[int]) -> list[StrategyRun]:
    at_budget = getattr(strategy, "at_budget", None)
    if at_budget is None:
        return [StrategyRun(name=name, budget=1, strategy=strategy)]
    return [StrategyRun(name=name, budget=b, strategy=s) for b in budgets if (s := at_budget(b)) is not None]


def _finite(value: float) -> float | None:
    return value if isfinite(value) else None


# Running


def record_key(record: Record) -> tuple[str, str, str]:
    return record["model"], record["run"], record["problem_id"]


def stale_models(records: Sequence[Record], fingerprints: dict[str, str | None]) -> list[str]:
    """The models among `fingerprints` with records made by other weights (or written before records said)."""
    return sorted({r["model"] for r in records if r.get("model") in fingerprints
                   and r.get("weights") != fingerprints[r["model"]]})


def run_sweep(config: SweepConfig, out: Path, open_generator: Callable[[str], Generator], verifiers: VerifierSet,
              *, prms: PRMSet | None = None, close_finished_models: bool = False,
              progress: bool = True) -> list[SweepRow]:
    """Blocking `arun_sweep`, run on the process's engine loop."""
    from reasoner.engine.runtime import run_sync

    return run_sync(arun_sweep(config, out, open_generator, verifiers, prms=prms,
                               close_finished_models=close_finished_models, progress=progress))


async def arun_sweep(config: SweepConfig, out: Path, open_generator: Callable[[str], Generator],
                     verifiers: VerifierSet, *, prms: PRMSet | None = None, close_finished_models: bool = False,
                     progress: bool = True) -> list[SweepRow]:
    """Run (or resume) the sweep into folder `out`; writes every output file and returns the rows.

    `open_generator(model)` gives each model's generator; `prms` holds the PRMs the swept strategies and
    scorers score with (a set of the sweep's own when not given). With `close_finished_models`, a model's
    generator is closed before the next model starts; the last one is left up for the caller either way.
    """
    from reasoner.tasks.datasets import load_dataset

    problems = load_dataset(config.dataset, limit=config.limit, fmt=config.format, split=config.split)
    _require_references(problems)
    if out.exists() and not out.is_dir():
        raise JobError(f"--out {out} is a file; a sweep writes a folder")
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    store = JsonlStore(results, config.generation_hash, key=record_key,
                       mismatch="(dataset, seed, sampling, scorer, strategy options)")
    store.close()
    fingerprints = {model: weights_fingerprint(model) for model in config.models}
    if stale := stale_models(list(store.records()), fingerprints):
        raise ResumeMismatchError(f"{results} holds results of {', '.join(stale)} made with other weights than "
                                  f"the model now under that name, or written before results recorded their "
                                  f"weights; use a new --out")
    runs = plan(config).runs
    done = store.done()
    todo = {model: [(run, p) for run in runs for p in problems if (model, run.key, p.id) not in done]
            for model in config.models}
    with Progress(sum(map(len, todo.values())), "sweep", stream=None if progress else io.StringIO()) as bar:
        for position, model in enumerate(config.models):
            if todo[model]:
                close = close_finished_models and position < len(config.models) - 1
                await _sweep_model(model, fingerprints[model], todo[model], open_generator(model), verifiers,
                                   prms if prms is not None else PRMSet(), config, store, bar, close)
    rows = summarize_sweep(config, problems, list(store.records()))
    _write_outputs(out, config, len(problems), rows)
    return rows


async def _sweep_model(model: str, weights: str | None, todo, generator: Generator, verifiers: VerifierSet,
                       prms: PRMSet, config: SweepConfig, store: JsonlStore, bar: Progress, close: bool) -> None:
    parameters = generator.info.parameters

    async def solve(unit) -> Record:
        run, problem = unit
        record = await run.solve(problem, generator, verifiers, config, prms)
        record.update(model=model, run=run.key, budget=run.budget, parameters=parameters, weights=weights,
                      config_hash=config.generation_hash)
        return record

    def show(record: Record) -> None:
        bar.update(record["cost"]["generated_tokens"], _headline_correct(record))

    try:
        await run_many(todo, solve, store, capacity=config.concurrency, listeners=[show])
    finally:
        if close:
            await generator.close()


def _headline_correct(record: Record) -> bool:
    if "correct" in record:
        return bool(record["correct"])
    return bool(record["candidates"] and record["candidates"][0]["correct"])


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


def graded_samples(record: Record, scorer: ScorerChoice | None = None) -> list[GradedSample]:
    """A samples record's candidates as the estimators take them, scored by `scorer` if given."""
    return [GradedSample(label=c["label"], correct=c["correct"], logprob=c["mean_logprob"],
                         score=c["scores"].get(scorer.key) if scorer else None)
            for c in record["candidates"]]


def summarize_sweep(config: SweepConfig, problems: Sequence[Problem], records: Sequence[Record]) -> list[SweepRow]:
    """One row per model x strategy x budget from the sweep's records."""
    ids = [p.id for p in problems]
    return [_row(model, name, budget, points, replayed=replayed, config=config)
            for model in config.models for name, budget, replayed, points in row_points(config, ids, records, model)]


def row_points(config: SweepConfig, problem_ids: Sequence[str], records: Sequence[Record],
               model: str) -> Iterator[tuple[str, int, bool, list[Point]]]:
    """Per strategy and budget of `model`: (strategy, budget, replayed, one `Point` per problem in order).

    A missing record is a KeyError naming (model, run, problem).
    """
    index = {record_key(r): r for r in records if r.get("config_hash") == config.generation_hash}
    sweep_plan = plan(config)
    for name in config.strategies:
        if name in sweep_plan.replayed:
            run = sweep_plan.replayed[name]
            strategy = config.strategy(name)
            for budget in config.budgets:
                yield name, budget, True, [replayed_point(strategy, index[(model, run.key, pid)], budget, run.n,
                                                          config) for pid in problem_ids]
        else:
            for run in sweep_plan.rerun[name]:
                yield name, run.budget, False, [run_point(index[(model, run.key, pid)]) for pid in problem_ids]


def replayed_point(strategy: Any, record: Record, budget: int, n: int, config: SweepConfig) -> Point:
    """What a replayable strategy would have done at `budget` on one problem's shared samples."""
    samples = graded_samples(record, strategy.replay_scorer)
    if len(samples) != n:
        raise JobError(f"{record['problem_id']}: {len(samples)} samples recorded, the sweep needs {n}")
    tokens = [c["num_tokens"] for c in record["candidates"]]
    seed = problem_seed(config.seed, f"{record['problem_id']}@{budget}")
    replay = strategy.replay(samples, tokens, budget, draws=config.draws, seed=seed)
    cost = record["cost"]
    computed = replay.generated_tokens + cost["prompt_tokens"] * replay.calls
    scoring = record.get("scorer_flops", {}).get(strategy.replay_scorer.key, 0.0) * replay.samples / n \
        if strategy.replay_scorer else 0.0
    return Point(level=record["level"], metrics={"accuracy": replay.accuracy, "samples": replay.samples,
                                                 **replay.metrics},
                 tokens=replay.generated_tokens, flops=2.0 * (record["parameters"] or 0) * computed + scoring,
                 wall_s=cost["wall_seconds"] * replay.samples / n, error=_ungradable(record))


def _ungradable(record: Record) -> bool:
    return any(c.get("status") == "error" for c in record["candidates"])


def run_point(record: Record) -> Point:
    """One problem's outcome of a strategy run at one budget, as booked."""
    cost = record["cost"]
    return Point(level=record["level"], metrics={"accuracy": float(record["correct"])},
                 tokens=cost["generated_tokens"], flops=cost["flops"] + cost.get("prm_flops", 0.0),
                 wall_s=cost["wall_seconds"],
                 error=bool(record.get("error")) or record.get("status") == "error")


def _row(model: str, strategy: str, budget: int, points: list[Point], replayed: bool,
         config: SweepConfig) -> SweepRow:
    levels = sorted({p.level for p in points if p.level is not None})
    by_level = {str(level): _stats([p for p in points if p.level == level], config) for level in levels}
    metrics = {} if not replayed else \
        {name: sum(p.metrics[name] for p in points) / len(points) for name in points[0].metrics}
    return SweepRow(model=model, strategy=strategy, budget=budget, subsampled=replayed,
                    errors=sum(p.error for p in points), metrics=metrics, by_level=by_level,
                    **_stats(points, config).model_dump())


def _stats(points: list[Point], config: SweepConfig) -> Stats:
    return mean_stats([p.metrics["accuracy"] for p in points], [p.tokens for p in points],
                      [p.flops for p in points], [p.wall_s for p in points], config.resamples, config.seed)


def _write_outputs(out: Path, config: SweepConfig, problems: int, rows: list[SweepRow]) -> None:
    summary = SweepSummary(config=config, problems=problems, rows=rows, compute_optimal=compute_optimal(rows),
                           notes=NOTES)
    (out / "summary.json").write_text(summary.model_dump_json(indent=1) + "\n", encoding="utf-8")
    _draw(out, rows)


def _draw(out: Path, rows: Sequence[SweepRow]) -> list[Path]:
    from reasoner.eval.plots import plot_by_level, plot_curves

    return [plot_curves(rows, out / "curve.png"), plot_by_level(rows, out / "by_level.png")]


def redraw_plots(folder: Path) -> list[Path]:
    """Draw a sweep folder's `curve.png` and `by_level.png` again from its `summary.json`; nothing is run."""
    return _draw(folder, load_summary(folder).rows)


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
