"""Best-of-n: sample n candidates and keep the one a scorer ranks highest."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from reasoner.generation import GenerationRequest
from reasoner.types import Problem, Result, SamplingConfig
from strategies.base import SolveContext, extract_final, make_result
from strategies.scorers import SCORERS


class BestOfN(BaseModel):
    """Pick the highest-scoring of n samples."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "best_of_n"

    n: int = Field(8, ge=1)
    """Samples drawn."""
    scorer: str = "public_tests"
    """Scorer name or `module:Class`; `public_tests` runs code on the prompt's examples
    and uses logprob for math."""
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        sampling = SamplingConfig(temperature=self.temperature, top_p=self.top_p,
                                  max_tokens=self.max_tokens, seed=ctx.seed)
        candidates = await ctx.meter.generate(GenerationRequest(prompt=problem.prompt, n=self.n,
                                                                sampling=sampling))
        if not candidates:
            return make_result(self.name, problem, ctx, [], None, None)
        scores = await SCORERS.get(self.scorer)().score(problem, candidates, ctx)
        best = max(range(len(candidates)), key=lambda i: scores[i])
        ctx.meter.record("score", scorer=self.scorer, scores=scores, chosen=best)
        return make_result(self.name, problem, ctx, candidates, best, extract_final(problem, candidates[best].text))
