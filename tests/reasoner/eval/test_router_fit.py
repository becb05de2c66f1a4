"""`reasoner router fit`: a router fitted from a real small dev-split sweep, and every input it refuses.

The sweep (`dev_sweep`, tests/conftest.py) runs once per session on the tiny
random checkpoint. Its answers are all wrong, so tests about choices edit the
real records' correctness (`graded_copy`) and fit again.
"""

from __future__ import annotations

import json
import shutil

import pytest

from reasoner.errors import ConfigError
from reasoner.eval.router_fit import fit_router, write_router
from reasoner.strategies.router_file import frontier, load_router, reaching_target, within_budget
from tests.router_files import edit_summary, graded_copy, strategies_copy


def test_fit_is_a_pure_function_of_the_sweep_files(dev_sweep, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_router(fit_router(dev_sweep, probe_samples=2, bins=3), first)
    write_router(fit_router(dev_sweep, probe_samples=2, bins=3), second)
    assert first.read_bytes() == second.read_bytes()
    router = load_router(first)
    assert router.source.split == "dev" and router.source.problems == 6
    assert router.source.digest != fit_router(graded_copy(dev_sweep, tmp_path / "g", lambda p, i: True,
                                                          False), probe_samples=2).source.digest


def test_the_probe_is_charged_to_every_routed_choice_and_reused_where_it_can_be(dev_sweep):
    router = fit_router(dev_sweep, probe_samples=2, bins=1)
    fixed = {(c.strategy, c.budget): c for c in router.fixed}
    probe = router.probe_cost
    assert probe["tokens"] > 0 and probe["flops"] > 0
    (only,) = router.bins
    for choice in only.choices:
        alone = fixed[(choice.strategy, choice.budget)]
        if choice.reuses_probe:  # the probe's 2 samples are its first ones: it pays for max(b, 2) samples
            assert choice.strategy in ("self_consistency", "best_of_n")
            assert choice.tokens == pytest.approx(max(alone.tokens, probe["tokens"]))
        else:
            assert choice.strategy in ("cot", "adaptive_consistency", "beam_search")
            assert choice.tokens == pytest.approx(alone.tokens + probe["tokens"])
            assert choice.flops == pytest.approx(alone.flops + probe["flops"])
        assert choice.accuracy == alone.accuracy


def test_a_dominant_strategy_is_picked_in_every_bin(dev_sweep, tmp_path):
    sweep = graded_copy(dev_sweep, tmp_path / "cot-wins", lambda p, i: False, cot_correct=True)
    router = fit_router(sweep, probe_samples=2, bins=3)
    budgets = [router.default, router.policy(target_accuracy=1.0),
               router.policy(compute_budget=router.probe_cost["flops"] * 100)]
    for policy in budgets:
        assert {c.strategy for c in policy.choices.values()} == {"cot"}
        assert policy.accuracy == pytest.approx(1.0)
    for policy in (router.policy(oracle=True), router.policy(compute_budget=1e12, oracle=True)):
        assert {c.strategy for c in policy.choices.values()} == {"cot"}


def test_sample_strategies_win_when_only_their_samples_are_right(dev_sweep, tmp_path):
    sweep = graded_copy(dev_sweep, tmp_path / "samples-win", lambda p, i: True, cot_correct=False)
    policy = fit_router(sweep, probe_samples=2).default
    assert "cot" not in {c.strategy for c in policy.choices.values()}
    assert policy.accuracy == pytest.approx(1.0)


def test_budget_mode_trades_accuracy_for_compute_across_bins(dev_sweep, tmp_path):
    """Problems whose id sorts first are solved only by 4 samples: a small budget gives them up."""
    hard = sorted(json.loads(line)["problem_id"] for line in (dev_sweep / "results.jsonl").read_text().splitlines())
    hard = set(hard[:2])
    sweep = graded_copy(dev_sweep, tmp_path / "mixed", lambda p, i: i == 3 if p in hard else True, False)
    router = fit_router(sweep, probe_samples=1, bins=2)
    bins = router.oracle_bins
    rich = within_budget(bins, 1e15, "flops", 0.0)
    poor = within_budget(bins, frontier(bins, "flops")[0][0] * 1.01, "flops", 0.0)
    assert rich.accuracy > poor.accuracy
    assert rich.flops > poor.flops
    cheapest_reaching = reaching_target(bins, rich.accuracy, "flops")
    assert cheapest_reaching.flops <= rich.flops


def test_a_test_split_sweep_is_refused(dev_sweep, tmp_path):
    with pytest.raises(ConfigError, match="test split of arith; a router is fitted on the dev split"):
        fit_router(edit_summary(dev_sweep, tmp_path / "t", split="test"))
    with pytest.raises(ConfigError, match="test split of arith"):  # no split means the family's test split
        fit_router(edit_summary(dev_sweep, tmp_path / "default", split=None))


@pytest.mark.parametrize(("require", "message"), [
    (["revision"], "the sweep has no strategy 'revision' \\(required\\); it swept cot, self_consistency"),
    (["self_consistency@8"], "the sweep has no budget 8 \\(required by self_consistency@8\\); its budgets are 1, 2, 4"),
])
def test_a_sweep_missing_a_required_strategy_or_budget_is_refused(dev_sweep, require, message):
    with pytest.raises(ConfigError, match=message):
        fit_router(dev_sweep, require=require)


def test_a_probe_larger_than_the_sweeps_samples_is_refused(dev_sweep):
    with pytest.raises(ConfigError, match="a probe of 8 samples needs a sweep budget of at least 8; its largest is 4"):
        fit_router(dev_sweep, probe_samples=8)


def test_a_sweep_without_shared_samples_is_refused(dev_sweep, tmp_path):
    with pytest.raises(ConfigError, match="has none at its sampling settings; sweep at least one of self_consistency"):
        fit_router(edit_summary(dev_sweep, tmp_path / "cot-only", strategies=["cot"]))


def test_an_unfinished_sweep_is_refused(dev_sweep, tmp_path):
    torn = tmp_path / "torn"
    shutil.copytree(dev_sweep, torn)
    lines = (torn / "results.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["run"] != "cot@1"] + \
        [line for line in lines if json.loads(line)["run"] == "cot@1"][:-1]
    (torn / "results.jsonl").write_text("\n".join(kept) + "\n")
    with pytest.raises(ConfigError, match="the sweep is unfinished, 1 records are missing \\(e.g. cot@1 on"):
        fit_router(torn)


def test_a_folder_without_a_sweep_is_refused(tmp_path):
    from reasoner.errors import JobError

    with pytest.raises(JobError, match="no summary.json"):
        fit_router(tmp_path)


@pytest.mark.parametrize(("options", "message"), [
    ({"compute_budget": "half the probe"}, "below the probe's own cost"),
    ({"target_accuracy": 1.0}, "target accuracy 1.000 is above the best the router reaches"),
    ({"target_accuracy": 0.5, "compute_budget": 1e12}, "not both"),
])
def test_a_policy_that_cannot_be_met_is_refused(dev_sweep, options, message):
    router = fit_router(dev_sweep, probe_samples=2)
    if options.get("compute_budget") == "half the probe":
        options = {"compute_budget": router.probe_cost["flops"] / 2}
    with pytest.raises(ConfigError, match=message):
        router.policy(**options)


@pytest.mark.parametrize("model", ["tiny", "small"])
def test_the_bundled_router_is_for_the_bundled_model_as_it_is_now(model):
    """A retrained bundled model needs a refitted router (python benchmarks/bench_router.py)."""
    from reasoner.engine.models import weights_fingerprint

    router = load_router(f"{model}-arith")
    assert (router.source.model, router.source.dataset, router.source.split) == (model, "arith", "dev")
    assert router.source.weights == weights_fingerprint(model)


def test_any_swept_strategy_is_a_choice_a_search_too(dev_sweep, tmp_path):
    """Where only beam search is right, the router sends every bin to it, probe paid on top."""
    sweep = graded_copy(dev_sweep, tmp_path / "beam-wins", lambda p, i: False, True, run_correct="beam_search@")
    router = fit_router(sweep, probe_samples=2, bins=2)
    assert {c.strategy for c in router.default.choices.values()} == {"beam_search"}
    assert router.default.accuracy == 1.0
    beam = min((c for c in router.fixed if c.strategy == "beam_search"), key=lambda c: c.flops)
    assert router.default.flops > beam.flops


SAMPLED = ["cot", "self_consistency", "best_of_n", "adaptive_consistency"]


def _levels(sweep) -> dict[str, int]:
    return {r["problem_id"]: r["level"] for r in map(json.loads, (sweep / "results.jsonl").read_text().splitlines())}


def test_search_swept_in_a_second_folder_is_chosen_where_it_dominates(dev_sweep, tmp_path):
    """Samples solve levels 1-3, only beam search levels 4-5; beam search comes from its own sweep folder."""
    levels = _levels(dev_sweep)
    graded = graded_copy(dev_sweep, tmp_path / "graded", lambda p, i: levels[p] <= 3, lambda level: level >= 4,
                         run_correct="beam_search@")
    sampled = strategies_copy(graded, tmp_path / "sampled", SAMPLED, samples=True)
    search = strategies_copy(graded, tmp_path / "search", ["beam_search"], samples=False)
    router = fit_router(sampled, more_sweeps=[search], probe_samples=2, bins=2)
    assert router.source.more_sweeps == [str(search)]
    assert set(router.strategies) == {*SAMPLED, "beam_search"}
    oracle = router.policy(target_accuracy=1.0, oracle=True)
    assert {key: c.strategy == "beam_search" for key, c in oracle.choices.items()} == \
        {str(level): level >= 4 for level in sorted(set(levels.values()))}
    assert fit_router(graded, probe_samples=2, bins=2).policy(target_accuracy=1.0, oracle=True) == oracle
    from reasoner.cli import main

    assert main(["router", "fit", str(sampled), str(search), "--out", str(tmp_path / "r.json"), "--probe-samples",
                 "2", "--bins", "2"]) == 0
    assert load_router(tmp_path / "r.json") == router
    one_bin = fit_router(sampled, more_sweeps=[search], probe_samples=2, bins=1)
    fixed = {(c.strategy, c.budget): c for c in one_bin.fixed}
    beam = [c for c in one_bin.bins[0].choices if c.strategy == "beam_search"]
    assert len(beam) == 3  # budgets 1, 2, 4, each with the probe paid on top, none reusing it
    for choice in beam:
        assert not choice.reuses_probe
        assert choice.flops == pytest.approx(fixed[("beam_search", choice.budget)].flops + one_bin.probe_cost["flops"])


def test_sample_strategies_from_a_second_folder_pay_the_probe_on_top(dev_sweep, tmp_path):
    """Their samples were drawn in another folder, so they are not the probe's: no reuse."""
    first = strategies_copy(dev_sweep, tmp_path / "first", ["cot", "self_consistency"], samples=True)
    second = strategies_copy(dev_sweep, tmp_path / "second", ["best_of_n"], samples=True)
    router = fit_router(first, more_sweeps=[second], probe_samples=2, bins=1)
    fixed = {(c.strategy, c.budget): c for c in router.fixed}
    (only,) = router.bins
    reused = {c.strategy for c in only.choices if c.reuses_probe}
    assert reused == {"self_consistency"}
    for choice in (c for c in only.choices if c.strategy == "best_of_n"):
        assert choice.flops == pytest.approx(fixed[("best_of_n", choice.budget)].flops + router.probe_cost["flops"])


def test_more_sweeps_are_refused_unless_they_add_strategies_on_the_same_dev_problems(dev_sweep, tmp_path):
    search = strategies_copy(dev_sweep, tmp_path / "search", ["beam_search"], samples=False)
    with pytest.raises(ConfigError, match="strategy 'cot' is swept in both"):
        fit_router(dev_sweep, more_sweeps=[strategies_copy(dev_sweep, tmp_path / "cot", ["cot"], False)])
    with pytest.raises(ConfigError, match="test split of arith"):
        fit_router(dev_sweep, more_sweeps=[edit_summary(search, tmp_path / "test", split="test")])
    with pytest.raises(ConfigError, match="a sweep of arith \\(train split\\), but .* every sweep of a router"):
        fit_router(dev_sweep, more_sweeps=[edit_summary(search, tmp_path / "train", split="train")])
    torn = tmp_path / "torn"
    shutil.copytree(search, torn)
    (torn / "results.jsonl").write_text("\n".join((search / "results.jsonl").read_text().splitlines()[1:]) + "\n")
    with pytest.raises(ConfigError, match="torn: the sweep is unfinished, 1 records are missing"):
        fit_router(strategies_copy(dev_sweep, tmp_path / "sampled", SAMPLED, samples=True), more_sweeps=[torn])
