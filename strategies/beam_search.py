"""Beam search over steps, guided by a value source (a PRM by default).

N beams: the root is expanded N ways; each round the best N/M open paths
(by aggregated score) are kept and each is expanded M ways by one step, all
requests in flight at once. Paths that finish (end of sequence or a final
answer) are kept aside; the search ends when N have finished, no path is
open (every one finished or at `max_steps`), or the budget refuses a call.
The answer comes from the finished paths (the open ones if none finished),
by the best aggregated score or a score-weighted vote.
"""

from __future__ import annotations

from typing import ClassVar

from reasoner.types import Problem, Result
from strategies.base import SolveContext
from strategies.search import Search, WidthOptions, gather_expansions
from strategies.search_tree import Node


class BeamSearch(WidthOptions):
    """Keep the best N/M partial solutions each step and expand each M ways."""

    name: ClassVar[str] = "beam_search"

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        search = Search(self, problem, ctx)
        beams, finished, last = [search.tree.root], [], []
        while beams and not search.refused and len(finished) < self.n:
            width = self.n if beams[0] is search.tree.root else self.width
            children = [c for group in await gather_expansions(search, beams, width) for c in group]
            finished += [c for c in children if c.finished]
            beams = self._keep(search, [c for c in children if search.open(c)])
            last = [c for c in children if not c.finished and not c.pruned] or last
        return await search.finish(self.name, finished or last)

    def _keep(self, search: Search, paths: list[Node]) -> list[Node]:
        """The best N/M open paths; the rest are pruned."""
        ranked = sorted(paths, key=search.rank, reverse=True)
        kept = ranked[: self.n // self.width]
        for node in ranked[len(kept):]:
            node.pruned = True
        return kept

    def at_budget(self, budget: int) -> BeamSearch | None:
        """Beam search with N=budget (M narrowed to the budget when larger)."""
        return self.at_width_budget(budget)
