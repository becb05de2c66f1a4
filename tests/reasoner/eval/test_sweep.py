"""`reasoner sweep`: one small sweep on the tiny random checkpoint, its files, report and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reasoner.cli import main
from reasoner.jobs import read_records
from reasoner.eval.sweep import make_config, record_key, run_sweep, summarize_sweep
from reasoner.types import Problem

STRATEGIES = ["cot", "self_consistency", "best_of_n", "revision", "adaptive_consistency"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli_options(tiny_checkpoint: Path, out: Path) -> list[str]:
    return ["sweep", "--dataset", "arith", "--limit", "4", "--models", str(tiny_checkpoint),
            "--strategies", ",".join(STRATEGIES), "--budgets", "2,1", "--max-tokens", "16", "--out", str(out)]


def sweep_config(tiny_checkpoint: Path):
    """The same sweep as `cli_options` describes."""
    return make_config(dataset="arith", limit=4, models=str(tiny_checkpoint), strategies=STRATEGIES, budgets="1,2",
                       max_tokens=16)


@pytest.fixture(scope="module")
def sweep(engine, tiny_checkpoint, verifiers, tmp_path_factory):
    """(folder, rows) of a sweep over 4 arith problems at budgets 1 and 2."""
    out = tmp_path_factory.mktemp("sweep")
    rows = run_sweep(sweep_config(tiny_checkpoint), out, lambda model: engine, verifiers,
                     progress=False)
    return out, rows


def test_sweep_writes_results_summary_and_both_plots(sweep):
    out, _ = sweep
    assert {p.name for p in out.iterdir()} == {"results.jsonl", "summary.json", "curve.png", "by_level.png"}


@pytest.mark.parametrize("name", ["curve.png", "by_level.png"])
def test_plots_are_readable_png_images(sweep, name):
    from matplotlib.image import imread

    path = sweep[0] / name
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = imread(path).shape
    assert height > 100 and width > 100


def test_results_hold_one_record_per_problem_and_run_with_every_sample(sweep):
    records = read_records(sweep[0] / "results.jsonl")
    runs = {"samples@2", "cot@1", "revision@1", "revision@2"}  # adaptive is read off samples@2
    assert sorted(record_key(r)[1:] for r in records) == sorted((run, f"arith-test-0000{i}")
                                                               for run in runs for i in range(4))
    samples = [r for r in records if r["run"] == "samples@2"]
    fields = {"text", "num_tokens", "mean_logprob", "answer", "label", "status", "correct", "scores"}
    assert all(len(r["candidates"]) == 2 and fields <= r["candidates"][0].keys() for r in samples)


def test_one_row_per_strategy_and_budget_with_budgets_ascending(sweep):
    rows = sweep[1]
    assert [(r.strategy, r.budget) for r in rows] == [
        ("cot", 1), ("self_consistency", 1), ("self_consistency", 2), ("best_of_n", 1), ("best_of_n", 2),
        ("revision", 1), ("revision", 2), ("adaptive_consistency", 1), ("adaptive_consistency", 2)]
    assert all(r.problems == 4 and set(r.by_level) == {"1", "2", "3", "4"} for r in rows)


def test_every_interval_contains_its_accuracy(sweep):
    blocks = [block for row in sweep[1] for block in (row, *row.by_level.values())]
    assert all(0.0 <= b.ci_low <= b.accuracy <= b.ci_high <= 1.0 for b in blocks)


@pytest.mark.parametrize("strategy", ["self_consistency", "best_of_n"])
def test_subsampled_generated_tokens_scale_with_budget(sweep, strategy):
    one, two = (r for r in sweep[1] if r.strategy == strategy)
    assert one.mean_generated_tokens > 0 and one.subsampled
    assert two.mean_generated_tokens == pytest.approx(2 * one.mean_generated_tokens)
    assert two.mean_flops > one.mean_flops


def test_report_json_names_the_cheapest_row_reaching_the_best_per_level(sweep, capsys):
    assert main(["report", str(sweep[0]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["compute_optimal"]) == {"all", "1", "2", "3", "4"}
    for level, choice in report["compute_optimal"].items():
        stats = [row if level == "all" else row["by_level"][level] for row in report["rows"]]
        reaching = [s["mean_flops"] for s in stats if s["accuracy"] >= choice["best_ci_low"]]
        assert choice["mean_flops"] == min(reaching)
        assert choice["accuracy"] >= choice["best_ci_low"]


def test_rerunning_a_finished_sweep_adds_nothing(sweep, engine, tiny_checkpoint, verifiers,
                                                tmp_path):
    out = tmp_path / "again"
    shutil.copytree(sweep[0], out)
    before = (out / "results.jsonl").read_bytes()
    rows = run_sweep(sweep_config(tiny_checkpoint), out, lambda model: engine, verifiers,
                     progress=False)
    assert (out / "results.jsonl").read_bytes() == before
    assert rows == sweep[1]


def test_cli_resume_redoes_only_the_missing_and_torn_records(sweep, tiny_checkpoint, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(sweep[0], out)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:-2]) + lines[-2][:30])
    assert main(cli_options(tiny_checkpoint, out)) == 0
    after = read_records(out / "results.jsonl")
    assert (out / "results.jsonl").read_text().startswith("".join(lines[:-2]))
    assert sorted(map(record_key, after)) == sorted(map(record_key, read_records(sweep[0] / "results.jsonl")))


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--budgets", "1,x", "budgets must be positive integers"),
    ("--budgets", "0,2", "budgets must be positive integers"),
    ("--strategies", "cot,beam", "unknown strategy 'beam'"),
])
def test_bad_sweep_options_are_clear_errors(flag, value, message, tmp_path, capsys):
    assert main(["sweep", "--dataset", "arith", flag, value, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reasoner: error: {flag}: ") and message in err
    assert not (tmp_path / "s").exists()


def pool_record(config, problem: Problem, labels: list[int], correct_label: int, tokens: int = 10) -> dict:
    """A samples record as a sweep writes it, with one sample per label."""
    candidates = [{"label": label, "correct": label == correct_label, "num_tokens": tokens,
                   "mean_logprob": -1.0 - 0.01 * i, "scores": {}} for i, label in enumerate(labels)]
    return {"problem_id": problem.id, "level": 1, "model": "m", "run": f"samples@{len(labels)}",
            "config_hash": config.generation_hash, "parameters": 1000,
            "cost": {"prompt_tokens": 7, "generated_tokens": tokens * len(labels), "wall_seconds": 1.6},
            "candidates": candidates}


def adaptive_row(labels: list[int], correct_label: int):
    config = make_config(dataset="arith", models="m", strategies="self_consistency,adaptive_consistency",
                         budgets="1,16", draws=400)
    problem = Problem(id="p", prompt="?", answer="1")
    rows = summarize_sweep(config, [problem], [pool_record(config, problem, labels, correct_label)])
    return next(r for r in rows if r.strategy == "adaptive_consistency" and r.budget == 16)


def test_adaptive_rows_replay_the_stopping_rule_on_the_shared_samples():
    agreed = adaptive_row([0] * 16, correct_label=0)
    assert (agreed.budget, agreed.accuracy, agreed.subsampled) == (16, 1.0, True)
    # A first round of 3 agreeing samples settles the vote by default; the one round sends the 7-token prompt.
    assert agreed.metrics["samples"] == 3 and agreed.mean_generated_tokens == 30
    assert agreed.mean_flops == pytest.approx(2 * 1000 * (30 + 7))


def test_adaptive_rows_average_over_orders():
    # One right answer among 15 copies of one wrong one. 13 orders in 16 start with three wrong samples
    # and stop there; the rest see 2-1, draw 3 more wrong ones and stop at 5-1. Either way the vote is wrong.
    mostly_wrong = adaptive_row([0] + [1] * 15, correct_label=0)
    assert mostly_wrong.metrics["samples"] == pytest.approx(3 * 13 / 16 + 6 * 3 / 16, abs=0.12)
    assert mostly_wrong.accuracy == 0.0


def test_adaptive_rows_stop_scattered_pools_for_futility():
    # 16 different answers, one right: the futility stop ends every order after 9 samples, and the
    # vote among singletons goes to the highest logprob, which the right one (sample 0) has; it is
    # among the 9 drawn in 9 orders of 16.
    scattered = adaptive_row(list(range(16)), correct_label=0)
    assert scattered.metrics["samples"] == 9
    assert scattered.accuracy == pytest.approx(9 / 16, abs=0.08)


def test_strategies_defined_outside_the_package_join_a_sweep(engine, tiny_checkpoint, verifiers, tmp_path):
    """A replayable strategy is read off the shared samples with its own `select`; another runs per
    budget as its `at_budget` says; the sweep names neither."""
    from itertools import combinations

    from reasoner.eval.sweep import graded_samples

    outside = ["tests.sweep_strategies:MostConfident", "tests.sweep_strategies:GreedyUpTo"]
    config = make_config(dataset="arith", limit=3, models=str(tiny_checkpoint), budgets="1,2,4",
                         strategies=["self_consistency", *outside], max_tokens=12)
    rows = run_sweep(config, tmp_path / "outside", lambda model: engine, verifiers, progress=False)
    records = read_records(tmp_path / "outside" / "results.jsonl")
    assert {r["run"] for r in records} == {"samples@4", f"{outside[1]}@1", f"{outside[1]}@2"}
    confident = {r.budget: r for r in rows if r.strategy == outside[0]}
    assert sorted(confident) == [1, 2, 4] and all(r.subsampled for r in confident.values())
    greedy = {r.budget: r for r in rows if r.strategy == outside[1]}
    assert sorted(greedy) == [1, 2] and not any(r.subsampled for r in greedy.values())

    def most_confident_correct(samples) -> float:
        answered = [s for s in samples if s.label is not None]
        return float(bool(answered) and max(answered, key=lambda s: s.logprob).correct)

    expected = []
    for record in (r for r in records if r["run"] == "samples@4"):
        pool = graded_samples(record)
        subsets = list(combinations(pool, 2))
        expected.append(sum(most_confident_correct(s) for s in subsets) / len(subsets))
    assert confident[2].accuracy == pytest.approx(sum(expected) / len(expected))


def test_strategy_options_of_a_sweep_reach_the_strategy_they_name():
    """`--option best_of_n.scorer=logprob`: the shared samples get scored by that scorer, and the
    options are part of the settings a results folder is tied to."""
    from reasoner.eval.sweep import plan

    plain = make_config(dataset="arith", strategies="self_consistency,best_of_n")
    scored = make_config(dataset="arith", strategies="self_consistency,best_of_n",
                         strategy_options={"best_of_n": {"scorer": "logprob"}})
    assert [s.key for s in plan(plain).replayed["best_of_n"].scorers] == ["public_tests"]
    assert [s.key for s in plan(scored).replayed["best_of_n"].scorers] == ["logprob"]
    assert scored.strategy("best_of_n").scorer == "logprob" and scored.strategy("self_consistency").temperature == 0.8
    assert plain.generation_hash != scored.generation_hash


def test_a_sampling_option_gives_a_strategy_samples_of_its_own():
    from reasoner.eval.sweep import plan

    config = make_config(dataset="arith", strategies="self_consistency,best_of_n", budgets="1,4",
                         strategy_options={"best_of_n": {"temperature": 1.0}})
    runs = plan(config).replayed
    assert runs["self_consistency"].key == "samples@4"
    assert runs["best_of_n"].key.startswith("samples@4~") and runs["best_of_n"].strategy.temperature == 1.0


def test_replayed_rows_pay_their_scorers_flops_for_the_samples_they_use():
    """A scorer's own compute (a PRM's) is charged to the rows of the strategy that uses it, in
    proportion to the samples used; a vote over the same samples pays none of it."""
    config = make_config(dataset="arith", models="m", strategies="self_consistency,best_of_n", budgets="1,2,4")
    problem = Problem(id="p", prompt="?", answer="1")
    record = pool_record(config, problem, [0, 1, 0, 1], correct_label=0)
    for candidate in record["candidates"]:
        candidate["scores"] = {"public_tests": -1.0}
    record["scorer_flops"] = {"public_tests": 4000.0}
    rows = {(r.strategy, r.budget): r for r in summarize_sweep(config, [problem], [record])}
    generation = 2 * 1000 * (7 + 10)  # the prompt once, one 10-token sample
    assert rows[("self_consistency", 1)].mean_flops == pytest.approx(generation)
    assert rows[("best_of_n", 1)].mean_flops == pytest.approx(generation + 1000.0)
    assert rows[("best_of_n", 4)].mean_flops == pytest.approx(2 * 1000 * (7 + 40) + 4000.0)


def test_shared_samples_are_drawn_with_the_top_logprobs_a_member_reads():
    from reasoner.eval.sweep import plan

    config = make_config(dataset="arith", strategies="self_consistency,deepconf,best_of_n", budgets="2,4",
                         scorer="logprob")
    replayed = plan(config).replayed
    run = replayed["deepconf"]
    assert run.key == replayed["self_consistency"].key == replayed["best_of_n"].key == "samples@4"
    assert run.strategy.sampling_config(None).top_logprobs == 20
    assert sorted(choice.name for choice in run.scorers) == ["confidence", "logprob"]
