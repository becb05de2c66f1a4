"""The compute-optimal router's file: what it holds, and choosing a policy from it.

A router file (`RouterFile`, written by `reasoner router fit`; see
`reasoner.eval.router_fit` for how each part is learned from a dev-split sweep)
holds:

- **the probe**: how many samples to draw at which sampling settings, and
  `probe_features`, read off the probe's samples: the share of samples in the
  largest group of equivalent answers, the share that answered, their mean
  token logprob, and the prompt's length in tokens;
- **predicted difficulty**: a logistic regression from the standardised
  features to the problem's pass rate, and bins cut at quantiles of it (bin 0
  is the easiest);
- **per bin, every (strategy, budget) the sweep measured**: mean accuracy and
  mean cost (FLOPs, PRM included, and generated tokens) per problem, the
  probe's cost included, and whether the choice reuses the probe's samples;
- **the oracle variant** (an upper bound, named as such): the same tables per
  dataset difficulty level, with no probe and no probe cost.

`RouterFile.policy(...)` then picks one choice per bin, in one of two modes:
the least mean cost reaching a target accuracy, or the best accuracy within a
mean cost per question. Both are exact: a multiple-choice knapsack solved by
keeping the Pareto frontier of (cost, accuracy) over the bins.

Not here: fitting (`reasoner.eval.router_fit`), or running the probe and the
chosen strategy (`reasoner.strategies.router`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reasoner.errors import ConfigError

FORMAT = "reasoner-router/1"
FEATURES = ("agreement", "answered", "mean_logprob", "log_prompt_tokens")
LOGPROB_FLOOR = -20.0
"""A probe with no logprob (or a lower one) reads as this."""
Unit = Literal["flops", "tokens"]


def probe_features(labels: Sequence[int | None], logprobs: Sequence[float | None], prompt_tokens: int) -> list[float]:
    """The probe's features (`FEATURES`) from its k samples' answer groups and mean logprobs."""
    k = len(labels)
    if k == 0:
        return [0.0, 0.0, LOGPROB_FLOOR, math.log1p(prompt_tokens)]
    counts = Counter(label for label in labels if label is not None)
    known = [lp for lp in logprobs if lp is not None]
    mean_logprob = sum(known) / len(known) if known else LOGPROB_FLOOR
    return [max(counts.values(), default=0) / k, sum(counts.values()) / k, max(mean_logprob, LOGPROB_FLOOR),
            math.log1p(prompt_tokens)]


class ProbeSettings(BaseModel):
    """How the router probes a question: k samples at the sweep's sampling settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples: int = Field(ge=1)
    """Samples drawn (k)."""
    temperature: float
    top_p: float
    max_tokens: int


class Difficulty(BaseModel):
    """A logistic regression from standardised probe features to a predicted pass rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: tuple[str, ...] = FEATURES
    mean: list[float]
    """Per feature, its mean on the dev problems."""
    scale: list[float]
    """Per feature, its standard deviation there (1 where it is constant)."""
    coef: list[float]
    intercept: float
    edges: list[float]
    """Descending cut points on the predicted pass rate: bin i holds scores >= edges[i] (and < edges[i-1])."""

    def predict(self, features: Sequence[float]) -> float:
        """The predicted pass rate of a question with these features."""
        z = (np.asarray(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept))))

    def bin_of(self, features: Sequence[float]) -> int:
        """The difficulty bin of a question: 0 the easiest."""
        score = self.predict(features)
        return next((i for i, edge in enumerate(self.edges) if score >= edge), len(self.edges))


class ChoiceStats(BaseModel):
    """One (strategy, budget) on the dev problems of one bin."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str
    budget: int
    accuracy: float
    """Mean (expected) correctness."""
    flops: float
    """Mean FLOPs per problem, the probe's and a PRM's included."""
    tokens: float
    """Mean generated tokens per problem, the probe's included."""
    reuses_probe: bool
    """Whether it takes the probe's samples as its first ones."""

    def cost(self, unit: Unit) -> float:
        return self.flops if unit == "flops" else self.tokens


class Bin(BaseModel):
    """One difficulty bin (or, for the oracle, one dataset level) and what each choice did there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    """Bin index ("0" easiest), or the dataset level for the oracle."""
    problems: int
    weight: float
    """Share of the dev problems in this bin."""
    choices: list[ChoiceStats]


class Source(BaseModel):
    """The sweep a router was fitted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sweep: str
    more_sweeps: list[str] = []
    """Further sweep folders of the same problems whose strategies are choices too (e.g. the search strategies)."""
    dataset: str
    split: str | None
    """The sweep's split (dev); None for a file dataset, which has none."""
    model: str
    weights: str | None
    """Fingerprint of the model's weights, as the sweep recorded it."""
    parameters: int | None
    problems: int
    digest: str
    """sha256 of the sweep's summary.json and results.jsonl (with more sweeps: sha256 of each folder's)."""


class Policy(BaseModel):
    """One choice per bin, and what it does on the dev problems on average."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    choices: dict[str, ChoiceStats]
    """Bin key -> the (strategy, budget) run there."""
    accuracy: float
    flops: float
    tokens: float


class RouterFile(BaseModel):
    """Contents of router.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["reasoner-router/1"] = FORMAT
    source: Source
    probe: ProbeSettings
    strategies: dict[str, dict[str, Any]]
    """Per swept strategy, the options it ran with in the sweep."""
    difficulty: Difficulty
    bins: list[Bin]
    oracle_bins: list[Bin]
    """ORACLE upper bound: bins are the dataset's difficulty levels (metadata), and no probe is paid for."""
    fixed: list[ChoiceStats]
    """Every (strategy, budget) on all dev problems, without a probe: the fixed strategies to beat."""
    probe_cost: dict[str, float]
    """Mean cost of the probe per problem, by unit."""
    sample_cost: dict[str, float]
    """Mean cost of one sampled solution per problem (prompt included), by unit: a sweep budget's compute."""
    default: Policy
    """The policy for no target and no budget: the least cost reaching the best fixed strategy's accuracy."""

    def policy(self, target_accuracy: float | None = None, compute_budget: float | None = None,
               unit: Unit = "flops", oracle: bool = False) -> Policy:
        """The choice per bin for a target accuracy or a mean compute budget per question (not both)."""
        bins = self.oracle_bins if oracle else self.bins
        if target_accuracy is not None and compute_budget is not None:
            raise ConfigError("give a target accuracy or a compute budget, not both")
        if compute_budget is not None:
            return within_budget(bins, compute_budget, unit, 0.0 if oracle else self.probe_cost[unit])
        target = target_accuracy if target_accuracy is not None else max(c.accuracy for c in self.fixed)
        return reaching_target(bins, target, unit)


# Choosing one choice per bin: the Pareto frontier of (mean cost, mean accuracy)


def frontier(bins: Sequence[Bin], unit: Unit) -> list[tuple[float, float, tuple[int, ...]]]:
    """Every undominated (mean cost, mean accuracy, choice index per bin), cheapest first."""
    states: list[tuple[float, float, tuple[int, ...]]] = [(0.0, 0.0, ())]
    for b in bins:
        grown = [(cost + b.weight * c.cost(unit), acc + b.weight * c.accuracy, (*path, i))
                 for cost, acc, path in states for i, c in enumerate(b.choices)]
        grown.sort(key=lambda s: (s[0], -s[1], s[2]))
        states, best = [], -math.inf
        for state in grown:
            if state[1] > best + 1e-12:
                states.append(state)
                best = state[1]
    return states


def _policy(bins: Sequence[Bin], path: tuple[int, ...]) -> Policy:
    choices = {b.key: b.choices[i] for b, i in zip(bins, path)}
    weight = {b.key: b.weight for b in bins}
    return Policy(choices=choices, accuracy=sum(weight[k] * c.accuracy for k, c in choices.items()),
                  flops=sum(weight[k] * c.flops for k, c in choices.items()),
                  tokens=sum(weight[k] * c.tokens for k, c in choices.items()))


def reaching_target(bins: Sequence[Bin], target: float, unit: Unit) -> Policy:
    """The cheapest policy whose mean dev accuracy is at least `target`."""
    states = frontier(bins, unit)
    reaching = [s for s in states if s[1] >= target - 1e-9]
    if not reaching:
        raise ConfigError(f"target accuracy {target:.3f} is above the best the router reaches on its dev "
                          f"problems ({states[-1][1]:.3f})")
    return _policy(bins, reaching[0][2])


def within_budget(bins: Sequence[Bin], budget: float, unit: Unit, probe_cost: float) -> Policy:
    """The most accurate policy whose mean cost per question is at most `budget`."""
    if budget < probe_cost:
        raise ConfigError(f"compute budget {budget:.4g} {unit} per question is below the probe's own cost "
                          f"({probe_cost:.4g} {unit} per question on the dev problems)")
    states = [s for s in frontier(bins, unit) if s[0] <= budget * (1 + 1e-9)]
    if not states:
        cheapest = frontier(bins, unit)[0][0]
        raise ConfigError(f"compute budget {budget:.4g} {unit} per question is below the cheapest routing "
                          f"({cheapest:.4g} {unit}, probe included)")
    return _policy(bins, states[-1][2])


# Reading and writing router files


BUNDLED_ROUTERS = Path(str(resources.files("reasoner").joinpath("data", "routers")))
"""Router files fitted for the bundled models (`tiny-arith`), by `python benchmarks/bench_router.py`."""


def load_router(path: str | Path) -> RouterFile:
    """A router file, or a bundled router by name; a missing or malformed one is a ConfigError naming it."""
    path = Path(path)
    if not path.is_file() and (BUNDLED_ROUTERS / f"{path}.json").is_file():
        path = BUNDLED_ROUTERS / f"{path}.json"
    if not path.is_file():
        raise ConfigError(f"no router file at {path}; fit one with `reasoner router fit SWEEP_DIR --out {path}`")
    try:
        return RouterFile.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise ConfigError(f"{path} is not a router file: {exc}") from exc


__all__ = ["FEATURES", "Bin", "ChoiceStats", "Difficulty", "Policy", "ProbeSettings", "RouterFile",
           "Source", "frontier", "load_router", "probe_features", "reaching_target", "within_budget"]
