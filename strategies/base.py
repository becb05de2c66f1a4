"""The `Strategy` protocol, the context strategies run in, and sampling settings.

A strategy is an async function of a problem: it asks the model for
candidates through the context's `Meter`, chooses an answer with the
context's verifiers (extract, group) without looking at the reference, and
returns a typed `Result`. Grading happens afterwards, in `reasoner.jobs.solve`.

How a sweep measures a strategy at several budgets is the strategy's own
business (`at_budget`, and `Replayable` for strategies that choose among
i.i.d. samples): the sweep names no strategy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from reasoner.budget import Meter
from reasoner.engine.generation import GenerationRequest, ModelInfo
from reasoner.errors import ConfigError
from reasoner.types import Candidate, Problem, Result, Sample, SamplingConfig
from reasoner.verifiers import Verifier, VerifierSet
from reasoner.verifiers.prm import PRM


@dataclass
class SolveContext:
    """Everything a strategy may use for one problem, handed in by whoever runs it. Never the reference
    answer, an engine or a file path."""

    meter: Meter
    """The only way to call the model; enforces the budget and books cost."""
    verifiers: VerifierSet
    """One verifier per domain: answer extraction and equivalence for voting, public tests for code."""
    seed: int | None = None
    """Base seed for this problem's sampling."""
    prms: Mapping[str, PRM] = field(default_factory=dict)
    """The PRMs the strategy declared (`prms_of`), loaded, by the names its options give them."""
    policy: ModelInfo | None = None
    """Which model generates (its name and parameter count), e.g. to check a PRM's tokenizer against it."""

    def prm(self, name: str) -> PRM:
        """The loaded PRM `name`; a ConfigError if the strategy did not declare it."""
        found = self.prms.get(name)
        if found is None:
            raise ConfigError(f"PRM {name!r} was not handed to this strategy (it holds "
                              f"{', '.join(sorted(self.prms)) or 'none'}); a strategy declares its PRMs in `prms()`")
        return found

    def verifier(self, problem: Problem) -> Verifier:
        """The verifier of the problem's domain."""
        return self.verifiers.for_domain(problem.domain)

    def extract(self, problem: Problem, text: str) -> str | None:
        """The answer (math) or program (code) a candidate commits to."""
        return self.verifier(problem).extract(text)

    async def group(self, problem: Problem, answers: list[str | None]) -> list[int | None]:
        """Equal labels for equivalent answers; None for candidates without one."""
        return await asyncio.to_thread(self.verifier(problem).group, answers)


@runtime_checkable
class Strategy(Protocol):
    """Turns a problem into a `Result` by spending model calls.

    A strategy that scores with PRMs also has `prms() -> set[str]`: their names, which whoever runs it
    loads and hands in (`SolveContext.prms`)."""

    name: ClassVar[str]

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result: ...


def prms_of(thing: Any) -> frozenset[str]:
    """The PRMs a strategy or scorer declares (its `prms()`); none when it has no such method."""
    declared = getattr(thing, "prms", None)
    return frozenset(declared()) if callable(declared) else frozenset()


class Replay(BaseModel):
    """What a strategy that chooses among i.i.d. samples would have done on a subset of them."""

    accuracy: float
    """Expected correctness at this budget."""
    samples: float
    """Expected samples drawn."""
    generated_tokens: float
    """Expected generated tokens."""
    calls: float
    """Expected model calls (each books the prompt once)."""
    metrics: dict[str, float] = {}
    """Other estimates at this budget, e.g. pass@k."""


@runtime_checkable
class Replayable(Protocol):
    """A strategy whose result at budget k can be read off n >= k shared samples of `sampling`.

    A sweep draws the samples once (with `sample_request`), labels and
    grades each, scores them with `replay_scorer` when it names one, and asks
    `replay` for every budget: no new generation per budget.
    """

    name: ClassVar[str]

    def sampling_config(self, seed: int | None) -> SamplingConfig: ...

    def sample_request(self, problem: Problem, n: int, seed: int | None) -> GenerationRequest: ...

    @property
    def replay_scorer(self) -> Any:
        """The `reasoner.strategies.scorers.ScorerChoice` whose scores `select` reads, or None."""
        ...

    def replay(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int,
               seed: int) -> Replay: ...


def make_result(name: str, problem: Problem, ctx: SolveContext, candidates: list[Candidate],
                chosen: int | None, answer: str | None) -> Result:
    """A `Result` carrying the meter's cost, trace and stop reason."""
    return Result(
        problem_id=problem.id, strategy=name, answer=answer, chosen=chosen,
        candidates=candidates, cost=ctx.meter.finish(), trace=ctx.meter.trace,
        stop_reason=ctx.meter.stop_reason,
    )


def samples_of(candidates: Sequence[Candidate], labels: Sequence[int | None],
               scores: Sequence[float] | None = None) -> list[Sample]:
    """Candidates as `select` sees them."""
    return [Sample(label=label, logprob=candidate.mean_logprob, score=None if scores is None else scores[i])
            for i, (candidate, label) in enumerate(zip(candidates, labels))]


class Sampling(BaseModel):
    """Settings shared by strategies that sample candidates of the problem's prompt."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.8, ge=0.0)
    """Sampling temperature."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    """Nucleus mass."""
    max_tokens: int = Field(256, ge=1)
    """Cap on each candidate's length."""

    def sampling_config(self, seed: int | None) -> SamplingConfig:
        """The sampling settings of this strategy's calls."""
        return SamplingConfig(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=seed)

    def sample_request(self, problem: Problem, n: int, seed: int | None, prompt: str | None = None
                       ) -> GenerationRequest:
        """The request for n candidates of `prompt` (default: the problem's)."""
        return GenerationRequest(prompt=prompt or problem.prompt, n=n, sampling=self.sampling_config(seed))

    async def sample(self, problem: Problem, ctx: SolveContext, n: int, prompt: str | None = None,
                     seed_offset: int = 0) -> list[Candidate]:
        """n candidates for `prompt` (default: the problem's), within the budget."""
        seed = None if ctx.seed is None else ctx.seed + seed_offset
        return await ctx.meter.generate(self.sample_request(problem, n, seed, prompt))
