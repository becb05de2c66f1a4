"""Ray pool and crash safety with real Ray actors and real vLLM engines on the tiny checkpoint."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from reasoner.jobs import JobConfig, read_records, run_job
from reasoner.jobs.pool import LocalPool, RayPool
from reasoner.engine.runtime import run_sync
from reasoner.types import Problem

REPO = Path(__file__).resolve().parents[3]


def problems(count: int) -> list[Problem]:
    return [Problem(id=f"q{i:03d}", prompt=f"What is {i} + 1?", answer=str(i + 1)) for i in range(count)]


def write_dataset(path: Path, items: list[Problem]) -> Path:
    path.write_text("".join(p.model_dump_json() + "\n" for p in items))
    return path


def test_killed_worker_problems_are_retried_exactly_once(ray_runtime, tiny_checkpoint, tmp_path):
    config = JobConfig(dataset="t", strategy="tests.slow_strategy:Slow", model=str(tiny_checkpoint),
                       strategy_options={"delay_s": 0.3, "max_tokens": 8})
    out = tmp_path / "r.jsonl"
    items = problems(40)

    async def scenario():
        pool = await RayPool(config.model, workers=2, per_worker=2).start()
        job = asyncio.ensure_future(run_job(config, items, pool, out=out, progress=False))
        while not out.exists() or len(read_records(out)) < 4:
            await asyncio.sleep(0.1)
        victim = pool.actors[0]
        ray_runtime.kill(victim)
        summary = await job
        restarts = pool.restarts
        await pool.close()
        return summary, restarts

    summary, restarts = run_sync(scenario())
    ids = [r["problem_id"] for r in read_records(out)]
    assert sorted(ids) == sorted(p.id for p in items) and len(ids) == len(set(ids))
    assert summary.errors == 0
    assert restarts == 1


def test_a_replacement_ray_cannot_place_yet_holds_up_nothing_and_joins_when_room_appears(ray_runtime, tiny_checkpoint,
                                                                                       tmp_path):
    config = JobConfig(dataset="t", strategy="tests.slow_strategy:Slow", model=str(tiny_checkpoint),
                       strategy_options={"delay_s": 0.3, "max_tokens": 8})
    out = tmp_path / "r.jsonl"
    items = problems(12)

    @ray_runtime.remote(num_cpus=1)
    class Squatter:
        """Holds a CPU of the session runtime (four logical CPUs), so that a replacement has none."""

        def ready(self) -> bool:
            return True

    async def scenario():
        pool = await RayPool(config.model, workers=2, per_worker=2).start()
        squatters = [Squatter.remote() for _ in range(3)]  # two take the free CPUs; one waits for the victim's
        try:
            await asyncio.wait_for(asyncio.gather(*(s.ready.remote() for s in squatters[:2])), timeout=120)
            job = asyncio.ensure_future(run_job(config, items, pool, out=out, progress=False))
            while not out.exists() or len(read_records(out)) < 2:
                await asyncio.sleep(0.1)
            ray_runtime.kill(pool.actors[0])
            await asyncio.wait_for(squatters[2].ready.remote(), timeout=60)  # it, not the replacement, got the CPU
            # The replacement waits for a CPU; a pool that awaits it holding its dispatch lock never ends the job.
            summary = await asyncio.wait_for(job, timeout=180)
            during = len(pool.actors), pool.restarts
            ray_runtime.kill(squatters[0])  # room again: the replacement is placed and joins
            while len(pool.actors) < 2:
                await asyncio.sleep(0.5)
            return summary, during, pool.shrunk
        finally:
            for squatter in squatters:
                ray_runtime.kill(squatter)
            await pool.close()

    summary, (actors_during, restarts), shrunk = run_sync(scenario())
    ids = [r["problem_id"] for r in read_records(out)]
    assert sorted(ids) == sorted(p.id for p in items) and len(ids) == len(set(ids))
    assert summary.errors == 0
    assert (actors_during, restarts) == (1, 1)  # the job finished on the live actor while the replacement waited
    assert shrunk == 0  # the node still had room for it: it waited for resources, not for a lost node


def test_poison_problem_is_an_error_after_bounded_attempts(ray_runtime, tiny_checkpoint, tmp_path):
    config = JobConfig(dataset="t", strategy="tests.slow_strategy:KillOn", model=str(tiny_checkpoint))
    items = problems(3) + [Problem(id="poison", prompt="boom", answer="0")]
    out = tmp_path / "r.jsonl"

    async def scenario():
        pool = await RayPool(config.model, workers=1, per_worker=4, max_attempts=2).start()
        try:
            return await run_job(config, items, pool, out=out, progress=False)
        finally:
            await pool.close()

    summary = run_sync(scenario())
    records = {r["problem_id"]: r for r in read_records(out)}
    assert set(records) == {p.id for p in items}
    assert "worker died on this problem 2 times" in records["poison"]["error"]
    assert summary.errors == 1


def test_sigkilled_job_resumes_to_the_same_result(engine, verifiers, tiny_checkpoint, tmp_path):
    dataset = write_dataset(tmp_path / "data.jsonl", problems(30))
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "reasoner.cli", "solve", "--dataset", str(dataset),
               "--strategy", "tests.slow_strategy:Slow", "--model", str(tiny_checkpoint),
               "--concurrency", "2", "--out", str(out), "--json"]
    # Its own session, so the kill takes the job's engine process down with it, as a crash of the
    # machine or the OOM killer would; a lone SIGKILL of the parent leaves vLLM's engine core orphaned.
    job = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    deadline = time.monotonic() + 240
    while (not out.exists() or len(read_records(out)) < 5) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    partial = len(read_records(out))
    assert 5 <= partial < 30
    resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    ids = [r["problem_id"] for r in read_records(out)]
    assert len(ids) == 30 == len(set(ids))
    config = JobConfig(dataset=str(dataset), strategy="tests.slow_strategy:Slow", model=str(tiny_checkpoint))
    run_sync(run_job(config, problems(30), LocalPool(engine, verifiers, concurrency=2),
                     out=tmp_path / "fresh.jsonl", progress=False))
    assert summary["problems"] == 30
    # Greedy decoding from the same weights: the killed-and-resumed job wrote the same records as a clean run.
    assert outcomes(out) == outcomes(tmp_path / "fresh.jsonl")


def outcomes(path: Path) -> dict[str, dict]:
    """Each problem's record without its timings."""
    keep = ("config_hash", "answer", "status", "score", "correct", "chosen", "candidates", "error")
    return {r["problem_id"]: {k: r[k] for k in keep} for r in read_records(path)}
