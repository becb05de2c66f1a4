"""The core the step-level search strategies share: options, step expansion, answer choice.

`SearchOptions` holds what every search takes (n, value source, PRM,
aggregation, step cap, step length, sampling). A `Search` runs one problem:
`expand` continues a node by one step in token space (the node's token ids
go back as `prefix_ids`; generation stops at the step delimiter, which stays
in the text), classifies each new step (`StepEnd`), and scores the new
prefixes with the value source (`reasoner.strategies.values`). Children of
one node that spell the same step are merged before scoring (one node, its
`copies` kept: they weigh in a vote), and when copies were merged the
expansion asks again for the missing distinct children (`distinct_retries`,
only when the problem's budget has no cap, so a top-up never ends a search
early); `ExpansionStats` counts both. `finish` turns the
leaves into a `Result`, choosing the answer by aggregated score or a
score-weighted vote, and records the tree (`reasoner.strategies.search_tree`).
Every node is scored through `score`, which also tells the meter's listener
(the service's progress stream) of the new nodes in a `nodes` event, so every
search's tree can be drawn as it grows; that event is not kept in the trace.

Budget: every call goes through the meter, which shrinks or refuses it; a
refused call ends the search with the meter's reason. `max_steps` caps the
depth, so a search whose delimiter never occurs still ends, and says so in
`stop_reason`. Nothing here locks or waits on other problems: each problem's
calls go to the shared engine as soon as they are ready.

The strategies themselves (`beam_search`, `dvts`, `mcts`, `particle_filter`)
live in their own modules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from reasoner.engine.generation import GenerationRequest
from reasoner.types import Candidate, FinishReason, Problem, Result, SamplingConfig, TraceEvent
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search_tree import NODES_EVENT, TREE_EVENT, Node, StepEnd, Tree, live_node
from reasoner.strategies.values import ValueSource, check_value_source, make_value_source


class SearchOptions(BaseModel):
    """Options every step-level search takes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    n: int = Field(8, ge=1)
    """Beams, particles or samples per step: the search's width."""
    value: str = "prm"
    """Value source of partial solutions: `prm`, `oracle` (exact step checker, an upper bound) or `logprob`."""
    prm: str | None = None
    """Bundled PRM name or PRM folder (needed by `value=prm`)."""
    aggregation: str = "last"
    """How a path's step scores become one for ranking and answers: last, min, prod or mean."""
    answer: Literal["score", "vote"] = "vote"
    """Choose the answer by the best aggregated score, or by a vote weighted by it."""
    max_steps: int = Field(12, ge=1)
    """Most steps in one solution; the search ends when every path reaches it."""
    step_tokens: int = Field(64, ge=1)
    """Cap on the tokens of one step."""
    temperature: float = Field(0.8, ge=0.0)
    """Sampling temperature of each step."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus mass of each step."""
    delimiter: str | None = Field(None, min_length=1)
    """The text that ends a step; None takes the PRM's step format, else a newline."""
    final_marker: str = "\\boxed{"
    """A step containing this has given the final answer, so its solution is finished."""
    merge_copies: bool = True
    """Merge children of one node that spell the same step before scoring (one node, its count kept for voting)."""
    distinct_retries: int = Field(1, ge=0)
    """After merging copies, ask this many times more for the missing distinct children (only under a budget
    with no cap: a refused top-up would end the search)."""

    @field_validator("aggregation")
    @classmethod
    def _known_aggregation(cls, value: str) -> str:
        from reasoner.verifiers.prm import check_aggregation

        return check_aggregation(value)

    @model_validator(mode="after")
    def _value_source_ready(self) -> SearchOptions:
        check_value_source(self.value, self.prm)
        if self.value == "prm" and self.delimiter is not None and self.delimiter != self.step_delimiter(prm_only=True):
            raise ValueError(f"the PRM {self.prm!r} splits steps at {self.step_delimiter(prm_only=True)!r}, so a "
                             f"search with delimiter {self.delimiter!r} would be scored on other steps than it "
                             f"generates; leave the delimiter out to take the PRM's")
        return self

    def prms(self) -> frozenset[str]:
        """The PRM the value source reads, when it is a PRM."""
        return frozenset({self.prm}) if self.value == "prm" and self.prm else frozenset()

    def step_delimiter(self, prm_only: bool = False) -> str:
        """The delimiter in force: the option, else the PRM's step format, else a newline
        (`prm_only`: the PRM's, whatever the option says)."""
        if self.delimiter is not None and not prm_only:
            return self.delimiter
        if self.prm:
            from reasoner.engine.models import resolve_model
            from reasoner.verifiers.prm import prm_step_format

            return prm_step_format(resolve_model(self.prm)).delimiter
        return "\n"


class WidthOptions(SearchOptions):
    """Searches that expand each kept path m ways (beam search, DVTS)."""

    width: int = Field(4, ge=1, validation_alias=AliasChoices("width", "m"))
    """Expansion width m: children per kept path per step; n must be a multiple of it."""

    @model_validator(mode="after")
    def _n_divisible_by_width(self) -> WidthOptions:
        if self.n % self.width:
            raise ValueError(f"n={self.n} is not a multiple of the expansion width m={self.width}; "
                             f"choose n as k*m (e.g. n={self.width * max(1, self.n // self.width)})")
        return self

    def at_width_budget(self, budget: int) -> WidthOptions | None:
        """A copy at n=budget, narrowing m to the budget when it is smaller; None if m does not divide it."""
        width = min(self.width, budget)
        return None if budget % width else self.model_copy(update={"n": budget, "width": width})


class ExpansionStats(BaseModel):
    """How many step samples one search drew and how many of them were copies of a sibling."""

    expansions: int = 0
    """Calls to `expand`."""
    first_samples: int = 0
    """Samples of the first request of each expansion."""
    first_copies: int = 0
    """Of those, samples that spelled a step an earlier sibling in the same request had spelled."""
    top_up_samples: int = 0
    """Samples drawn by the extra requests for distinct children."""
    children: int = 0
    """Children made (and scored): one per distinct step when copies are merged, else one per sample."""
    scored_copies: int = 0
    """Children scored although a sibling spelled the same step (0 when copies are merged)."""


class Search:
    """One problem's search: its tree, its value source and its step calls."""

    def __init__(self, options: SearchOptions, problem: Problem, ctx: SolveContext) -> None:
        self.options = options
        self.problem = problem
        self.ctx = ctx
        self.tree = Tree()
        self.value: ValueSource = make_value_source(options.value, options.prm)
        self.delimiter = options.step_delimiter()
        self.calls = 0
        self.refused = False
        """Set when the budget refused a call or a scoring: the search must stop."""
        self.step_cap_hit = False
        """Set when a path that could go on reached `max_steps`."""
        self.root_expansions = 0
        self.real_visits = False
        """MCTS counts visits by backups; other searches count a generated node as visited once."""
        self.stats = ExpansionStats()

    async def expand(self, node: Node, width: int) -> list[Node]:
        """Up to `width` scored children of `node`, one step each (copies merged); [] when the budget refuses."""
        if node.parent is None:
            self.root_expansions += 1
        drawn = await self._generate(node, width, self._step_sampling())
        groups = _spellings(drawn)
        self.stats.expansions += 1
        self.stats.first_samples += len(drawn)
        self.stats.first_copies += len(drawn) - len(groups)
        for _ in range(self._top_ups() if drawn else 0):
            if len(groups) >= width:
                break
            more = await self._generate(node, width - len(groups), self._step_sampling())
            self.stats.top_up_samples += len(more)
            drawn += more
            groups = _spellings(drawn)
        if self.options.merge_copies:
            made = [self.tree.add(node, group[0], self.classify(group[0]), copies=len(group)) for group in groups]
        else:
            made = [self.tree.add(node, c, self.classify(c)) for c in drawn]
            self.stats.scored_copies += len(drawn) - len(groups)
        self.stats.children += len(made)
        return await self.score(made)

    def _top_ups(self) -> int:
        """Extra requests an expansion may make for distinct children: none without merging, or under a cap."""
        budget = self.ctx.meter.budget
        capped = budget.samples is not None or budget.generated_tokens is not None or budget.flops is not None
        return 0 if capped or not self.options.merge_copies else self.options.distinct_retries

    def _step_sampling(self) -> SamplingConfig:
        return self._sampling(self.options.step_tokens, stop=(self.delimiter,))

    async def rollout(self, node: Node, max_tokens: int) -> Node | None:
        """A real simulation from `node` to the end of the solution, scored; None when the budget refuses."""
        candidates = await self._generate(node, 1, self._sampling(max_tokens, stop=()))
        if not candidates:
            return None
        child = self.tree.add(node, candidates[0], self.classify(candidates[0]), rollout=True)
        scored = await self.score([child])
        return scored[0] if scored else None

    def classify(self, candidate: Candidate) -> StepEnd:
        """Finished (end of sequence or a final answer), a whole step, or cut at the token cap."""
        ended = candidate.finish_reason is FinishReason.STOP
        if (ended and candidate.stop_reason is None) or self.options.final_marker in candidate.text:
            return StepEnd.FINISHED
        return StepEnd.STEP if ended and candidate.stop_reason == self.delimiter else StepEnd.CUT

    async def score(self, nodes: list[Node]) -> list[Node]:
        """`nodes` with their value-source scores; [] (and `refused`) when the budget cannot pay."""
        if not nodes:
            return []
        scores = await self.value.score(self.problem, self.tree, nodes, self.ctx)
        if scores is None:
            self.refused = True
            for node in nodes:
                node.pruned = True
            self._tell(nodes)
            return []
        for node, score in zip(nodes, scores):
            node.score = score if score is not None else self._parent_score(node)
            if not self.real_visits:
                node.visits = max(node.visits, 1)
        self._tell(nodes)
        return nodes

    def _tell(self, nodes: list[Node]) -> None:
        """Send the newly scored `nodes` to the meter's listener, if any (not to the trace)."""
        listener = self.ctx.meter.listener
        if listener is not None:
            listener(TraceEvent(kind=NODES_EVENT, data={"nodes": [live_node(node) for node in nodes]}))

    def open(self, node: Node) -> bool:
        """Whether `node`'s solution may go on: not finished and under the step cap (which it notes)."""
        if node.finished:
            return False
        if node.depth >= self.options.max_steps:
            self.step_cap_hit = True
            return False
        return True

    def path_score(self, node: Node) -> float:
        """The aggregated step scores of the path to `node`."""
        from reasoner.verifiers.prm import aggregate

        return aggregate(self.tree.scores(node), self.options.aggregation)

    def rank(self, node: Node) -> tuple[float, float]:
        """Sort key of paths: aggregated score, ties broken by the policy's mean token log-probability
        (the oracle scores every still-right path 1.0)."""
        mean = self.tree.mean_logprob(node)
        return self.path_score(node), mean if mean is not None else float("-inf")

    async def finish(self, name: str, leaves: list[Node], chosen: Node | None = None) -> Result:
        """The `Result` over `leaves` (finished or final paths); the answer is `chosen`'s, else chosen here."""
        leaves = list({node.id: node for node in leaves}.values())
        candidates = [self.tree.candidate(node) for node in leaves]
        answers = [self.ctx.extract(self.problem, c.text) for c in candidates]
        if chosen is None and leaves:
            chosen = leaves[await self._choose(leaves, candidates, answers)]
        index = None if chosen is None else next((i for i, node in enumerate(leaves) if node is chosen), None)
        self.ctx.meter.record(TREE_EVENT, **self.tree.trace_data(
            self.value.name, self.delimiter, chosen, root_visits=self._root_visits()),
            expansion=self.stats.model_dump())
        return Result(problem_id=self.problem.id, strategy=name, answer=None if index is None else answers[index],
                      chosen=index, candidates=candidates, cost=self.ctx.meter.finish(), trace=self.ctx.meter.trace,
                      stop_reason=self.stop_reason())

    def stop_reason(self) -> str:
        """Why the search ended: the budget, the step cap, or done; and whether the delimiter never occurred."""
        meter = self.ctx.meter
        reason = meter.stop_reason if meter.exhausted else "max_steps" if self.step_cap_hit else "done"
        steps = [node for node in self.tree.nodes[1:] if not node.rollout]
        cut = any(node.end is StepEnd.CUT for node in steps)
        if cut and not any(self.delimiter in node.text for node in steps):
            reason += f"; the step delimiter {self.delimiter!r} never occurred (steps were cut at step_tokens)"
        return reason

    async def _choose(self, leaves: list[Node], candidates: list[Candidate], answers: list[str | None]) -> int:
        from reasoner.strategies.self_consistency import vote_answers

        scores = [self.path_score(node) * node.copies for node in leaves]
        best = max(range(len(leaves)), key=lambda i: self.rank(leaves[i]))
        if self.options.answer == "score":
            return best
        vote = await vote_answers(self.problem, answers, candidates, self.ctx, scores=scores)
        return best if vote.winner is None else vote.winner

    async def _generate(self, node: Node, n: int, sampling: SamplingConfig) -> list[Candidate]:
        if self.refused:
            return []
        prefix = {"prefix": self.tree.text(node)} if self.tree.text_only else {"prefix_ids": self.tree.token_ids(node)}
        request = GenerationRequest(prompt=self.problem.prompt, n=n, sampling=sampling, **prefix)
        candidates = await self.ctx.meter.generate(request)
        if not candidates:
            self.refused = True
        return candidates

    def _sampling(self, max_tokens: int, stop: tuple[str, ...]) -> SamplingConfig:
        seed = None if self.ctx.seed is None else self.ctx.seed + self.calls
        self.calls += 1
        return SamplingConfig(temperature=self.options.temperature, top_p=self.options.top_p, max_tokens=max_tokens,
                              stop=stop, include_stop=bool(stop), seed=seed)

    def _parent_score(self, node: Node) -> float | None:
        parent = self.tree.nodes[node.parent] if node.parent is not None else None
        return None if parent is None else parent.score

    def _root_visits(self) -> int:
        """MCTS: the backups through the root (the sum of its children's visits); else its expansions."""
        root = self.tree.root
        return root.visits if root.backups else self.root_expansions


def _spellings(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Candidates grouped by their text, in first-seen order."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.text, []).append(candidate)
    return list(groups.values())
