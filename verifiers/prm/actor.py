"""One PRM in its own Ray actor, shared by many generator actors.

`PRMActor` is the body of a Ray actor that holds one PRM, opened as its
settings say (`open_prm`: by default on its own vLLM pooling engine, whose
scheduler batches the requests every generator actor sends, with its prefix
cache and memo shared by all of them; or with torch and its micro-batcher).
`RemotePRM` is what a generator process holds instead: the same `ascore`,
`count_tokens` and `check_policy`, and the format, tokenizer and step format
(kilobytes, read from the PRM's folder on the worker's machine, for cost
estimates), but not the weights.

`RayPool(prm_actor=NAME)` starts one with `start_prm_actor`, and each worker
gives its `PRMSet` the client under the PRM's name and folder
(`shared_prm_set`), so strategies handed that PRM score through the shared
actor without knowing it. A PRM that a strategy names and the pool does not
share is still loaded in the worker.

Not here: the pool (`reasoner.jobs.pool`) or the runners (`reasoner.verifiers.prm.served`, `.local`).
The actor is not restarted: if it dies, scoring raises `EngineError` naming it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reasoner.errors import EngineError
from reasoner.verifiers.prm import PRMSet, PRMSettings, Scored


class SharedPRM(BaseModel):
    """Where a shared PRM runs and what its clients need to know without loading its weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The PRM as the pool was given it: a bundled name or a folder."""
    folder: str
    """The PRM folder, as the driver resolved its name (workers read its tokenizer and step format)."""
    actor: str
    """Name of the Ray actor that holds the weights."""
    parameters: int
    """The PRM's parameter count (for FLOPs)."""
    max_len: int
    """Tokens the PRM reads at most per solution."""
    settings: PRMSettings = PRMSettings()
    """How the actor runs the PRM (and how its clients read the folder: format, step delimiter)."""


class PRMActor:
    """Body of a Ray actor: one PRM, scoring every caller's requests together."""

    def __init__(self, folder: str, settings_json: str, gpu_share: float = 0.0) -> None:
        from reasoner.verifiers.prm import open_prm

        self.device = _device(gpu_share)
        """`cuda:0` (Ray's GPU, torch's memory capped at the share) when the actor was given a GPU share and torch
        sees CUDA; else `cpu`."""
        self.prm = open_prm(folder, PRMSettings.model_validate_json(settings_json))
        self.calls: dict[int, int] = {}

    async def describe(self) -> dict[str, Any]:
        """What a `SharedPRM` records about this PRM."""
        return {"folder": str(self.prm.folder), "parameters": self.prm.parameters, "max_len": self.prm.max_len}

    async def score(self, items: list[tuple[str, str]], caller: int) -> str:
        """The PRM's `ascore(items)` as JSON; `caller` (a process id) is counted in `stats`."""
        self.calls[caller] = self.calls.get(caller, 0) + 1
        return (await self.prm.ascore(items)).model_dump_json()

    async def where(self) -> dict[str, Any]:
        """The node this actor runs on, the GPU ids Ray gave it (empty on CPU) and the PRM's torch device."""
        import ray

        return {"node": ray.get_runtime_context().get_node_id(), "gpus": [str(g) for g in ray.get_gpu_ids()],
                "device": self.device}

    async def stats(self) -> dict[str, Any]:
        """Scoring calls per caller process, and the runner's own counts (forward passes, or requests)."""
        runner = self.prm.stats() if hasattr(self.prm, "stats") else {"forward_calls": self.prm.forward_calls}
        return {"calls_by_process": dict(self.calls), **runner}


class RemotePRM:
    """A client of a shared PRM actor, used where an opened PRM would be."""

    def __init__(self, shared: SharedPRM) -> None:
        import ray

        from reasoner.verifiers.prm.reading import Reading

        self.shared = shared
        self.actor = ray.get_actor(shared.actor)
        self.reading = Reading(shared.folder, shared.settings, parameters=shared.parameters)
        self.folder = Path(shared.folder)
        self.step_format = self.reading.step_format
        self.tokenizer = self.reading.tokenizer
        self.parameters = shared.parameters
        self.max_len = shared.max_len

    async def ascore(self, items: list[tuple[str, str]]) -> Scored:
        """Step scores from the shared actor (batched there with other callers' requests)."""
        from ray.exceptions import RayActorError

        try:
            payload = await self.actor.score.remote(items, os.getpid())
        except RayActorError as exc:
            raise EngineError(f"the shared PRM actor {self.shared.actor!r} ({self.folder}) is gone: {exc}") from exc
        return Scored.model_validate_json(payload)

    def count_tokens(self, items: list[tuple[str, str]]) -> int:
        return self.reading.count_tokens(items)

    def check_policy(self, policy: str) -> None:
        """A `ConfigError` if the local model `policy` tokenizes differently from this PRM where it matters."""
        self.reading.check_policy(policy)


def _device(gpu_share: float) -> str:
    """Where the PRM actor's torch work may run: on the CUDA device Ray assigned, its memory capped at
    `gpu_share`, when the actor was given a GPU share and torch sees CUDA; else on the CPU."""
    import torch

    if gpu_share <= 0 or not torch.cuda.is_available():
        return "cpu"
    torch.cuda.set_per_process_memory_fraction(gpu_share, 0)  # Ray's CUDA_VISIBLE_DEVICES makes its GPU device 0
    return "cuda:0"


async def start_prm_actor(name: str, settings: PRMSettings | None = None,
                          resources: dict[str, float] | None = None) -> tuple[Any, SharedPRM]:
    """Start a named Ray actor holding the PRM `name` (bundled name or folder); its handle and description.

    `settings` say how the PRM runs (runner, format, server URL). `resources` are what the actor asks Ray for
    (`num_cpus`, `num_gpus`: see `reasoner.jobs.placement`); by default no logical CPU, so that it fits beside
    one engine actor per CPU; its engine (or torch) takes the CPU threads it is given. Given a GPU share, its
    torch memory is capped at the share.
    """
    import ray

    from reasoner.engine.models import resolve_model

    settings = settings or PRMSettings()
    resources = resources or {"num_cpus": 0}
    actor_name = f"reasoner-prm-{uuid.uuid4().hex[:12]}"
    handle = ray.remote(PRMActor).options(name=actor_name, **resources).remote(
        resolve_model(name), settings.model_dump_json(), resources.get("num_gpus", 0.0))
    described = await handle.describe.remote()
    return handle, SharedPRM(name=name, actor=actor_name, settings=settings, **described)


def shared_prm_set(shared: SharedPRM, settings: dict[str, PRMSettings] | None = None) -> PRMSet:
    """A worker's PRM set in which the shared PRM (by its name and its folder) is the actor's client; other
    PRMs open in the worker with `settings`."""
    prms = PRMSet(settings=settings)
    give_shared(prms, shared)
    return prms


def give_shared(prms: PRMSet, shared: SharedPRM) -> None:
    """Hold the shared PRM's client in `prms` under its name and its folder."""
    client = RemotePRM(shared)
    prms.give(shared.name, client)
    prms.give(shared.folder, client)
