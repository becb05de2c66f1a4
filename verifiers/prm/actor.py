"""One PRM in its own Ray actor, shared by many generator actors.

`PRMActor` is the body of a Ray actor that holds one loaded PRM
(`reasoner.verifiers.prm.PRMVerifier`) and scores for every caller through its async
micro-batcher, so the candidates that several generator actors send within a
few milliseconds share one forward batch. `RemotePRM` is what a generator
process holds instead of a loaded PRM: the same `ascore` and `check_policy`,
and the tokenizer and step format (kilobytes, read from the PRM's folder on
the worker's machine, for cost estimates), but not the weights.

`RayPool(prm_actor=NAME)` starts one with `start_prm_actor`, and each worker
gives its `PRMSet` the client under the PRM's name and folder
(`shared_prm_set`), so strategies handed that PRM score through the shared
actor without knowing it. A PRM that a strategy names and the pool does not
share is still loaded in the worker.

Not here: the pool (`reasoner.jobs.pool`) or the model (`reasoner.verifiers.prm.local`).
The actor is not restarted: if it dies, scoring raises `EngineError` naming it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reasoner.errors import EngineError
from reasoner.verifiers.prm import PRMSet, Scored
from reasoner.verifiers.prm.local import PRMVerifier, check_policy_tokenizer


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


class PRMActor:
    """Body of a Ray actor: one loaded PRM, scoring every caller's requests in shared forward batches."""

    def __init__(self, folder: str) -> None:
        self.verifier = PRMVerifier(folder)
        self.calls: dict[int, int] = {}

    async def describe(self) -> dict[str, Any]:
        """What a `SharedPRM` records about this PRM."""
        return {"folder": str(self.verifier.folder), "parameters": self.verifier.parameters,
                "max_len": self.verifier.max_len}

    async def score(self, items: list[tuple[str, str]], caller: int) -> str:
        """`PRMVerifier.ascore(items)` as JSON; `caller` (a process id) is counted in `stats`."""
        self.calls[caller] = self.calls.get(caller, 0) + 1
        return (await self.verifier.ascore(items)).model_dump_json()

    async def stats(self) -> dict[str, Any]:
        """Scoring calls per caller process, and forward passes run."""
        return {"calls_by_process": dict(self.calls), "forward_calls": self.verifier.forward_calls}


class RemotePRM:
    """A client of a shared PRM actor, used where a loaded `PRMVerifier` would be."""

    def __init__(self, shared: SharedPRM) -> None:
        import ray
        from transformers import AutoTokenizer

        from reasoner.steps import load_step_format
        from reasoner.verifiers.prm.encoding import read_prm_config

        self.shared = shared
        self.actor = ray.get_actor(shared.actor)
        self.folder = Path(shared.folder)
        self.step_format = load_step_format(self.folder)
        self.info = read_prm_config(self.folder)
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
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

    def check_policy(self, policy: str) -> None:
        """A `ConfigError` if the local model `policy` tokenizes differently from this PRM."""
        check_policy_tokenizer(self.folder, self.info, policy)


async def start_prm_actor(name: str) -> tuple[Any, SharedPRM]:
    """Start a named Ray actor holding the PRM `name` (bundled name or folder); its handle and description.

    It reserves no logical CPU, so that it fits beside one engine actor per
    CPU; its forward passes use the CPU threads torch gives it.
    """
    import ray

    from reasoner.engine.models import resolve_model

    actor_name = f"reasoner-prm-{uuid.uuid4().hex[:12]}"
    handle = ray.remote(num_cpus=0)(PRMActor).options(name=actor_name).remote(resolve_model(name))
    described = await handle.describe.remote()
    return handle, SharedPRM(name=name, actor=actor_name, **described)


def shared_prm_set(shared: SharedPRM) -> PRMSet:
    """A worker's PRM set in which the shared PRM (by its name and its folder) is the actor's client."""
    client = RemotePRM(shared)
    return PRMSet({shared.name: client, shared.folder: client})
