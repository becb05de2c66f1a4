"""Scorers rank candidates for best-of-n. One protocol, a registry of two.

- `logprob`: mean token log-probability (the model's own confidence).
- `public_tests`: for code, the fraction of the prompt's public examples a
  candidate passes, ties broken by logprob. Public examples are part of the
  prompt, so using them is not peeking at the hidden tests.

- `prm`: a process reward model's step scores, aggregated per candidate
  (`reasoner.verifiers.prm`); its cost is booked on the meter's PRM line.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, field_validator

from reasoner.errors import ConfigError
from reasoner.registry import Registry
from reasoner.types import Candidate, Problem
from reasoner.strategies.base import SolveContext
from reasoner.verifiers.prm import aggregate, check_aggregation, check_prm


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


class PRMScorer(BaseModel):
    """A process reward model's aggregated step scores (probability-like, in [0, 1])."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "prm"

    prm: str = "tiny-prm"
    """Bundled PRM name or PRM folder."""
    aggregation: str = "min"
    """How step scores become one: last, min, prod or mean."""
    check_tokenizer: bool = True
    """Refuse a policy whose tokenizer differs from the PRM's."""

    @field_validator("aggregation")
    @classmethod
    def _known_aggregation(cls, value: str) -> str:
        return check_aggregation(value)

    @field_validator("prm")
    @classmethod
    def _prm_folder(cls, value: str) -> str:
        return check_prm(value)  # a missing folder or step format fails here, before anything runs

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]:
        steps = await self.step_scores(problem, candidates, ctx)
        return [aggregate(row, self.aggregation) for row in steps]

    async def step_scores(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[list[float]]:
        """Each candidate's per-step scores; the PRM's cost goes on the meter."""
        prm = ctx.prm(self.prm)
        if self.check_tokenizer and ctx.policy is not None:
            prm.check_policy(ctx.policy.name)
        scored = await prm.ascore([(problem.prompt, c.text) for c in candidates])
        ctx.meter.book_prm(scored.tokens, scored.flops, scored.seconds)
        return scored.steps

    def prms(self) -> set[str]:
        """The PRM this scorer reads."""
        return {self.prm}


def _mean_logprob(candidate: Candidate) -> float:
    mean = candidate.mean_logprob
    return mean if mean is not None else float("-inf")


def _bounded(logprob: float) -> float:
    return max(logprob, -999.0)


SCORERS = Registry("scorer", {"logprob": MeanLogprobScorer, "public_tests": PublicTestsScorer, "prm": PRMScorer})


class ScorerChoice(BaseModel):
    """A scorer by name (`reasoner.strategies.scorers.SCORERS`) with its options, e.g. a PRM and its aggregation."""

    model_config = ConfigDict(frozen=True)

    name: str
    options: dict[str, Any] = {}

    @property
    def key(self) -> str:
        """How a sweep's records name its scores: the name, plus the options when there are any."""
        return self.name if not self.options else f"{self.name}{json.dumps(self.options, sort_keys=True)}"

    def build(self) -> Scorer:
        """The scorer object; options it does not take or values it refuses are a `ConfigError` naming them."""
        from pydantic import ValidationError

        try:
            return SCORERS.get(self.name)(**self.options)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}"
                                 for e in exc.errors(include_url=False))
            raise ConfigError(f"scorer {self.name!r}: {problems}") from exc

    def prms(self) -> frozenset[str]:
        """The PRMs the scorer reads."""
        from reasoner.strategies.base import prms_of

        return prms_of(self.build())
