"""Step-level search strategies on the session's vLLM engine: budgets, trees, batching, bad input, resume.

The session checkpoint is random, so its steps are noise; these tests are
about the machinery (what is spent, what is recorded, what is refused), not
about accuracy (`test_search_tiny.py` measures that on bundled `tiny`).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from reasoner.cli import main
from reasoner.verifiers.prm import PRMSet
from reasoner.engine.runtime import run_sync
from reasoner.errors import ConfigError
from reasoner.jobs import JobConfig, read_records, run_job
from reasoner.jobs.pool import LocalPool
from reasoner.jobs.solve import solve_problem
from reasoner.types import Budget, Problem, Result
from reasoner.strategies import make_strategy
from tests.verifiers.test_prm import make_prm

FIXTURES = Path(__file__).parent.parent / "fixtures"
PROBLEMS = [Problem(id=f"s{i}", prompt=f"Ann has {i} pens and buys {i + 2} more. How many pens does she have?",
                    answer=str(2 * i + 2)) for i in range(8)]
SMALL = {"max_steps": 4, "step_tokens": 6}
CASES = {
    "beam_search": {"n": 4, "width": 2},
    "dvts": {"n": 4, "width": 2},
    "particle_filter": {"n": 4},
    "mcts": {"n": 4, "width": 2, "depth": 3, "rollout_tokens": 12},
}


@pytest.fixture(scope="module")
def checkpoint_prm(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> str:
    """An untrained PRM on the session checkpoint's tokenizer (wiring, not quality)."""
    return str(make_prm(tmp_path_factory.mktemp("search-prm"), tiny_checkpoint))


PRMS = PRMSet()
"""The PRMs these tests' searches score with, loaded once for the module (as a pool holds them)."""


def search(name: str, prm: str | None, **options):
    value = {"value": "prm", "prm": prm} if prm else {"value": "logprob"}
    return make_strategy(name, **{**CASES[name], **SMALL, **value, **options})


def solve(strategy, engine, verifiers, problem: Problem = PROBLEMS[0], budget: Budget | None = None) -> Result:
    return run_sync(solve_problem(problem, strategy, engine, verifiers, budget=budget, seed=3, prms=PRMS))


def tree_of(result: Result) -> dict:
    (event,) = [e for e in result.trace if e.kind == "tree"]
    assert result.trace[-1] is event
    return event.data


def path_text(tree: dict, node_id: int) -> str:
    nodes, texts = tree["nodes"], []
    while nodes[node_id]["parent"] is not None:
        texts.append(nodes[node_id]["text"])
        node_id = nodes[node_id]["parent"]
    return "".join(reversed(texts))


@pytest.mark.parametrize("name", list(CASES))
# Each cap is well under what the search spends without one (FLOPs: 0.98e8-1.27e8 with the PRM on its vLLM
# engine, which charges a prefix its cache served once), so each search must stop by its budget.
@pytest.mark.parametrize("cap", [{"generated_tokens": 30}, {"samples": 5}, {"flops": 6e7}])
def test_each_search_stays_within_its_budget(name, cap, engine, verifiers, checkpoint_prm):
    result = solve(search(name, checkpoint_prm), engine, verifiers, budget=Budget(**cap))
    cost = result.cost
    assert result.error is None
    assert cost.generated_tokens <= cap.get("generated_tokens", cost.generated_tokens)
    assert cost.samples <= cap.get("samples", cost.samples)
    assert cost.total_flops <= cap.get("flops", cost.total_flops)
    assert cost.prm_tokens > 0
    assert result.stop_reason.startswith("budget:"), result.stop_reason


@pytest.mark.parametrize("name", list(CASES))
def test_the_recorded_tree_is_consistent(name, engine, verifiers, checkpoint_prm):
    result = solve(search(name, checkpoint_prm), engine, verifiers)
    tree = tree_of(result)
    nodes = tree["nodes"]
    assert tree["value_source"] == f"prm:{checkpoint_prm}" and tree["delimiter"] == "\n"
    assert nodes[0]["parent"] is None and nodes[0]["text"] == "" and nodes[0]["depth"] == 0
    parents = {}
    for node in nodes:
        for child in node["children"]:
            assert nodes[child]["parent"] == node["id"] and nodes[child]["depth"] == node["depth"] + 1
            parents[child] = parents.get(child, 0) + 1
    assert [n["id"] for n in nodes] == list(range(len(nodes))) and parents == {i: 1 for i in range(1, len(nodes))}
    assert all(0.0 <= n["score"] <= 1.0 for n in nodes[1:] if n["score"] is not None)
    assert tree["chosen"] is not None and result.chosen is not None
    assert result.candidates[result.chosen].text == path_text(tree, tree["chosen"])
    leaf_texts = {path_text(tree, n["id"]) for n in nodes if not n["pruned"]}
    assert all(c.text in leaf_texts for c in result.candidates)
    assert max(n["depth"] for n in nodes if not n["rollout"]) <= SMALL["max_steps"]
    if name == "mcts":
        inner = [n for n in nodes if n["children"] and not n["finished"] and not n["rollout"]]
        assert all(n["visits"] == sum(nodes[c]["visits"] for c in n["children"]) for n in inner)
        assert 1 <= nodes[0]["visits"] <= CASES["mcts"]["n"]
    else:
        assert all(n["visits"] >= 1 for n in nodes)


def test_prm_scoring_of_many_problems_shares_forward_passes(engine, verifiers, checkpoint_prm):
    """The torch runner's micro-batcher (the vLLM runner's batching is vLLM's scheduler)."""
    from reasoner.verifiers.prm import PRMSet, PRMSettings

    prms = PRMSet(default=PRMSettings(runner="torch"))
    prm = prms.get([checkpoint_prm])[checkpoint_prm]
    strategy = search("beam_search", checkpoint_prm)
    before = prm.forward_calls

    async def many():
        return await asyncio.gather(*(solve_problem(p, strategy, engine, verifiers, seed=1, prms=prms)
                                      for p in PROBLEMS))

    results = run_sync(many())
    requests = sum(1 for r in results for e in r.trace if e.kind == "prm")
    assert all(r.error is None for r in results) and requests >= 2 * len(PROBLEMS)
    assert prm.forward_calls - before < requests / 2


def test_a_delimiter_that_never_occurs_ends_at_the_step_cap_and_says_so(engine, verifiers):
    strategy = search("beam_search", None, delimiter="@@never@@", max_steps=3, step_tokens=4)
    result = solve(strategy, engine, verifiers)
    depths = [n["depth"] for n in tree_of(result)["nodes"]]
    assert max(depths) == 3
    assert result.stop_reason == "max_steps; the step delimiter '@@never@@' never occurred (steps were cut at " \
                                 "step_tokens)"
    assert result.cost.generated_tokens <= 4 * 4 * 3


@pytest.mark.parametrize(("weights", "counts"), [([0.5, 0.25, 0.25], [4, 2, 2]), ([0.0, 1.0, 0.0], [0, 8, 0]),
                                                ([0.125] * 8, [1] * 8)])
def test_systematic_resampling_draws_each_particle_in_proportion_to_its_weight(weights, counts):
    import random
    from collections import Counter

    from reasoner.strategies.particle_filter import systematic

    for seed in range(20):
        drawn = Counter(systematic(weights, 8, random.Random(seed)))
        assert [drawn[i] for i in range(len(weights))] == counts


@pytest.mark.parametrize("name", ["beam_search", "dvts"])
def test_n_must_be_a_multiple_of_the_expansion_width(name):
    with pytest.raises(ConfigError, match="n=6 is not a multiple of the expansion width m=4"):
        make_strategy(name, n=6, m=4, value="oracle")


def test_a_delimiter_other_than_the_prms_is_refused():
    with pytest.raises(ConfigError, match=re.escape("the PRM 'tiny-prm' splits steps at '\\n', so a search with "
                                                    "delimiter '\\n\\n' would be scored on other steps")):
        make_strategy("beam_search", n=4, m=2, prm="tiny-prm", delimiter="\n\n")
    assert make_strategy("beam_search", n=4, m=2, prm="tiny-prm", delimiter="\n").step_delimiter() == "\n"


@pytest.mark.parametrize(("extra", "message"), [
    ([], "--prm NAME_OR_FOLDER"),
    (["--prm", "ABSENT"], "no model folder at"),
    (["--n", "6", "--option", "m=4", "--prm", "tiny-prm"], "n=6 is not a multiple of the expansion width m=4"),
])
def test_bad_search_options_fail_before_any_work(extra, message, tmp_path, capsys):
    extra = [str(tmp_path / "absent") if e == "ABSENT" else e for e in extra]
    out = tmp_path / "out.jsonl"
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--strategy", "beam_search", *extra,
                 "--out", str(out)])
    assert code == 2  # a bad option, like argparse's usage errors
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_search_from_the_command_line(engine, tiny_checkpoint, checkpoint_prm, tmp_path):
    out = tmp_path / "results.jsonl"
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tiny_checkpoint),
                 "--strategy", "beam_search", "--n", "4", "--option", "m=2", "--prm", checkpoint_prm,
                 "--aggregation", "min", "--option", "max_steps=2", "--option", "step_tokens=4", "--out", str(out)])
    assert code == 0
    records = read_records(out)
    assert len(records) == 2 and all(r["error"] is None and r["cost"]["prm_tokens"] > 0 for r in records)
    drawing = tmp_path / "tree.html"
    assert main(["tree", str(out), "--problem", "p1", "--out", str(drawing)]) == 0  # the record's tree reads back
    assert drawing.stat().st_size > 0


def test_search_from_python(engine, verifiers):
    from reasoner.api import Reasoner

    reasoner = Reasoner(generator=engine, verifiers=verifiers)
    result = reasoner.solve(PROBLEMS[1], "dvts", n=2, m=2, value="oracle", max_steps=2, step_tokens=4)
    assert result.error is None and tree_of(result)["value_source"] == "oracle"
    assert result.candidates and result.stop_reason in {"done", "max_steps"}


def test_an_interrupted_search_job_resumes_every_problem_exactly_once(engine, verifiers, tmp_path):
    config = JobConfig(dataset="t", strategy="beam_search",
                       strategy_options={**CASES["beam_search"], **SMALL, "value": "logprob"})
    out = tmp_path / "search.jsonl"

    async def interrupted():
        job = asyncio.ensure_future(run_job(config, PROBLEMS, LocalPool(engine, verifiers, concurrency=2), out=out,
                                            progress=False))
        while not out.exists() or len(read_records(out)) < 3:
            await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    run_sync(interrupted())
    partial = [r["problem_id"] for r in read_records(out)]
    assert 3 <= len(partial) < len(PROBLEMS)
    summary = run_sync(run_job(config, PROBLEMS, LocalPool(engine, verifiers), out=out, progress=False))
    ids = [r["problem_id"] for r in read_records(out)]
    assert sorted(ids) == sorted(p.id for p in PROBLEMS) and ids[:len(partial)] == partial
    assert summary.problems == len(PROBLEMS)
    assert all(json.loads(line) for line in out.read_text().splitlines())


GREEDY = {"temperature": 1.0, "top_p": 1e-6}
"""Greedy steps with n > 1 (vLLM refuses n > 1 at temperature 0): the nucleus keeps only the top token."""


def _children(tree: dict, node_id: int) -> list[dict]:
    return [tree["nodes"][i] for i in tree["nodes"][node_id]["children"] if not tree["nodes"][i]["rollout"]]


@pytest.mark.parametrize("name", list(CASES))
def test_children_that_spell_the_same_step_are_one_node_scored_once(name, engine, verifiers, checkpoint_prm):
    # greedy steps: every sample of one node spells the same step, so each expansion draws only copies
    merged = tree_of(solve(search(name, checkpoint_prm, **GREEDY, distinct_retries=0), engine, verifiers))
    plain = tree_of(solve(search(name, checkpoint_prm, **GREEDY, merge_copies=False), engine, verifiers))
    for tree in (merged, plain):
        assert tree["expansion"]["first_copies"] > 0
    # DVTS expands the root once per subtree (N/M independent subtrees, by design), every other node once;
    # beam search's root is its only beam and draws all N, MCTS draws M per expansion, the particle filter N.
    case = CASES[name]
    subtrees = case["n"] // case["width"] if name == "dvts" else 1
    per_expansion = case["n"] if name in ("beam_search", "particle_filter") else case["width"]
    for node in merged["nodes"]:
        if node["id"] == 0 and subtrees > 1:
            continue
        texts = [child["text"] for child in _children(merged, node["id"])]
        assert len(texts) == len(set(texts))
    root_children = _children(merged, 0)
    assert len(root_children) == subtrees and all(child["copies"] == per_expansion for child in root_children)
    assert merged["expansion"]["scored_copies"] == 0 and plain["expansion"]["scored_copies"] > 0
    assert merged["expansion"]["children"] < plain["expansion"]["children"]
    assert len({child["text"] for child in _children(plain, 0)}) == 1 < len(_children(plain, 0))


def test_an_expansion_asks_again_for_the_distinct_children_it_lacks(engine, verifiers, checkpoint_prm):
    strategy = search("beam_search", checkpoint_prm, **GREEDY, distinct_retries=1, max_steps=1)
    tree = tree_of(solve(strategy, engine, verifiers))
    (child,) = _children(tree, 0)
    assert tree["expansion"]["top_up_samples"] == CASES["beam_search"]["n"] - 1  # the greedy step came back again
    assert child["copies"] == 2 * CASES["beam_search"]["n"] - 1


def test_no_top_up_is_asked_under_a_capped_budget(engine, verifiers, checkpoint_prm):
    strategy = search("beam_search", checkpoint_prm, **GREEDY, distinct_retries=1)
    result = solve(strategy, engine, verifiers, budget=Budget(generated_tokens=1000))
    assert tree_of(result)["expansion"]["top_up_samples"] == 0


def test_merged_copies_count_in_the_weighted_vote(verifiers):
    from reasoner.strategies.beam_search import BeamSearch
    from tests.scripted import ScriptedGenerator

    problem = Problem(id="v", prompt="1 + 1?", answer="2")
    # one request of 3: "1" once, then "2" twice; equal log-probs, so value=logprob scores them alike and,
    # counted once each, the tie would go to the first seen ("1")
    generator = ScriptedGenerator(["The answer is \\boxed{1}.", "The answer is \\boxed{2}.", "The answer is \\boxed{2}."])
    result = asyncio.run(solve_problem(problem, BeamSearch(n=3, width=3, value="logprob", distinct_retries=0),
                                       generator, verifiers))
    assert len(result.candidates) == 2 and result.answer == "2"
