"""Which training problems GRPO step `step` uses: a pure function of (seed, step), never a test split.

Not here: sampling completions for them (`rollouts`).
"""

from __future__ import annotations

import hashlib
import random

from reasoner.training.grpo.config import GRPOConfig
from reasoner.types import Problem


def step_seed(seed: int, step: int, what: str) -> int:
    """A 31-bit seed for one use (`what`) in one step of a run seeded with `seed`."""
    digest = hashlib.sha256(f"grpo:{seed}:{step}:{what}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def step_problems(config: GRPOConfig, step: int) -> list[Problem]:
    """The prompts of step `step`: a pure function of (seed, step), drawn from training splits."""
    from reasoner.tasks import load_task

    data, seed = config.data, config.run.seed
    rng = random.Random(step_seed(seed, step, "tasks"))
    picks = rng.choices(data.tasks, weights=data.task_weights or [1.0] * len(data.tasks), k=data.prompts_per_step)
    problems = []
    for task in data.tasks:
        count = picks.count(task)
        if not count:
            continue
        task_seed = step_seed(seed, step, task)
        if data.levels is None:
            problems.extend(load_task(task, "train", n=count, seed=task_seed))
        elif data.level_weights is None:
            problems.extend(_draw_levels(task, task_seed, set(data.levels), count))
        else:
            problems.extend(_draw_weighted_levels(config, step, task, count))
    return problems


def _draw_weighted_levels(config: GRPOConfig, step: int, task: str, count: int) -> list[Problem]:
    """`count` problems of `task` whose levels are drawn by `level_weights`."""
    data, seed = config.data, config.run.seed
    level_rng = random.Random(step_seed(seed, step, f"{task}:levels"))
    wanted = level_rng.choices(data.levels, weights=data.level_weights, k=count)  # type: ignore[arg-type]
    problems = []
    for level in sorted(set(wanted)):
        problems.extend(_draw_levels(task, step_seed(seed, step, f"{task}:{level}"), {level}, wanted.count(level)))
    return problems


def _draw_levels(task: str, seed: int, levels: set[int], count: int) -> list[Problem]:
    """`count` training problems of `task` whose level is in `levels`, reproducible from `seed`."""
    from reasoner.tasks import load_task

    # Five times the count, doubled until enough are kept; the first size is fixed so that the
    # batches of earlier runs are reproduced.
    draw = 5 * count
    while True:
        kept = [p for p in load_task(task, "train", n=draw, seed=seed) if p.metadata.get("level") in levels]
        if len(kept) >= count:
            return kept[:count]
        draw *= 2
