"""A search's `nodes` progress events: every node of the final tree is sent to the meter's listener once, as it
is scored, under its parent with its step text capped, and none of it goes into the trace.

The steps come from `ScriptedGenerator` (the subject is what the search reports, not what the model says; the
same check runs through the service on the real engine in `tests/reasoner/service/test_chat.py`).
"""

from __future__ import annotations

import pytest

from reasoner.engine.runtime import run_sync
from reasoner.jobs.solve import solve_problem
from reasoner.strategies import STRATEGIES
from reasoner.strategies.search_tree import LIVE_TEXT_CHARS, NODES_EVENT
from reasoner.types import Problem
from tests.scripted import ScriptedGenerator

SEARCHES = {"beam_search": {"n": 4, "width": 2}, "dvts": {"n": 4, "width": 2}, "particle_filter": {"n": 3},
            "mcts": {"n": 3, "width": 2, "depth": 2, "rollout_tokens": 8}}
STEPS = ["1 + 1 = 2\n", "two\n", "x" * (3 * LIVE_TEXT_CHARS) + "\n", "so \\boxed{2}"]


@pytest.mark.parametrize("name", list(SEARCHES))
def test_every_node_is_sent_once_as_it_is_scored_and_not_traced(name):
    from reasoner.verifiers import VerifierSet

    strategy = STRATEGIES.get(name)(value="logprob", max_steps=3, step_tokens=8, **SEARCHES[name])
    events = []
    with VerifierSet() as verifiers:
        result = run_sync(solve_problem(Problem(id="arith-test-00001", prompt="What is 1 + 1?", answer="2"), strategy,
                                        ScriptedGenerator(STEPS), verifiers, seed=1, listener=events.append))
    assert result.error is None
    live = [node for event in events if event.kind == NODES_EVENT for node in event.data["nodes"]]
    tree = next(event for event in result.trace if event.kind == "tree").data["nodes"]
    assert sorted(node["id"] for node in live) == [node["id"] for node in tree[1:]]  # each node but the root, once
    for node in live:
        final = tree[node["id"]]
        assert (node["parent"], node["depth"]) == (final["parent"], final["depth"])
        assert node["text"] == final["text"][:LIVE_TEXT_CHARS] and node["cut"] == (len(final["text"]) > LIVE_TEXT_CHARS)
    if name != "mcts":  # (this small MCTS never draws the long step)
        assert any(node["cut"] for node in live)  # the long step was cut to the cap
    assert all(event.kind != NODES_EVENT for event in result.trace)
    assert [event.kind for event in events if event.kind != NODES_EVENT] == [event.kind for event in result.trace]
