"""Solve one problem: run a strategy within a budget, then grade what it chose.

Grading happens after the strategy returns and is the only place the
reference is read. A failure inside one problem becomes that problem's
`Result.error`; a dead engine is infrastructure and propagates.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import traceback
from collections.abc import Callable, Iterable

from reasoner.budget import Meter
from reasoner.engine.generation import Generator
from reasoner.errors import ConfigError, ReasonerError
from reasoner.strategies.base import SolveContext, Strategy, prms_of
from reasoner.types import Budget, Problem, Result, Status, TraceEvent, Verdict
from reasoner.verifiers import VerifierSet
from reasoner.verifiers.prm import PRM, PRMSet


def problem_seed(seed: int | None, problem_id: str) -> int | None:
    """A per-problem seed that does not depend on job order or concurrency."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


async def solve_problem(problem: Problem, strategy: Strategy, generator: Generator, verifiers: VerifierSet,
                        budget: Budget | None = None, seed: int | None = 0,
                        listener: Callable[[TraceEvent], None] | None = None, prms: PRMSet | None = None) -> Result:
    """Run `strategy` on `problem` and attach a verdict when a reference exists.

    The strategy's context is filled here: the meter over `generator`, the verifiers, the policy's
    identity, and the PRMs it declares (`prms_of`), taken from `prms`, which loads each once.
    `listener` sees each trace event as the strategy records it (the service streams them)."""
    meter = Meter(generator, budget, listener)
    ctx = SolveContext(meter=meter, verifiers=verifiers, seed=problem_seed(seed, problem.id),
                       prms=await hand_prms(prms_of(strategy), prms, f"strategy {strategy.name!r}"),
                       policy=generator.info)
    try:
        result = await strategy.solve(problem, ctx)
    except ReasonerError:  # misuse and broken infrastructure (a dead engine) stop the job
        raise
    except Exception as exc:  # one bad problem must not stop the job; the record keeps the traceback
        return Result(problem_id=problem.id, strategy=strategy.name, answer=None, cost=meter.finish(),
                      trace=meter.trace, error=_describe(exc))
    return await grade(problem, result, verifiers)


async def hand_prms(names: Iterable[str], prms: PRMSet | None, user: str) -> dict[str, PRM]:
    """The PRMs `names` (what `user` declares), from `prms`, loaded off the event loop the first time."""
    needed = sorted(names)
    if not needed:
        return {}
    if prms is None:
        raise ConfigError(f"{user} scores with the PRM {', '.join(needed)}, and no PRM set was handed in to load "
                          f"it from (pass prms=PRMSet())")
    return await asyncio.to_thread(prms.get, needed)


async def grade(problem: Problem, result: Result, verifiers: VerifierSet) -> Result:
    """`result` with its verdict against the problem's reference, timed as verifier cost.

    The only place a reference is read: the chosen answer, already extracted
    by the strategy, is graded as it is.
    """
    reference = problem.reference
    if reference is None:
        return result
    started = time.perf_counter()
    verdict = await grade_answer(problem, result.answer, verifiers)
    cost = result.cost.model_copy(
        update={"verifier_seconds": result.cost.verifier_seconds + time.perf_counter() - started})
    return result.model_copy(update={"verdict": verdict, "cost": cost})


async def grade_answer(problem: Problem, answer: str | None, verifiers: VerifierSet) -> Verdict | None:
    """The verdict of `answer` against the problem's reference; None when it has none."""
    reference = problem.reference
    if reference is None:
        return None
    if answer is None:
        return Verdict(status=Status.UNPARSEABLE, score=0.0, detail="the strategy chose no answer")
    return await asyncio.to_thread(verifiers.for_domain(problem.domain).grade, answer, reference)


def _describe(exc: BaseException) -> str:
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(frames[-3:])
