"""What each actor of a `RayPool` asks Ray for: a pure function of the engine's settings and the cluster's nodes.

`plan_placement(config, nodes, prm_gpu_memory)` returns the Ray resource
options of one engine actor and of the shared PRM actor, or a `ConfigError`
before any actor starts when the cluster cannot hold them.

The design, for a model that spans W = tensor x pipeline parallel size GPUs:
the engine actor asks Ray for W whole GPUs (`num_gpus=W`) and its engine
starts W workers with vLLM's multiprocessing executor inside the actor
(`VLLMGenerator` sets `distributed_executor_backend="mp"` when W > 1). This
rather than a placement group of W GPU bundles with vLLM's Ray executor,
because:

- Ray grants the W GPUs on one node and sets `CUDA_VISIBLE_DEVICES` to them;
  the engine's W workers are the actor's child processes on that node, which
  is where tensor parallelism's all-reduces belong (NVLink or PCIe, not the
  network).
- It is one resource request per actor, granted whole or not at all. There is
  nothing else to create, find again, or remove when an actor dies and the
  pool starts its replacement (a placement group outlives its actor unless
  removed, and holds its GPUs meanwhile).
- vLLM's Ray executor inside an actor starts further Ray workers from the
  engine-core process, which must find the actor's placement group: one more
  layer that can fail, for no gain while the model fits on one node.

So a model that needs more GPUs than any one node has (pipeline parallelism
across nodes) is not supported: it is a `ConfigError` naming the sizes.

An engine on one GPU (W = 1) asks for the share of a GPU its engine may fill
(its `gpu_memory_utilization`, as a Ray fractional GPU). A shared PRM actor asks
for its own share (`prm_gpu_memory_utilization`) and may land beside a policy
engine on the same GPU, so the two shares must sum below 1; a `ConfigError`
naming both says so otherwise. With W > 1 the engine holds whole GPUs, and the
PRM takes its share of a GPU that no such engine holds.

Without GPUs, each engine actor asks for one CPU and the PRM actor for none,
so that it fits beside them (its forward passes use the threads torch gives it).

`worker_slots(placement, nodes)` counts the engine actors the cluster's nodes
hold side by side (a node holds as many as its resources allow; a GPU holds as
many single-GPU engines as their shares fit); a pool asked for more is refused
rather than left waiting for resources that never come. A pool given no worker
count starts `default_workers`: every slot on GPUs, one engine per node on CPU
(a CPU engine's threads use the node's cores, not the one logical CPU it reserves).

Not here: starting actors (`reasoner.jobs.pool.RayPool`) or the engine's own
arguments (`reasoner.engine.backends.vllm`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reasoner.engine.backends.vllm_args import world_size
from reasoner.errors import ConfigError


class ActorResources(BaseModel):
    """What one Ray actor reserves on its node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_cpus: float = Field(ge=0)
    """Logical CPUs."""
    num_gpus: float = Field(0.0, ge=0)
    """GPUs: a whole number, or a fraction below 1 for an actor that shares its GPU."""

    def options(self) -> dict[str, Any]:
        """Keyword arguments of `ray.remote(...)` / `.options(...)`."""
        return self.model_dump()


class Placement(BaseModel):
    """The resources of a pool's engine actors and of its shared PRM actor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker: ActorResources
    """Each engine actor."""
    prm: ActorResources
    """The shared PRM actor (unused when the pool shares none)."""
    gpus_per_worker: int
    """GPUs one engine spans (tensor x pipeline parallel size); 0 on a cluster without GPUs."""

    @property
    def on_gpus(self) -> bool:
        return self.gpus_per_worker > 0


def plan_placement(engine_args: Mapping[str, Any], gpu_memory_utilization: float,
                   nodes: Sequence[Mapping[str, float]], prm_gpu_memory: float | None = None) -> Placement:
    """The actors' resources for an engine with `engine_args` (vLLM's, as `EngineConfig.engine_args`) and
    `gpu_memory_utilization`, on a cluster whose live nodes have `nodes` resources (`ray.nodes()`'s
    `Resources`: "CPU", "GPU", ...), with a shared PRM taking `prm_gpu_memory` of a GPU (None: no shared PRM).

    Raises `ConfigError` when the engine cannot fit on any node, or when a policy engine and the PRM
    that may share its GPU ask for more than the whole of it."""
    span = world_size(engine_args)
    most_gpus = max((int(node.get("GPU", 0)) for node in nodes), default=0)
    if most_gpus == 0:
        if span > 1:
            raise ConfigError(f"tensor x pipeline parallel size {span} needs {span} GPUs on one node; this Ray "
                              f"cluster has no GPUs", field="tensor_parallel_size")
        return Placement(worker=ActorResources(num_cpus=1), prm=ActorResources(num_cpus=0), gpus_per_worker=0)
    if span > most_gpus:
        raise ConfigError(f"tensor x pipeline parallel size {span} needs {span} GPUs on one node; the largest "
                          f"node of this Ray cluster has {most_gpus} (models spanning nodes are not supported)",
                          field="tensor_parallel_size")
    if span == 1 and prm_gpu_memory is not None:
        check_shared_gpu(gpu_memory_utilization, prm_gpu_memory)
    worker_gpus = float(span) if span > 1 else gpu_memory_utilization
    return Placement(worker=ActorResources(num_cpus=1, num_gpus=worker_gpus),
                     prm=ActorResources(num_cpus=0, num_gpus=prm_gpu_memory or 0.0), gpus_per_worker=span)


def check_shared_gpu(policy: float, prm: float) -> None:
    """A `ConfigError` naming both shares unless a policy engine's and a PRM's shares of one GPU sum below 1
    (also the CLI's check of `--prm-gpu-memory-utilization`)."""
    if policy + prm >= 1:
        raise ConfigError(f"the policy engine's gpu_memory_utilization={policy} and the shared PRM's "
                          f"prm_gpu_memory_utilization={prm} sum to {policy + prm:.2f}; they may share one GPU, "
                          f"so they must sum below 1", field="prm_gpu_memory_utilization")


def worker_slots(placement: Placement, nodes: Sequence[Mapping[str, float]]) -> int:
    """How many engine actors of `placement` the `nodes` hold at once (the shared PRM's GPU share left free)."""
    if not placement.on_gpus:
        return sum(int(node.get("CPU", 0) // placement.worker.num_cpus) for node in nodes)
    gpus = [int(node.get("GPU", 0)) for node in nodes]
    if placement.gpus_per_worker == 1:
        return sum(gpus) * int(1 // placement.worker.num_gpus)  # the PRM's share fits beside any of them
    slots = [count // placement.gpus_per_worker for count in gpus]
    if placement.prm.num_gpus > 0:  # one GPU that no engine holds whole: take it where it costs fewest slots
        slots = max(([*slots[:i], (count - 1) // placement.gpus_per_worker, *slots[i + 1:]]
                     for i, count in enumerate(gpus) if count > 0), key=sum)
    return sum(slots)


def default_workers(placement: Placement, nodes: Sequence[Mapping[str, float]]) -> int:
    """Engine actors for a pool given no count: every slot on GPUs; on CPU, one per node that holds one."""
    if placement.on_gpus:
        return worker_slots(placement, nodes)
    return sum(1 for node in nodes if node.get("CPU", 0) >= placement.worker.num_cpus)


def live_node_resources() -> list[dict[str, float]]:
    """The resources of each live node of the Ray cluster this process is connected to."""
    import ray

    return [dict(node["Resources"]) for node in ray.nodes() if node["Alive"]]
