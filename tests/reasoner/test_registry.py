"""The one rule for names: registered names for untrusted callers, `module:Class` for the API and the CLI."""

from __future__ import annotations

import pytest

from reasoner.errors import ConfigError
from reasoner.registry import Registry, UnknownNameError, check_names, registered_names_only
from reasoner.strategies import ROUTERS, STRATEGIES, build_strategy, make_strategy

HOSTILE = ["os:system", "json:loads", "nosuchmod:x", "/etc/passwd", "../../etc/passwd", "", ":", 7, None]


def test_the_api_keeps_module_class_paths():
    registry = Registry("thing", {"known": "json:dumps"})
    assert registry.get("json:loads")("[1]") == [1]
    assert make_strategy("tests.slow_strategy:Slow").name == "slow"


@pytest.mark.parametrize("name", [n for n in HOSTILE if n is not None])
def test_registered_only_refuses_everything_unregistered_with_the_same_words(name):
    registry = Registry("thing", {"known": "json:dumps"})
    with pytest.raises(UnknownNameError) as caught:
        registry.get(name, registered_only=True)
    assert str(caught.value) == str(registry.unknown(name))
    assert registry.get("known", registered_only=True)("x") == '"x"'


def test_inside_the_guard_every_lookup_refuses_paths():
    with registered_names_only(), pytest.raises(UnknownNameError):
        STRATEGIES.get("tests.slow_strategy:Slow")
    assert STRATEGIES.get("tests.slow_strategy:Slow").name == "slow"  # outside it, the escape hatch is back


@pytest.mark.parametrize("options,field", [
    ({"scorer": "os:system"}, "scorer"), ({"weight_scorer": "json:loads"}, "weight_scorer"),
    ({"scorer_options": {"prm": "/tmp"}}, "scorer_options.prm"), ({"router": "/etc/passwd"}, "router"),
    ({"value": "os:system"}, "value"), ({"nested": [{"strategies": "cot,os:system"}]}, "nested.0.strategies"),
    ({"strategy": ["cot", {"x": 1}]}, "strategy"),
])
def test_check_names_finds_a_name_at_any_depth(options, field):
    from reasoner.strategies import client_names

    with pytest.raises(UnknownNameError) as caught:
        check_names(options, client_names())
    assert caught.value.field == field


def test_build_strategy_for_clients_refuses_paths_and_names_the_field():
    with pytest.raises(ConfigError) as caught:
        build_strategy("best_of_n", {"n": 1, "scorer": "os:system", "scorer_options": {"command": "true"}},
                       registered_only=True)
    assert caught.value.field == "scorer"
    with pytest.raises(ConfigError) as caught:
        build_strategy("tests.slow_strategy:Slow", {}, registered_only=True)
    assert caught.value.field == "strategy"
    with pytest.raises(ConfigError) as caught:
        build_strategy("cot", {"beams": 2}, registered_only=True)
    assert caught.value.field == "beams"
    assert build_strategy("self_consistency", {"n": 2}, registered_only=True).n == 2


def test_a_router_name_becomes_the_operators_file(tmp_path):
    ROUTERS.register("test-router-name", str(tmp_path / "router.json"))
    with pytest.raises(ConfigError) as caught:  # no file there: the strategy was handed the operator's path
        build_strategy("router", {"router": "test-router-name"}, registered_only=True)
    assert str(tmp_path / "router.json") in str(caught.value)
    assert isinstance(caught.value, ConfigError)
