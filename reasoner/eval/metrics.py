"""Accuracy, cost and sampling estimators over result records.

Records are the dicts a solve job writes, one per problem. A record is
correct when its verdict status is `correct`. Under the verifiers' score rule
(`reasoner.verifiers.base`) an answer that is missing, unparseable or timed out is
graded wrong (score 0); only records the verifier could not grade through no
fault of the model (score None: a reference that does not parse, a verifier
failure, a strategy error) are counted separately, with their problem ids
(`ungradable`, `ungradable_ids`), and never as wrong answers silently:
`accuracy` divides by all problems, `graded_accuracy` by the graded ones only.

The estimators take the n graded samples of one problem and say how a
strategy that drew only k of them would have fared, in expectation over the
C(n, k) subsets of size k:

- `pass_at_k`: some sample in the subset is correct (closed form).
- `selected_at_k`: the sample a strategy's own `select` picks from the subset
  is correct (for self-consistency, the majority vote `tally` casts). Exact
  by enumeration when C(n, k) is at most `draws`, else a mean over `draws`
  seeded random subsets.
- `best_of_k`: the subset's top-scored sample is correct (exact, closed form).

`bootstrap_ci` turns per-problem values into a percentile interval by
resampling problems; `mean_stats` averages a row of a compute sweep with it,
and `compute_optimal` picks the cheapest row that is as good as the best.
Not here: running models or reading files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from reasoner.types import Sample


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


class GradedSample(Sample):
    """One candidate of a problem as the estimators see it: a `Sample` and whether it was right."""

    correct: bool
    """Whether its own answer passed the verifier."""


def subset_mean(n: int, k: int, value: Callable[[tuple[int, ...]], float], draws: int = 200,
                seed: int = 0) -> float:
    """Mean of `value` over the size-k subsets of range(n), as sorted index tuples.

    Exact (every subset once) when there are at most `draws` subsets; else the
    mean over `draws` uniformly random subsets from a generator seeded with `seed`.
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if comb(n, k) <= draws:
        return sum(value(subset) for subset in combinations(range(n), k)) / comb(n, k)
    rng = np.random.default_rng(seed)
    picks = np.sort(np.argsort(rng.random((draws, n)), axis=1)[:, :k], axis=1)
    return sum(value(tuple(int(i) for i in row)) for row in picks) / draws


def selected_at_k(samples: Sequence[GradedSample], k: int, select: Callable[[Sequence[Sample]], int | None],
                  draws: int = 200, seed: int = 0) -> float:
    """Expected correctness of the sample `select` picks from k of the samples (see `subset_mean`).

    `select` is a strategy's own choice rule (e.g. `SelfConsistency.select`).
    When no sample is right, or every sample answered and is right, every
    choice among answered samples gives the same verdict, so that verdict is
    returned without enumerating subsets (most problems of a sweep are like that).
    """
    if not any(sample.correct for sample in samples):
        return 0.0
    if all(sample.correct and sample.label is not None for sample in samples):
        return 1.0

    def chose_correct(subset: tuple[int, ...]) -> float:
        chosen = [samples[i] for i in subset]
        winner = select(chosen)
        return float(winner is not None and chosen[winner].correct)

    return subset_mean(len(samples), k, chose_correct, draws, seed)


def best_of_k(samples: Sequence[GradedSample], k: int) -> float:
    """Expected correctness of the top-scored of k samples, exactly.

    Rank samples by score (higher first, earlier index first among equals,
    as `max` picks in best-of-n). A subset picks its best-ranked member, so
    the sample at rank r (0-based) is picked with probability
    C(n - 1 - r, k - 1) / C(n, k).
    """
    n = len(samples)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    ranked = sorted(range(n), key=lambda i: (-_score(samples[i]), i))
    hits = sum(comb(n - 1 - rank, k - 1) for rank, i in enumerate(ranked) if samples[i].correct)
    return hits / comb(n, k)


def bootstrap_ci(values: Sequence[float], resamples: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of `values`, resampling them with replacement.

    The same `seed` and number of values give the same resamples, so
    intervals of rows over the same problems are paired.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _score(sample: GradedSample) -> float:
    return sample.score if sample.score is not None else float("-inf")


# Sweep rows: per-problem outcomes averaged, and the compute-optimal choice among rows


TIE_RULE = ("a row reaches the best at a level when its accuracy there is at least the low end of the "
            "most accurate row's 95% interval; the cheapest such row by mean FLOPs per problem is named "
            "(then fewer tokens, then the smaller budget)")


class Stats(BaseModel):
    """Accuracy and mean cost of one row over a set of problems."""

    problems: int
    """Problems averaged over."""
    accuracy: float
    """Mean (expected) correctness."""
    ci_low: float
    """Low end of the 95% bootstrap interval over problems."""
    ci_high: float
    """High end of that interval."""
    mean_generated_tokens: float
    """Generated tokens per problem."""
    mean_flops: float
    """Estimated FLOPs per problem: 2 x parameters x (prompt + generated) tokens."""
    mean_wall_s: float
    """Wall seconds per problem under the sweep's concurrency; an estimate for subsampled rows."""


class SweepRow(Stats):
    """One model x strategy x budget."""

    model: str
    """Model name or path."""
    strategy: str
    """Strategy name."""
    budget: int
    """Samples per problem."""
    subsampled: bool
    """Estimated from the shared samples (costs scaled by budget / n) rather than run."""
    errors: int = 0
    """Problems whose run failed with an error (counted as not correct)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Subsampled rows: pass@k, maj@k, weighted maj@k and best-of-k at this budget."""
    by_level: dict[str, Stats] = Field(default_factory=dict)
    """The same per difficulty level."""

    @property
    def name(self) -> str:
        return f"{Path(self.model).name}/{self.strategy}@{self.budget}"


class Choice(BaseModel):
    """The compute-optimal row at one difficulty level."""

    model: str
    strategy: str
    budget: int
    accuracy: float
    """Its accuracy at this level."""
    mean_flops: float
    """Its FLOPs per problem at this level."""
    best: str
    """The most accurate row at this level, as model/strategy@budget."""
    best_accuracy: float
    best_ci_low: float
    """What `accuracy` had to reach (see `TIE_RULE`)."""


def mean_stats(values: Sequence[float], tokens: Sequence[float], flops: Sequence[float],
               wall_s: Sequence[float], resamples: int = 1000, seed: int = 0) -> Stats:
    """Per-problem values and costs (in the same problem order) averaged, with a bootstrap interval."""
    low, high = bootstrap_ci(values, resamples, seed=seed)
    count = len(values)
    return Stats(problems=count, accuracy=sum(values) / count, ci_low=low, ci_high=high,
                 mean_generated_tokens=sum(tokens) / count, mean_flops=sum(flops) / count,
                 mean_wall_s=sum(wall_s) / count)


def compute_optimal(rows: Sequence[SweepRow]) -> dict[str, Choice]:
    """Per level ("all" too), the cheapest row whose accuracy reaches the best (see `TIE_RULE`)."""
    levels = sorted({level for row in rows for level in row.by_level}, key=int)
    choices = {}
    for level in ["all", *levels]:
        scored = [(row, row if level == "all" else row.by_level[level]) for row in rows
                  if level == "all" or level in row.by_level]
        best_row, best = max(scored, key=lambda rs: (rs[1].accuracy, -rs[1].mean_flops))
        reaching = [rs for rs in scored if rs[1].accuracy >= best.ci_low - 1e-12]
        row, stats = min(reaching, key=lambda rs: (rs[1].mean_flops, rs[1].mean_generated_tokens, rs[0].budget))
        choices[level] = Choice(model=row.model, strategy=row.strategy, budget=row.budget, accuracy=stats.accuracy,
                                mean_flops=stats.mean_flops, best=best_row.name, best_accuracy=best.accuracy,
                                best_ci_low=best.ci_low)
    return choices


LISTED_IDS = 20
"""Ungradable problems (a reference that does not parse, a verifier failure) are named, up to this many."""


class AccuracyBlock(BaseModel):
    """Accuracy over a set of solve-job records."""

    problems: int = 0
    correct: int = 0
    ungradable: int = 0
    """Records without a usable score (no reference, a reference that does not parse, a verifier
    failure, a strategy error): never counted as wrong answers silently."""
    ungradable_ids: list[str] = Field(default_factory=list)
    """The first `LISTED_IDS` of them, by problem id."""

    @property
    def accuracy(self) -> float:
        """Correct over every problem; an ungradable problem counts as not correct."""
        return self.correct / self.problems if self.problems else 0.0

    @property
    def graded_accuracy(self) -> float | None:
        """Correct over the graded problems only."""
        graded = self.problems - self.ungradable
        return self.correct / graded if graded else None

    def add(self, record: dict[str, Any]) -> None:
        self.problems += 1
        self.correct += record.get("status") == "correct"
        if record.get("score") is None:
            self.ungradable += 1
            if len(self.ungradable_ids) < LISTED_IDS:
                self.ungradable_ids.append(str(record.get("problem_id")))

    def report(self) -> dict[str, Any]:
        """The block with its derived accuracies, as printed and written as JSON."""
        return {**self.model_dump(), "accuracy": self.accuracy, "graded_accuracy": self.graded_accuracy}


class JobSummary(AccuracyBlock):
    """What a solve job did: accuracy overall and per level, and what it spent.

    Built one record at a time (`add`), so a job of any size summarises in
    constant memory.
    """

    errors: int = 0
    """Problems that failed with an error (counted as not correct)."""
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Of `prompt_tokens`, those served from the engine's prefix cache."""
    generated_tokens: int = 0
    flops: float = 0.0
    verifier_s: float = 0.0
    by_level: dict[str, AccuracyBlock] = Field(default_factory=dict)

    @property
    def mean_generated_tokens(self) -> float:
        return self.generated_tokens / self.problems if self.problems else 0.0

    def add(self, record: dict[str, Any]) -> None:
        super().add(record)
        cost = record.get("cost") or {}
        self.errors += bool(record.get("error"))
        self.prompt_tokens += cost.get("prompt_tokens", 0)
        self.cached_prompt_tokens += cost.get("cached_prompt_tokens", 0)
        self.generated_tokens += cost.get("generated_tokens", 0)
        self.flops += cost.get("flops", 0.0)
        self.verifier_s += cost.get("verifier_seconds", 0.0)
        if record.get("level") is not None:
            self.by_level.setdefault(str(int(record["level"])), AccuracyBlock()).add(record)

    def report(self) -> dict[str, Any]:
        levels = {level: self.by_level[level].report() for level in sorted(self.by_level, key=int)}
        return {**super().report(), "mean_generated_tokens": self.mean_generated_tokens, "by_level": levels}


def summarize(records: Iterable[dict[str, Any]]) -> JobSummary:
    """Overall and per-level accuracy, token and time totals, reading `records` once."""
    summary = JobSummary()
    for record in records:
        summary.add(record)
    return summary
