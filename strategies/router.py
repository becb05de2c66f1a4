"""The compute-optimal router: probe the question, predict its difficulty, run what was fitted for it.

A `router.json` (written by `reasoner router fit` from a dev-split sweep; see
`reasoner.strategies.router_file`) holds difficulty bins and, per bin, what every
swept (strategy, budget) did there. This strategy:

1. **Probes** the question: k samples at the sweep's sampling settings,
   through the meter, so their tokens and FLOPs are in the result's cost.
   It never sees the reference: its features are the samples' answer
   agreement (grouped by the verifier's equivalence), how many answered,
   their mean token logprob, and the prompt's length.
2. **Predicts the difficulty bin** with the file's fitted regression.
3. **Runs the bin's choice** for the requested mode: the least compute that
   reaches `target_accuracy`, or the best accuracy within `compute_budget`
   (mean per question, FLOPs or generated tokens), or, given neither, the
   least compute reaching the best fixed strategy's dev accuracy. A strategy
   that picks among i.i.d. samples of the probe's settings (self-consistency,
   best-of-n) takes the probe's samples as its first ones and draws only the
   rest; any other strategy (cot, revision, adaptive self-consistency, the
   search strategies) runs as it would alone, after the probe.

`oracle_router` is the ORACLE-difficulty variant, an upper bound for
comparison only: it reads the dataset's difficulty level from the problem's
metadata instead of probing, and pays no probe.

For a sweep, `at_budget(b)` is the router under a mean compute budget of b
sampled solutions (the file's `sample_cost`), so its rows sit beside the
sampling strategies' at the same compute.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from reasoner.errors import ConfigError
from reasoner.strategies.router_file import (
    ChoiceStats,
    Policy,
    RouterFile,
    load_router,
    probe_features,
)
from reasoner.types import Candidate, Problem, Result
from reasoner.strategies.base import Sampling, SolveContext, make_result, samples_of

EXTRA_SEED_OFFSET = 104_729
"""Seed offset of samples drawn after the probe's, so they are not the probe's again."""


class Router(BaseModel):
    """Probe, bin by predicted difficulty, then run the bin's fitted (strategy, budget)."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "router"
    oracle: ClassVar[bool] = False

    router: str
    """Path of a router file written by `reasoner router fit`."""
    target_accuracy: float | None = Field(None, gt=0.0, le=1.0)
    """Mode 1: reach this mean accuracy (on the dev problems) at the least compute."""
    compute_budget: float | None = Field(None, gt=0.0)
    """Mode 2: the best accuracy within this mean compute per question, probe included."""
    unit: Literal["flops", "tokens"] = "flops"
    """What `compute_budget` counts: FLOPs (PRM included) or generated tokens."""
    check_model: bool = True
    """Refuse a model other than the one the router was fitted for."""

    _file: RouterFile = PrivateAttr()
    _policy: Policy = PrivateAttr()
    _checked: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _load(self) -> Router:
        self._file = load_router(self.router)
        self._policy = self._file.policy(self.target_accuracy, self.compute_budget, self.unit, oracle=self.oracle)
        for choice in self._policy.choices.values():
            self._strategy(choice)  # a strategy this install lacks fails here, not per problem
        return self

    def prms(self) -> frozenset[str]:
        """The PRMs of every strategy the policy may run."""
        from reasoner.strategies.base import prms_of

        return frozenset().union(*(prms_of(self._strategy(choice)) for choice in self._policy.choices.values()))

    @property
    def policy(self) -> Policy:
        """The choice per bin this router runs, with its mean dev accuracy and cost."""
        return self._policy

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        self._check_model(ctx)
        key, probe = await self._bin(problem, ctx)
        choice = self._policy.choices[key]
        ctx.meter.record("route", bin=key, strategy=choice.strategy, budget=choice.budget,
                         reuses_probe=choice.reuses_probe, oracle=self.oracle)
        strategy = self._strategy(choice)
        if choice.reuses_probe:
            return await self._select_with_probe(strategy, choice.budget, problem, ctx, probe)
        result = await strategy.solve(problem, ctx)
        return result.model_copy(update={"strategy": self.name})

    def at_budget(self, budget: int) -> Router | None:
        """This router under a mean compute budget of `budget` sampled solutions; None when that buys nothing."""
        compute = budget * self._file.sample_cost[self.unit]
        try:
            self._file.policy(compute_budget=compute, unit=self.unit, oracle=self.oracle)
        except ConfigError:  # below the probe's cost or the cheapest routing: no row at this budget
            return None
        return type(self)(**{**self.model_dump(), "target_accuracy": None, "compute_budget": compute})

    async def _bin(self, problem: Problem, ctx: SolveContext) -> tuple[str, list[Candidate]]:
        """The problem's difficulty bin, and the probe's samples."""
        probe = self._file.probe
        sampling = Sampling(temperature=probe.temperature, top_p=probe.top_p, max_tokens=probe.max_tokens)
        candidates = await sampling.sample(problem, ctx, probe.samples)
        labels = await ctx.group(problem, [ctx.extract(problem, c.text) for c in candidates])
        features = probe_features(labels, [c.mean_logprob for c in candidates], ctx.meter.cost.prompt_tokens)
        key = str(self._file.difficulty.bin_of(features))
        ctx.meter.record("probe", features=dict(zip(self._file.difficulty.features, features)),
                         predicted_pass_rate=self._file.difficulty.predict(features))
        return key, candidates

    async def _select_with_probe(self, strategy: Any, budget: int, problem: Problem, ctx: SolveContext,
                                 probe: list[Candidate]) -> Result:
        """The strategy's own `select` over the probe's first samples plus any more it needs."""
        candidates = probe[:budget]
        if budget > len(candidates):
            seed = None if ctx.seed is None else ctx.seed + EXTRA_SEED_OFFSET
            candidates += await ctx.meter.generate(strategy.sample_request(problem, budget - len(candidates), seed))
        answers = [ctx.extract(problem, c.text) for c in candidates]
        labels = await ctx.group(problem, answers)
        scorer = strategy.replay_scorer
        scores = await scorer.build().score(problem, candidates, ctx) if scorer and candidates else None
        chosen = strategy.select(samples_of(candidates, labels, scores)) if candidates else None
        return make_result(self.name, problem, ctx, candidates, chosen, None if chosen is None else answers[chosen])

    def _strategy(self, choice: ChoiceStats) -> Any:
        from reasoner.strategies import build_strategy

        strategy = build_strategy(choice.strategy, self._file.strategies.get(choice.strategy, {}))
        at_budget = getattr(strategy, "at_budget", None)
        return strategy if at_budget is None else at_budget(choice.budget)

    def _check_model(self, ctx: SolveContext) -> None:
        if self._checked or not self.check_model:
            return
        from pathlib import Path

        from reasoner.engine.models import weights_fingerprint

        source = self._file.source
        name = ctx.policy.name if ctx.policy is not None else ""
        weights = weights_fingerprint(name)
        same = weights == source.weights if weights and source.weights else Path(name).name == Path(source.model).name
        if not same:
            raise ConfigError(f"router {self.router} was fitted for model {source.model!r} (weights "
                              f"{source.weights}); this engine serves {name!r} (weights {weights}). Fit a router "
                              f"on a sweep of this model")
        self._checked = True


class OracleRouter(Router):
    """ORACLE upper bound: bins by the dataset's difficulty level (metadata), with no probe and no probe cost."""

    name: ClassVar[str] = "oracle_router"
    oracle: ClassVar[bool] = True

    async def _bin(self, problem: Problem, ctx: SolveContext) -> tuple[str, list[Candidate]]:
        key = str(problem.level) if problem.level is not None else "none"
        if key not in self._policy.choices:
            raise ConfigError(f"{problem.id}: the oracle router has no bin for level {key}; it knows levels "
                              f"{', '.join(self._policy.choices)} (an oracle needs the dataset's level labels)")
        return key, []
