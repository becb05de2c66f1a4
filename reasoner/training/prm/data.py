"""PRM training data: problem splits, policy rollouts, and step labels.

- Splits: `dev_problems` is a fixed development split carved from the
  training stream (its own constant seed); `train_problems` draws from the
  training stream and skips every dev prompt. Both exclude the test split by
  prompt hash (`reasoner.tasks.load_task`), so tuning never sees test prompts.
- Rollouts: n samples per problem from a policy through the project's vLLM
  generator, at the strategies' sampling settings (T 0.8, top-p 0.95), cached
  in a JSONL file so a re-run does not sample again.
- Labels: `exact` from the task's step checker (steps after the first wrong
  one are wrong; the answer line is right when the final answer is),
  `mc` (Math-Shepherd: k policy completions from each step prefix; soft label
  = fraction reaching the reference, hard = any), and `outcome` (final-answer
  correctness on the last step only, for the ORM baseline).

Not here: the model (`reasoner.training.prm.model`) or the training loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import ConfigError
from reasoner.steps import StepFormat
from reasoner.types import Problem

DEV_SEED = 990_001
"""Seed of the training-stream draw that forms the development split."""
DEV_SIZE = 500
"""Problems in the development split; `dev_problems(n)` returns its first n."""

LabelKind = Literal["exact", "mc", "outcome"]


class Rollout(BaseModel):
    """One policy sample for one problem, with its outcome."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str
    prompt: str
    answer: str
    """The reference final answer (used only for labels and grading, never for scoring)."""
    level: int | None = None
    text: str
    """The sampled solution."""
    num_tokens: int
    mean_logprob: float | None = None
    """Mean token log-probability under the policy, for log-prob best-of-n."""
    correct: bool
    """Whether its final answer equals the reference."""
    source: str | None = None
    """Which policy and temperature wrote it (`reasoner.training.prm.pipeline.Source.key`), when known."""


class Labelled(BaseModel):
    """A solution with one label per step (None where a label kind gives none)."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str
    prompt: str
    text: str
    labels: list[float | None]
    """Per step: 1.0 right, 0.0 wrong, in between for soft Monte Carlo labels."""
    level: int | None = None
    correct: bool | None = None
    """Whether the final answer is right, when known."""
    copies: int = Field(1, ge=1)
    """How many samples of the problem spelled this solution (the data pipeline keeps one)."""
    sources: list[str] = []
    """Which sources wrote it (`reasoner.training.prm.pipeline.Source.key`), when known."""


class SampleSettings(BaseModel):
    """How rollouts are sampled from the policy (the strategies' defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = "tiny"
    """Bundled model name or folder that writes the solutions."""
    samples: int = Field(4, ge=1)
    """Solutions per problem."""
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)
    seed: int = 0
    """Base seed; each problem derives its own from it and its id."""


def dev_problems(task: str, n: int = DEV_SIZE) -> list[Problem]:
    """The first `n` problems of the development split (never in the test split)."""
    from reasoner.tasks import load_task

    if not 0 <= n <= DEV_SIZE:
        raise ConfigError(f"the dev split has {DEV_SIZE} problems; asked for n={n}")
    problems = load_task(task, "train", DEV_SIZE, seed=DEV_SEED)[:n]
    return [p.model_copy(update={"id": p.id.replace("-train-", "-dev-")}) for p in problems]


def train_problems(task: str, n: int, seed: int = 0) -> list[Problem]:
    """`n` training-stream problems drawn with `seed`, none in the dev or test split."""
    from reasoner.tasks import load_task, prompt_hash

    if seed == DEV_SEED:
        raise ConfigError(f"seed {DEV_SEED} is the dev split's; choose another training seed")
    dev = {prompt_hash(p.prompt) for p in dev_problems(task)}
    drawn = load_task(task, "train", n + n // 10 + 20, seed=seed)
    kept = [p for p in drawn if prompt_hash(p.prompt) not in dev][:n]
    if len(kept) < n:
        raise ConfigError(f"could not draw {n} training problems outside the dev split with seed {seed}")
    return kept


def is_correct(text: str, reference: str) -> bool:
    """Whether the final answer of `text` (as the strategies extract it) equals `reference`."""
    from reasoner.verifiers.math import extract_answer

    found = extract_answer(text)
    if found is None:
        return False
    try:
        return int(found.strip()) == int(reference.strip())
    except ValueError:
        return found.strip() == reference.strip()


def sample_rollouts(problems: list[Problem], settings: SampleSettings, cache: Path | None = None,
                    progress: bool = True) -> list[Rollout]:
    """`settings.samples` rollouts per problem from the policy; read from `cache` when it holds them."""
    if cache is not None and cache.is_file():
        rollouts = read_jsonl(cache, Rollout)
        expected = len(problems) * settings.samples
        if len(rollouts) == expected:
            return rollouts
        raise ConfigError(f"{cache} holds {len(rollouts)} rollouts, not the {expected} these settings "
                          f"ask for; delete it or use another folder")
    from reasoner.engine.backends import open_generator
    from reasoner.engine.runtime import run_sync

    generator = open_generator("vllm", settings.policy)
    rollouts = run_sync(_sample_all(generator, problems, settings, progress))
    if cache is not None:
        write_jsonl(cache, rollouts)
    return rollouts


async def _sample_all(generator, problems: list[Problem], settings: SampleSettings,
                      progress: bool) -> list[Rollout]:
    from reasoner.engine.generation import GenerationRequest
    from reasoner.jobs.solve import problem_seed
    from reasoner.types import SamplingConfig

    bar = _bar(len(problems), progress, f"rollouts ({settings.policy})")

    async def one(problem: Problem) -> list[Rollout]:
        sampling = SamplingConfig(temperature=settings.temperature, top_p=settings.top_p,
                                  max_tokens=settings.max_tokens, seed=problem_seed(settings.seed, problem.id))
        generation = await generator.generate(GenerationRequest(prompt=problem.prompt, n=settings.samples,
                                                                sampling=sampling))
        bar(1)
        return [rollout_of(problem, c.text, c.num_tokens, c.mean_logprob) for c in generation.candidates]

    groups = await asyncio.gather(*(one(p) for p in problems))
    return [r for group in groups for r in group]


def rollout_of(problem: Problem, text: str, num_tokens: int, mean_logprob: float | None,
               source: str | None = None) -> Rollout:
    """A sample of `problem`, graded against its reference answer."""
    answer = problem.answer or ""
    return Rollout(problem_id=problem.id, prompt=problem.prompt, answer=answer, level=problem.level, text=text,
                   num_tokens=num_tokens, mean_logprob=mean_logprob, correct=is_correct(text, answer), source=source)


StepChecker = Callable[[str], "bool | None"]


def step_checker(task: str) -> StepChecker:
    """The exact step checker of `task`; a task without one needs Monte Carlo labels."""
    from reasoner.tasks import arith

    checkers: dict[str, StepChecker] = {"arith": arith.check_step}
    if task not in checkers:
        raise ConfigError(f"task {task!r} has no exact step checker; use --labels mc")
    return checkers[task]


def exact_labels(rollout: Rollout, fmt: StepFormat, check: StepChecker) -> list[float]:
    """Checker labels per step; everything after the first wrong step is wrong.

    A step the checker cannot read (it returns None) is right only if it is the
    last step and the final answer is right: that is the answer line.
    """
    steps = fmt.split(rollout.text)
    labels, still_right = [], True
    for index, step in enumerate(steps):
        verdict = check(step.text)
        if verdict is None:
            verdict = index == len(steps) - 1 and rollout.correct
        still_right = still_right and verdict
        labels.append(1.0 if still_right else 0.0)
    return labels


def outcome_labels(rollout: Rollout, fmt: StepFormat) -> list[float | None]:
    """The ORM's labels: final-answer correctness on the last step, nothing on the others."""
    count = len(fmt.split(rollout.text))
    return [None] * (count - 1) + [1.0 if rollout.correct else 0.0] if count else []


def first_wrong(labels: list[float | None], threshold: float = 0.5) -> int | None:
    """Index of the first step labelled (or scored) below `threshold`, or None if none is."""
    for index, label in enumerate(labels):
        if label is not None and label < threshold:
            return index
    return None


class MCSettings(BaseModel):
    """Monte Carlo (Math-Shepherd) labelling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(4, ge=1)
    """Completions per step prefix."""
    policy: str = "tiny"
    """The model that completes the prefixes."""
    target: Literal["soft", "hard"] = "soft"
    """Soft: the fraction of completions that reach the reference; hard: 1 if any does."""
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)
    seed: int = 0


def mc_labels(rollouts: list[Rollout], fmt: StepFormat, settings: MCSettings,
              progress: bool = True) -> list[list[float]]:
    """Per rollout, per step, the Monte Carlo label; the last step's is the rollout's own outcome."""
    from reasoner.engine.backends import open_generator
    from reasoner.engine.runtime import run_sync

    generator = open_generator("vllm", settings.policy)
    return run_sync(_mc_all(generator, rollouts, fmt, settings, progress))


async def _mc_all(generator, rollouts: list[Rollout], fmt: StepFormat, settings: MCSettings,
                  progress: bool) -> list[list[float]]:
    prefixes: dict[tuple[str, str, str], None] = {}
    for rollout in rollouts:
        for count in range(1, len(fmt.split(rollout.text))):
            prefixes[(rollout.prompt, rollout.answer, fmt.prefix(rollout.text, count))] = None
    bar = _bar(len(prefixes), progress, f"mc labels (k={settings.k})")
    keys = list(prefixes)
    values = await asyncio.gather(*(_mc_value(generator, key, settings, bar) for key in keys))
    table = dict(zip(keys, values))
    labels = []
    for rollout in rollouts:
        count = len(fmt.split(rollout.text))
        row = [table[(rollout.prompt, rollout.answer, fmt.prefix(rollout.text, i))] for i in range(1, count)]
        row.append(1.0 if rollout.correct else 0.0)
        labels.append(row[:count])
    return labels


async def _mc_value(generator, key: tuple[str, str, str], settings: MCSettings, bar) -> float:
    from reasoner.engine.generation import GenerationRequest
    from reasoner.jobs.solve import problem_seed
    from reasoner.types import SamplingConfig

    prompt, answer, prefix = key
    sampling = SamplingConfig(temperature=settings.temperature, top_p=settings.top_p,
                              max_tokens=settings.max_tokens, logprobs=False,
                              seed=problem_seed(settings.seed, prompt + prefix))
    generation = await generator.generate(GenerationRequest(prompt=prompt, prefix=prefix, n=settings.k,
                                                            sampling=sampling))
    bar(1)
    reached = sum(is_correct(prefix + c.text, answer) for c in generation.candidates)
    fraction = reached / settings.k
    return fraction if settings.target == "soft" else float(reached > 0)


def label_rollouts(rollouts: list[Rollout], kind: LabelKind, fmt: StepFormat, task: str,
                   mc: MCSettings | None = None, progress: bool = True) -> list[Labelled]:
    """Labelled solutions of one kind; rollouts with no step are dropped."""
    if kind == "exact":
        check = step_checker(task)
        rows: list[list[float | None]] = [list(exact_labels(r, fmt, check)) for r in rollouts]
    elif kind == "outcome":
        rows = [outcome_labels(r, fmt) for r in rollouts]
    elif kind == "mc":
        rows = [list(row) for row in mc_labels(rollouts, fmt, mc or MCSettings(), progress)]
    else:
        raise ConfigError(f"unknown label kind {kind!r}; choose exact, mc or outcome")
    return [Labelled(problem_id=r.problem_id, prompt=r.prompt, text=r.text, labels=row)
            for r, row in zip(rollouts, rows) if row]


def write_jsonl(path: Path, rows: list[BaseModel]) -> None:
    """Rows to `path` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(path.suffix + ".tmp")
    with staging.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row.model_dump_json() + "\n")
    staging.replace(path)


def read_jsonl(path: Path, model: type[BaseModel]) -> list:
    """Rows of `path` validated as `model`; a bad line is a `ConfigError` naming file and line."""
    from pydantic import ValidationError

    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            rows.append(model.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ConfigError(f"{path}:{number}: not a {model.__name__} record: {exc}") from exc
    return rows


def _bar(total: int, enabled: bool, description: str):
    """A tqdm bar on stderr; returns `advance(k)`. Quiet when not enabled."""
    import sys

    if not enabled:
        return lambda k: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, file=sys.stderr, dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)

    def advance(k: int) -> None:
        bar.update(k)
        if bar.n >= total:
            bar.close()

    return advance
