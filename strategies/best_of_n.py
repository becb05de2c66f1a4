"""Best-of-n: sample n candidates and keep the one a scorer ranks highest."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from reasoner.types import Problem, Result
from strategies.base import Sampling, SolveContext, extract_final, make_result
from strategies.scorers import SCORERS


class BestOfN(Sampling):
    """Pick the highest-scoring of n samples."""

    name: ClassVar[str] = "best_of_n"

    n: int = Field(8, ge=1)
    """Samples drawn."""
    scorer: str = "public_tests"
    """Scorer name or `module:Class`; `public_tests` runs code on the prompt's examples
    and uses logprob for math."""

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, value: str) -> str:
        SCORERS.get(value)  # an unknown name or a path that does not import fails here, not per problem
        return value

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        if not candidates:
            return make_result(self.name, problem, ctx, [], None, None)
        scores = await SCORERS.get(self.scorer)().score(problem, candidates, ctx)
        best = max(range(len(candidates)), key=lambda i: scores[i])
        ctx.meter.record("score", scorer=self.scorer, scores=scores, chosen=best)
        return make_result(self.name, problem, ctx, candidates, best, extract_final(problem, candidates[best].text))
