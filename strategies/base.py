"""The `Strategy` protocol, the context strategies run in, and answer extraction.

A strategy is an async function of a problem: it asks the model for
candidates through the context's `Meter`, chooses an answer without looking
at the reference, and returns a typed `Result`. Grading happens afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from reasoner.budget import Meter
from reasoner.generation import GenerationRequest
from reasoner.types import Candidate, Problem, Result, SamplingConfig

if TYPE_CHECKING:
    from verifiers.code import CodeVerifier
    from verifiers.math import MathVerifier


@dataclass
class SolveContext:
    """Everything a strategy may use for one problem. Never the reference answer."""

    meter: Meter
    """The only way to call the model; enforces the budget and books cost."""
    math: MathVerifier
    """Answer equivalence for voting."""
    code: CodeVerifier
    """Runs candidates against a problem's public examples."""
    seed: int | None = None
    """Base seed for this problem's sampling."""


@runtime_checkable
class Strategy(Protocol):
    """Turns a problem into a `Result` by spending model calls."""

    name: ClassVar[str]

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result: ...


def extract_final(problem: Problem, text: str) -> str | None:
    """The answer a candidate commits to: a math answer or a program."""
    if problem.domain == "code":
        from verifiers.code import extract_program

        return extract_program(text)
    from verifiers.math import extract_answer

    return extract_answer(text)


def make_result(name: str, problem: Problem, ctx: SolveContext, candidates: list[Candidate],
                chosen: int | None, answer: str | None) -> Result:
    """A `Result` carrying the meter's cost, trace and stop reason."""
    return Result(
        problem_id=problem.id, strategy=name, answer=answer, chosen=chosen,
        candidates=candidates, cost=ctx.meter.finish(), trace=ctx.meter.trace,
        stop_reason=ctx.meter.stop_reason,
    )


class Sampling(BaseModel):
    """Settings shared by strategies that sample candidates of the problem's prompt."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.8, ge=0.0)
    """Sampling temperature."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    """Nucleus mass."""
    max_tokens: int = Field(256, ge=1)
    """Cap on each candidate's length."""

    async def sample(self, problem: Problem, ctx: SolveContext, n: int, prompt: str | None = None,
                     seed_offset: int = 0) -> list[Candidate]:
        """n candidates for `prompt` (default: the problem's), within the budget."""
        seed = None if ctx.seed is None else ctx.seed + seed_offset
        sampling = SamplingConfig(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                                  seed=seed)
        request = GenerationRequest(prompt=prompt or problem.prompt, n=n, sampling=sampling)
        return await ctx.meter.generate(request)
