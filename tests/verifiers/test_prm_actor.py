"""A PRM in its own Ray actor, shared by generator actors: real Ray, real vLLM engines on the tiny checkpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reasoner.engine.runtime import run_sync
from reasoner.errors import EngineError
from reasoner.jobs import SolveSpec
from reasoner.jobs.pool import RayPool
from reasoner.types import Problem
from tests.verifiers.test_prm import make_prm
from reasoner.verifiers.prm import PRMSettings, aggregate
from reasoner.verifiers.prm.local import PRMVerifier

TORCH = PRMSettings(runner="torch")
"""The shared actor runs the torch runner here, so its scores are compared exactly with the same runner in this
process (the vLLM runner in an actor: tests/verifiers/test_prm_served.py)."""
PROBLEMS = [Problem(id=f"q{i}", prompt=f"Ann has {i} pens and buys {i + 2} more. How many pens does she have?",
                    answer=str(2 * i + 2)) for i in range(8)]


@pytest.fixture(scope="module")
def checkpoint_prm(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    """An (untrained) PRM on the test engine's tokenizer: these tests are about where it runs, not quality."""
    return make_prm(tmp_path_factory.mktemp("shared-prm"), tiny_checkpoint)


def test_two_generator_actors_score_through_one_prm_actor_as_in_process(ray_runtime, tiny_checkpoint,
                                                                        checkpoint_prm):
    spec = SolveSpec(strategy="best_of_n", options={"n": 3, "max_tokens": 16, "scorer": "prm",
                                                     "scorer_options": {"prm": str(checkpoint_prm)}})

    async def scenario():
        pool = await RayPool(str(tiny_checkpoint), workers=2, per_worker=2, prm_actor=str(checkpoint_prm),
                             prm_settings={str(checkpoint_prm): TORCH}).start()
        try:
            workers = set(await asyncio.gather(*(actor.ready.remote() for actor in pool.actors)))
            results = await asyncio.gather(*(pool.solve(problem, spec) for problem in PROBLEMS))
            stats = await ray_runtime.get_actor(pool.shared_prm.actor).stats.remote()
            share = pool.shared_prm.settings.gpu_memory_utilization
        finally:
            await pool.close()
        return workers, results, stats, share

    workers, results, stats, share = run_sync(scenario())
    assert share == 0.1 != TORCH.gpu_memory_utilization  # the actor's engine takes the share the actor asked for
    assert len(workers) == 2 and all(r.error is None for r in results)
    assert set(stats["calls_by_process"]) == workers  # both workers sent their scoring to the one PRM actor
    assert sum(stats["calls_by_process"].values()) == len(PROBLEMS)
    in_process = PRMVerifier(checkpoint_prm)
    for problem, result in zip(PROBLEMS, results):
        scored = in_process.score([(problem.prompt, c.text) for c in result.candidates])
        remote = next(e.data["scores"] for e in result.trace if e.kind == "score")
        assert remote == pytest.approx([aggregate(row, "min") for row in scored.steps], abs=1e-5)
        assert result.cost.prm_tokens == scored.tokens > 0


def test_a_dead_prm_actor_is_a_named_engine_error(ray_runtime, checkpoint_prm):
    from reasoner.verifiers.prm.actor import RemotePRM, start_prm_actor

    async def scenario():
        handle, shared = await start_prm_actor(str(checkpoint_prm), TORCH)
        client = RemotePRM(shared)
        alive = await client.ascore([(PROBLEMS[0].prompt, "1 + 3 = 4\nThe answer is \\boxed{4}.")])
        ray_runtime.kill(handle)
        try:
            await client.ascore([(PROBLEMS[0].prompt, "1 + 3 = 4")])
        except EngineError as exc:
            return shared, alive, exc
        return shared, alive, None

    shared, alive, error = run_sync(scenario())
    assert [len(row) for row in alive.steps] == [2]
    assert error is not None and f"shared PRM actor {shared.actor!r}" in str(error) and "is gone" in str(error)
