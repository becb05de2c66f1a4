"""What a Ray pool's actors ask for (`plan_placement`): a pure function of engine settings and node resources."""

from __future__ import annotations

import pytest

from reasoner.errors import ConfigError
from reasoner.jobs.placement import ActorResources, plan_placement

CPU_NODES = [{"CPU": 8.0}, {"CPU": 8.0}]
GPU_NODES = [{"CPU": 16.0, "GPU": 4.0}, {"CPU": 16.0, "GPU": 2.0}]


def test_without_gpus_an_engine_takes_a_cpu_and_the_prm_none():
    placement = plan_placement({}, 0.85, CPU_NODES, prm_gpu_memory=0.1)
    assert placement.worker == ActorResources(num_cpus=1, num_gpus=0)
    assert placement.prm == ActorResources(num_cpus=0, num_gpus=0)
    assert not placement.on_gpus


def test_a_model_on_one_gpu_asks_for_its_memory_share_of_it():
    placement = plan_placement({}, 0.85, GPU_NODES)
    assert placement.worker.options() == {"num_cpus": 1, "num_gpus": 0.85}
    assert placement.gpus_per_worker == 1


@pytest.mark.parametrize(("args", "gpus"), [({"tensor_parallel_size": 2}, 2), ({"pipeline_parallel_size": 2}, 2),
                                           ({"tensor_parallel_size": 2, "pipeline_parallel_size": 2}, 4)])
def test_a_model_spanning_gpus_asks_for_that_many_whole_gpus(args, gpus):
    placement = plan_placement(args, 0.9, GPU_NODES, prm_gpu_memory=0.5)
    assert placement.worker == ActorResources(num_cpus=1, num_gpus=gpus)
    assert placement.gpus_per_worker == gpus
    assert placement.prm.num_gpus == 0.5  # it cannot share these whole GPUs, so no sum is checked


def test_a_shared_prm_asks_for_its_own_share():
    placement = plan_placement({}, 0.7, GPU_NODES, prm_gpu_memory=0.2)
    assert placement.worker.num_gpus == 0.7 and placement.prm == ActorResources(num_cpus=0, num_gpus=0.2)


@pytest.mark.parametrize(("policy", "prm"), [(0.85, 0.15), (0.9, 0.3)])
def test_policy_and_prm_shares_of_one_gpu_must_sum_below_one(policy, prm):
    with pytest.raises(ConfigError) as caught:
        plan_placement({}, policy, GPU_NODES, prm_gpu_memory=prm)
    message = str(caught.value)
    assert f"gpu_memory_utilization={policy}" in message and f"prm_gpu_memory_utilization={prm}" in message
    assert "below 1" in message and caught.value.field == "prm_gpu_memory_utilization"


def test_a_model_larger_than_every_node_is_refused_with_the_sizes():
    with pytest.raises(ConfigError, match="size 8 needs 8 GPUs on one node; the largest node of this Ray "
                                          "cluster has 4") as caught:
        plan_placement({"tensor_parallel_size": 4, "pipeline_parallel_size": 2}, 0.9, GPU_NODES)
    assert caught.value.field == "tensor_parallel_size"


def test_a_parallel_model_on_a_cluster_without_gpus_is_refused():
    with pytest.raises(ConfigError, match="tensor x pipeline parallel size 2 needs 2 GPUs on one node; this Ray "
                                          "cluster has no GPUs"):
        plan_placement({"tensor_parallel_size": 2}, 0.9, CPU_NODES)


def test_an_engine_spanning_gpus_uses_worker_processes_not_ray(tiny_checkpoint):
    from reasoner.engine.backends.vllm import VLLMGenerator

    generator = VLLMGenerator(str(tiny_checkpoint), tensor_parallel_size=2, gpu_memory_utilization=0.6)
    assert generator._gpu_args() == {"gpu_memory_utilization": 0.6, "distributed_executor_backend": "mp"}
    assert "distributed_executor_backend" not in VLLMGenerator(str(tiny_checkpoint))._gpu_args()


@pytest.mark.parametrize(("args", "share", "prm", "nodes", "slots"), [
    ({}, 0.85, None, CPU_NODES, 16),  # a CPU each
    ({}, 0.85, 0.1, GPU_NODES, 6),  # one per GPU; the PRM's share fits beside one of them
    ({}, 0.45, None, GPU_NODES, 12),  # two shares of 0.45 fit on one GPU
    ({"tensor_parallel_size": 2}, 0.9, None, GPU_NODES, 3),  # 4 + 2 GPUs: two engines and one
    ({"tensor_parallel_size": 2}, 0.9, 0.1, [{"GPU": 5.0}, {"GPU": 2.0}], 3),  # the PRM takes the 5th GPU
    ({"tensor_parallel_size": 2}, 0.9, 0.1, [{"GPU": 4.0}, {"GPU": 4.0}], 3),  # ... costing one engine here
    ({"tensor_parallel_size": 3}, 0.9, None, GPU_NODES, 1),  # only the 4-GPU node holds one
])
def test_worker_slots_count_the_engines_the_nodes_hold_at_once(args, share, prm, nodes, slots):
    from reasoner.jobs.placement import worker_slots

    assert worker_slots(plan_placement(args, share, nodes, prm_gpu_memory=prm), nodes) == slots


@pytest.mark.parametrize(("models", "workers", "address", "expected"), [
    (("tiny",), None, "127.0.0.1:6379", None),  # one model fills the cluster
    (("tiny", "small"), None, "127.0.0.1:6379", 1),  # several share it: one worker each
    (("tiny", "small"), 3, "127.0.0.1:6379", 3),
    (("tiny",), None, None, None),  # no Ray at all
])
def test_the_service_gives_each_model_its_workers(models, workers, address, expected):
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import pool_settings

    config = ServiceConfig(models=models, workers=workers, ray_address=address)
    assert {name: s.workers for name, s in pool_settings(config).items()} == {name: expected for name in models}


@pytest.mark.parametrize(("args", "nodes", "workers"), [
    ({}, CPU_NODES, 2),  # on CPU one engine per node: its threads use the node's cores
    ({}, GPU_NODES, 6),  # on GPUs, every slot
    ({"tensor_parallel_size": 2}, GPU_NODES, 3),
])
def test_a_pool_given_no_count_takes_the_engines_its_nodes_hold(args, nodes, workers):
    from reasoner.jobs.placement import default_workers

    assert default_workers(plan_placement(args, 0.85, nodes), nodes) == workers
