"""The router strategy on the real engine: it pays for its probe, reuses the probe's samples, never
reads the reference, and refuses a file or budget it cannot honour. Router files are fitted from the
session's real dev-split sweep (`dev_sweep`), with verdicts edited where a test needs a winner."""

from __future__ import annotations

import asyncio
import json

import pytest

from reasoner.errors import ConfigError
from reasoner.eval.router_fit import fit_router, write_router
from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem
from reasoner.strategies import make_strategy
from tests.router_files import graded_copy

PROBLEM = Problem(id="r", prompt="Ann has 3 pens and buys 4 more. How many pens?", answer="7", metadata={"level": 1})
PROBE = 2


def solve(engine, verifiers, strategy, problem=PROBLEM):
    return asyncio.run(solve_problem(problem, strategy, engine, verifiers, seed=0))


@pytest.fixture(scope="module")
def cot_router(dev_sweep, tmp_path_factory):
    """A router file fitted where cot is right and every sample wrong: it routes every bin to cot."""
    folder = tmp_path_factory.mktemp("cot-router")
    sweep = graded_copy(dev_sweep, folder / "sweep", lambda p, i: False, cot_correct=True)
    write_router(fit_router(sweep, probe_samples=PROBE, bins=2), folder / "router.json")
    return folder / "router.json"


def events(result, kind):
    return [event.data for event in result.trace if event.kind == kind]


def test_the_result_costs_the_probe_plus_the_chosen_strategy(engine, verifiers, cot_router):
    routed = solve(engine, verifiers, make_strategy("router", router=str(cot_router)))
    alone = solve(engine, verifiers, make_strategy("cot", max_tokens=16))
    (route,) = events(routed, "route")
    assert route["strategy"] == "cot" and not route["reuses_probe"]
    probe_call, _ = events(routed, "generate")
    assert probe_call["n"] == PROBE
    assert routed.strategy == "router" and routed.answer == alone.answer
    assert routed.cost.samples == PROBE + 1 and routed.cost.model_calls == 2
    assert routed.cost.generated_tokens == probe_call["generated_tokens"] + alone.cost.generated_tokens
    assert routed.cost.flops > alone.cost.flops


def test_the_router_never_reads_the_reference(engine, verifiers, cot_router):
    router = make_strategy("router", router=str(cot_router))
    blind = PROBLEM.model_copy(update={"answer": None})
    with_answer, without = solve(engine, verifiers, router), solve(engine, verifiers, router, blind)
    assert without.verdict is None and with_answer.verdict is not None
    assert events(with_answer, "probe") == events(without, "probe")
    assert events(with_answer, "route") == events(without, "route")
    assert [c.text for c in with_answer.candidates] == [c.text for c in without.candidates]
    assert with_answer.answer == without.answer


def test_a_sample_strategy_takes_the_probes_samples_as_its_first(engine, verifiers, cot_router, tmp_path):
    """A file where only self_consistency@4 is right: 2 probe samples + 2 more, in two calls."""
    data = json.loads(cot_router.read_text())
    for b in data["bins"]:
        for choice in b["choices"]:
            choice["accuracy"] = float((choice["strategy"], choice["budget"]) == ("self_consistency", 4))
    path = tmp_path / "sc4.json"
    path.write_text(json.dumps(data))
    result = solve(engine, verifiers, make_strategy("router", router=str(path), target_accuracy=1.0))
    (route,) = events(result, "route")
    assert (route["strategy"], route["budget"], route["reuses_probe"]) == ("self_consistency", 4, True)
    probe_call, extra_call = events(result, "generate")
    assert (probe_call["n"], extra_call["n"]) == (PROBE, 2)
    assert result.cost.samples == 4 and len(result.candidates) == 4
    assert result.chosen is not None or result.answer is None


def test_oracle_router_bins_by_level_and_pays_no_probe(engine, verifiers, cot_router):
    result = solve(engine, verifiers, make_strategy("oracle_router", router=str(cot_router)))
    assert events(result, "probe") == [] and events(result, "route")[0]["oracle"] is True
    assert result.cost.samples == 1 and result.strategy == "oracle_router"
    with pytest.raises(ConfigError, match="oracle router has no bin for level none"):
        solve(engine, verifiers, make_strategy("oracle_router", router=str(cot_router)),
              PROBLEM.model_copy(update={"metadata": {}}))


def test_a_router_for_another_model_is_refused(engine, verifiers, cot_router, tmp_path):
    data = json.loads(cot_router.read_text())
    data["source"]["weights"] = "0" * 16
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"was fitted for model .* \(weights 0000000000000000\); this engine serves"):
        solve(engine, verifiers, make_strategy("router", router=str(path)))


def test_a_compute_budget_below_the_probe_is_refused(cot_router):
    probe = json.loads(cot_router.read_text())["probe_cost"]["flops"]
    with pytest.raises(ConfigError, match="below the probe's own cost"):
        make_strategy("router", router=str(cot_router), compute_budget=probe * 0.9)
    assert make_strategy("router", router=str(cot_router), compute_budget=probe * 100).policy.flops <= probe * 100


def test_a_missing_or_broken_router_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no router file at .*absent.json; fit one with `reasoner router fit"):
        make_strategy("router", router=str(tmp_path / "absent.json"))
    (tmp_path / "bad.json").write_text('{"format": "reasoner-router/1"}')
    with pytest.raises(ConfigError, match="bad.json is not a router file"):
        make_strategy("router", router=str(tmp_path / "bad.json"))


def test_at_budget_is_a_mean_compute_of_that_many_samples(cot_router):
    router = make_strategy("router", router=str(cot_router))
    sample = json.loads(cot_router.read_text())["sample_cost"]["flops"]
    assert router.at_budget(1) is None  # one sample's compute cannot pay a two-sample probe
    assert router.at_budget(16).compute_budget == pytest.approx(16 * sample)


def test_a_sweep_runs_the_router(engine, tiny_checkpoint, verifiers, cot_router, tmp_path):
    from reasoner.eval.sweep import make_config, run_sweep

    config = make_config(dataset="arith", split="dev", limit=2, models=str(tiny_checkpoint), strategies="router",
                         budgets="1,8", strategy_options={"router": {"router": str(cot_router)}}, max_tokens=16)
    rows = run_sweep(config, tmp_path / "sweep", lambda model: engine, verifiers, progress=False)
    assert [(row.strategy, row.budget) for row in rows] == [("router", 8)]


def test_cli_fits_a_router_and_solves_with_it(engine, tiny_checkpoint, dev_sweep, tmp_path, capsys):
    from reasoner.cli import main

    path = tmp_path / "router.json"
    assert main(["router", "fit", str(dev_sweep), "--out", str(path), "--probe-samples", "2"]) == 0
    assert "fitted on 6 problems of arith (dev split)" in capsys.readouterr().out
    argv = ["solve", "--dataset", "arith", "--split", "dev", "--limit", "2", "--model", str(tiny_checkpoint),
            "--strategy", "router", "--router", str(path), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["problems"] == 2 and summary["dataset"] == "arith:dev"
    assert summary["options"]["router"] == str(path)


@pytest.mark.parametrize(("extra", "words"), [
    (["--strategy", "cot", "--compute-budget", "1e9"], "--compute-budget: strategy 'cot' has no option 'compute_budget'"),
    (["--strategy", "router", "--compute-budget", "1e9"], "--router: field required"),
    (["--strategy", "router", "--router", "absent.json"], "no router file at absent.json"),
])
def test_cli_router_options_are_checked_before_anything_starts(extra, words, tmp_path, capsys):
    from reasoner.cli import main

    assert main(["solve", "--dataset", "arith", "--model", str(tmp_path / "absent"), *extra]) == 2
    assert words in capsys.readouterr().err


def test_cli_fit_refuses_a_test_split_sweep(dev_sweep, tmp_path, capsys):
    from reasoner.cli import main
    from tests.router_files import edit_summary

    sweep = edit_summary(dev_sweep, tmp_path / "test-sweep", split="test")
    assert main(["router", "fit", str(sweep), "--out", str(tmp_path / "r.json")]) == 2  # a usage error
    assert "this sweep ran on the test split of arith" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
