"""GRPO's rollouts: sampling each problem's group of completions on a worker pool, and grading them.

Generation goes through the project's worker pools (`reasoner.jobs.pool`): a
`LocalPool` over one in-process engine, or a `RayPool` whose actors each
host one, with the pool's least-busy dispatch and its retry of requests
whose actor died. Either pool takes the trainer's new weights
(`load_weights`, checksummed); a `RayPool` loads them into any replacement
actor too, and every `Generation` says which weight version produced it.

Not here: advantages and the loss (`loss`), the update loop (`trainer`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from reasoner.errors import EngineError, WeightSyncError
from reasoner.engine.generation import Generation, GenerationRequest, PromptFormatter
from reasoner.training.grpo.config import GRPOConfig
from reasoner.training.grpo.data import step_seed
from reasoner.types import Problem, SamplingConfig


class Rollout(BaseModel):
    """One sampled completion and what the step learns from it."""

    group: int
    """Index of its problem in the step; advantages are relative within a group."""
    problem_id: str
    """The problem it answers."""
    prompt_ids: list[int]
    """Token ids of the formatted prompt."""
    completion_ids: list[int]
    """Sampled token ids."""
    engine_logprobs: list[float]
    """The engine's log-prob of each sampled token (untempered)."""
    text: str
    """The completion's text, as graded."""
    version: int
    """Weight version that sampled it."""
    reward: float | None = None
    """Its reward; None when it could not be graded (it then stays out of the loss)."""
    advantage: float | None = None
    """Its group-relative advantage; None when its reward is None."""


RewardFn = Callable[[list[Problem], list[Rollout]], list[float | None]]
"""Maps a step's (problems, rollouts) to one reward or None per rollout."""


class RolloutPool:
    """A worker pool that generates and takes new weights, driven from the (sync) trainer."""

    def __init__(self, pool: Any, closers: tuple[Callable[[], Any], ...] = ()) -> None:
        """`pool`: a `LocalPool` or `RayPool` whose engines run with `weight_sync=True`;
        `closers`: coroutine functions that `close` awaits, in order."""
        self.pool = pool
        self._closers = closers

    @classmethod
    def open(cls, config: GRPOConfig) -> RolloutPool:
        """A `RayPool` of `config.engine.workers` actors, or an in-process engine when that is 0."""
        return cls.ray(config) if config.engine.workers else cls.local(config)

    @classmethod
    def local(cls, config: GRPOConfig) -> RolloutPool:
        """One in-process engine (started now, so that step 1's timings are not start-up)."""
        from reasoner.engine.backends.vllm import VLLMGenerator
        from reasoner.jobs.pool import LocalPool
        from reasoner.verifiers import VerifierSet

        generator = VLLMGenerator(config.model, **engine_options(config))
        generator.engine()
        # Rollouts are raw requests: the pool's verifiers are never started.
        return cls(LocalPool(generator, VerifierSet()), closers=(generator.close,))

    @classmethod
    def ray(cls, config: GRPOConfig) -> RolloutPool:
        """`config.engine.workers` Ray actors, each with its own engine (all started now)."""
        from reasoner.jobs.pool import RayPool
        from reasoner.engine.runtime import run_sync

        pool = RayPool(config.model, workers=config.engine.workers, address=config.engine.ray_address,
                       engine_options=engine_options(config))
        run_sync(pool.start())
        return cls(pool, closers=(pool.close,))

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        """All `requests` at once (the pool dispatches and batches them); results in request order."""
        from reasoner.engine.runtime import run_sync

        async def all_of() -> list[Generation]:
            return list(await asyncio.gather(*(self.pool.generate(r) for r in requests)))

        return run_sync(all_of())

    def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        """The trainer's weights into every engine of the pool, as `version`."""
        from reasoner.engine.runtime import run_sync

        run_sync(self.pool.load_weights(packed, version, expected))

    def close(self) -> None:
        from reasoner.engine.runtime import run_sync

        for close in self._closers:
            run_sync(close())
        self._closers = ()


def engine_options(config: GRPOConfig) -> dict[str, Any]:
    """The options of every rollout engine: the run's own (dtype, seed, weight sync) and the user's."""
    options = {"dtype": config.engine.engine_dtype, "weight_sync": True, "seed": config.run.seed}
    if config.engine.cpu_threads is not None:
        options["cpu_threads"] = config.engine.cpu_threads
    return {**config.engine.engine_options, **options}


def rollout_requests(problems: list[Problem], config: GRPOConfig, step: int) -> list[GenerationRequest]:
    """One request of `group_size` samples per problem, each seeded from (seed, step, index)."""
    sampling = SamplingConfig(temperature=config.rollout.temperature, top_p=1.0,
                              max_tokens=config.rollout.max_tokens, min_tokens=config.rollout.min_tokens,
                              logprobs=True,
                              seed=step_seed(config.run.seed, step, "sample"))
    return [GenerationRequest(prompt=p.prompt, n=config.rollout.group_size,
                              sampling=sampling.model_copy(update={"seed": sampling.seed + i}))
            for i, p in enumerate(problems)]


def sample(rollouts: RolloutPool, problems: list[Problem], formatter: PromptFormatter, config: GRPOConfig,
           step: int, version: int) -> tuple[list[Rollout], float]:
    """Step `step`'s rollouts and the seconds their generation took.

    Raises `WeightSyncError` when a generation came from another weight version than `version`.
    """
    began = time.perf_counter()
    generations = rollouts.generate(rollout_requests(problems, config, step))
    seconds = time.perf_counter() - began
    samples = []
    for group, (problem, generation) in enumerate(zip(problems, generations, strict=True)):
        if generation.weight_version != version:
            raise WeightSyncError(f"rollouts of step {step + 1} came from weight version "
                                  f"{generation.weight_version}, but the trainer is at {version}")
        prompt_ids = generation.prompt_token_ids or formatter.token_ids(problem.prompt)
        samples.extend(_group(group, problem, prompt_ids, generation))
    return samples, seconds


def _group(group: int, problem: Problem, prompt_ids: list[int], generation: Generation) -> list[Rollout]:
    out = []
    for candidate in generation.candidates:
        if candidate.token_logprobs is None or len(candidate.token_logprobs) != len(candidate.token_ids):
            raise EngineError("the rollout engine returned no per-token log-probs")
        out.append(Rollout(group=group, problem_id=problem.id, prompt_ids=prompt_ids,
                           completion_ids=candidate.token_ids, engine_logprobs=candidate.token_logprobs,
                           text=candidate.text, version=generation.weight_version))
    return out


def reward_of(verdict) -> float | None:
    """A rollout's reward from its verifier's verdict: the verdict's score (the rule of `reasoner.verifiers.base`:
    0 for no answer, an unparseable one or a timeout; None only when it was not the completion's fault)."""
    return verdict.score


class VerifierRewards:
    """The default `RewardFn`: each rollout graded by its problem's domain verifier (batch API).

    Verifiers start on first use (or are given, as a `VerifierSet`) and stop at `close`.
    """

    def __init__(self, verifiers=None) -> None:
        from reasoner.verifiers import VerifierSet

        self._verifiers = verifiers if verifiers is not None else VerifierSet()

    def __call__(self, problems: list[Problem], rollouts: list[Rollout]) -> list[float | None]:
        rewards: list[float | None] = [None] * len(rollouts)
        by_domain: dict[str, list[int]] = {}
        for index, rollout in enumerate(rollouts):
            by_domain.setdefault(problems[rollout.group].domain, []).append(index)
        for domain, indices in by_domain.items():
            items = [(rollouts[i].text, problems[rollouts[i].group].reference) for i in indices]
            verdicts = self._verifiers.for_domain(domain).verify_batch(items)
            for index, verdict in zip(indices, verdicts, strict=True):
                rewards[index] = reward_of(verdict)
        return rewards

    def close(self) -> None:
        self._verifiers.close()


class TTRLRewards:
    """A label-free `RewardFn` (TTRL): each rollout rewarded for agreeing with its group's majority answer.

    The rule is `reasoner.verifiers.rewards.majority_rewards` (ties, a leader below `min_votes`
    and groups without a parseable answer give the whole group 0.0); no reference is read for the
    reward. For comparison only, `step_metrics` also grades the step's rollouts against the
    references (the verifier reward the run did not train on), and says how many groups had a
    label and how often the label was the reference answer.
    """

    def __init__(self, verifiers=None, min_votes: int = 2) -> None:
        from reasoner.verifiers import VerifierSet

        self._verifiers = verifiers if verifiers is not None else VerifierSet()
        self.min_votes = min_votes
        self._stats: dict[str, float | None] = {}

    def __call__(self, problems: list[Problem], rollouts: list[Rollout]) -> list[float | None]:
        from reasoner.verifiers.rewards import majority_rewards

        members: dict[int, list[int]] = {}
        for index, rollout in enumerate(rollouts):
            members.setdefault(rollout.group, []).append(index)
        rewards: list[float | None] = [None] * len(rollouts)
        labelled = label_right = 0
        for group, indices in members.items():
            problem = problems[group]
            verifier = self._verifiers.for_domain(problem.domain)
            answers = [verifier.extract(rollouts[i].text) for i in indices]
            outcome = majority_rewards(verifier.group(answers), self.min_votes)
            for index, reward in zip(indices, outcome.rewards):
                rewards[index] = reward
            if outcome.label is not None:
                labelled += 1
                label_answer = answers[outcome.rewards.index(1.0)]
                label_right += bool(verifier.grade(label_answer, problem.reference).correct)
        self._stats = {"ttrl_labelled_groups": labelled / max(len(members), 1),
                       "ttrl_label_accuracy": label_right / labelled if labelled else None,
                       "verifier_reward_mean": _mean_reward(VerifierRewards(self._verifiers)(problems, rollouts))}
        return rewards

    def step_metrics(self) -> dict[str, float | None]:
        """The last step's label statistics and its rollouts' verifier reward (not trained on)."""
        return dict(self._stats)

    def close(self) -> None:
        self._verifiers.close()


def _mean_reward(rewards: list[float | None]) -> float | None:
    graded = [r for r in rewards if r is not None]
    return sum(graded) / len(graded) if graded else None
