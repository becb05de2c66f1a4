"""Bundled task families: synthetic problems with fixed test and dev splits, and SFT data.

Each family (`arith`, `pyfunc`) draws problems of difficulty level 1-5 from a
seeded `random.Random`. This package turns families into datasets:

- the test split is fixed: 500 problems, 100 per level, interleaved so any
  prefix of five or more spans every level, drawn from constant seeds;
- the dev split (for choosing settings: router fits, strategy defaults) is
  built the same way from its own constant seeds, and skips every prompt
  whose normalised hash is in the test split;
- the train split is drawn from per-seed streams and never contains a prompt
  whose normalised hash is in the test or dev split. So tuning on dev never
  sees test prompts, and training never sees dev or test prompts.
- `training_examples` mixes "solve" examples with "revision" examples whose
  prompts, built by `revision_prompt`, show earlier (often wrong) attempts.

Dataset files (GSM8K, MATH, MBPP, HumanEval, our JSONL) and the named
datasets are loaded by `reasoner.tasks.datasets`. Nothing here grades;
verifiers grade.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import random
from collections.abc import Iterator
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ConfigError
from reasoner.tasks import arith, pyfunc
from reasoner.tasks.arith import check_step
from reasoner.types import Problem

__all__ = [
    "SPLITS", "TASKS", "SFTExample", "TaskFamily", "check_step", "load_task", "prompt_hash", "resolve_family",
    "revision_prompt", "training_examples", "SolutionPaths",
]

DATASET_VERSION = "v1"
"""Part of every seed; bump it to publish a new version of every split."""
LEVELS = (1, 2, 3, 4, 5)
TEST_PER_LEVEL = 100
TEST_SIZE = TEST_PER_LEVEL * len(LEVELS)
DEV_SIZE = TEST_SIZE
"""The dev split is as large and as level-balanced as the test split."""
WRONG_ATTEMPT_RATE = 0.8
"""Share of earlier attempts in revision examples that are wrong; the rest are correct."""
TWO_ATTEMPT_RATE = 0.3
"""Share of revision examples that show two earlier attempts instead of one."""
TWO_ATTEMPT_MAX_CHARS = 800
"""A second attempt is shown only if prompt plus completion stay this short (~300 tokens)."""

Split = Literal["train", "dev", "test"]
SPLITS: tuple[str, ...] = ("train", "dev", "test")
FIXED_SPLITS = {"test": TEST_SIZE, "dev": DEV_SIZE}
"""Splits that are a constant list of problems, and their sizes."""


@runtime_checkable
class TaskFamily(Protocol):
    """A generator of problems at levels 1-5, and of plausible wrong attempts at them."""

    FAMILY: str

    def sample(self, rng: random.Random, level: int, problem_id: str) -> Problem: ...

    def wrong_attempt(self, problem: Problem, rng: random.Random) -> tuple[str, str | None]:
        """A wrong solution text and the feedback a solver would see (None for none)."""
        ...


TASKS: dict[str, TaskFamily] = {"arith": arith, "pyfunc": pyfunc}


class SFTExample(BaseModel):
    """One supervised fine-tuning pair."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    """What the model sees."""
    completion: str
    """What it should write: always a correct reference solution."""
    kind: Literal["solve", "revision"]
    """`revision` prompts carry earlier attempts, built with `revision_prompt`."""


def resolve_family(name: str) -> TaskFamily:
    """A registered family, or one named by a `package.module` or `package.module:attribute` path.

    A path names a module or an object with the `TaskFamily` members.
    """
    if name in TASKS:
        return TASKS[name]
    if "." not in name and ":" not in name:
        raise ConfigError(f"unknown task {name!r}; known: {sorted(TASKS)}, or a 'package.module:attr' path")
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
        family = getattr(module, attribute) if attribute else module
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load task family {name!r}: {error}") from error
    if not isinstance(family, TaskFamily):
        raise ConfigError(f"{name!r} does not implement TaskFamily (FAMILY, sample, wrong_attempt)")
    return family


def prompt_hash(prompt: str) -> str:
    """SHA-256 of the prompt with case folded and whitespace collapsed."""
    return hashlib.sha256(" ".join(prompt.split()).casefold().encode()).hexdigest()


def load_task(name: str, split: Split, n: int | None = None, seed: int = 0) -> list[Problem]:
    """Problems of one family (a `TASKS` name or a path, see `resolve_family`).

    `test`, `dev`: the fixed split, or its first `n` problems; `seed` is ignored.
    `train`: `n` problems drawn with `seed`, none of them in the test or dev split.
    """
    family = resolve_family(name)
    if split in FIXED_SPLITS:
        size = FIXED_SPLITS[split]
        if n is not None and not 0 <= n <= size:
            raise ConfigError(f"the {name} {split} split has {size} problems; asked for n={n}")
        return _fixed_split(family, split, size if n is None else n)
    if split == "train":
        if n is None or n < 0:
            raise ConfigError(f"the train split needs a count n >= 0; got n={n}")
        return _train_split(family, n, seed)
    raise ConfigError(f"unknown split {split!r}; use one of {', '.join(repr(s) for s in SPLITS)}")


def _fixed_split(family: TaskFamily, split: str, n: int) -> list[Problem]:
    """Problem i has level (i % 5) + 1; each level comes from its own constant stream."""
    name = family.FAMILY
    per_level = -(-n // len(LEVELS))
    excluded = _hashes(family, "test") if split == "dev" else frozenset()
    streams = {level: _distinct(family, split, level, per_level, excluded) for level in LEVELS}
    problems = []
    for index in range(n):
        level = LEVELS[index % len(LEVELS)]
        problem = next(streams[level])
        problems.append(problem.model_copy(update={"id": f"{name}-{split}-{index:05d}"}))
    return problems


def _distinct(family: TaskFamily, split: str, level: int, count: int,
              excluded: frozenset[str]) -> Iterator[Problem]:
    """`count` problems of one level from the split's constant stream, no prompt twice, none in `excluded`."""
    rng = random.Random(f"{family.FAMILY}-{split}-{DATASET_VERSION}-level{level}")
    seen: set[str] = set()
    while len(seen) < count:
        problem = family.sample(rng, level, f"{family.FAMILY}-{split}-pending")
        digest = prompt_hash(problem.prompt)
        if digest not in seen and digest not in excluded:
            seen.add(digest)
            yield problem


# The fixed splits are constants, and trainers draw many small train batches; without
# this memo, rebuilding the splits would dominate each draw.
@functools.lru_cache(maxsize=None)
def _hashes(family: TaskFamily, split: str) -> frozenset[str]:
    return frozenset(prompt_hash(problem.prompt) for problem in _fixed_split(family, split, FIXED_SPLITS[split]))


def _train_split(family: TaskFamily, n: int, seed: int) -> list[Problem]:
    """Levels are drawn uniformly, so even a small draw is an unbiased mix.

    A draw that hits a test prompt is redrawn from the seed's stream; one
    that hits a dev prompt is replaced from a stream of its own (seeded by its
    id), so the dev split, added after models were trained, changes no train
    problem but those it had to replace.
    """
    name = family.FAMILY
    test, dev = _hashes(family, "test"), _hashes(family, "dev")
    rng = random.Random(f"{name}-train-{DATASET_VERSION}-seed{seed}")
    problems = []
    for index in range(n):
        level = rng.choice(LEVELS)
        problem_id = f"{name}-train-s{seed}-{index:06d}"
        problem = family.sample(rng, level, problem_id)
        while prompt_hash(problem.prompt) in test:
            problem = family.sample(rng, level, problem_id)
        if prompt_hash(problem.prompt) in dev:
            problem = _replacement(family, level, problem_id, test | dev)
        problems.append(problem)
    return problems


def _replacement(family: TaskFamily, level: int, problem_id: str, excluded: frozenset[str]) -> Problem:
    """A problem of `level` outside `excluded`, from a stream seeded by `problem_id` alone."""
    rng = random.Random(f"{problem_id}-{DATASET_VERSION}-replacement")
    problem = family.sample(rng, level, problem_id)
    while prompt_hash(problem.prompt) in excluded:
        problem = family.sample(rng, level, problem_id)
    return problem


def revision_prompt(problem_prompt: str, attempts: list[str], feedback: list[str | None] | None = None) -> str:
    """The prompt that asks for a correct solution after earlier attempts.

    Training and the revision strategy both build prompts with this function,
    so the formats match. `feedback[i]` (e.g. `assert f(3) == 9 failed`) is
    shown under attempt i when it is not None; math revision passes none.
    """
    if not attempts:
        raise ConfigError("revision_prompt needs at least one earlier attempt")
    if feedback is not None and len(feedback) != len(attempts):
        raise ConfigError(f"got {len(feedback)} feedback entries for {len(attempts)} attempts")
    parts = [problem_prompt]
    for attempt, note in zip(attempts, feedback or [None] * len(attempts)):
        block = f"Previous attempt:\n{attempt}"
        parts.append(block if note is None else f"{block}\nFeedback: {note}")
    parts.append("Write a correct solution.")
    return "\n\n".join(parts)


SolutionPaths = Literal["reference", "varied"]


def training_examples(name: str, n: int, seed: int, revision_fraction: float = 0.25,
                      solution_paths: SolutionPaths = "reference", direct_fraction: float = 0.0,
                      direct_from_level: int = 3) -> list[SFTExample]:
    """`n` SFT examples from the train split drawn with `seed`; about `revision_fraction` are revisions.

    `solution_paths="varied"` replaces each target with a correct solution
    along a random path (the family's `varied_solution`, e.g.
    `arith.varied_solution`); families without one keep the reference.

    `direct_fraction` of the solve examples at level `direct_from_level` or
    above get the bare final answer as their target, with no working (the
    family's `direct_solution`; families without one keep the reference).
    Revision targets always show the working. MODEL.md says why the bundled
    `tiny` is trained this way.

    The problems and revision prompts are the same whatever the targets.
    """
    if not 0.0 <= revision_fraction <= 1.0:
        raise ConfigError(f"revision_fraction must be in [0, 1]; got {revision_fraction}")
    if not 0.0 <= direct_fraction <= 1.0:
        raise ConfigError(f"direct_fraction must be in [0, 1]; got {direct_fraction}")
    if solution_paths not in ("reference", "varied"):
        raise ConfigError(f"solution_paths must be 'reference' or 'varied'; got {solution_paths!r}")
    family = resolve_family(name)
    rng = random.Random(f"{family.FAMILY}-sft-{DATASET_VERSION}-seed{seed}")
    vary = getattr(family, "varied_solution", None) if solution_paths == "varied" else None
    direct = getattr(family, "direct_solution", None) if direct_fraction > 0 else None
    path_rng = random.Random(f"{family.FAMILY}-paths-{DATASET_VERSION}-seed{seed}")
    direct_rng = random.Random(f"{family.FAMILY}-direct-{DATASET_VERSION}-seed{seed}")
    examples = []
    for problem in load_task(name, "train", n, seed):
        solution = problem.metadata["solution"] if vary is None else vary(problem, path_rng)
        if rng.random() < revision_fraction:
            examples.append(SFTExample(prompt=_revision_for(family, problem, rng), completion=solution,
                                       kind="revision"))
            continue
        # Drawn for every solve example, so one example's choice never shifts another's.
        if direct_rng.random() < direct_fraction and direct is not None and (problem.level or 0) >= direct_from_level:
            solution = direct(problem)
        examples.append(SFTExample(prompt=problem.prompt, completion=solution, kind="solve"))
    return examples


def _revision_for(family: TaskFamily, problem: Problem, rng: random.Random) -> str:
    """A revision prompt with one or two earlier attempts, most of them wrong."""
    count = 2 if rng.random() < TWO_ATTEMPT_RATE else 1
    attempts = [_attempt(family, problem, rng) for _ in range(count)]
    prompt = _revision_with(problem, attempts)
    if len(prompt) + len(problem.metadata["solution"]) > TWO_ATTEMPT_MAX_CHARS:
        prompt = _revision_with(problem, attempts[-1:])
    return prompt


def _attempt(family: TaskFamily, problem: Problem, rng: random.Random) -> tuple[str, str | None]:
    if rng.random() < WRONG_ATTEMPT_RATE:
        return family.wrong_attempt(problem, rng)
    return problem.metadata["solution"], None


def _revision_with(problem: Problem, attempts: list[tuple[str, str | None]]) -> str:
    feedback = [note for _, note in attempts] if problem.domain == "code" else None
    return revision_prompt(problem.prompt, [text for text, _ in attempts], feedback)
