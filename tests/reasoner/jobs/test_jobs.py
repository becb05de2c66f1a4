"""Solve jobs stream records, resume without duplicates, and refuse mixed configurations."""

from __future__ import annotations

import json

import pytest

from reasoner.errors import ResumeMismatchError
from reasoner.jobs import JobConfig, read_records, run_job
from reasoner.jobs.pool import LocalPool
from reasoner.engine.runtime import run_sync
from reasoner.types import Problem


def problems(count: int) -> list[Problem]:
    return [Problem(id=f"p{i}", prompt=f"What is {i} + {i}?", answer=str(2 * i), metadata={"level": 1 + i % 2})
            for i in range(count)]


def run(engine, verifiers, config, items, out):
    pool = LocalPool(engine, verifiers)
    return run_sync(run_job(config, items, pool, out=out, progress=False))


def test_every_problem_gets_one_record(engine, verifiers, tmp_path):
    out = tmp_path / "r.jsonl"
    config = JobConfig(dataset="t", strategy="cot", strategy_options={"max_tokens": 8})
    summary = run(engine, verifiers, config, problems(6), out)
    records = read_records(out)
    assert sorted(r["problem_id"] for r in records) == [f"p{i}" for i in range(6)]
    assert summary.problems == 6 and set(summary.by_level) == {"1", "2"}
    assert all(r["config_hash"] == config.hash for r in records)


def test_records_keep_the_strategys_trace(engine, verifiers, tmp_path):
    """`reasoner tree` reads a search tree from here; every event the strategy recorded is kept, in order."""
    out = tmp_path / "traced.jsonl"
    config = JobConfig(dataset="t", strategy="self_consistency", strategy_options={"n": 2, "max_tokens": 8})
    run(engine, verifiers, config, problems(2), out)
    for record in read_records(out):
        kinds = [event["kind"] for event in record["trace"]]
        assert kinds[0] == "generate" and kinds[-1] == "vote"
        assert record["trace"][0]["data"]["n"] == 2


def test_resume_skips_done_problems_and_matches_a_fresh_run(engine, verifiers, tmp_path):
    config = JobConfig(dataset="t", strategy="self_consistency", strategy_options={"n": 2, "max_tokens": 8})
    out = tmp_path / "resumed.jsonl"
    run(engine, verifiers, config, problems(3), out)
    first_pass = out.read_text()
    run(engine, verifiers, config, problems(6), out)
    assert out.read_text().startswith(first_pass)
    fresh = tmp_path / "fresh.jsonl"
    run(engine, verifiers, config, problems(6), fresh)
    by_id = lambda path: {r["problem_id"]: [c["text"] for c in r["candidates"]] for r in read_records(path)}  # noqa: E731
    assert len(read_records(out)) == 6
    assert by_id(out) == by_id(fresh)


def test_torn_last_line_is_dropped_and_redone(engine, verifiers, tmp_path):
    config = JobConfig(dataset="t", strategy="cot", strategy_options={"max_tokens": 8})
    out = tmp_path / "torn.jsonl"
    run(engine, verifiers, config, problems(2), out)
    out.write_text(out.read_text() + '{"problem_id": "p2", "config_ha')
    run(engine, verifiers, config, problems(3), out)
    assert [r["problem_id"] for r in read_records(out)].count("p2") == 1
    assert all(json.loads(line) for line in out.read_text().splitlines())


def test_resume_with_other_configuration_is_refused(engine, verifiers, tmp_path):
    out = tmp_path / "r.jsonl"
    run(engine, verifiers, JobConfig(dataset="t", strategy="cot"), problems(1), out)
    before = out.read_text()
    with pytest.raises(ResumeMismatchError, match="another configuration"):
        run(engine, verifiers, JobConfig(dataset="t", strategy="cot", seed=1), problems(2), out)
    assert out.read_text() == before


def test_failing_problem_is_recorded_and_the_job_goes_on(engine, verifiers, tmp_path):
    out = tmp_path / "r.jsonl"
    config = JobConfig(dataset="t", strategy="tests.failing_strategy:FailOn")
    summary = run(engine, verifiers, config, problems(4), out)
    records = {r["problem_id"]: r for r in read_records(out)}
    assert len(records) == 4
    assert "ZeroDivisionError: poison problem p2" in records["p2"]["error"]
    assert records["p2"]["status"] == "error" and not records["p2"]["correct"]
    assert records["p1"]["error"] is None
    assert summary.errors == 1


def test_one_pool_serves_different_strategies_at_once(engine, verifiers):
    """The pool is bound to the engine, not to a strategy: self-consistency and best-of-n problems
    are in flight together on one engine."""
    import asyncio

    from reasoner.jobs import SolveSpec

    pool = LocalPool(engine, verifiers)
    voting = SolveSpec(strategy="self_consistency", options={"n": 3, "max_tokens": 8})
    ranking = SolveSpec(strategy="best_of_n", options={"n": 2, "max_tokens": 8, "scorer": "logprob"})
    items = problems(4)

    async def both():
        return await asyncio.gather(*(pool.solve(p, voting if i % 2 else ranking) for i, p in enumerate(items)))

    results = run_sync(both())
    assert [r.strategy for r in results] == ["best_of_n", "self_consistency"] * 2
    assert [len(r.candidates) for r in results] == [2, 3] * 2
    assert all(r.error is None and r.verdict is not None for r in results)
