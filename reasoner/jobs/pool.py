"""Worker pools: where a job's problems are solved.

One protocol, two implementations. A pool is bound to a model, never to a
strategy: every `solve` call brings its own `SolveSpec`, so one engine
serves problems solved with different strategies at once.

- `LocalPool`: one engine in this process, no Ray.
- `RayPool`: N Ray actors, each hosting its own engine and verifiers. Each
  actor runs many problems' strategies concurrently on its event loop, so its
  engine batches tokens across problems. Problems go to the least-busy live
  actor as slots free up (a queue, not a static split). If an actor dies, its
  in-flight problems are retried, each alone on an idle actor, so that the
  problem that kills workers is told apart from its bystanders; one that has
  killed `max_attempts` workers is recorded as an error and the job goes on.
  A dead actor's replacement starts in the background and joins when its
  engine is up; the live actors go on meanwhile. When the live nodes have no
  room for it (its node was lost), the pool goes on smaller, and a
  replacement Ray cannot place yet stays pending and joins if room appears
  (an autoscaler's new node, the node back).

Both pools also serve raw `GenerationRequest`s (`generate`, e.g. GRPO's
rollouts and the service's chat requests) under the same dispatch and retry
rules, and take new weights (`load_weights`, for engines started with
`weight_sync=True`). A call whose caller is cancelled is cancelled in its
actor too, which aborts its requests in the engine. `RayPool`
keeps the last weights it was given, and an actor it starts later (such as
the replacement of one that died) loads them before it takes any work, so
no actor serves older weights once `load_weights` has returned.

Grading runs inside the pool next to the strategy, in the verifiers' own
worker processes, so code execution never blocks token generation.

Each pool holds a `PRMSet` (each actor its own): the PRMs a strategy declares
are opened there once, as the pool's PRM settings say (by default each on its
own vLLM pooling engine beside the policy's; at a vLLM server with a URL; with
torch), and handed to it in its `SolveContext`. With `prm_actor`, that PRM
runs once, in its own Ray actor, and every worker's set holds its client
(`reasoner.verifiers.prm.actor`), so the candidates of all workers batch
together.

What each actor asks Ray for (CPUs, whole GPUs for a model that spans
several, a GPU share beside a shared PRM) is decided before any actor starts,
from the engine's settings and the cluster's nodes: `reasoner.jobs.placement`.

`make_pool(PoolSettings(...))` is how the CLI, the Python API and the service
get a pool: in-process, or on Ray when `workers` or a Ray address is given.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from reasoner.engine.generation import Generation, GenerationRequest
from reasoner.engine.models import DEFAULT_MODEL
from reasoner.errors import ConfigError, EngineError
from reasoner.jobs import SolveSpec
from reasoner.jobs.placement import (Placement, default_workers, live_node_resources, plan_placement,
                                     worker_slots)
from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem, Result
from reasoner.verifiers.prm import PRMSet, PRMSettings

log = logging.getLogger("reasoner.jobs")

PLACEMENT_CHECK_S = 2.0
"""How often a replacement actor that Ray has not placed yet checks whether the live nodes still have room for
it (Ray marks a lost node dead some seconds after its actors are reported dead)."""


@runtime_checkable
class WorkerPool(Protocol):
    """Solves and grades problems for a job."""

    @property
    def capacity(self) -> int:
        """How many problems the pool wants in flight to stay busy."""
        ...

    async def solve(self, problem: Problem, spec: SolveSpec) -> Result: ...

    async def close(self) -> None: ...


class LocalPool:
    """Everything in this process: one shared engine, concurrent strategies, the PRMs they declare.

    With `owned`, closing the pool closes its verifiers (never the engine: engines are shared, see
    `reasoner.engine.backends.open_generator`)."""

    def __init__(self, generator, verifiers, concurrency: int = 64, prms: PRMSet | None = None,
                 owned: bool = False) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        self.generator = generator
        self.verifiers = verifiers
        self.prms = prms if prms is not None else PRMSet()
        self._capacity = concurrency
        self._owned = owned

    @property
    def capacity(self) -> int:
        return self._capacity

    async def start(self) -> LocalPool:
        """Bring the engine up (a vLLM engine starts in about half a minute); other backends need nothing."""
        start = getattr(self.generator, "engine", None)
        if start is not None:
            await asyncio.to_thread(start)
        return self

    async def solve(self, problem: Problem, spec: SolveSpec) -> Result:
        return await solve_problem(problem, spec.build(), self.generator, self.verifiers, spec.budget, spec.seed,
                                   prms=self.prms)

    async def generate(self, request: GenerationRequest) -> Generation:
        """One raw generation on the engine."""
        return await self.generator.generate(request)

    async def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        """New weights into the engine (`VLLMGenerator.load_weights`: checksummed)."""
        await self.generator.load_weights(packed, version, expected)

    async def close(self) -> None:
        if self._owned:
            self.verifiers.close()


class SolverActor:
    """Body of a Ray actor: an engine and verifiers, solving many problems (any strategy) at once."""

    def __init__(self, model: str, engine_options: dict[str, Any], shared_prm: str | None = None,
                 prm_settings: str = "{}") -> None:
        from reasoner.engine.backends.vllm import VLLMGenerator
        from reasoner.verifiers import VerifierSet

        self.generator = VLLMGenerator(model, **engine_options)
        self.verifiers = VerifierSet()
        self.prms = PRMSet(settings=prm_settings_from_json(prm_settings))
        if shared_prm is not None:
            from reasoner.verifiers.prm.actor import SharedPRM, give_shared

            give_shared(self.prms, SharedPRM.model_validate_json(shared_prm))

    async def where(self) -> dict[str, Any]:
        """The node this actor runs on and the GPU ids Ray gave it (empty on CPU)."""
        import ray

        return {"node": ray.get_runtime_context().get_node_id(), "gpus": [str(g) for g in ray.get_gpu_ids()]}

    async def ready(self) -> int:
        """Start the engine; returns this worker's process id."""
        import os

        await asyncio.to_thread(self.generator.engine)
        return os.getpid()

    async def solve(self, problem_json: str, spec_json: str) -> str:
        problem = Problem.model_validate_json(problem_json)
        spec = SolveSpec.model_validate_json(spec_json)
        result = await solve_problem(problem, spec.build(), self.generator, self.verifiers, spec.budget, spec.seed,
                                     prms=self.prms)
        return result.model_dump_json()

    async def generate(self, request_json: str) -> str:
        """One raw `GenerationRequest` (as JSON); returns the `Generation` as JSON."""
        request = GenerationRequest.model_validate_json(request_json)
        return generation_json(await self.generator.generate(request))

    async def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> int:
        """New weights into this actor's engine (checksummed); returns the version it now holds."""
        await self.generator.load_weights(packed, version, expected)
        return self.generator.weight_version


def prm_settings_json(settings: dict[str, PRMSettings]) -> str:
    """PRM settings by name as JSON, for an actor."""
    return json.dumps({name: value.model_dump(mode="json") for name, value in settings.items()})


def prm_settings_from_json(text: str) -> dict[str, PRMSettings]:
    """The PRM settings `prm_settings_json` wrote."""
    return {name: PRMSettings.model_validate(value) for name, value in json.loads(text).items()}


def generation_json(generation: Generation) -> str:
    """A `Generation` as JSON with its per-token log-probs, which records leave out but RL needs."""
    data = generation.model_dump(mode="json")
    for candidate, dumped in zip(generation.candidates, data["candidates"]):
        dumped["token_logprobs"] = candidate.token_logprobs
    return json.dumps(data)


class RayPool:
    """N Ray actors with dynamic dispatch and retry of problems whose worker died."""

    _weights: tuple[Any, int, tuple[float, float]] | None = None
    """(object ref of the packed weights, version, checksum) of the last `load_weights`; None before."""

    def __init__(self, model: str, workers: int | None, address: str | None = None,
                 engine_options: dict[str, Any] | None = None, per_worker: int = 64,
                 max_attempts: int = 3, prm_actor: str | None = None,
                 prm_settings: dict[str, PRMSettings] | None = None, prm_gpu_memory: float = 0.1) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.model = model
        self.workers = workers
        """Engine actors; None: as many as the cluster's nodes hold (decided by `plan`)."""
        self.address = address
        self.engine_options = engine_options or {}
        self.per_worker = per_worker
        self.max_attempts = max_attempts
        self.prm_actor = prm_actor
        """PRM (bundled name or folder) served by one actor shared by every worker; None: a copy per worker."""
        self.prm_settings = dict(prm_settings or {})
        """How each PRM named here runs, in the shared actor or in every worker."""
        self.prm_gpu_memory = prm_gpu_memory
        """Share of a GPU's memory the shared PRM actor may take, on a cluster with GPUs."""
        self.placement: Placement | None = None
        """What each actor asks Ray for; set by `plan` (on `start`)."""
        self.shared_prm = None
        """The shared PRM actor's `SharedPRM` once started."""
        self._prm_handle: Any = None
        self.restarts = 0
        """Replacements started for dead actors."""
        self.shrunk = 0
        """Dead actors the pool goes on without because the live nodes have no room for a replacement (a lost
        node): none was started, or it waits for Ray to place it. One that is placed later no longer counts."""
        self._actors: dict[int, Any] = {}
        self._starting: dict[int, tuple[Any, asyncio.Future]] = {}
        """Replacements being started in the background, by the key they will have: (actor, task)."""
        self._start_error: Exception | None = None
        """Why the last replacement failed to start, if it did."""
        self._load: dict[int, int] = {}
        self._reserved: set[int] = set()
        self._ids = itertools.count()
        self._changed = asyncio.Condition()

    @property
    def capacity(self) -> int:
        return (self.workers or 1) * self.per_worker

    async def start(self) -> RayPool:
        """Connect to (or start) Ray and bring every actor's engine up."""
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        placement = self.plan()
        if self.prm_actor is not None:
            from reasoner.verifiers.prm.actor import start_prm_actor

            settings = self.prm_settings.get(self.prm_actor, PRMSettings())
            self._prm_handle, self.shared_prm = await start_prm_actor(self.prm_actor, settings,
                                                                      placement.prm.options())
        await asyncio.gather(*(self._spawn() for _ in range(self.workers)))
        return self

    def plan(self) -> Placement:
        """Check the engine settings, decide what each actor asks Ray for, and how many actors start when no
        worker count was given (connected to Ray already).

        Raises `ConfigError` (before any actor starts) for bad engine settings, or a cluster that cannot
        hold one engine or as many as were asked for."""
        from reasoner.engine.backends.vllm import EngineConfig

        config = EngineConfig.of(self.model, **self.engine_options)
        prm_share = self.prm_gpu_memory if self.prm_actor is not None else None
        nodes = live_node_resources()
        placement = plan_placement(config.engine_args, config.gpu_memory_utilization, nodes, prm_share)
        slots = worker_slots(placement, nodes)
        if slots < (self.workers or 1):
            raise ConfigError(f"this Ray cluster holds {slots} engine actors asking for "
                              f"{placement.worker.options()} each, not {self.workers or 1}", field="workers")
        self.workers = self.workers or default_workers(placement, nodes)
        self.placement = placement
        return placement

    def new_actor(self) -> Any:
        """A new engine actor, scheduled with the planned resources; its engine starts on `ready`."""
        import ray

        placement = self.placement or self.plan()
        actor_cls = ray.remote(max_concurrency=self.per_worker + 4, **placement.worker.options())(SolverActor)
        shared = self.shared_prm.model_dump_json() if self.shared_prm is not None else None
        return actor_cls.remote(self.model, self.engine_options, shared, prm_settings_json(self.prm_settings))

    async def _spawn(self) -> int:
        actor = self.new_actor()
        await actor.ready.remote()
        await self._catch_up(actor)
        key = next(self._ids)
        self._actors[key], self._load[key] = actor, 0
        return key

    @property
    def actors(self) -> list[Any]:
        """Live actor handles (for inspection and fault-injection tests)."""
        return list(self._actors.values())

    async def solve(self, problem: Problem, spec: SolveSpec) -> Result:
        payload, failures = await self._call_with_retry("solve", problem.model_dump_json(), spec.model_dump_json())
        if payload is not None:
            return Result.model_validate_json(payload)
        return Result(problem_id=problem.id, strategy=spec.strategy, answer=None,
                      error=f"worker died on this problem {len(failures)} times ({', '.join(failures)}); "
                            f"gave up after max_attempts={self.max_attempts}")

    @property
    def in_flight(self) -> int:
        """Calls (problems, generations) dispatched to actors and not yet returned."""
        return sum(self._load.values())

    async def generate(self, request: GenerationRequest) -> Generation:
        """One raw generation on the least-busy live actor, retried as `solve` retries a problem.

        A request that has killed `max_attempts` actors raises `EngineError` (there is
        no result record to hold the failure).
        """
        payload, failures = await self._call_with_retry("generate", request.model_dump_json())
        if payload is None:
            raise EngineError(f"a worker died on this generation request {len(failures)} times "
                              f"({', '.join(failures)}); gave up after max_attempts={self.max_attempts}")
        return Generation.model_validate_json(payload)

    async def _call_with_retry(self, method: str, *payload: str) -> tuple[str | None, list[str]]:
        """`actor.<method>(*payload)` on a live actor; after an actor death, again alone on a replacement.

        Returns (reply, names of the failures), the reply None when `max_attempts` actors died on it.
        """
        import ray
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        failures: list[str] = []
        while len(failures) < self.max_attempts:
            key = await self._acquire(alone=bool(failures))
            try:
                reply = getattr(self._actors[key], method).remote(*payload)
                try:
                    return await reply, failures
                except asyncio.CancelledError:  # the caller gave up (a client hung up): stop the actor's work too
                    ray.cancel(reply)
                    raise
            except (RayActorError, ActorDiedError, ActorUnavailableError) as exc:
                failures.append(type(exc).__name__)
                await self._replace(key)
            finally:
                await self._release(key)
        return None, failures

    async def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        """New weights into every live actor (checksummed, see `VLLMGenerator.load_weights`).

        An actor that dies while loading is replaced, and the replacement, like any
        actor started later, loads these weights before it takes work. A corrupted
        transfer or a failed load raises `EngineError`.
        """
        import ray

        self._weights = weights = (ray.put(packed), version, expected)
        await asyncio.gather(*(self._load_into(key, actor, weights) for key, actor in list(self._actors.items())))

    async def _load_into(self, key: int, actor: Any, weights: tuple[Any, int, tuple[float, float]]) -> None:
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        try:
            await actor.load_weights.remote(*weights)
        except (RayActorError, ActorDiedError, ActorUnavailableError):
            await self._replace(key)  # the replacement catches up before it joins

    async def _catch_up(self, actor: Any) -> None:
        """Load the pool's current weights into a new actor before it is handed work."""
        loaded = None
        while self._weights is not loaded:  # weights that change meanwhile are loaded too
            loaded = self._weights
            if loaded is not None:
                await actor.load_weights.remote(*loaded)

    async def _acquire(self, alone: bool) -> int:
        """A live actor for one problem: the least busy, or (`alone`) an idle one reserved for it.

        Raises `EngineError` when no actor is alive, none is starting, and the last replacement failed."""
        async with self._changed:
            while True:
                if not self._actors and not self._starting:
                    if self._start_error is not None:
                        raise EngineError(f"could not restart a Ray worker: {self._start_error}")
                    self._start_replacement()
                open_keys = [k for k in self._actors if k not in self._reserved]
                if alone:
                    idle = [k for k in open_keys if self._load[k] == 0]
                    if idle:
                        self._reserved.add(idle[0])
                        self._load[idle[0]] += 1
                        return idle[0]
                elif open_keys:
                    key = min(open_keys, key=self._load.get)
                    self._load[key] += 1
                    return key
                await self._changed.wait()

    async def _release(self, key: int) -> None:
        async with self._changed:
            if key in self._load:
                self._load[key] -= 1
            self._reserved.discard(key)
            self._changed.notify_all()

    async def _replace(self, key: int) -> None:
        """Drop a dead actor (once, however many problems saw it die) and start its replacement in the background.

        When the live nodes have no room for one more actor (its node was lost and the others are full),
        the pool goes on with the actors it has (`shrunk` counts these); with none left, it starts one anyway
        and waits for room."""
        import ray

        async with self._changed:
            actor = self._actors.pop(key, None)
            if actor is None:
                return
            self._load.pop(key, None)
            self._reserved.discard(key)
            ray.kill(actor)  # an actor only unreachable (ActorUnavailableError) must not hold its resources
            if self._actors and not self._room_for(len(self._actors) + len(self._starting) + 1):
                self._shrink("the live nodes have no room for its replacement")
            else:
                self._start_replacement()
            self._changed.notify_all()

    def _start_replacement(self) -> None:
        """Start a new actor in the background; it joins the pool once its engine is up (`_replacement`)."""
        key, actor = next(self._ids), self.new_actor()
        self.restarts += 1
        self._starting[key] = (actor, asyncio.ensure_future(self._replacement(key, actor)))

    async def _replacement(self, key: int, actor: Any) -> None:
        """Wait for `actor` to be placed and its engine up, without the dispatch lock; then it takes work.

        A replacement that fails to start is dropped (the pool goes on smaller, and `_acquire` raises when
        nothing is left)."""
        import ray
        from ray.exceptions import RayError

        try:
            await self._placed(actor)
            await actor.ready.remote()
            await self._catch_up(actor)
        except RayError as exc:  # its engine failed to start, or its node was lost in turn
            ray.kill(actor)
            async with self._changed:
                self._starting.pop(key, None)
                self._start_error = exc
                self._shrink(f"its replacement failed to start: {exc}")
                self._changed.notify_all()
            return
        async with self._changed:
            if self._starting.pop(key, None) is None:  # the pool was closed meanwhile
                ray.kill(actor)
                return
            self._actors[key], self._load[key] = actor, 0
            self._changed.notify_all()

    async def _placed(self, actor: Any) -> None:
        """Wait until Ray has placed `actor`; while the live nodes have no room for it, count it in `shrunk`."""
        placed = asyncio.ensure_future(actor.where.remote())
        waiting = False
        try:
            while not (await asyncio.wait({placed}, timeout=PLACEMENT_CHECK_S))[0]:
                if not waiting and not self._room_for(len(self._actors) + len(self._starting)):
                    waiting = True
                    self._shrink("Ray cannot place its replacement on the live nodes; it joins if room appears")
            if waiting:
                self.shrunk -= 1  # placed after all, or failed (which `_replacement` counts itself)
            placed.result()
            if waiting:
                log.warning("a replacement Ray worker was placed after all; it joins once its engine is up")
        finally:
            placed.cancel()

    def _shrink(self, why: str) -> None:
        self.shrunk += 1
        live = len(self._actors)
        log.warning("a Ray worker died and %s; going on with %d worker%s", why, live, "" if live == 1 else "s")

    def _room_for(self, actors: int) -> bool:
        """Whether the cluster's live nodes hold `actors` engine actors side by side."""
        if self.placement is None:
            return True
        return worker_slots(self.placement, live_node_resources()) >= actors

    async def close(self) -> None:
        import ray

        for actor, task in self._starting.values():
            task.cancel()
            ray.kill(actor)
        self._starting.clear()
        for actor in self._actors.values():
            ray.kill(actor)
        self._actors.clear()
        if self._prm_handle is not None:
            ray.kill(self._prm_handle)
            self._prm_handle = None


class PoolSettings(BaseModel):
    """Where a job's problems are solved: which model, on which backend, in this process or on Ray."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = DEFAULT_MODEL
    """Model name or folder (already resolved from an imported name)."""
    backend: str = "vllm"
    """Generation backend: `vllm` (in-process or in Ray actors), `openai` (a server), or a registered one."""
    backend_options: dict[str, Any] = Field(default_factory=dict)
    """The backend's options: vLLM engine settings (e.g. `verbose`), or `base_url` for `openai`."""
    concurrency: int = Field(64, ge=1)
    """Problems in flight at once in this process (in-process pools)."""
    workers: int | None = Field(None, ge=1)
    """Solve on this many Ray actors, each with its own engine."""
    ray_address: str | None = None
    """Join this Ray cluster (as many workers as its nodes hold when only the address is given)."""
    prm_actor: str | None = None
    """With Ray: run this PRM once, in its own actor, shared by every worker."""
    prms: dict[str, PRMSettings] = Field(default_factory=dict)
    """How each PRM named here runs (runner, format, server URL); any other opens with the defaults."""
    prm_gpu_memory_utilization: float = Field(0.1, gt=0, lt=1)
    """On a Ray cluster with GPUs: the share of a GPU's memory the shared PRM actor may take (it may share
    the GPU of a policy engine, whose `gpu_memory_utilization` it must leave room for)."""

    @field_validator("workers", "ray_address")
    @classmethod
    def _ray_runs_vllm(cls, value: Any, info: ValidationInfo) -> Any:
        backend = info.data.get("backend", "vllm")
        if value is not None and backend != "vllm":
            raise ValueError(f"runs vLLM engines in Ray actors; it needs backend vllm, not {backend!r} "
                             f"(which serves from its own server)")
        return value

    @field_validator("prm_actor")
    @classmethod
    def _shared_between_workers(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("workers") is None and info.data.get("ray_address") is None:
            raise ValueError("shares a PRM between Ray workers; it needs workers (or a Ray address)")
        return value

    @property
    def pooled(self) -> bool:
        """Whether engines run in Ray actors rather than in this process."""
        return self.workers is not None or self.ray_address is not None

    def describe(self) -> str:
        """What starting this pool starts, for a progress line."""
        if self.pooled:
            shared = f", and one actor for the PRM {self.prm_actor}" if self.prm_actor else ""
            count = f"{self.workers} Ray workers" if self.workers else "a Ray worker per engine the cluster holds"
            return f"{count}, each with its own engine{shared}"
        return f"the {self.backend} backend for {self.model}"


def make_pool(settings: PoolSettings, *, verifiers=None, prms: PRMSet | None = None) -> WorkerPool:
    """The pool `settings` describe, not yet started (`await pool.start()` brings its engines up).

    An in-process pool takes `verifiers` and `prms` when given (a service shares them between
    models), else makes and owns its own; Ray actors always hold their own.
    """
    if settings.pooled:
        return RayPool(settings.model, workers=settings.workers, address=settings.ray_address,
                       engine_options=settings.backend_options, prm_actor=settings.prm_actor,
                       prm_settings=settings.prms, prm_gpu_memory=settings.prm_gpu_memory_utilization)
    from reasoner.engine.backends import open_generator
    from reasoner.verifiers import VerifierSet

    generator = open_generator(settings.backend, settings.model, **settings.backend_options)
    owned = verifiers is None
    prms = prms if prms is not None else PRMSet(settings=settings.prms)
    return LocalPool(generator, VerifierSet() if owned else verifiers, concurrency=settings.concurrency,
                     prms=prms, owned=owned)
