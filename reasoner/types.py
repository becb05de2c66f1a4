"""The ground floor: problems, tests, verdicts, sampling settings, budgets, candidates, results, costs.

These are small pydantic models, validated where data enters the program
(CLI, files, HTTP). They carry no behaviour beyond derived properties, and
this module imports nothing else of `reasoner`: every other module may
import it (`tests/test_layering.py` holds it to that).

A verdict is data, not an exception; the one score rule every verifier
follows is `score_for` (see `reasoner.verifiers.base` for the protocol).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class Status(str, Enum):
    """Outcome of one verification."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"
    ERROR = "error"


GRADED = frozenset({Status.CORRECT, Status.INCORRECT, Status.UNPARSEABLE, Status.TIMEOUT})
"""Statuses that carry a score (the candidate was judged); only ERROR does not."""


def score_for(status: Status, partial: float | None = None) -> float | None:
    """The score rule of the module docstring: 1.0 / 0.0 by status, None only for ERROR.

    `partial` replaces 1.0/0.0 for a verifier that gives partial credit.
    """
    if status is Status.ERROR:
        return None
    if partial is not None:
        return partial
    return 1.0 if status is Status.CORRECT else 0.0


class Verdict(BaseModel):
    """Result of checking one prediction against a reference or tests."""

    model_config = ConfigDict(frozen=True)

    status: Status
    """What happened."""
    score: float | None
    """1.0 correct; 0.0 incorrect, unparseable or timeout; None only for ERROR (see `score_for`)."""
    extracted: str | None = None
    """The answer or program the verifier pulled out of the prediction."""
    detail: str = ""
    """Human-readable reason: the failing assert, the parse error, the limit hit."""
    seconds: float = 0.0
    """Wall time spent verifying."""

    @property
    def graded(self) -> bool:
        """True when the verdict carries a usable score."""
        return self.score is not None

    @property
    def correct(self) -> bool:
        return self.status is Status.CORRECT


class IOCase(BaseModel):
    """One stdin/stdout test: the program reads `stdin` and must print `stdout`."""

    stdin: str = ""
    """Text fed to the program's standard input."""
    stdout: str
    """Expected standard output, compared after stripping trailing whitespace per line."""


class CodeTests(BaseModel):
    """Tests for a program, in any of the common dataset styles.

    - MBPP: `asserts` (the `test_list`), with optional `setup` code.
    - HumanEval: `check` holds `def check(candidate): ...` and `entry_point`
      names the function passed to it.
    - Competitive programming: `io` holds stdin/stdout pairs.
    """

    asserts: list[str] = Field(default_factory=list)
    """Python statements, each usually an `assert`, run after the program."""
    setup: str = ""
    """Code run after the program and before the tests (imports, helpers)."""
    check: str | None = None
    """Source defining `check(candidate)`, HumanEval style."""
    entry_point: str | None = None
    """Name of the function `check` is called with."""
    io: list[IOCase] = Field(default_factory=list)
    """Stdin/stdout pairs; each runs the program once."""

    @property
    def empty(self) -> bool:
        return not (self.asserts or self.check or self.io)


class Problem(BaseModel):
    """One question for a strategy to answer."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Unique within its dataset; results and resumption key on it."""
    prompt: str
    """The question as the model sees it."""
    domain: str = "math"
    """Which verifier grades it (`reasoner.verifiers.VERIFIERS`): `math` (sympy equivalence), `code` (the
    sandbox), or a domain you register."""
    answer: str | None = None
    """Reference final answer for math problems."""
    tests: CodeTests | None = None
    """Hidden tests for code problems. Strategies never see them."""
    public_tests: CodeTests | None = None
    """Examples shown in the prompt; strategies may run candidates against them."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form extras, e.g. `level` (difficulty) or `source`."""

    @field_validator("id", "prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, value: str, info: ValidationInfo) -> str:
        """Where problems enter from a file or a request, the loader passes the registered domains as
        validation context (`{"domains": [...]}`), so an unknown one is refused at its line; the
        verifier set refuses it again when asked for it."""
        domains = (info.context or {}).get("domains")
        if domains is not None and value not in domains and ":" not in value:
            raise ValueError(f"unknown domain {value!r}: no verifier is registered for it "
                             f"({', '.join(domains)}, or a 'package.module:Class' path)")
        return value

    @property
    def level(self) -> int | None:
        """Difficulty level from the metadata, when the dataset has one."""
        level = self.metadata.get("level")
        return int(level) if level is not None else None

    @property
    def reference(self) -> str | CodeTests | None:
        """What the verifier compares against (answer or hidden tests); None if ungradable."""
        if self.tests is not None:
            return None if self.tests.empty else self.tests
        return self.answer


class SamplingConfig(BaseModel):
    """How one model call samples. Mirrors the vLLM / OpenAI parameters we use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.8, ge=0.0)
    """0 means greedy."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    max_tokens: int = Field(256, ge=1)
    """Cap on generated tokens per candidate."""
    min_tokens: int = Field(0, ge=0)
    """Tokens generated before the end-of-sequence token may end a candidate (capped by `max_tokens`);
    benchmarks set it to `max_tokens` so that two systems generate exactly the same work."""
    stop: tuple[str, ...] = ()
    """Strings that end generation; they are not included in the text."""
    include_stop: bool = False
    """Keep the matched stop string in the text (useful for step delimiters)."""
    logprobs: bool = True
    """Return the log-probability of each sampled token."""
    seed: int | None = None
    """Base seed; candidate i of a call uses a seed derived from it."""

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


class Budget(BaseModel):
    """Caps on what one problem may spend. None means no cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples: int | None = Field(None, ge=1)
    """Most candidates generated for the problem."""
    generated_tokens: int | None = Field(None, ge=1)
    """Most tokens generated for the problem, summed over candidates."""
    flops: float | None = Field(None, gt=0)
    """Most estimated FLOPs (2 x params x tokens) for the problem."""


class FinishReason(str, Enum):
    STOP = "stop"
    LENGTH = "length"
    ABORT = "abort"


class Candidate(BaseModel):
    """One generated continuation."""

    text: str
    """The generated text, without the prompt or prefix."""
    token_ids: list[int] = Field(default_factory=list)
    """Generated token ids, when the backend returns them."""
    num_tokens: int
    """Number of generated tokens."""
    finish_reason: FinishReason
    """Why generation ended."""
    cumulative_logprob: float | None = None
    """Sum of the sampled tokens' log-probabilities."""
    token_logprobs: list[float] | None = Field(None, exclude=True)
    """Per-token log-probabilities of the sampled tokens (in memory only, never written to
    records); RL training compares them with its own."""
    stop_reason: str | None = None
    """The stop string that ended generation, if any."""

    @property
    def mean_logprob(self) -> float | None:
        if self.cumulative_logprob is None or self.num_tokens == 0:
            return None
        return self.cumulative_logprob / self.num_tokens


class Sample(BaseModel):
    """One candidate as answer selection sees it: no text, no reference.

    Strategies that choose among samples (votes, best-of-n) do it with a pure
    `select(samples)`, which a sweep also replays on subsets of shared samples.
    """

    model_config = ConfigDict(frozen=True)

    label: int | None
    """Equivalence class of its answer (equal labels vote together); None when it has no answer."""
    logprob: float | None = None
    """Mean token log-probability; weights votes and breaks ties."""
    score: float | None = None
    """A scorer's score (best-of-n); None ranks below every number."""


class Cost(BaseModel):
    """What a problem (or a job) spent. Costs add with `+`."""

    prompt_tokens: int = 0
    """Prompt tokens sent to the model, counted once per model call (cached ones included)."""
    cached_prompt_tokens: int = 0
    """Of `prompt_tokens`, those the engine served from its prefix cache rather than computed."""
    generated_tokens: int = 0
    """Tokens the model generated."""
    model_calls: int = 0
    """Requests sent to the generator."""
    samples: int = 0
    """Candidates generated."""
    wall_seconds: float = 0.0
    """Elapsed time."""
    verifier_seconds: float = 0.0
    """Time spent in verifiers and scorers."""
    flops: float = 0.0
    """Estimated FLOPs: 2 x parameters x (prompt + generated) tokens, summed over models, leaving out
    prompt tokens served from the prefix cache that this problem's own earlier calls computed."""

    @property
    def computed_prompt_tokens(self) -> int:
        """Prompt tokens the engine had to compute (not served from its prefix cache)."""
        return self.prompt_tokens - self.cached_prompt_tokens

    @property
    def cache_hit_rate(self) -> float | None:
        """Share of prompt tokens served from the prefix cache; None before any call."""
        return self.cached_prompt_tokens / self.prompt_tokens if self.prompt_tokens else None
    prm_tokens: int = 0
    """Tokens a process reward model read to score candidates."""
    prm_flops: float = 0.0
    """Estimated PRM forward FLOPs: 2 x PRM parameters x PRM tokens (not included in `flops`)."""
    prm_seconds: float = 0.0
    """This problem's share of PRM forward-pass time."""

    @property
    def total_flops(self) -> float:
        """Generation and PRM FLOPs together: the compute a budget or a sweep curve counts."""
        return self.flops + self.prm_flops

    def __add__(self, other: Cost) -> Cost:
        return Cost(**{name: getattr(self, name) + getattr(other, name) for name in Cost.model_fields})


class TraceEvent(BaseModel):
    """One step a strategy took, for debugging and analysis."""

    kind: str
    """E.g. `generate`, `vote`, `score`, `stop`."""
    data: dict[str, Any] = Field(default_factory=dict)


class Result(BaseModel):
    """What a strategy returns for one problem."""

    problem_id: str
    strategy: str
    answer: str | None
    """The chosen final answer (math) or program (code); None if nothing usable."""
    chosen: int | None = None
    """Index into `candidates` of the chosen one."""
    candidates: list[Candidate] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    trace: list[TraceEvent] = Field(default_factory=list)
    stop_reason: str = "done"
    """Why the strategy stopped, e.g. `done` or `budget:samples`."""
    verdict: Verdict | None = None
    """Filled in by grading after the strategy returns; strategies never set it."""
    error: str | None = None
    """Set when the problem failed with an exception; the job goes on."""

    @property
    def correct(self) -> bool | None:
        if self.verdict is None or self.verdict.score is None:
            return None
        return self.verdict.correct
