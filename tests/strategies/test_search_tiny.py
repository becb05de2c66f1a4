"""Step-level search on bundled `tiny` (real arithmetic steps): token-space continuation and the oracle's gain.

On the strategy tests' shared `tiny` engine (tests/strategies/conftest.py); every test here takes seconds once it
runs.
"""

from __future__ import annotations

from reasoner.budget import Meter
from reasoner.engine.generation import GenerationRequest
from reasoner.engine.runtime import run_sync
from reasoner.tasks import load_task
from reasoner.types import SamplingConfig
from reasoner.strategies import make_strategy
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search import Search, SearchOptions
from reasoner.strategies.search_tree import StepEnd

LONG = next(p for p in load_task("arith", "train", n=40, seed=7) if p.id == "arith-train-s7-000004")
"""A level-5 train problem that `tiny` answers greedily in five computation lines (73 tokens)."""


def ten_greedy_steps(engine, verifiers, delimiter: str, step_tokens: int):
    """A greedy path of ten steps, each continuing the last from its token ids."""
    options = SearchOptions(value="logprob", temperature=0.0, delimiter=delimiter, step_tokens=step_tokens,
                            max_steps=10)
    search = Search(options, LONG, SolveContext(meter=Meter(engine), verifiers=verifiers, seed=0))
    node = search.tree.root
    for _ in range(10):
        assert not node.finished
        (node,) = run_sync(search.expand(node, 1))
    return search, node


def test_ten_steps_in_token_space_spell_one_uninterrupted_generation(tiny_engine, verifiers):
    """Steps end at `=` or at a 3-token cap; their texts and ids, joined, are one greedy generation's."""
    search, leaf = ten_greedy_steps(tiny_engine, verifiers, delimiter="=", step_tokens=3)
    steps = search.tree.path(leaf)
    assert len(steps) == 10 and {StepEnd.STEP, StepEnd.CUT} <= {step.end for step in steps}
    tokens = sum(step.num_tokens for step in steps)
    whole = run_sync(tiny_engine.generate(GenerationRequest(
        prompt=LONG.prompt, sampling=SamplingConfig(temperature=0.0, max_tokens=tokens)))).candidates[0]
    assert search.tree.token_ids(leaf) == tuple(whole.token_ids)
    assert search.tree.text(leaf) == whole.text


def test_a_delimiter_ending_inside_a_token_loses_no_characters(tiny_engine, verifiers):
    """With a space as the delimiter, steps stop inside tokens such as ` answer`; the ids a step hands on
    still spell exactly the text of the steps so far, so nothing is dropped or repeated."""
    search, leaf = ten_greedy_steps(tiny_engine, verifiers, delimiter=" ", step_tokens=8)
    steps = search.tree.path(leaf)
    assert sum(step.end is StepEnd.STEP for step in steps) >= 8
    tokenizer = tiny_engine.formatter.tokenizer
    assert tokenizer.decode(list(search.tree.token_ids(leaf))) == search.tree.text(leaf)
    assert all(step.text.endswith(" ") for step in steps if step.end is StepEnd.STEP)


def test_beam_search_with_the_oracle_is_at_least_as_accurate_as_best_of_n(tiny_engine, verifiers):
    """At N=4 on 16 fixed train-split problems of levels 2-4, over three seeds."""
    from reasoner.api import Reasoner

    problems = [p for p in load_task("arith", "train", n=60, seed=7) if 2 <= p.level <= 4][:16]
    reasoner = Reasoner(generator=tiny_engine, verifiers=verifiers)
    beam = make_strategy("beam_search", n=4, m=2, value="oracle")
    best_of_n = make_strategy("best_of_n", n=4, scorer="logprob")
    correct = {"beam": 0, "best_of_n": 0}
    for seed in (0, 1, 2):
        for name, strategy in (("beam", beam), ("best_of_n", best_of_n)):
            correct[name] += sum(bool(r.correct) for r in reasoner.solve_many(problems, strategy, seed=seed))
    assert correct["beam"] >= correct["best_of_n"] > 0, correct
