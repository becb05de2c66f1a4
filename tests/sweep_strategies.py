"""Strategies defined outside the package, to show that a sweep takes any strategy by `module:Class`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, Field

from reasoner.stats import selected_at_k
from reasoner.types import Problem, Result, Sample
from reasoner.strategies.base import Replay, Sampling, SolveContext, make_result, samples_of
from reasoner.strategies.cot import ChainOfThought


class MostConfident(Sampling):
    """n samples; the answered one with the highest mean logprob. Replayable from shared samples."""

    name: ClassVar[str] = "most_confident"
    n: int = Field(4, ge=1)
    replay_scorer: ClassVar[None] = None

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        answers = [ctx.extract(problem, c.text) for c in candidates]
        chosen = self.select(samples_of(candidates, await ctx.group(problem, answers)))
        return make_result(self.name, problem, ctx, candidates, chosen, None if chosen is None else answers[chosen])

    def select(self, samples: Sequence[Sample]) -> int | None:
        answered = [i for i, s in enumerate(samples) if s.label is not None]
        return max(answered, key=lambda i: samples[i].logprob or float("-inf"), default=None)

    def replay(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int, seed: int) -> Replay:
        return Replay(accuracy=selected_at_k(samples, budget, self.select, draws=draws, seed=seed), samples=budget,
                      generated_tokens=sum(tokens) * budget / len(tokens), calls=1)


class GreedyUpTo(BaseModel):
    """Greedy decoding with max_tokens growing with the budget; runs per budget up to `most`."""

    name: ClassVar[str] = "greedy_up_to"
    max_tokens: int = 8
    most: int = 2

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        result = await ChainOfThought(max_tokens=self.max_tokens).solve(problem, ctx)
        return result.model_copy(update={"strategy": self.name})

    def at_budget(self, budget: int) -> GreedyUpTo | None:
        return self.model_copy(update={"max_tokens": 4 * budget}) if budget <= self.most else None
