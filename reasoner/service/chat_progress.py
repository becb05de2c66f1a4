"""Progress of a streamed chat completion: what each strategy run has completed, read off its trace events.

Every trace event a strategy records (a model call, a score, a PRM scoring, a
vote, a search step, the final search tree) becomes one progress chunk that
carries the run's running totals (`RunProgress`), so a client sees candidates
and search steps complete without knowing each strategy's event kinds. A
large event (a search tree holds every node's text) is summarised rather than
copied into the stream. The step-level searches also send a `nodes` event
as they score new nodes (never kept in the trace): it is streamed with each
node's place, score and step text (capped), so a client can grow the tree.

It is not the trace: the full trace stays in the strategy's `Result`. Within
one plain model call nothing is reported: the engine hands back a call's n
candidates together, so progress moves when a call completes. Strategies that
stream their candidates (DeepConf, adaptive self-consistency with `cancel`,
early rejection) record a `trace` event as each candidate ends, finished or
aborted, so progress moves with every candidate and counts the aborted ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from reasoner.strategies.search_tree import LIVE_TEXT_CHARS, NODES_EVENT
from reasoner.types import TraceEvent

MAX_DATA_CHARS = 2048
"""An event whose data is longer than this as JSON is streamed as its scalar fields only."""
STEP_EVENT = "step"
"""Kind of the event a step-level search may record once per round (its `depth` optional)."""


class RunProgress(BaseModel):
    """What one strategy run (one choice) has completed so far."""

    events: int = 0
    """Trace events recorded."""
    model_calls: int = 0
    """Model calls completed."""
    candidates: int = 0
    """Sequences generated: whole candidates, or single steps in a step-level search."""
    generated_tokens: int = 0
    """Tokens those sequences hold."""
    scored: int = 0
    """Candidates a scorer has ranked."""
    prm_calls: int = 0
    """PRM scorings completed (a candidate group, or a search's new steps)."""
    prm_tokens: int = 0
    """Tokens the PRM has read."""
    steps: int = 0
    """Search rounds completed (`step` events), or the search tree's depth once it is recorded."""
    traces_ended: int = 0
    """Streamed candidates that have ended (`trace` events), finished or aborted."""
    aborted: int = 0
    """Of those, the candidates the strategy aborted while they were generated."""
    aborted_tokens: int = 0
    """Tokens the aborted candidates had generated (computed, and counted in the usage)."""
    nodes: int = 0
    """Search tree nodes scored so far (`nodes` events)."""

    def update(self, event: TraceEvent) -> RunProgress:
        """Count `event` in; returns self."""
        self.events += 1
        count = _COUNTERS.get(event.kind)
        if count is not None:
            count(self, event.data)
        return self


def _generated(progress: RunProgress, data: dict[str, Any]) -> None:
    progress.model_calls += 1
    progress.candidates += int(data.get("n", 0))
    progress.generated_tokens += int(data.get("generated_tokens", 0))


def _scored(progress: RunProgress, data: dict[str, Any]) -> None:
    progress.scored += len(data.get("scores") or ())


def _prm(progress: RunProgress, data: dict[str, Any]) -> None:
    progress.prm_calls += 1
    progress.prm_tokens += int(data.get("tokens", 0))


def _step(progress: RunProgress, data: dict[str, Any]) -> None:
    progress.steps = max(progress.steps + 1, int(data.get("depth", 0)))


def _trace(progress: RunProgress, data: dict[str, Any]) -> None:
    progress.traces_ended += 1
    if data.get("finish") == "abort":
        progress.aborted += 1
        progress.aborted_tokens += int(data.get("tokens", 0))


def _tree(progress: RunProgress, data: dict[str, Any]) -> None:
    depth = max((int(node.get("depth", 0)) for node in data.get("nodes") or ()), default=0)
    progress.steps = max(progress.steps, depth)


def _nodes(progress: RunProgress, data: dict[str, Any]) -> None:
    progress.nodes += len(data.get("nodes") or ())


_COUNTERS: dict[str, Callable[[RunProgress, dict[str, Any]], None]] = {
    "generate": _generated, "score": _scored, "prm": _prm, STEP_EVENT: _step, "tree": _tree, "trace": _trace,
    NODES_EVENT: _nodes}
"""How each known event kind moves the totals; any other kind counts as an event only."""


def brief(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data, JSON-safe; when long, its scalar fields only, with the names of those left out."""
    safe = json.loads(json.dumps(data, default=str))
    if len(json.dumps(safe)) <= MAX_DATA_CHARS:
        return safe
    kept = {key: value for key, value in safe.items()
            if isinstance(value, (bool, int, float, type(None))) or (isinstance(value, str) and len(value) <= 200)}
    return {**kept, "omitted": sorted(set(safe) - set(kept))}


LIVE_FIELDS = ("id", "parent", "depth", "text", "cut", "score", "visits", "finished", "pruned", "rollout", "copies")
"""What a streamed `nodes` event keeps of each node."""


def event_data(event: TraceEvent) -> dict[str, Any]:
    """What a progress chunk carries of `event`: a `nodes` event's nodes (known fields, text capped), else `brief`."""
    if event.kind != NODES_EVENT:
        return brief(event.data)
    nodes = json.loads(json.dumps(event.data.get("nodes") or [], default=str))
    return {"nodes": [{**{key: node.get(key) for key in LIVE_FIELDS},
                       "text": str(node.get("text") or "")[:LIVE_TEXT_CHARS]} for node in nodes]}
