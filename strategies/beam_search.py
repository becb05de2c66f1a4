"""Beam search over steps, guided by a value source (a PRM by default).

N beams: the root is expanded N ways; each round the best N/M open paths
(by aggregated score, ties broken by the policy's log-probability) are kept
and each is expanded M ways by one step, all requests in flight at once.
With `dedupe` (the default), paths whose text repeats a kept one are pruned
and the round's N samples are spread over the distinct paths instead. Paths that finish (end of sequence or a final
answer) are kept aside; the search ends when N have finished, no path is
open (every one finished or at `max_steps`), or the budget refuses a call.
The answer comes from the finished paths (the open ones if none finished),
by the best aggregated score or a score-weighted vote.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search import Search, WidthOptions
from reasoner.strategies.search_tree import Node


class BeamSearch(WidthOptions):
    """Keep the best N/M partial solutions each step and expand each M ways."""

    name: ClassVar[str] = "beam_search"

    dedupe: bool = True
    """Keep one of several open paths with the same text, and spread the N samples of the next step
    over the distinct ones (a confident policy often writes the same step M times)."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        search = Search(self, problem, ctx)
        beams, finished, last = [search.tree.root], [], []
        while beams and not search.refused and len(finished) < self.n:
            children = [c for group in await asyncio.gather(
                *(search.expand(beam, width) for beam, width in zip(beams, self._widths(len(beams)))))
                for c in group]
            finished += [c for c in children if c.finished]
            beams = self._keep(search, [c for c in children if search.open(c)])
            last = [c for c in children if not c.finished and not c.pruned] or last
        return await search.finish(self.name, finished or last)

    def _widths(self, beams: int) -> list[int]:
        """Children per beam: M each for N/M beams; N spread evenly over fewer beams (the root, or after dedupe)."""
        base, extra = divmod(self.n, beams)
        return [base + (i < extra) for i in range(beams)]

    def _keep(self, search: Search, paths: list[Node]) -> list[Node]:
        """The best N/M open paths (distinct texts with `dedupe`); the rest are pruned."""
        ranked = sorted(paths, key=search.rank, reverse=True)
        kept, texts = [], set()
        for node in ranked:
            text = search.tree.text(node)
            if len(kept) < self.n // self.width and not (self.dedupe and text in texts):
                kept.append(node)
                texts.add(text)
            else:
                node.pruned = True
        return kept

    def at_budget(self, budget: int) -> BeamSearch | None:
        """Beam search with N=budget (M narrowed to the budget when larger)."""
        return self.at_width_budget(budget)
