"""Progress totals read off trace events, and how a large event is cut down for the stream."""

from __future__ import annotations

import json

from reasoner.service.chat_progress import LIVE_FIELDS, MAX_DATA_CHARS, RunProgress, brief, event_data
from reasoner.strategies.search_tree import LIVE_TEXT_CHARS
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
                                     "scored": 3, "prm_calls": 2, "prm_tokens": 200, "steps": 2,
                                     "traces_ended": 0, "aborted": 0, "aborted_tokens": 0, "nodes": 0}


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


def test_streamed_candidates_count_as_they_end_and_aborted_ones_apart():
    progress = RunProgress()
    for event in [TraceEvent(kind="trace", data={"index": 0, "tokens": 30, "finish": "stop"}),
                  TraceEvent(kind="trace", data={"index": 2, "tokens": 7, "finish": "abort",
                                                 "stopped": {"reason": "low_confidence"}}),
                  TraceEvent(kind="trace", data={"index": 1, "tokens": 5, "finish": "abort",
                                                 "stopped": {"reason": "consensus"}}),
                  TraceEvent(kind="generate", data={"n": 3, "generated_tokens": 42, "aborted_tokens": 12})]:
        progress.update(event)
    assert (progress.traces_ended, progress.aborted, progress.aborted_tokens) == (3, 2, 12)
    assert (progress.model_calls, progress.candidates, progress.generated_tokens) == (1, 3, 42)


def test_a_searchs_new_nodes_are_streamed_whole_with_their_text_capped():
    """A `nodes` event is not cut to its scalars like other large events: every node keeps its place, score and
    (capped) text, and nothing but the known fields."""
    nodes = [{"id": i, "parent": max(i - 1, 0), "depth": i, "text": "<b>step</b> " * 200, "score": 0.5, "visits": 1,
              "finished": False, "pruned": False, "rollout": False, "copies": 1, "cut": True,
              "token_ids": list(range(500)), "secret": "x"} for i in range(1, 17)]
    event = TraceEvent(kind="nodes", data={"nodes": nodes})
    sent = event_data(event)
    assert [(n["id"], n["parent"], n["depth"], n["score"]) for n in sent["nodes"]] == \
        [(n["id"], n["parent"], n["depth"], n["score"]) for n in nodes]
    assert all(set(n) == set(LIVE_FIELDS) and n["text"] == nodes[0]["text"][:LIVE_TEXT_CHARS] for n in sent["nodes"])
    assert len(json.dumps(sent)) < len(nodes) * (LIVE_TEXT_CHARS + 300)
    assert RunProgress().update(event).update(event).nodes == 32
    assert brief(event.data)["omitted"] == ["nodes"]  # what it would have been as an ordinary event
