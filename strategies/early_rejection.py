"""Early rejection for best-of-n: score every candidate with a PRM after its first k steps, finish only the best.

All n candidates are streamed at once. Once every candidate has written `steps`
steps (the PRM's step format says where a step ends) or has ended, the PRM
scores each one's text through step `steps` (a candidate that ended sooner:
its whole text); the best `keep` share (ceil(keep x n), at least one) goes on
and the others are aborted in the engine at once (`rejected`). When the kept
ones finish, the PRM scores their whole texts and the best is the answer, as
best-of-n by the same PRM and aggregation would choose among them.

Candidates decode together, so a fast one may pass step k while a slow one
catches up; its extra tokens are booked (as aborted tokens, if it is then
rejected). The PRM's forward passes are booked on the meter's PRM line, both
scorings. On a generator that cannot stream, every candidate arrives whole:
the choice is the same, nothing is saved.

Not replayed in sweeps (the partial scores depend on where each candidate is
cut); it runs per budget.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field

from reasoner.types import Candidate, FinishReason, Problem, Result
from reasoner.strategies.base import Sampling, SolveContext, make_result
from reasoner.strategies.scorers import PRMChoice, PRMScorer


class EarlyRejection(Sampling, PRMChoice):
    """Best-of-n by a PRM that rejects most candidates after their first steps."""

    name: ClassVar[str] = "early_rejection"

    n: int = Field(16, ge=1)
    """Candidates started."""
    keep: float = Field(0.125, gt=0.0, le=1.0)
    """Share of the candidates finished after the early scoring (at least one). 0.125 with `steps` 1 was chosen
    on the dev split (benchmarks/results/early_rejection_dev.json, rule 4 of confidence_selection_rules.md)."""
    steps: int = Field(1, ge=1, le=64)
    """Steps each candidate writes before the early scoring (k)."""

    def prms(self) -> frozenset[str]:
        """The PRM that scores the candidates."""
        return frozenset({self.prm})

    @property
    def kept(self) -> int:
        return max(1, math.ceil(self.keep * self.n))

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        step_format = ctx.prm(self.prm).step_format
        scorer = PRMScorer(prm=self.prm, aggregation=self.aggregation, check_tokenizer=self.check_tokenizer)
        run = _Run(self, scorer, step_format)
        async with ctx.meter.traces(self.sample_request(problem, self.n, ctx.seed)) as traces:
            async for delta in traces:
                run.texts[delta.index] = run.texts.get(delta.index, "") + delta.text
                if run.early is None and run.at_checkpoint(traces):
                    await run.score_early(problem, ctx, traces)
        return await run.choose(problem, ctx, traces.candidates)

    def at_budget(self, budget: int) -> EarlyRejection:
        return self.model_copy(update={"n": budget})


class _Run:
    """One problem's early rejection: the texts so far, the early scores and who was kept."""

    def __init__(self, strategy: EarlyRejection, scorer: PRMScorer, step_format) -> None:
        self.strategy = strategy
        self.scorer = scorer
        self.step_format = step_format
        self.texts: dict[int, str] = {}
        self.early: dict[int, float] | None = None
        self.whole: set[int] = set()
        """Candidates that had ended when scored early: that score is their final one."""
        self.kept: set[int] = set()

    def at_checkpoint(self, traces) -> bool:
        """Whether every candidate has written `steps` steps (and begun the next) or has ended."""
        running = set(traces.running)
        return all(i not in running or len(self.step_format.split(self.texts.get(i, ""))) > self.strategy.steps
                   for i in range(traces.n))

    async def score_early(self, problem: Problem, ctx: SolveContext, traces) -> None:
        """Score each candidate's first k steps (an ended one: all of it), keep the best, abort the rest."""
        running = set(traces.running)
        self.whole = {i for i in range(traces.n) if i not in running}
        cut = [self.texts.get(i, "") if i in self.whole else self.step_format.prefix(self.texts[i], self.strategy.steps)
               for i in range(traces.n)]
        scores = await self.scorer.score(problem, [_text_only(text) for text in cut], ctx)
        self.early = dict(enumerate(scores))
        ranked = sorted(self.early, key=lambda i: (-self.early[i], i))
        self.kept = set(ranked[:self.strategy.kept])
        ctx.meter.record("score", scorer="prm", stage="early", steps=self.strategy.steps, scores=scores,
                         kept=sorted(self.kept))
        for index in ranked[self.strategy.kept:]:
            traces.stop(index, "rejected", score=round(self.early[index], 6), kept=self.strategy.kept)

    async def choose(self, problem: Problem, ctx: SolveContext, candidates: list[Candidate]) -> Result:
        """The kept candidate the PRM scores best on its whole text."""
        name = self.strategy.name
        finished = [i for i in sorted(self.kept) if candidates[i].aborted is None]
        if not finished:
            return make_result(name, problem, ctx, candidates, None, None)
        rescore = [i for i in finished if i not in self.whole]
        fresh = await self.scorer.score(problem, [candidates[i] for i in rescore], ctx) if rescore else []
        final = {**{i: self.early[i] for i in finished if i in self.whole}, **dict(zip(rescore, fresh))}
        best = max(finished, key=lambda i: (final[i], -i))
        ctx.meter.record("score", scorer="prm", stage="final", scores=[final[i] for i in finished],
                         candidates=finished, chosen=best)
        return make_result(name, problem, ctx, candidates, best, ctx.extract(problem, candidates[best].text))


def _text_only(text: str) -> Candidate:
    """A candidate holding just `text`, as the PRM reads it."""
    return Candidate(text=text, num_tokens=0, finish_reason=FinishReason.STOP)
