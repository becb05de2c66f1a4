"""A Ray pool's actors on a real Ray cluster whose nodes declare GPUs (logical ones: there is no GPU here).

Two nodes of a `ray.cluster_utils.Cluster` in this machine, each declaring four
GPUs. The actors are created with the resources `RayPool.plan` chose and asked
where they run; no engine is started (that would need the GPUs), so these tests
check the scheduling only: how many GPUs each actor holds, on which node, and
which GPU a shared PRM shares.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from reasoner.errors import ConfigError
from reasoner.jobs.pool import RayPool
from tests.conftest import RAY_TEST_RUNTIME
from tests.verifiers.test_prm import make_prm

NODE = {"num_cpus": 4, "num_gpus": 4}


@pytest.fixture(scope="module")
def gpu_cluster():
    """A two-node Ray cluster (4 logical GPUs each) this process is connected to; the session's runtime
    (if one was running) is restored afterwards."""
    import ray
    from ray.cluster_utils import Cluster

    restore = ray.is_initialized()
    ray.shutdown()
    saved = {key: os.environ.get(key) for key in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    os.environ["RAY_AUTH_MODE"] = "disabled"  # see tests/reasoner/test_cluster.py: another cluster's token
    os.environ.pop("RAY_ADDRESS", None)
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        cluster.shutdown()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        if restore:
            ray.init(**RAY_TEST_RUNTIME)


def gpus_in_use(ray, expected: float) -> float:
    """GPUs held by actors, once Ray's resource view (updated a moment after actors start or die) shows
    `expected` or 30 s have passed."""
    deadline = time.monotonic() + 30
    while True:
        held = ray.cluster_resources()["GPU"] - ray.available_resources().get("GPU", 0.0)
        if held == pytest.approx(expected) or time.monotonic() > deadline:
            return held
        time.sleep(0.2)


def test_a_tensor_parallel_actor_holds_its_gpus_on_one_node(gpu_cluster, tiny_checkpoint):
    ray = gpu_cluster
    pool = RayPool(str(tiny_checkpoint), workers=None, engine_options={"tensor_parallel_size": 2})
    assert pool.plan().worker.options() == {"num_cpus": 1, "num_gpus": 2.0}
    assert pool.workers == 4  # no count given: as many as the two nodes hold
    actors = [pool.new_actor() for _ in range(4)]
    try:
        places = ray.get([actor.where.remote() for actor in actors])
        assert all(len(place["gpus"]) == 2 for place in places)
        held = [(place["node"], gpu) for place in places for gpu in place["gpus"]]
        assert len(set(held)) == 8  # no GPU given twice
        assert Counter(place["node"] for place in places) == Counter({node: 2 for node in {p["node"] for p in places}})
        assert gpus_in_use(ray, 8) == 8
    finally:
        for actor in actors:
            ray.kill(actor)


def test_a_model_larger_than_a_node_is_refused_before_any_actor_starts(gpu_cluster, tiny_checkpoint):
    ray = gpu_cluster
    pool = RayPool(str(tiny_checkpoint), workers=1, engine_options={"tensor_parallel_size": 8})
    with pytest.raises(ConfigError, match="the largest node of this Ray cluster has 4"):
        pool.plan()
    assert gpus_in_use(ray, 0) == 0


def test_more_workers_than_the_nodes_hold_are_refused_not_left_waiting(gpu_cluster, tiny_checkpoint):
    pool = RayPool(str(tiny_checkpoint), workers=3, engine_options={"tensor_parallel_size": 3})
    with pytest.raises(ConfigError, match="this Ray cluster holds 2 engine actors asking for") as caught:
        pool.plan()  # 4 GPUs a node hold one engine of 3 each
    assert caught.value.field == "workers" and pool.placement is None


def test_a_shared_prm_takes_its_share_of_a_gpu_beside_a_policy_engine(gpu_cluster, tiny_checkpoint, tmp_path):
    from reasoner.engine.runtime import run_sync
    from reasoner.verifiers.prm.actor import start_prm_actor

    ray = gpu_cluster
    pool = RayPool(str(tiny_checkpoint), workers=8, engine_options={"gpu_memory_utilization": 0.8},
                   prm_actor="unused", prm_gpu_memory=0.15)
    placement = pool.plan()
    assert placement.worker.num_gpus == 0.8 and placement.prm.num_gpus == 0.15
    actors = [pool.new_actor() for _ in range(8)]  # one per GPU: 0.8 + 0.8 does not fit on one
    handle = None
    try:
        places = ray.get([actor.where.remote() for actor in actors])
        assert len({(p["node"], p["gpus"][0]) for p in places}) == 8
        handle, _ = run_sync(start_prm_actor(str(make_prm(tmp_path, tiny_checkpoint)),
                                             resources=placement.prm.options()))
        prm_place = ray.get(handle.where.remote())
        assert (prm_place["node"], prm_place["gpus"][0]) in {(p["node"], p["gpus"][0]) for p in places}
        assert prm_place["device"] == "cpu"  # torch sees no CUDA here; on a GPU it runs on its share
        assert gpus_in_use(ray, 8 * 0.8 + 0.15) == pytest.approx(8 * 0.8 + 0.15)
    finally:
        for actor in [*actors, *([handle] if handle else [])]:
            ray.kill(actor)


def test_policy_and_prm_asking_for_a_whole_gpu_are_refused_before_any_actor(gpu_cluster, tiny_checkpoint):
    ray = gpu_cluster
    pool = RayPool(str(tiny_checkpoint), workers=1, engine_options={"gpu_memory_utilization": 0.9},
                   prm_actor="unused", prm_gpu_memory=0.2)
    with pytest.raises(ConfigError, match="gpu_memory_utilization=0.9 and the shared PRM's "
                                          "prm_gpu_memory_utilization=0.2 sum to 1.10"):
        pool.plan()
    assert gpus_in_use(ray, 0) == 0
