"""The strategies that stream and abort, on bundled `tiny` (real arithmetic answers): deepconf (offline and
online), adaptive self-consistency with `cancel`, early rejection by `tiny-prm`.

For each: the budget is never exceeded, aborted candidates leave the engine (vLLM's count of unfinished
requests, read as each aborted candidate's end is recorded, is never above the call's own running traces),
their tokens are booked as spent, and the trace says why each one stopped. On the strategy tests' shared
`tiny` engine (tests/strategies/conftest.py).
"""

from __future__ import annotations

import math

import pytest

from reasoner.engine.runtime import run_sync
from reasoner.jobs.solve import solve_problem
from reasoner.tasks import load_task
from reasoner.types import Budget, TraceEvent
from reasoner.strategies import make_strategy
from reasoner.strategies.base import samples_of
from reasoner.strategies.deepconf import FALLBACK, DeepConf
from reasoner.verifiers.prm import PRMSet

PRMS = PRMSet()
"""One PRM set for the module: tiny-prm loads once."""
PROBLEMS = load_task("arith", "dev", n=12)
HARD = [p for p in PROBLEMS if (p.level or 0) >= 3][:3]
EASY = [p for p in PROBLEMS if p.level == 1][:2]


class Watch:
    """Trace events of one solve, with vLLM's count of unfinished requests when each candidate ended."""

    def __init__(self, engine) -> None:
        self.engine = engine.engine()
        self.ends: list[tuple[dict, int]] = []

    def __call__(self, event: TraceEvent) -> None:
        if event.kind == "trace":
            self.ends.append((event.data, self.engine.get_num_unfinished_requests()))


def solve(engine, verifiers, strategy, problem, budget=None, seed=0):
    watch = Watch(engine)
    result = run_sync(solve_problem(problem, strategy, engine, verifiers, budget, seed, listener=watch,
                                    prms=PRMS))
    assert result.error is None, result.error
    return result, watch


def assert_aborts_booked(result, watch) -> None:
    """Every aborted candidate had left the engine when its end was seen, and its tokens are booked."""
    aborted = [c for c in result.candidates if c.aborted is not None]
    assert result.cost.aborted_samples == len(aborted)
    assert result.cost.aborted_tokens == sum(c.num_tokens for c in aborted)
    assert result.cost.generated_tokens == sum(c.num_tokens for c in result.candidates)
    for data, unfinished in watch.ends:
        assert unfinished <= data["running"], (data, unfinished)
    stopped = [data for data, _ in watch.ends if data["finish"] == "abort"]
    assert len(stopped) == len(aborted) and all(data["stopped"]["reason"] for data in stopped)
    assert watch.engine.get_num_unfinished_requests() == 0


# -- deepconf, offline


@pytest.mark.parametrize("problem", HARD[:2], ids=lambda p: p.id)
def test_offline_deepconf_chooses_by_its_own_select_on_the_confidences(tiny_engine, verifiers, problem):
    strategy = DeepConf(n=8, keep=0.5, window=8, max_tokens=96)
    result, _ = solve(tiny_engine, verifiers, strategy, problem)
    assert len(result.candidates) == 8 and result.cost.samples == 8
    vote = next(e.data for e in result.trace if e.kind == "vote")
    confidences = vote["confidences"]
    answers = [verifiers.for_domain("math").extract(c.text) for c in result.candidates]
    labels = verifiers.for_domain("math").group(answers)
    samples = samples_of(result.candidates, labels, confidences)
    assert result.chosen == strategy.select(samples) == vote["chosen"]
    answered = [i for i, label in enumerate(labels) if label is not None]
    assert len(vote["kept"]) == math.ceil(0.5 * len(answered))
    assert min(confidences[i] for i in vote["kept"]) >= max(
        (confidences[i] for i in answered if i not in vote["kept"]), default=-1)


def test_offline_deepconf_never_exceeds_its_budget(tiny_engine, verifiers):
    result, _ = solve(tiny_engine, verifiers, DeepConf(n=8, max_tokens=96), HARD[0],
                      budget=Budget(samples=5, generated_tokens=200))
    assert result.cost.samples <= 5 and result.cost.generated_tokens <= 200
    assert result.stop_reason.startswith("budget:")


# -- deepconf, online


def test_a_threshold_no_trace_reaches_stops_every_trace_yet_answers_and_says_why(tiny_engine, verifiers):
    strategy = make_strategy("deepconf_online", n=8, warmup=2, window=4, threshold=1e6, max_tokens=160)
    result, watch = solve(tiny_engine, verifiers, strategy, HARD[0])
    assert result.stop_reason == FALLBACK and result.answer is not None
    assert result.chosen is not None and result.candidates[result.chosen].aborted is None
    stopped = [c for c in result.candidates if c.aborted is not None]
    assert len(stopped) == 6 and all(c.aborted == "low_confidence" for c in stopped)
    for data, _ in watch.ends:
        if data["finish"] == "abort":
            assert data["stopped"]["threshold"] == 1e6 and data["stopped"]["group_confidence"] < 1e6
            assert 4 <= data["stopped"]["at_tokens"] <= data["tokens"] < 160  # judged at its first full window
    assert any(e.kind == "fallback" for e in result.trace)
    assert_aborts_booked(result, watch)


def test_online_deepconf_sets_its_threshold_from_the_warm_up(tiny_engine, verifiers):
    strategy = make_strategy("deepconf_online", n=12, warmup=4, keep=0.5, window=8, max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, HARD[1])
    event = next(e.data for e in result.trace if e.kind == "threshold")
    warm = sorted(event["confidences"])
    assert len(warm) == 4 and event["threshold"] == pytest.approx((warm[1] + warm[2]) / 2, abs=1e-5)
    assert result.cost.samples == 12 or result.stop_reason == "deepconf:consensus"
    assert_aborts_booked(result, watch)


def test_online_deepconf_stops_the_problem_once_the_vote_is_settled(tiny_engine, verifiers):
    strategy = make_strategy("deepconf_online", n=16, warmup=2, keep=0.9, consensus=0.6, window=8,
                             max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, EASY[0])
    assert result.stop_reason == "deepconf:consensus" and result.verdict.correct
    stop = next(e.data for e in result.trace if e.kind == "stop")
    assert stop["rule"] == "consensus" and stop["share"] >= 0.6
    assert result.cost.samples < 16 or any(c.aborted == "consensus" for c in result.candidates)
    assert all(c.aborted in (None, "consensus", "low_confidence") for c in result.candidates)
    assert_aborts_booked(result, watch)


def test_online_deepconf_never_exceeds_its_budget(tiny_engine, verifiers):
    strategy = make_strategy("deepconf_online", n=12, warmup=3, threshold=-1.0, max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, HARD[2], budget=Budget(samples=7, generated_tokens=300))
    assert result.cost.samples <= 7 and result.cost.generated_tokens <= 300
    assert_aborts_booked(result, watch)


# -- adaptive self-consistency with cancel


def test_cancel_mode_aborts_the_samples_still_running_once_the_rule_holds(tiny_engine, verifiers):
    strategy = make_strategy("adaptive_consistency", mode="cancel", max_n=16, max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, EASY[1])
    stop = next(e.data for e in result.trace if e.kind == "stop")
    assert stop["rule"] in ("beta", "futility") and stop["samples"] < 16
    finished = [c for c in result.candidates if c.aborted is None]
    assert result.cost.samples == 16 and len(finished) >= stop["samples"]
    assert all(c.aborted == stop["rule"] for c in result.candidates if c.aborted is not None)
    assert_aborts_booked(result, watch)


def test_cancel_mode_never_exceeds_its_budget(tiny_engine, verifiers):
    strategy = make_strategy("adaptive_consistency", mode="cancel", max_n=16, max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, HARD[0], budget=Budget(samples=6, generated_tokens=250))
    assert result.cost.samples <= 6 and result.cost.generated_tokens <= 250
    assert_aborts_booked(result, watch)


# -- early rejection


def test_early_rejection_finishes_only_the_kept_share(tiny_engine, verifiers):
    strategy = make_strategy("early_rejection", n=8, keep=0.25, steps=1, prm="tiny-prm", max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, HARD[0])
    early, final = [e.data for e in result.trace if e.kind == "score"]
    assert early["stage"] == "early" and len(early["scores"]) == 8 and len(early["kept"]) == 2
    ranked = sorted(range(8), key=lambda i: (-early["scores"][i], i))
    assert early["kept"] == sorted(ranked[:2]) and result.chosen in early["kept"]
    rejected = [i for i in range(8) if i not in early["kept"]]
    assert all(result.candidates[i].aborted in ("rejected", None) for i in rejected)
    assert final["stage"] == "final" and final["chosen"] == result.chosen
    assert result.cost.prm_tokens > 0 and result.cost.prm_flops > 0
    assert_aborts_booked(result, watch)


def test_early_rejection_never_exceeds_its_budget(tiny_engine, verifiers):
    strategy = make_strategy("early_rejection", n=8, prm="tiny-prm", max_tokens=96)
    result, watch = solve(tiny_engine, verifiers, strategy, HARD[1], budget=Budget(samples=4, generated_tokens=200))
    assert result.cost.samples <= 4 and result.cost.generated_tokens <= 200
    assert_aborts_booked(result, watch)


# -- self-certainty


def test_best_of_n_by_self_certainty_asks_the_engine_for_top_logprobs(tiny_engine, verifiers):
    strategy = make_strategy("best_of_n", n=4, scorer="self_certainty", max_tokens=64)
    result, _ = solve(tiny_engine, verifiers, strategy, HARD[0])
    scores = next(e.data["scores"] for e in result.trace if e.kind == "score")
    assert len(scores) == 4 and all(s > 0 for s in scores)  # a divergence from uniform is positive
    assert result.chosen == max(range(4), key=lambda i: (scores[i], -i))


# -- replay in a sweep


def test_a_sweep_replays_offline_deepconf_as_a_direct_run_at_the_same_budget_and_seed(tiny_engine, verifiers,
                                                                                        tmp_path):
    from reasoner.eval.sweep import graded_samples, make_config, plan, run_sweep
    from reasoner.jobs import iter_records

    config = make_config(dataset="arith", split="dev", limit=4, models="tiny", strategies="deepconf,self_consistency",
                         budgets="2,4", max_tokens=96, concurrency=1, strategy_options={"deepconf": {"keep": 0.5, "window": 8}})
    rows = run_sweep(config, tmp_path, lambda model: tiny_engine, verifiers, progress=False)
    strategy = config.strategy("deepconf")
    key = plan(config).replayed["deepconf"].key
    records = {r["problem_id"]: r for r in iter_records(tmp_path / "results.jsonl") if r["run"] == key}
    full = next(r for r in rows if r.strategy == "deepconf" and r.budget == 4)
    direct_correct = []
    for problem in PROBLEMS[:4]:
        record = records[problem.id]
        for budget in (2, 4):
            direct = run_sync(solve_problem(problem, strategy.at_budget(budget), tiny_engine, verifiers,
                                            seed=config.seed))
            first = graded_samples(record, strategy.replay_scorer)[:budget]
            chosen = strategy.select(first)
            assert direct.answer == (record["candidates"][chosen]["answer"] if chosen is not None else None)
            assert [c.text for c in direct.candidates] == [c["text"] for c in record["candidates"][:budget]]
            if budget == 4:
                direct_correct.append(float(bool(direct.verdict and direct.verdict.correct)))
                assert direct.cost.generated_tokens == sum(c["num_tokens"] for c in record["candidates"])
    assert full.accuracy == pytest.approx(sum(direct_correct) / 4)
