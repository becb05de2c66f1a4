"""Process reward models (PRMs): scoring every step of a solution, and the PRMs a job holds.

- `PRM` is what a strategy is handed: `ascore(items)` gives each solution's
  step scores (probabilities that it is still right after each step) with
  their cost, `check_policy(name)` refuses a policy whose tokenizer differs,
  and `tokenizer`, `step_format`, `parameters`, `max_len` let a strategy
  estimate what a scoring will cost before it asks.
- `PRMSet` holds the PRMs of one pool (or service) by the names strategies
  ask for, each loaded once, on first use, from a bundled name or a folder
  (`open_prm`); a PRM run elsewhere (a shared Ray actor's client) is given to
  it up front. Strategies never load a PRM: the pool fills `SolveContext.prms`
  from its set with the PRMs the strategy declares (`prms()`).
- `aggregate` turns a solution's step scores into one number (`last`, `min`,
  `prod`, `mean`).

A PRM is not a grader: it never sees the reference, and its scores are a
model's opinion. Bad input (a folder without a step format, an unknown
aggregation, a policy whose tokenizer differs from the PRM's) raises
`ConfigError` naming the thing. This module imports no torch: the weights
load in `reasoner.verifiers.prm.local`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from reasoner.errors import ConfigError

AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "last": lambda scores: scores[-1],
    "min": min,
    "prod": lambda scores: math.prod(scores),
    "mean": lambda scores: sum(scores) / len(scores),
}
"""Ways to turn a solution's step scores (probabilities) into one score."""


def check_aggregation(how: str) -> str:
    """`how` if it names an aggregation, else a `ConfigError` listing them."""
    if how not in AGGREGATIONS:
        raise ConfigError(f"unknown PRM aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")
    return how


def aggregate(step_scores: list[float], how: str) -> float:
    """One score for a solution; a solution with no step scores 0."""
    check_aggregation(how)
    return AGGREGATIONS[how](step_scores) if step_scores else 0.0


class Scored(BaseModel):
    """Step scores of a group of solutions and what computing them cost."""

    steps: list[list[float]]
    """Per solution, per step: the probability that the solution is still right."""
    tokens: int
    """Tokens the PRM read for these solutions (prompt + solution, no padding)."""
    item_tokens: list[int]
    """Tokens read per solution."""
    flops: float
    """Estimated forward FLOPs: 2 x parameters x tokens."""
    seconds: float
    """This group's share of forward-pass wall time, by tokens."""


@runtime_checkable
class PRM(Protocol):
    """A loaded PRM as strategies see it, wherever its weights run."""

    tokenizer: Any
    step_format: Any
    parameters: int
    max_len: int

    async def ascore(self, items: list[tuple[str, str]]) -> Scored:
        """Step scores of each (prompt, solution), batched with other callers' requests."""
        ...

    def check_policy(self, policy: str) -> None:
        """A `ConfigError` if the local model `policy` tokenizes differently from this PRM."""
        ...


def check_prm(name: str) -> str:
    """`name` if it is a bundled PRM or a folder with a step format, else a `ConfigError` naming what is
    missing. Reads two small files, never the weights, so options can be checked before anything starts."""
    from reasoner.engine.models import resolve_model
    from reasoner.errors import ModelNotFoundError
    from reasoner.steps import load_step_format

    try:
        load_step_format(resolve_model(name))
    except ModelNotFoundError as exc:
        raise ConfigError(f"PRM {name!r}: {exc}") from exc
    return name


def open_prm(name: str) -> PRM:
    """Load the PRM `name` (a bundled name such as `tiny-prm`, or a PRM folder) in this process."""
    from reasoner.engine.models import resolve_model
    from reasoner.verifiers.prm.local import PRMVerifier

    return PRMVerifier(resolve_model(name))


class PRMSet:
    """The PRMs one pool holds, by name: each loaded once, on first use; some given up front.

    Thread-safe: strategies of many problems may ask for the same PRM at once, and it still loads once.
    """

    def __init__(self, given: Mapping[str, PRM] | None = None, opener: Callable[[str], PRM] = open_prm) -> None:
        self._prms: dict[str, PRM] = dict(given or {})
        self._opener = opener
        self._lock = threading.Lock()

    def get(self, names: Iterable[str]) -> dict[str, PRM]:
        """The PRMs of `names`, loading those not held yet (blocking; call it off the event loop)."""
        with self._lock:
            for name in names:
                if name not in self._prms:
                    self._prms[name] = self._opener(name)
            return {name: self._prms[name] for name in names}

    def give(self, name: str, prm: PRM) -> None:
        """Hold `prm` under `name` (e.g. the client of a PRM that runs in its own Ray actor)."""
        with self._lock:
            self._prms[name] = prm

    def held(self) -> list[str]:
        """Names of the PRMs loaded or given so far."""
        return sorted(self._prms)


__all__ = ["AGGREGATIONS", "PRM", "PRMSet", "Scored", "aggregate", "check_aggregation", "check_prm", "open_prm"]
