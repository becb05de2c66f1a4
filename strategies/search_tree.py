"""The search tree the step-level strategies share, and its trace record.

A `Node` is one generated step (the root is the empty prefix). Its full text
is the concatenation of the steps on its path; its model input is the
concatenation of their token ids, so a search continues in token space and
nothing is re-tokenized at a step boundary. `Tree.trace_data` writes the
tree in the agreed trace format (see `TREE_EVENT`), which `reasoner tree` reads.

This module does not generate, score or choose: `reasoner.strategies.search` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reasoner.types import Candidate, FinishReason

TREE_EVENT = "tree"
"""Kind of the one trace event a search result records last, holding its tree."""
NODES_EVENT = "nodes"
"""Kind of the progress event a search sends as it scores new nodes (to the meter's listener only: the trace
keeps the tree once, in its `tree` event), so a live view can grow the tree."""
LIVE_TEXT_CHARS = 400
"""Most characters of a step's text a `nodes` event carries (the `tree` event has it whole)."""


class StepEnd(str, Enum):
    """How a generated step ended."""

    STEP = "step"
    """At the step delimiter: the solution goes on."""
    FINISHED = "finished"
    """At the end of sequence or with a final answer."""
    CUT = "cut"
    """At the step's token cap, without a delimiter: the solution goes on from mid-step."""


@dataclass
class Node:
    """One step of a partial solution, with what the search learned about it."""

    id: int
    parent: int | None
    depth: int
    text: str = ""
    """This step's text, delimiter included when it ended at one."""
    token_ids: tuple[int, ...] = ()
    """This step's generated token ids."""
    num_tokens: int = 0
    """Tokens generated for this step."""
    logprob: float | None = None
    """Sum of this step's token log-probabilities."""
    end: StepEnd = StepEnd.STEP
    score: float | None = None
    """The value source's score of the prefix ending at this step."""
    visits: int = 0
    backups: int = 0
    """Values backed up through this node (MCTS)."""
    value_sum: float = 0.0
    children: list[int] = field(default_factory=list)
    pruned: bool = False
    rollout: bool = False
    """A simulation to the end of the solution (MCTS), not a single step."""
    prior: float = 1.0
    """The policy's prior among its siblings (MCTS)."""
    copies: int = 1
    """Samples that spelled this step: siblings with the same text are merged into one node, their count kept."""

    @property
    def finished(self) -> bool:
        return self.end is StepEnd.FINISHED

    @property
    def mean_logprob(self) -> float | None:
        return None if self.logprob is None or not self.num_tokens else self.logprob / self.num_tokens

    @property
    def value(self) -> float | None:
        """Mean backed-up value when visited by backups (MCTS), else the score."""
        return self.value_sum / self.backups if self.backups else self.score


class Tree:
    """The nodes of one problem's search, root first."""

    def __init__(self) -> None:
        self.nodes: list[Node] = [Node(id=0, parent=None, depth=0)]
        self.text_only = False
        """Set when a backend returned no token ids: prefixes then go back as text."""

    @property
    def root(self) -> Node:
        return self.nodes[0]

    def add(self, parent: Node, candidate: Candidate, end: StepEnd, rollout: bool = False, copies: int = 1) -> Node:
        """A child of `parent` holding one generated step (spelled by `copies` samples)."""
        if candidate.num_tokens and not candidate.token_ids:
            self.text_only = True
        node = Node(id=len(self.nodes), parent=parent.id, depth=parent.depth + 1, text=candidate.text,
                    token_ids=tuple(candidate.token_ids), num_tokens=candidate.num_tokens,
                    logprob=candidate.cumulative_logprob, end=end, rollout=rollout, copies=copies)
        self.nodes.append(node)
        parent.children.append(node.id)
        return node

    def path(self, node: Node) -> list[Node]:
        """The nodes from the root's first child down to `node`."""
        nodes = []
        while node.parent is not None:
            nodes.append(node)
            node = self.nodes[node.parent]
        return nodes[::-1]

    def text(self, node: Node) -> str:
        """The full solution text through `node`."""
        return "".join(step.text for step in self.path(node))

    def token_ids(self, node: Node) -> tuple[int, ...]:
        """The generated token ids through `node`: the model input after the prompt."""
        return tuple(token for step in self.path(node) for token in step.token_ids)

    def scores(self, node: Node) -> list[float]:
        """The step scores along the path to `node` (unscored steps left out)."""
        return [step.score for step in self.path(node) if step.score is not None]

    def mean_logprob(self, node: Node) -> float | None:
        """Mean token log-probability of the whole path."""
        steps = self.path(node)
        tokens = sum(step.num_tokens for step in steps)
        if not tokens or any(step.logprob is None for step in steps):
            return None
        return sum(step.logprob for step in steps) / tokens

    def candidate(self, node: Node) -> Candidate:
        """The path to `node` as one candidate solution."""
        steps = self.path(node)
        logprobs = [step.logprob for step in steps]
        return Candidate(text=self.text(node), token_ids=list(self.token_ids(node)),
                         num_tokens=sum(step.num_tokens for step in steps),
                         finish_reason=FinishReason.STOP if node.finished else FinishReason.LENGTH,
                         cumulative_logprob=None if None in logprobs else sum(logprobs))

    def trace_data(self, value_source: str, delimiter: str, chosen: Node | None, root_visits: int) -> dict[str, Any]:
        """The tree in the agreed trace format (one `tree` event per result)."""
        self.root.visits = root_visits
        return {"value_source": value_source, "delimiter": delimiter,
                "nodes": [_node_data(node) for node in self.nodes],
                "chosen": None if chosen is None else chosen.id}


def _node_data(node: Node) -> dict[str, Any]:
    return {"id": node.id, "parent": node.parent, "depth": node.depth, "text": node.text, "score": node.score,
            "visits": node.visits, "value": node.value, "children": list(node.children),
            "finished": node.finished, "pruned": node.pruned, "rollout": node.rollout,
            "tokens": node.num_tokens, "end": node.end.value, "copies": node.copies}


def live_node(node: Node) -> dict[str, Any]:
    """What a `nodes` progress event says of a newly scored node: its place, its step text (capped) and score."""
    return {"id": node.id, "parent": node.parent, "depth": node.depth, "text": node.text[:LIVE_TEXT_CHARS],
            "cut": len(node.text) > LIVE_TEXT_CHARS, "score": node.score, "visits": node.visits,
            "finished": node.finished, "pruned": node.pruned, "rollout": node.rollout, "copies": node.copies}
