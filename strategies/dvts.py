"""Diverse verifier tree search (DVTS): N/M independent subtrees, each a greedy search by value.

Each subtree starts at the root and, every step, expands its one current
path M ways and keeps its best child (by aggregated score), until the path
finishes, reaches `max_steps`, or the budget refuses a call. Subtrees never
wait for one another, and the final paths of all of them are the candidates:
diversity comes from the independent subtrees, which is why DVTS beats beam
search at large N (Beeching et al., "Scaling test-time compute", 2024).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search import Search, WidthOptions
from reasoner.strategies.search_tree import Node


class DVTS(WidthOptions):
    """N/M subtrees, each expanding M candidates per step and keeping its best one."""

    name: ClassVar[str] = "dvts"

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        search = Search(self, problem, ctx)
        ends = await asyncio.gather(*(self._subtree(search) for _ in range(self.n // self.width)))
        leaves = [node for node in ends if node is not None]
        finished = [node for node in leaves if node.finished]
        return await search.finish(self.name, finished or leaves)

    async def _subtree(self, search: Search) -> Node | None:
        """One greedy path: the best of M children at every step; its last node (None if nothing was made)."""
        node, last = search.tree.root, None
        while True:
            children = await search.expand(node, self.width)
            if not children:
                return last
            best = max(children, key=search.rank)
            for child in children:
                child.pruned = child is not best
            last = best
            if not search.open(best):
                return best
            node = best

    def at_budget(self, budget: int) -> DVTS | None:
        """DVTS with N=budget (M narrowed to the budget when larger)."""
        return self.at_width_budget(budget)
