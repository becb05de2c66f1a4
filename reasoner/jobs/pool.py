"""Worker pools: where a job's problems are solved.

One protocol, two implementations. A pool is bound to a model, never to a
strategy: every `solve` call brings its own `SolveSpec`, so one engine
serves problems solved with different strategies at once.

- `LocalPool`: one engine in this process, no Ray.
- `RayPool`: N Ray actors, each hosting its own engine and verifiers. Each
  actor runs many problems' strategies concurrently on its event loop, so its
  engine batches tokens across problems. Problems go to the least-busy live
  actor as slots free up (a queue, not a static split). If an actor dies, its
  in-flight problems are retried on a replacement, each alone on an actor,
  so that the problem that kills workers is told apart from its bystanders;
  one that has killed `max_attempts` workers is recorded as an error and the
  job goes on.

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
are loaded there once and handed to it in its `SolveContext`. With
`prm_actor`, that PRM runs once, in its own Ray actor, and every worker's set
holds its client (`reasoner.verifiers.prm.actor`), so the candidates of all
workers share forward batches.

`make_pool(PoolSettings(...))` is how the CLI, the Python API and the service
get a pool: in-process, or on Ray when `workers` or a Ray address is given.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from reasoner.engine.generation import Generation, GenerationRequest
from reasoner.engine.models import DEFAULT_MODEL
from reasoner.errors import ConfigError, EngineError
from reasoner.jobs import SolveSpec
from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem, Result
from reasoner.verifiers.prm import PRMSet


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

    def __init__(self, model: str, engine_options: dict[str, Any], shared_prm: str | None = None) -> None:
        from reasoner.engine.backends.vllm import VLLMGenerator
        from reasoner.verifiers import VerifierSet

        self.generator = VLLMGenerator(model, **engine_options)
        self.verifiers = VerifierSet()
        self.prms = PRMSet()
        if shared_prm is not None:
            from reasoner.verifiers.prm.actor import SharedPRM, shared_prm_set

            self.prms = shared_prm_set(SharedPRM.model_validate_json(shared_prm))

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

    def __init__(self, model: str, workers: int, address: str | None = None,
                 engine_options: dict[str, Any] | None = None, per_worker: int = 64,
                 max_attempts: int = 3, prm_actor: str | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.model = model
        self.workers = workers
        self.address = address
        self.engine_options = engine_options or {}
        self.per_worker = per_worker
        self.max_attempts = max_attempts
        self.prm_actor = prm_actor
        """PRM (bundled name or folder) served by one actor shared by every worker; None: a copy per worker."""
        self.shared_prm = None
        """The shared PRM actor's `SharedPRM` once started."""
        self._prm_handle: Any = None
        self.restarts = 0
        self._actors: dict[int, Any] = {}
        self._load: dict[int, int] = {}
        self._reserved: set[int] = set()
        self._ids = itertools.count()
        self._changed = asyncio.Condition()

    @property
    def capacity(self) -> int:
        return self.workers * self.per_worker

    async def start(self) -> RayPool:
        """Connect to (or start) Ray and bring every actor's engine up."""
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        if self.prm_actor is not None:
            from reasoner.verifiers.prm.actor import start_prm_actor

            self._prm_handle, self.shared_prm = await start_prm_actor(self.prm_actor)
        await asyncio.gather(*(self._spawn() for _ in range(self.workers)))
        return self

    async def _spawn(self) -> int:
        import ray

        resources = {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) >= 1 else {"num_cpus": 1}
        actor_cls = ray.remote(max_concurrency=self.per_worker + 4, **resources)(SolverActor)
        shared = self.shared_prm.model_dump_json() if self.shared_prm is not None else None
        actor = actor_cls.remote(self.model, self.engine_options, shared)
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
            await self._replace(key)  # the replacement catches up in `_spawn`

    async def _catch_up(self, actor: Any) -> None:
        """Load the pool's current weights into a new actor before it is handed work."""
        loaded = None
        while self._weights is not loaded:  # weights that change meanwhile are loaded too
            loaded = self._weights
            if loaded is not None:
                await actor.load_weights.remote(*loaded)

    async def _acquire(self, alone: bool) -> int:
        """A live actor for one problem: the least busy, or (`alone`) an idle one reserved for it."""
        async with self._changed:
            while True:
                if not self._actors:
                    await self._spawn()
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
        """Drop a dead actor and start a replacement (once, however many problems saw it die)."""
        async with self._changed:
            if key not in self._actors:
                return
            del self._actors[key]
            self._load.pop(key, None)
            self._reserved.discard(key)
            self.restarts += 1
            try:
                await self._spawn()
            except Exception as exc:
                raise EngineError(f"could not restart a Ray worker: {exc}") from exc
            self._changed.notify_all()

    async def close(self) -> None:
        import ray

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
    """Join this Ray cluster (one worker when only the address is given)."""
    prm_actor: str | None = None
    """With Ray: run this PRM once, in its own actor, shared by every worker."""

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
            return f"{self.workers or 1} Ray workers, each with its own engine{shared}"
        return f"the {self.backend} backend for {self.model}"


def make_pool(settings: PoolSettings, *, verifiers=None, prms: PRMSet | None = None) -> WorkerPool:
    """The pool `settings` describe, not yet started (`await pool.start()` brings its engines up).

    An in-process pool takes `verifiers` and `prms` when given (a service shares them between
    models), else makes and owns its own; Ray actors always hold their own.
    """
    if settings.pooled:
        return RayPool(settings.model, workers=settings.workers or 1, address=settings.ray_address,
                       engine_options=settings.backend_options, prm_actor=settings.prm_actor)
    from reasoner.engine.backends import open_generator
    from reasoner.verifiers import VerifierSet

    generator = open_generator(settings.backend, settings.model, **settings.backend_options)
    owned = verifiers is None
    return LocalPool(generator, VerifierSet() if owned else verifiers, concurrency=settings.concurrency,
                     prms=prms, owned=owned)
