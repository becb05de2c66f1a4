"""The Python entry point: `Reasoner(model=...).solve(problem, strategy=...)`.

Strategy options are keyword arguments, e.g. the compute-optimal router:
`solve(problem, "router", router="router.json", compute_budget=2e9)`.

Async methods (`asolve`, `asolve_many`) let many problems share one engine;
the sync methods wrap them on the process's engine loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from reasoner.engine.generation import Generator
from reasoner.engine.models import DEFAULT_MODEL
from reasoner.engine.runtime import run_on_engine_loop, run_sync
from reasoner.jobs.pool import LocalPool, PoolSettings, make_pool
from reasoner.jobs.solve import solve_problem
from reasoner.strategies import build_strategy
from reasoner.strategies.base import Strategy
from reasoner.types import Budget, Problem, Result
from reasoner.verifiers import VerifierSet
from reasoner.verifiers.prm import PRMSet


class Reasoner:
    """A model plus verifiers and PRMs, ready to run strategies on problems."""

    def __init__(self, model: str = DEFAULT_MODEL, backend: str = "vllm", *,
                 generator: Generator | None = None, verifiers: VerifierSet | None = None,
                 prms: PRMSet | None = None, verbose: bool = False, **backend_options: Any) -> None:
        """`verbose`: show the vLLM engine's own logs; by default only its errors (see `reasoner.engine.logs`).
        `generator`, `verifiers`, `prms`: use these instead of making them (the pool's own otherwise)."""
        if verbose:
            backend_options["verbose"] = True
        if generator is None:
            pool = make_pool(PoolSettings(model=model, backend=backend, backend_options=backend_options),
                             verifiers=verifiers, prms=prms)
        else:
            pool = LocalPool(generator, verifiers if verifiers is not None else VerifierSet(), prms=prms)
        self.generator: Generator = pool.generator
        self.verifiers: VerifierSet = pool.verifiers
        """One verifier per domain, each started on first use."""
        self.prms: PRMSet = pool.prms
        """The PRMs strategies score with, each loaded on first use."""

    async def asolve(self, problem: Problem | str, strategy: str | Strategy = "cot", *,
                     budget: Budget | None = None, seed: int | None = 0, **options: Any) -> Result:
        """Solve one problem (or a bare question) and grade it if it has a reference."""
        chosen = build_strategy(strategy, options) if isinstance(strategy, str) else strategy
        return await run_on_engine_loop(
            solve_problem(as_problem(problem), chosen, self.generator, self.verifiers, budget, seed, prms=self.prms))

    async def asolve_many(self, problems: Sequence[Problem | str], strategy: str | Strategy = "cot", *,
                          budget: Budget | None = None, seed: int | None = 0, **options: Any) -> list[Result]:
        """Solve problems concurrently, so the engine batches across them."""
        chosen = build_strategy(strategy, options) if isinstance(strategy, str) else strategy
        return list(await asyncio.gather(
            *(self.asolve(p, chosen, budget=budget, seed=seed) for p in problems)))

    def solve(self, problem: Problem | str, strategy: str | Strategy = "cot", **kwargs: Any) -> Result:
        """Blocking `asolve`."""
        return run_sync(self.asolve(problem, strategy, **kwargs))

    def solve_many(self, problems: Sequence[Problem | str], strategy: str | Strategy = "cot",
                   **kwargs: Any) -> list[Result]:
        """Blocking `asolve_many`."""
        return run_sync(self.asolve_many(problems, strategy, **kwargs))

    def close(self) -> None:
        """Stop the engine and verifier workers."""
        run_sync(self.generator.close())
        self.verifiers.close()

    def __enter__(self) -> Reasoner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_problem(problem: Problem | str) -> Problem:
    """A bare question becomes an ungraded math problem with a content-derived id."""
    if isinstance(problem, Problem):
        return problem
    digest = hashlib.sha256(problem.encode()).hexdigest()[:12]
    return Problem(id=f"q-{digest}", prompt=problem, domain="math")
