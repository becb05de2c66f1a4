"""Self-consistency: sample n chains and take the most common *equivalent* answer.

Answers are grouped by the problem domain's verifier: the math verifier's
equivalence (`1/2` and `0.5` vote together), never by exact string; programs
by their text with blank lines and trailing spaces removed. The weighted vote
counts each candidate by its sequence probability per token, exp(mean logprob),
or, with `weight_scorer` (e.g. `prm`), by that scorer's score.

The vote is a pure function of the samples (`tally`), so a sweep replays it
on subsets of shared samples exactly as `solve` casts it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, Field, model_validator

from reasoner.types import Candidate, Problem, Result, Sample
from reasoner.strategies.base import Replay, Sampling, SolveContext, make_result, samples_of
from reasoner.strategies.scorers import ScorerChoice


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
    weight_scorer: str | None = Field(None, validation_alias=AliasChoices("weight_scorer", "scorer"))
    """Weight votes by this scorer's scores instead (e.g. `prm`); overrides `weighted`. Also given as `scorer`."""
    scorer_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword options of `weight_scorer`, e.g. {"prm": "tiny-prm", "aggregation": "min"}."""

    @model_validator(mode="after")
    def _scorer_takes_its_options(self) -> SelfConsistency:
        if self.replay_scorer is not None:
            self.replay_scorer.build()  # an unknown scorer or a bad PRM folder fails here, not per problem
        elif self.scorer_options:
            raise ValueError("scorer_options are the options of weight_scorer, which is not given "
                             "(e.g. weight_scorer=prm)")
        return self

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        answers = [ctx.extract(problem, c.text) for c in candidates]
        scores = None
        if self.weight_scorer is not None and candidates:
            scores = await self.replay_scorer.build().score(problem, candidates, ctx)
        vote = await vote_answers(problem, answers, candidates, ctx, weighted=self.weighted, scores=scores)
        ctx.meter.record("vote", groups={str(k): v for k, v in vote.groups.items()},
                         weights={str(k): w for k, w in vote.weights.items()})
        answer = answers[vote.winner] if vote.winner is not None else None
        return make_result(self.name, problem, ctx, candidates, vote.winner, answer)

    def select(self, samples: Sequence[Sample]) -> int | None:
        """Index of the sample this vote picks."""
        return tally(samples, self.weighted, by_score=self.weight_scorer is not None).winner

    @property
    def replay_scorer(self) -> ScorerChoice | None:
        """The scorer that weights the vote, if any."""
        return None if self.weight_scorer is None else ScorerChoice(name=self.weight_scorer,
                                                                     options=self.scorer_options)

    def prms(self) -> frozenset[str]:
        """The PRMs of the scorer that weights the vote."""
        return frozenset() if self.replay_scorer is None else self.replay_scorer.prms()

    def replay(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int, seed: int) -> Replay:
        """The vote over k of the samples, in expectation over subsets (see `reasoner.stats`)."""
        from reasoner.stats import pass_at_k, selected_at_k

        accuracy = selected_at_k(samples, budget, self.select, draws=draws, seed=seed)
        return Replay(accuracy=accuracy, samples=budget, generated_tokens=sum(tokens) * budget / len(tokens),
                      calls=1, metrics={"pass_at_k": pass_at_k(len(samples), sum(s.correct for s in samples),
                                                                budget)})

    def at_budget(self, budget: int) -> SelfConsistency:
        return self.model_copy(update={"n": budget})


async def vote_answers(problem: Problem, answers: list[str | None], candidates: list[Candidate],
                       ctx: SolveContext, weighted: bool = False, scores: list[float] | None = None) -> Vote:
    """Group equivalent answers and pick the group with the largest vote (`scores` weight it when given)."""
    labels = await ctx.group(problem, answers)
    return tally(samples_of(candidates, labels, scores), weighted, by_score=scores is not None)


def tally(samples: Sequence[Sample], weighted: bool = False, by_score: bool = False) -> Vote:
    """Sum votes per label (1 each, or exp(mean logprob) when `weighted`, 1 without a logprob).

    Ties go to the group whose best member has the higher logprob, then to the
    group seen first; the winner is the group's highest-logprob member (the first of equals).
    With `by_score`, each sample votes with its score instead (a vote weighted by a scorer such as a PRM).
    """
    groups: dict[int, list[int]] = defaultdict(list)
    weights: dict[int, float] = defaultdict(float)
    for index, sample in enumerate(samples):
        if sample.label is None:
            continue
        groups[sample.label].append(index)
        weights[sample.label] += (sample.score or 0.0) if by_score else _weight(sample) if weighted else 1.0
    if not groups:
        return Vote(winner=None, groups={}, weights={})
    best = max(groups, key=lambda g: (weights[g], max(_logprob(samples[i]) for i in groups[g])))
    winner = max(groups[best], key=lambda i: _logprob(samples[i]))
    return Vote(winner=winner, groups=dict(groups), weights=dict(weights))


def _weight(sample: Sample) -> float:
    return math.exp(sample.logprob) if sample.logprob is not None else 1.0


def _logprob(sample: Sample) -> float:
    return sample.logprob if sample.logprob is not None else float("-inf")
