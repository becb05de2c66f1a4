"""Test strategies for fault injection: a slow greedy one, and one whose problem kills its worker."""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

from pydantic import BaseModel

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.cot import ChainOfThought


class Slow(BaseModel):
    """Greedy CoT after a pause, so a job lasts long enough to be interrupted."""

    name: ClassVar[str] = "slow"
    delay_s: float = 0.3
    max_tokens: int = 16

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        await asyncio.sleep(self.delay_s)
        return await ChainOfThought(max_tokens=self.max_tokens).solve(problem, ctx)


class KillOn(BaseModel):
    """Greedy CoT, except that the problem `poison` kills the process solving it."""

    name: ClassVar[str] = "kill_on"
    poison: str = "poison"
    max_tokens: int = 8

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        if problem.id == self.poison:
            os._exit(17)
        return await ChainOfThought(max_tokens=self.max_tokens).solve(problem, ctx)
