"""The streamed strategies of issue #30 from each door users come in by: the CLI's `solve`, the Python API
(`Reasoner`) and a sweep, on the session's real engine (the service has its own tests,
`tests/reasoner/service/test_streamed_strategies.py`).

Each run's record is checked the same way: no more candidates than the strategy's n, the generated tokens
booked are the candidates' own (aborted ones included), and the aborted tokens are exactly the aborted
candidates' tokens, each aborted candidate saying why it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoner.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# The session checkpoint's tokenizer is not tiny-prm's, so early rejection skips the tokenizer check.
STRATEGIES = {
    "deepconf": ({"n": 4, "window": 4, "keep": 0.5}, 4),
    "deepconf_online": ({"n": 6, "warmup": 2, "window": 4, "threshold": 1e6}, 6),
    "adaptive_cancel": ({"max_n": 6, "futility": 0.0}, 6),
    "early_rejection": ({"n": 4, "keep": 0.25, "check_tokenizer": False}, 4),
    "best_of_n": ({"n": 3, "scorer": "self_certainty"}, 3),
}


def check_booking(cost: dict, candidates: list[dict], cap: int) -> None:
    """At most `cap` candidates; every token booked is a candidate's; aborted tokens are the aborted ones'."""
    assert cost["samples"] == len(candidates) <= cap
    assert cost["generated_tokens"] == sum(c["num_tokens"] for c in candidates)
    aborted = [c for c in candidates if c.get("aborted")]
    assert cost["aborted_samples"] == len(aborted)
    assert cost["aborted_tokens"] == sum(c["num_tokens"] for c in aborted)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_the_cli_runs_each_streamed_strategy_and_books_its_aborts(name, engine, tiny_checkpoint, tmp_path, capsys):
    options, cap = STRATEGIES[name]
    out = tmp_path / "results.jsonl"
    flags = [arg for key, value in options.items() for arg in ("--option", f"{key}={json.dumps(value)}")]
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--limit", "1", "--model",
                 str(tiny_checkpoint), "--strategy", name, "--max-tokens", "24", *flags, "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["error"] is None and record["strategy"] == name
    check_booking(record["cost"], record["candidates"], cap)


def test_the_cli_says_why_online_deepconf_stopped_every_trace(engine, tiny_checkpoint, tmp_path, capsys):
    options, _ = STRATEGIES["deepconf_online"]
    out = tmp_path / "results.jsonl"
    flags = [arg for key, value in options.items() for arg in ("--option", f"{key}={json.dumps(value)}")]
    assert main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--limit", "1", "--model",
                 str(tiny_checkpoint), "--strategy", "deepconf_online", "--max-tokens", "24", *flags,
                 "--out", str(out), "--json"]) == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["stop_reason"] == "deepconf:no_trace_above_threshold"
    streamed = record["candidates"][2:]  # after the two warm-up traces, which always run whole
    assert streamed and all(c["aborted"] == "low_confidence" for c in streamed)
    assert record["cost"]["aborted_tokens"] > 0


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_the_python_api_runs_each_streamed_strategy(name, engine, verifiers):
    from reasoner import Reasoner
    from reasoner.types import Problem

    options, cap = STRATEGIES[name]
    reasoner = Reasoner(generator=engine, verifiers=verifiers)
    problem = Problem(id="two", prompt="What is 2 + 2?", domain="math", answer="4")
    result = reasoner.solve(problem, name, seed=5, max_tokens=24, **options)
    assert result.error is None
    record = json.loads(result.model_dump_json())
    check_booking(record["cost"], record["candidates"], cap)
    assert all(e.data.get("finish") in ("stop", "length", "abort") for e in result.trace if e.kind == "trace")


def test_a_sweep_runs_the_streamed_strategies_per_budget_and_replays_adaptive_cancel(engine, tiny_checkpoint,
                                                                                      verifiers, tmp_path):
    from reasoner.eval.sweep import make_config, plan, run_sweep
    from reasoner.jobs import iter_records
    from reasoner.verifiers.prm import PRMSet

    names = ("deepconf_online", "adaptive_cancel", "early_rejection")
    config = make_config(dataset=str(FIXTURES / "problems.jsonl"), limit=1, models=str(tiny_checkpoint),
                         strategies=",".join(names), budgets="2,4", max_tokens=24, concurrency=1,
                         strategy_options={"deepconf_online": {"warmup": 2, "window": 4},
                                           "early_rejection": {"check_tokenizer": False}})
    assert set(plan(config).rerun) == {"deepconf_online", "early_rejection"}
    assert set(plan(config).replayed) == {"adaptive_cancel"}  # it chooses among samples: read off shared ones
    rows = run_sweep(config, tmp_path, lambda model: engine, verifiers, prms=PRMSet(), progress=False)
    assert {(r.strategy, r.budget) for r in rows} == {(n, b) for n in names for b in (2, 4)}
    assert all(r.mean_generated_tokens <= r.budget * 24 for r in rows)  # at most budget candidates of 24 tokens
    records = {r["run"]: r for r in iter_records(tmp_path / "results.jsonl")}
    assert set(records) == {"deepconf_online@2", "deepconf_online@4", "early_rejection@2", "early_rejection@4",
                            plan(config).replayed["adaptive_cancel"].key}
    for run in ("deepconf_online@2", "deepconf_online@4", "early_rejection@2", "early_rejection@4"):
        assert records[run]["error"] is None, records[run]["error"]
        check_booking(records[run]["cost"], records[run]["candidates"], int(run.rsplit("@", 1)[1]))
