"""Scorers rank candidates for best-of-n and weight votes. One protocol, one registry.

- `logprob`: mean token log-probability (the model's own confidence).
- `self_certainty`: mean divergence of each token's distribution from uniform
  (`reasoner.strategies.confidence`), from the top-k log-probabilities: a
  confidence baseline that needs no reward model.
- `confidence`: DeepConf's trace confidence (lowest group, bottom share, tail
  or mean of the token confidences), the score `deepconf` filters and weights by.
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

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reasoner.errors import ConfigError
from reasoner.registry import Registry
from reasoner.types import MAX_TOP_LOGPROBS, Candidate, Problem
from reasoner.strategies.base import SolveContext
from reasoner.strategies.confidence import Metric, self_certainty, token_confidences, trace_confidence
from reasoner.verifiers.prm import aggregate, check_aggregation, check_prm


@runtime_checkable
class Scorer(Protocol):
    """Gives each candidate a number; higher is better."""

    name: ClassVar[str]

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]: ...


def top_logprobs_of(scorer: Any) -> int:
    """How many top-k log-probabilities per token a scorer reads (0 for most); strategies ask the engine for them."""
    return int(getattr(scorer, "top_logprobs", 0) or 0)


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


class PRMChoice(BaseModel):
    """Which PRM scores, how its step scores become one, and whether the policy's tokenizer is checked: the
    options of every strategy or scorer that reads one PRM (`PRMScorer`, early rejection)."""

    model_config = ConfigDict(extra="forbid")

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


class PRMScorer(PRMChoice):
    """A process reward model's aggregated step scores (probability-like, in [0, 1])."""

    name: ClassVar[str] = "prm"

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]:
        steps = await self.step_scores(problem, candidates, ctx)
        return [aggregate(row, self.aggregation) for row in steps]

    async def step_scores(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[list[float]]:
        """Each candidate's per-step scores; the PRM's cost goes on the meter."""
        prm = ctx.prm(self.prm)
        if self.check_tokenizer and ctx.policy is not None:
            prm.check_policy(ctx.policy.name)
        scored = await prm.ascore([(problem.prompt, c.text) for c in candidates])
        ctx.meter.book_prm(scored, prm.parameters)
        return scored.steps

    def prms(self) -> set[str]:
        """The PRM this scorer reads."""
        return {self.prm}


class SelfCertaintyScorer(BaseModel):
    """Self-certainty: the mean over tokens of KL(uniform || the token's distribution), from the top-k
    log-probabilities (a lower bound; see `reasoner.strategies.confidence`). Higher is more certain."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "self_certainty"

    top_logprobs: int = Field(20, ge=1, le=MAX_TOP_LOGPROBS)
    """Tokens per position whose log-probabilities the engine returns (k)."""

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]:
        vocab = ctx.meter.generator.info.vocab_size
        if vocab is None:
            raise ConfigError(f"self_certainty needs the vocabulary size of {ctx.meter.generator.info.name!r}, "
                              f"which its generator does not know")
        return [_or_lowest(self_certainty(_top_logprobs(c, self.name), vocab)) for c in candidates]


class ConfidenceScorer(BaseModel):
    """DeepConf's confidence of each trace, from its per-token top-k log-probabilities. Higher is more
    confident; a candidate without tokens scores lowest."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "confidence"

    metric: Metric = "lowest_group"
    """`lowest_group`, `bottom_share`, `tail` or `mean` (`reasoner.strategies.confidence`)."""
    window: int = Field(16, ge=1, le=4096)
    """Tokens per group (the sliding window)."""
    share: float = Field(0.1, gt=0.0, le=1.0)
    """`bottom_share`: the share of the lowest groups averaged."""
    tail: int = Field(32, ge=1, le=4096)
    """`tail`: the last tokens averaged."""
    top_logprobs: int = Field(20, ge=1, le=MAX_TOP_LOGPROBS)
    """Tokens per position whose log-probabilities the token confidence averages (k)."""

    async def score(self, problem: Problem, candidates: list[Candidate], ctx: SolveContext) -> list[float]:
        return [self.of(c) for c in candidates]

    def of(self, candidate: Candidate) -> float:
        """One candidate's confidence."""
        confidences = token_confidences(_top_logprobs(candidate, self.name))
        return _or_lowest(trace_confidence(confidences, self.metric, self.window, self.share, self.tail))


def _top_logprobs(candidate: Candidate, scorer: str) -> list[list[float]]:
    if candidate.top_logprobs is None:
        raise ConfigError(f"the {scorer} scorer reads top-k log-probabilities, but this candidate was generated "
                          f"without them (SamplingConfig.top_logprobs)")
    return candidate.top_logprobs


def _or_lowest(value: float | None) -> float:
    return value if value is not None else float("-inf")


def _mean_logprob(candidate: Candidate) -> float:
    mean = candidate.mean_logprob
    return mean if mean is not None else float("-inf")


def _bounded(logprob: float) -> float:
    return max(logprob, -999.0)


SCORERS = Registry("scorer", {"logprob": MeanLogprobScorer, "public_tests": PublicTestsScorer, "prm": PRMScorer,
                              "self_certainty": SelfCertaintyScorer, "confidence": ConfidenceScorer})


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
            errors = exc.errors(include_url=False)
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in errors)
            where = ".".join(map(str, errors[0]["loc"]))
            raise ConfigError(f"scorer {self.name!r}: {problems}",
                              field=f"scorer_options.{where}" if where else "scorer_options") from exc

    def prms(self) -> frozenset[str]:
        """The PRMs the scorer reads."""
        from reasoner.strategies.base import prms_of

        return prms_of(self.build())

    @property
    def top_logprobs(self) -> int:
        """Top-k log-probabilities per token the scorer reads (0 when it reads none)."""
        return top_logprobs_of(self.build())
