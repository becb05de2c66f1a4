"""Every registered strategy runs on the real engine and returns a well-formed, costed result."""

from __future__ import annotations

import asyncio

import pytest

from reasoner.errors import ConfigError
from reasoner.jobs.solve import solve_problem
from reasoner.types import Budget, Problem
from reasoner.strategies import STRATEGIES, make_strategy

PROBLEM = Problem(id="p", prompt="Ann has 3 pens and buys 4 more. How many pens?", answer="7",
                  metadata={"level": 1})


def solve(engine, verifiers, strategy, budget=None, seed=0):
    return asyncio.run(solve_problem(PROBLEM, strategy, engine, verifiers, budget, seed))


@pytest.mark.parametrize(("name", "options", "samples", "calls"), [
    ("cot", {"max_tokens": 16}, 1, 1),
    ("self_consistency", {"n": 4, "max_tokens": 16}, 4, 1),
    ("best_of_n", {"n": 3, "max_tokens": 16}, 3, 1),
    ("revision", {"chains": 2, "revisions": 1, "max_tokens": 16}, 4, 4),
    ("adaptive_consistency", {"max_n": 4, "batch": 4, "max_tokens": 16}, 4, 1),
])
def test_strategy_books_its_cost(engine, verifiers, name, options, samples, calls):
    result = solve(engine, verifiers, make_strategy(name, **options))
    assert len(result.candidates) == samples
    assert result.cost.samples == samples and result.cost.model_calls == calls
    assert result.cost.generated_tokens == sum(c.num_tokens for c in result.candidates)
    cost, per_token = result.cost, 2 * engine.info.parameters
    if calls == 1:  # a first call reuses nothing of its own: its whole prompt is charged, cached or not
        assert cost.flops == pytest.approx(per_token * (cost.prompt_tokens + cost.generated_tokens))
    else:  # later calls may reuse what earlier ones computed (revision chains share the question)
        assert per_token * (cost.computed_prompt_tokens + cost.generated_tokens) <= cost.flops
        assert cost.flops <= per_token * (cost.prompt_tokens + cost.generated_tokens)
    assert result.verdict is not None and result.verdict.score is not None


def test_same_seed_same_result(engine, verifiers):
    strategy = make_strategy("self_consistency", n=3, max_tokens=12)
    first = solve(engine, verifiers, strategy, seed=5)
    second = solve(engine, verifiers, strategy, seed=5)
    assert [c.text for c in first.candidates] == [c.text for c in second.candidates]


def test_sample_cap_is_never_exceeded(engine, verifiers):
    strategy = make_strategy("self_consistency", n=8, max_tokens=8)
    result = solve(engine, verifiers, strategy, budget=Budget(samples=3))
    assert len(result.candidates) == 3 and result.stop_reason == "budget:samples"


def test_token_cap_is_never_exceeded(engine, verifiers):
    strategy = make_strategy("self_consistency", n=4, max_tokens=16)
    result = solve(engine, verifiers, strategy, budget=Budget(generated_tokens=20))
    assert result.cost.generated_tokens <= 20
    assert all(c.num_tokens <= 5 for c in result.candidates)


def test_registry_lists_strategies_and_accepts_module_paths():
    assert {"cot", "self_consistency", "best_of_n", "revision", "adaptive_consistency"} <= set(STRATEGIES.names())
    assert type(make_strategy("reasoner.strategies.cot:ChainOfThought")).name == "cot"


def test_unknown_strategy_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        make_strategy("nope")
    with pytest.raises(ConfigError, match="strategy 'cot' has no option 'n'") as refused:
        make_strategy("cot", n=4)
    assert refused.value.field == "n"
