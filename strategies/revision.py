"""Sequential revision: the model sees its earlier attempts and writes a new one.

The budget splits into `chains` independent chains x `revisions` rounds each
(so chains x (revisions + 1) samples). Chains run concurrently. Each round's
prompt is built with `reasoner.tasks.revision_prompt`, the format the bundled
models were trained on, showing the last one or two attempts.

- Code: each attempt runs against the problem's *public* examples; the
  failing assert, error or timeout becomes the feedback under that attempt,
  and a chain stops early once its attempt passes them.
- Math: no ground truth exists at test time, so revision is blind (no
  feedback) and every chain runs all its rounds.

The final answer is picked by `pick`: `last` votes over each chain's last
attempt; `vote` votes over every attempt of every chain.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from reasoner.types import Candidate, Problem, Result
from reasoner.strategies.base import Sampling, SolveContext, make_result
from reasoner.strategies.self_consistency import vote_answers


class Attempt(BaseModel):
    """One round of one chain."""

    candidate: Candidate
    answer: str | None
    feedback: str | None = None
    passed_public: bool | None = None


class Revision(Sampling):
    """p chains of s sequential revisions each."""

    name: ClassVar[str] = "revision"

    chains: int = Field(1, ge=1)
    """Independent chains (the parallel part of the budget)."""
    revisions: int = Field(2, ge=0)
    """Revision rounds after each chain's first attempt (the sequential part)."""
    pick: Literal["last", "vote"] = "last"
    """How the final answer is chosen from the attempts."""
    show_last: int = Field(2, ge=1)
    """Earlier attempts shown in a revision prompt."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        chains = await asyncio.gather(*(self._chain(problem, ctx, index) for index in range(self.chains)))
        candidates = [a.candidate for chain in chains for a in chain]
        chosen_pool = [chain[-1] for chain in chains if chain] if self.pick == "last" else \
            [a for chain in chains for a in chain]
        vote = await vote_answers(problem, [a.answer for a in chosen_pool], [a.candidate for a in chosen_pool], ctx)
        ctx.meter.record("revision", rounds=[len(chain) for chain in chains], pick=self.pick)
        if vote.winner is None:
            return make_result(self.name, problem, ctx, candidates, None, None)
        winner = chosen_pool[vote.winner]
        return make_result(self.name, problem, ctx, candidates, candidates.index(winner.candidate), winner.answer)

    def at_budget(self, budget: int) -> Revision:
        """Budget b: one chain, its first attempt then b - 1 revisions."""
        return self.model_copy(update={"chains": 1, "revisions": budget - 1})

    async def _chain(self, problem: Problem, ctx: SolveContext, index: int) -> list[Attempt]:
        attempts: list[Attempt] = []
        for round_index in range(self.revisions + 1):
            prompt = problem.prompt if not attempts else self._revision_prompt(problem, attempts)
            new = await self.sample(problem, ctx, 1, prompt=prompt, seed_offset=1009 * index + 17 * round_index)
            if not new:
                break
            attempt = await self._assess(problem, ctx, new[0])
            attempts.append(attempt)
            if attempt.passed_public:
                break
        return attempts

    def _revision_prompt(self, problem: Problem, attempts: list[Attempt]) -> str:
        from reasoner.tasks import revision_prompt

        shown = attempts[-self.show_last:]
        feedback = [a.feedback for a in shown] if _has_public_tests(problem) else None
        return revision_prompt(problem.prompt, [a.candidate.text.strip() for a in shown], feedback)

    async def _assess(self, problem: Problem, ctx: SolveContext, candidate: Candidate) -> Attempt:
        answer = ctx.extract(problem, candidate.text)
        tests = problem.public_tests
        if not _has_public_tests(problem):
            return Attempt(candidate=candidate, answer=answer)
        started = time.perf_counter()
        verdict = await asyncio.to_thread(ctx.verifier(problem).verify, answer or candidate.text, tests)
        ctx.meter.add_verifier_time(time.perf_counter() - started)
        feedback = None if verdict.correct else (verdict.detail or verdict.status.value)
        return Attempt(candidate=candidate, answer=answer, feedback=feedback, passed_public=verdict.correct)


def _has_public_tests(problem: Problem) -> bool:
    return problem.public_tests is not None and not problem.public_tests.empty
