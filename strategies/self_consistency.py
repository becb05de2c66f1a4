"""Self-consistency: sample n chains and take the most common *equivalent* answer.

Answers are grouped with the math verifier's equivalence (`1/2` and `0.5`
vote together), never by exact string. Programs are grouped by their text
with blank lines and trailing spaces removed. The weighted vote counts each
candidate by its sequence probability per token, exp(mean logprob), or, with
`weight_scorer` (e.g. `prm`), by that scorer's score.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from reasoner.types import Candidate, Problem, Result
from strategies.base import Sampling, SolveContext, extract_final, make_result


class Vote(BaseModel):
    """Outcome of a vote over candidates."""

    winner: int | None
    """Index of the chosen candidate (the best-scored member of the winning group)."""
    groups: dict[int, list[int]]
    """Group label -> candidate indices."""
    weights: dict[int, float]
    """Group label -> total vote."""


class SelfConsistency(Sampling):
    """Majority (optionally weighted) vote over n sampled answers."""

    name: ClassVar[str] = "self_consistency"

    n: int = Field(8, ge=1)
    """Samples drawn."""
    weighted: bool = False
    """Weight votes by exp(mean token logprob) instead of counting them."""
    weight_scorer: str | None = None
    """Weight votes by this scorer's scores instead (e.g. `prm`); overrides `weighted`."""
    scorer_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options of `weight_scorer`, e.g. {"prm": "tiny-prm", "aggregation": "min"}."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        answers = [extract_final(problem, c.text) for c in candidates]
        scores = None
        if self.weight_scorer is not None and candidates:
            from strategies.scorers import SCORERS

            scorer = SCORERS.get(self.weight_scorer)(**self.scorer_options)
            scores = await scorer.score(problem, candidates, ctx)
        vote = await vote_answers(problem, answers, candidates, ctx, weighted=self.weighted, scores=scores)
        ctx.meter.record("vote", groups={str(k): v for k, v in vote.groups.items()},
                         weights={str(k): w for k, w in vote.weights.items()})
        answer = answers[vote.winner] if vote.winner is not None else None
        return make_result(self.name, problem, ctx, candidates, vote.winner, answer)


async def vote_answers(problem: Problem, answers: list[str | None], candidates: list[Candidate],
                       ctx: SolveContext, weighted: bool = False, scores: list[float] | None = None) -> Vote:
    """Group equivalent answers and pick the group with the largest vote (`scores` weight it when given)."""
    labels = await group_labels(problem, answers, ctx)
    return tally(labels, candidates, weighted, scores)


async def group_labels(problem: Problem, answers: list[str | None], ctx: SolveContext) -> list[int | None]:
    """Equal labels for equivalent answers; None for candidates without an answer."""
    if problem.domain == "code":
        return _label_by_key([_normalise_program(a) if a else None for a in answers])
    return await asyncio.to_thread(ctx.math.cluster, answers)


def tally(labels: list[int | None], candidates: list[Candidate], weighted: bool,
          scores: list[float] | None = None) -> Vote:
    """Sum votes per label; ties go to the group whose best member has the higher logprob.

    With `scores`, each candidate votes with its score (weighted vote by a scorer such as a PRM)."""
    groups: dict[int, list[int]] = defaultdict(list)
    weights: dict[int, float] = defaultdict(float)
    for index, label in enumerate(labels):
        if label is None:
            continue
        groups[label].append(index)
        if scores is not None:
            weights[label] += scores[index]
        else:
            weights[label] += _weight(candidates[index]) if weighted else 1.0
    if not groups:
        return Vote(winner=None, groups={}, weights={})
    best = max(groups, key=lambda g: (weights[g], max(_logprob(candidates[i]) for i in groups[g])))
    winner = max(groups[best], key=lambda i: _logprob(candidates[i]))
    return Vote(winner=winner, groups=dict(groups), weights=dict(weights))


def _weight(candidate: Candidate) -> float:
    mean = candidate.mean_logprob
    return math.exp(mean) if mean is not None else 1.0


def _logprob(candidate: Candidate) -> float:
    mean = candidate.mean_logprob
    return mean if mean is not None else float("-inf")


def _label_by_key(keys: list[str | None]) -> list[int | None]:
    seen: dict[str, int] = {}
    return [None if key is None else seen.setdefault(key, len(seen)) for key in keys]


def _normalise_program(program: str) -> str:
    return "\n".join(line.rstrip() for line in program.strip().splitlines() if line.strip())
