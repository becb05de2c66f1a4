"""A test strategy that says which Ray node solved each problem (in the record's `stop_reason`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.cot import ChainOfThought


class OnNode(BaseModel):
    """Greedy CoT whose result's `stop_reason` is `node:<Ray node id>`."""

    name: ClassVar[str] = "on_node"
    max_tokens: int = 4
    delay_s: float = 0.0
    """A pause before solving, times the number in the problem's id (q07: 7 x delay_s), so that problems finish
    one after another over a while, long enough to lose a node in the middle."""
    delay_on: str | None = None
    """Pause only on a node that declares this custom Ray resource (None: on every node)."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        import asyncio

        import ray

        node = ray.get_runtime_context().get_node_id()
        if self.delay_on is None or any(n["NodeID"] == node and self.delay_on in n["Resources"] for n in ray.nodes()):
            await asyncio.sleep(self.delay_s * int("0" + "".join(c for c in problem.id if c.isdigit())))
        result = await ChainOfThought(max_tokens=self.max_tokens).solve(problem, ctx)
        return result.model_copy(update={"stop_reason": f"node:{node}"})
