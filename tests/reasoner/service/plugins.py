"""Operator plug-ins for the service tests: strategies that fail in ways a real one might.

`Crash` raises an exception whose message and frames hold server paths (as a
real bug would); `RaiseOutside` fails outside any problem. The service must
turn both into a client-safe error and keep the details in its log.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from reasoner.strategies.base import SolveContext
from reasoner.types import Problem, Result

SECRET_PATH = "/srv/reasoner-secret/config.toml"
"""A server path the crash names: it must never reach a client."""


class Crash(BaseModel):
    """Raises on every problem, naming a server path."""

    name: ClassVar[str] = "probe_crash"
    max_tokens: int = 8

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        raise RuntimeError(f"cannot open {SECRET_PATH}")


class FixedAnswer(BaseModel):
    """Answers every problem with `text` (after one real one-token model call), so a code job's tests run
    whatever the random test model would have written."""

    name: ClassVar[str] = "fixed_answer"
    text: str = "```python\ndef f():\n    return 1\n```"

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        from reasoner.engine.generation import GenerationRequest
        from reasoner.strategies.base import make_result
        from reasoner.types import SamplingConfig

        request = GenerationRequest(prompt=problem.prompt, n=1, sampling=SamplingConfig(temperature=0.0, max_tokens=1))
        candidates = [c.model_copy(update={"text": self.text}) for c in await ctx.meter.generate(request)]
        return make_result(self.name, problem, ctx, candidates, 0, ctx.extract(problem, self.text))
