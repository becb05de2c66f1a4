"""Process reward models (PRMs): scoring every step of a solution, and the PRMs a job holds.

- `PRM` is what a strategy is handed: `ascore(items)` gives each solution's
  step scores (probabilities that it is still right after each step) with
  their cost, `count_tokens(items)` what a scoring will read (for budgets),
  and `check_policy(name)` refuses a policy whose tokenizer differs where the
  PRM's format needs them equal.
- A PRM folder is read through its format (`reasoner.verifiers.prm.formats`:
  ours, Qwen2.5-Math-PRM, Math-Shepherd, RLHFlow), detected or named, and run
  as `PRMSettings` say: on a vLLM pooling engine in its own process (the
  default; `served`), at a vLLM server (`server`), or with torch in this
  process (`local`, the reference). `open_prm(name, settings)` chooses.
- `PRMSet` holds the PRMs of one pool (or service) by the names strategies
  ask for, each opened once, on first use, with its settings; a PRM run
  elsewhere (a shared Ray actor's client) is given to it up front.
  Strategies never load a PRM: the pool fills `SolveContext.prms` from its
  set with the PRMs the strategy declares (`prms()`).
- `aggregate` turns a solution's step scores into one number (`last`, `min`,
  `prod`, `mean`).

A PRM is not a grader: it never sees the reference, and its scores are a
model's opinion. Bad input (a folder of no known format, a tokenizer without
the format's step tag, an unknown aggregation, a policy whose tokenizer
differs where it must not) raises `ConfigError` naming the thing. This module
imports no torch or vLLM.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reasoner.errors import ConfigError

if TYPE_CHECKING:
    from reasoner.steps import StepFormat

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


class PRMSettings(BaseModel):
    """How a PRM is run: where, which format it is read as, and its engine's size. Operator settings
    (CLI flags, the Python API, `reasoner serve`), never a service client's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runner: Literal["vllm", "torch"] = "vllm"
    """`vllm`: a pooling engine in its own process, batching every caller's requests, with prefix caching;
    `torch`: transformers in this process (the reference, and for comparison)."""
    format: str | None = None
    """The PRM format (`reasoner.verifiers.prm.formats.FORMATS`); None detects it from the folder."""
    url: str | None = None
    """A vLLM server's base URL (`vllm serve FOLDER --runner pooling ...`) to score at instead of running the
    weights here; the folder still gives the tokenizer and format."""
    kv_cache_gib: float = Field(0.5, gt=0)
    """KV-cache size of the PRM's vLLM engine on CPU (0.5 GiB holds about 130,000 tokens of `tiny-prm`)."""
    gpu_memory_utilization: float = Field(0.4, gt=0, le=1)
    """Share of the GPU the PRM's vLLM engine may take (the policy's engine takes its own)."""
    prefix_caching: bool = True
    """Let the engine serve the prefix a search scored before from its cache (only new tokens computed)."""
    verbose: bool = False
    """Show the PRM engine's own logs."""

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is not None:
            from reasoner.verifiers.prm.formats import FORMATS

            FORMATS.get(value)  # an unknown name is a ConfigError listing the formats
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/") if value else value


class Scored(BaseModel):
    """Step scores of a group of solutions and what computing them cost."""

    steps: list[list[float]]
    """Per solution, per step: the probability that the solution is still right."""
    tokens: int
    """Tokens the PRM read for these solutions (its whole input, no padding), cached ones included."""
    item_tokens: list[int]
    """Tokens read per solution."""
    flops: float
    """Estimated forward FLOPs of the tokens computed: 2 x parameters x (tokens - cached_tokens)."""
    seconds: float
    """This group's share of forward-pass wall time."""
    cached_tokens: int = 0
    """Of `tokens`, those served from a cache (the engine's prefix cache, or the memo of prefixes read before)."""
    item_cached: list[int] = Field(default_factory=list)
    """Cached tokens per solution (leading tokens: the cache serves prefixes)."""
    item_ids: list[list[int]] = Field(default_factory=list)
    """The PRM's input ids per solution (the meter charges a cache hit only when another problem computed it)."""


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

    def count_tokens(self, items: list[tuple[str, str]]) -> int:
        """Tokens scoring `items` reads (before any cache), for budget estimates."""
        ...

    def check_policy(self, policy: str) -> None:
        """A `ConfigError` if the local model `policy` tokenizes differently from this PRM where its format
        needs them equal."""
        ...


def prm_step_format(folder: str | Path, delimiter: str | None = None) -> StepFormat:
    """How the policy's solutions are split into steps for the PRM at `folder`: `delimiter` when given, else
    the folder's `step_format.json`, else (for a PRM not of ours) a blank line. A PRM of ours without its
    step format is a `ConfigError`: it was trained on one."""
    from reasoner.steps import STEP_FORMAT_FILE, StepFormat, load_step_format
    from reasoner.verifiers.prm.encoding import PRM_CONFIG_FILE
    from reasoner.verifiers.prm.formats import DEFAULT_DELIMITER

    folder = Path(folder)
    if delimiter is not None:
        return StepFormat(delimiter=delimiter)
    if (folder / STEP_FORMAT_FILE).is_file() or (folder / PRM_CONFIG_FILE).is_file():
        return load_step_format(folder)
    return StepFormat(delimiter=DEFAULT_DELIMITER)


def check_prm(name: str) -> str:
    """`name` if it is a bundled PRM or a model folder whose step format is known, else a `ConfigError`
    naming what is missing. Reads small files, never the weights or the tokenizer, so options can be
    checked before anything starts; the format is checked when the PRM opens (`open_prm`)."""
    from reasoner.engine.models import resolve_model
    from reasoner.errors import ModelNotFoundError

    try:
        prm_step_format(resolve_model(name))
    except ModelNotFoundError as exc:
        raise ConfigError(f"PRM {name!r}: {exc}") from exc
    return name


def open_prm(name: str, settings: PRMSettings | None = None, delimiter: str | None = None) -> PRM:
    """Open the PRM `name` (a bundled name such as `tiny-prm`, or a PRM folder) as `settings` say: on a vLLM
    pooling engine (the default), at a vLLM server (`url`), or with torch in this process. `delimiter`
    splits solutions into steps instead of the PRM's own step format (`reasoner verify prm`)."""
    from reasoner.engine.models import resolve_model

    settings = settings or PRMSettings()
    folder = resolve_model(name)
    if settings.url is not None:
        from reasoner.verifiers.prm.server import ServerPRM

        return ServerPRM(folder, settings, delimiter=delimiter)
    if settings.runner == "torch":
        from reasoner.verifiers.prm.local import PRMVerifier

        return PRMVerifier(folder, settings=settings, delimiter=delimiter)
    from reasoner.verifiers.prm.served import ServedPRM

    return ServedPRM(folder, settings, delimiter=delimiter)


class PRMSet:
    """The PRMs one pool holds, by name: each opened once, on first use, as its settings say; some given up front.

    Thread-safe: strategies of many problems may ask for the same PRM at once, and it still opens once.
    """

    def __init__(self, given: Mapping[str, PRM] | None = None,
                 opener: Callable[[str, PRMSettings], PRM] = open_prm,
                 settings: Mapping[str, PRMSettings] | None = None, default: PRMSettings | None = None) -> None:
        self._prms: dict[str, PRM] = dict(given or {})
        self._opener = opener
        self.settings: dict[str, PRMSettings] = dict(settings or {})
        """Settings of the PRMs named here; any other PRM opens with `default`."""
        self.default = default or PRMSettings()
        self._lock = threading.Lock()

    def settings_for(self, name: str) -> PRMSettings:
        """How the PRM `name` opens."""
        return self.settings.get(name, self.default)

    def get(self, names: Iterable[str]) -> dict[str, PRM]:
        """The PRMs of `names`, opening those not held yet (blocking; call it off the event loop)."""
        with self._lock:
            for name in names:
                if name not in self._prms:
                    self._prms[name] = self._opener(name, self.settings_for(name))
            return {name: self._prms[name] for name in names}

    def give(self, name: str, prm: PRM) -> None:
        """Hold `prm` under `name` (e.g. the client of a PRM that runs in its own Ray actor)."""
        with self._lock:
            self._prms[name] = prm

    def held(self) -> list[str]:
        """Names of the PRMs opened or given so far."""
        return sorted(self._prms)


__all__ = ["AGGREGATIONS", "PRM", "PRMSet", "PRMSettings", "Scored", "aggregate", "check_aggregation", "check_prm",
           "open_prm", "prm_step_format"]
