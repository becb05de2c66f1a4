"""Option parsing for the CLI: `--option` values, sweep options by strategy, what a summary reports."""

from __future__ import annotations

import argparse

import pytest

from reasoner.cli_options import key_value, sweep_strategy_options, what_ran
from reasoner.errors import OptionError
from reasoner.strategies import make_strategy


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("n=8", ("n", 8)),
        ("temperature=0.5", ("temperature", 0.5)),
        ("weighted=true", ("weighted", True)),
        ("scorer=logprob", ("scorer", "logprob")),
        ('scorer="1"', ("scorer", "1")),
        ('stop=["\\n\\n"]', ("stop", ["\n\n"])),
        ("expr=a=b", ("expr", "a=b")),
        ("empty=", ("empty", "")),
    ],
)
def test_option_value_is_json_when_it_parses_else_a_string(text, pair):
    assert key_value(text) == pair


@pytest.mark.parametrize("text", ["novalue", "=3", " =3"])
def test_option_without_a_key_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected KEY=VALUE"):
        key_value(text)


def test_sweep_options_are_grouped_by_strategy_and_module_paths_work():
    pairs = [("best_of_n.scorer", "logprob"), ("self_consistency.weighted", True),
             ("best_of_n.temperature", 0.6), ("tests.slow_strategy:Slow.delay_s", 0.0)]
    assert sweep_strategy_options(pairs) == {
        "best_of_n": {"scorer": "logprob", "temperature": 0.6},
        "self_consistency": {"weighted": True},
        "tests.slow_strategy:Slow": {"delay_s": 0.0},
    }


def test_sweep_option_given_twice_is_refused():
    with pytest.raises(OptionError, match="--option best_of_n.n: given twice"):
        sweep_strategy_options([("best_of_n.n", 2), ("best_of_n.n", 4)])


@pytest.mark.parametrize(
    ("name", "options", "n"),
    [
        ("self_consistency", {}, 8),
        ("self_consistency", {"n": 3}, 3),
        ("best_of_n", {}, 8),
        ("adaptive_consistency", {}, 16),
        ("adaptive_consistency", {"n": 5}, 5),
        ("cot", {}, None),
        ("revision", {}, None),
    ],
)
def test_summary_reports_the_n_the_built_strategy_uses(name, options, n):
    ran = what_ran(make_strategy(name, **options))
    assert ran["n"] == n
    assert ran["options"]["max_tokens"] == 256
