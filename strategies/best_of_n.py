"""Best-of-n: sample n candidates and keep the one a scorer ranks highest.

The choice is a pure function of the samples' scores (`select`), so a sweep
replays it on subsets of shared samples; its expectation is exact
(`reasoner.stats.best_of_k`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from reasoner.types import Problem, Result, Sample
from reasoner.strategies.base import Replay, Sampling, SolveContext, make_result
from reasoner.strategies.scorers import ScorerChoice
from reasoner.strategies.scorers import SCORERS


class BestOfN(Sampling):
    """Pick the highest-scoring of n samples."""

    name: ClassVar[str] = "best_of_n"

    n: int = Field(8, ge=1)
    """Samples drawn."""
    scorer: str = "public_tests"
    """Scorer name or `module:Class`; `public_tests` runs code on the prompt's examples
    and uses logprob for math."""
    scorer_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options of the scorer, e.g. {"prm": "tiny-prm", "aggregation": "min"}."""

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, value: str) -> str:
        SCORERS.get(value)  # an unknown name or a path that does not import fails here, not per problem
        return value

    @model_validator(mode="after")
    def _scorer_takes_its_options(self) -> BestOfN:
        self.scorer_choice.build()  # e.g. a PRM folder that is not one fails here, not per problem
        return self

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        if not candidates:
            return make_result(self.name, problem, ctx, [], None, None)
        scores = await self.scorer_choice.build().score(problem, candidates, ctx)
        best = self.select([Sample(label=None, score=score) for score in scores])
        ctx.meter.record("score", scorer=self.scorer, scores=scores, chosen=best)
        return make_result(self.name, problem, ctx, candidates, best, ctx.extract(problem, candidates[best].text))

    def select(self, samples: Sequence[Sample]) -> int | None:
        """The highest-scored sample, the first of equals; a missing score ranks last."""
        if not samples:
            return None
        return max(range(len(samples)), key=lambda i: _score(samples[i]))

    @property
    def scorer_choice(self) -> ScorerChoice:
        return ScorerChoice(name=self.scorer, options=self.scorer_options)

    def prms(self) -> frozenset[str]:
        """The PRMs of its scorer."""
        return self.scorer_choice.prms()

    @property
    def replay_scorer(self) -> ScorerChoice:
        return self.scorer_choice

    def replay(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int, seed: int) -> Replay:
        """The top-scored of k samples, exactly in expectation over subsets."""
        from reasoner.stats import best_of_k, pass_at_k

        return Replay(accuracy=best_of_k(samples, budget), samples=budget,
                      generated_tokens=sum(tokens) * budget / len(tokens), calls=1,
                      metrics={"pass_at_k": pass_at_k(len(samples), sum(s.correct for s in samples), budget)})

    def at_budget(self, budget: int) -> BestOfN:
        return self.model_copy(update={"n": budget})


def _score(sample: Sample) -> float:
    return sample.score if sample.score is not None else float("-inf")
