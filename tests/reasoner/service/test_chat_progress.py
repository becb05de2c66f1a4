"""Progress totals read off trace events, and how a large event is cut down for the stream."""

from __future__ import annotations

import json

from reasoner.service.chat_progress import MAX_DATA_CHARS, RunProgress, brief
from reasoner.types import TraceEvent


def test_totals_follow_calls_scores_prm_and_steps():
    progress = RunProgress()
    for event in [TraceEvent(kind="generate", data={"n": 4, "generated_tokens": 30}),
                  TraceEvent(kind="prm", data={"tokens": 120}),
                  TraceEvent(kind="step", data={}),
                  TraceEvent(kind="generate", data={"n": 4, "generated_tokens": 10}),
                  TraceEvent(kind="prm", data={"tokens": 80}),
                  TraceEvent(kind="step", data={"depth": 2}),
                  TraceEvent(kind="score", data={"scores": [0.1, 0.2, 0.3]}),
                  TraceEvent(kind="vote", data={"groups": {}})]:
        progress.update(event)
    assert progress.model_dump() == {"events": 8, "model_calls": 2, "candidates": 8, "generated_tokens": 40,
                                     "scored": 3, "prm_calls": 2, "prm_tokens": 200, "steps": 2}


def test_a_search_tree_gives_its_depth_as_steps():
    nodes = [{"id": 0, "parent": None, "depth": 0}, {"id": 1, "parent": 0, "depth": 1},
             {"id": 2, "parent": 1, "depth": 2}, {"id": 3, "parent": 2, "depth": 3}]
    progress = RunProgress(steps=1).update(TraceEvent(kind="tree", data={"nodes": nodes}))
    assert progress.steps == 3


def test_a_large_event_is_streamed_as_its_scalar_fields():
    nodes = [{"id": i, "text": "step text " * 20} for i in range(100)]
    data = {"value_source": "prm:tiny-prm", "delimiter": "\n", "chosen": 7, "nodes": nodes}
    short = brief(data)
    assert short == {"value_source": "prm:tiny-prm", "delimiter": "\n", "chosen": 7, "omitted": ["nodes"]}
    small = {"groups": {"0": [0, 2]}, "weights": {"0": 2.0}}
    assert brief(small) == small and len(json.dumps(data)) > MAX_DATA_CHARS
