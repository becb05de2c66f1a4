"""Scorers rank candidates for best-of-n. One protocol, a registry of two.

- `logprob`: mean token log-probability (the model's own confidence).
- `public_tests`: for code, the fraction of the prompt's public examples a
  candidate passes, ties broken by logprob. Public examples are part of the
  prompt, so using them is not peeking at the hidden tests.

Process-reward scorers plug in here later.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from reasoner.registry import Registry
from reasoner.types import Candidate, Problem
from strategies.base import SolveContext


@runtime_checkable
class Scorer(Protocol):
    """Gives each candidate a number; higher is better."""

    name: ClassVar[str]

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]: ...


class MeanLogprobScorer(BaseModel):
    """Mean token log-probability of each candidate."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "logprob"

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]:
        return [_mean_logprob(c) for c in candidates]


class PublicTestsScorer(BaseModel):
    """Execution against the public examples; falls back to logprob for math problems."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "public_tests"

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]:
        tests = problem.public_tests
        if tests is None or tests.empty:
            return [_mean_logprob(c) for c in candidates]
        programs = [ctx.extract(problem, c.text) or "" for c in candidates]
        started = time.perf_counter()
        verdicts = await asyncio.to_thread(ctx.verifier(problem).verify_batch, [(p, tests) for p in programs])
        ctx.meter.add_verifier_time(time.perf_counter() - started)
        # Passing dominates; logprob (always < 0, scaled below 1) only breaks ties.
        return [(v.score or 0.0) * 1000.0 + _bounded(_mean_logprob(c)) for v, c in zip(verdicts, candidates)]


def _mean_logprob(candidate: Candidate) -> float:
    mean = candidate.mean_logprob
    return mean if mean is not None else float("-inf")


def _bounded(logprob: float) -> float:
    return max(logprob, -999.0)


SCORERS = Registry("scorer", {"logprob": MeanLogprobScorer, "public_tests": PublicTestsScorer})
