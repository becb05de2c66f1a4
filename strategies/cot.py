"""Greedy chain of thought: one deterministic sample, its final answer taken as is."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from reasoner.engine.generation import GenerationRequest
from reasoner.types import Problem, Result, SamplingConfig
from reasoner.strategies.base import SolveContext, make_result


class ChainOfThought(BaseModel):
    """One greedy completion; the baseline every other strategy is compared against."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "cot"

    max_tokens: int = Field(256, ge=1)
    """Cap on the completion's length."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        sampling = SamplingConfig(temperature=0.0, max_tokens=self.max_tokens, seed=ctx.seed)
        candidates = await ctx.meter.generate(GenerationRequest(prompt=problem.prompt, sampling=sampling))
        if not candidates:
            return make_result(self.name, problem, ctx, [], None, None)
        return make_result(self.name, problem, ctx, candidates, 0, ctx.extract(problem, candidates[0].text))

    def at_budget(self, budget: int) -> ChainOfThought | None:
        """Greedy decoding spends one sample whatever the budget: a run at budget 1 only."""
        return self if budget == 1 else None
