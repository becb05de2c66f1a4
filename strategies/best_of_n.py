"""Best-of-n: sample n candidates and keep the one a scorer ranks highest."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

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
    scorer_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options of the scorer, e.g. {"prm": "tiny-prm", "aggregation": "min"}."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        if not candidates:
            return make_result(self.name, problem, ctx, [], None, None)
        scores = await SCORERS.get(self.scorer)(**self.scorer_options).score(problem, candidates, ctx)
        best = max(range(len(candidates)), key=lambda i: scores[i])
        ctx.meter.record("score", scorer=self.scorer, scores=scores, chosen=best)
        return make_result(self.name, problem, ctx, candidates, best, extract_final(problem, candidates[best].text))
