"""A strategy that raises on chosen problems, to test that one failure does not stop a job."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.cot import ChainOfThought


class FailOn(BaseModel):
    name: ClassVar[str] = "fail_on"
    ids: list[str] = ["p2"]
    max_tokens: int = 8

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        if problem.id in self.ids:
            raise ZeroDivisionError(f"poison problem {problem.id}")
        return await ChainOfThought(max_tokens=self.max_tokens).solve(problem, ctx)
