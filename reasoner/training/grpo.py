"""GRPO: reinforcement learning from the verifiers' rewards, with rollouts on vLLM.

One step:
1. Draw `prompts_per_step` training problems (a pure function of seed and
   step, never from a test split) and sample `group_size` completions of each
   on the rollout engine, which is tagged with the weight version it holds.
2. Grade every completion with the verifiers' batch API (the score rule of
   `verifiers.base`: no answer, unparseable or timed out scores 0, so it gets
   a negative advantage). A `None` score (a broken reference or a verifier
   failure) takes no part in its group's baseline or in the loss, and is
   counted in `ungradable_fraction`.
3. Turn rewards into group-relative advantages (`group_advantages`).
4. Recompute the sampled tokens' log-probs in torch, check them against the
   log-probs vLLM reported (a mismatch means the engine holds other weights
   than the trainer), and take `updates_per_step` optimizer steps on the
   clipped objective (`policy_loss`).
5. Push the new weights into the running engine (`load_weights`; checksummed)
   and bump the weight version.

Everything per step goes to `metrics.jsonl`; `training.png` plots it. The
trainer state is checkpointed every `checkpoint_every` steps and a re-run of
the same command resumes from it; the output folder is always a loadable HF
checkpoint, so `reasoner solve --model DIR` evaluates it.

Not here: supervised training (`reasoner.training.sft`) or evaluation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reasoner.errors import EngineError, ReasonerError, ResumeMismatchError
from reasoner.training.sft import save_trainer_state, truncate_log
from reasoner.types import Problem, SamplingConfig


class WeightSyncError(ReasonerError, RuntimeError):
    """The rollout engine does not hold the weights the trainer thinks it does."""


class GRPOConfig(BaseModel):
    """Settings of one GRPO run. Every field has a default that trains the bundled `tiny` on arith."""

    model_config = ConfigDict(extra="forbid")

    model: str = "tiny"
    """Starting checkpoint: a bundled name or an HF folder. Also the frozen KL reference."""
    tasks: list[str] = ["arith"]
    """Task families whose training splits supply the prompts."""
    task_weights: list[float] | None = None
    """Sampling weight per task; None means equal."""
    levels: list[int] | None = None
    """Train only on problems of these difficulty levels (a curriculum); None means all."""
    level_weights: list[float] | None = None
    """Sampling weight per entry of `levels`, e.g. a few easy prompts beside the hard ones so the
    easy levels are held while the hard ones move; None draws the chosen levels uniformly."""
    steps: int = Field(100, ge=1)
    """Rollout-and-update steps."""
    prompts_per_step: int = Field(16, ge=1)
    """Problems per step (P)."""
    group_size: int = Field(8, ge=2)
    """Completions per problem (G); advantages are relative within a group."""
    max_tokens: int = Field(160, ge=1)
    """Cap on generated tokens per completion."""
    temperature: float = Field(1.0, gt=0)
    """Rollout sampling temperature; the loss uses the same tempered policy."""
    lr: float = Field(2e-4, gt=0)
    """AdamW learning rate (constant after `warmup_steps`)."""
    warmup_steps: int = Field(5, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    updates_per_step: int = Field(1, ge=1)
    """Optimizer steps per rollout batch (mu). Above 1 the policy drifts from the
    sampling policy within a step and the clipping starts to bite."""
    micro_batch: int = Field(32, ge=1)
    """Sequences per forward pass."""
    epsilon: float = Field(0.2, gt=0)
    """Clip range below (and, without `epsilon_high`, above) a ratio of 1."""
    epsilon_high: float | None = Field(None, gt=0)
    """Separate upper clip range (DAPO's clip-higher); None means `epsilon`."""
    beta: float = Field(0.0, ge=0)
    """Weight of the k3 KL penalty to the starting model; 0 drops the term (KL is still logged)."""
    advantage: Literal["grpo", "dr_grpo"] = "grpo"
    """`grpo`: (r - mean) / std within the group; `dr_grpo`: r - mean."""
    aggregation: Literal["token", "sequence"] = "token"
    """`token`: mean over every token of the batch; `sequence`: mean per sequence, then over sequences."""
    logprob_tolerance: float = Field(1e-3, gt=0)
    """Largest mean |vLLM log-prob - trainer log-prob| accepted over a step's sampled tokens. A synced
    float32 engine measures about 1e-7 here; one missed update moves it to 1e-3 or more."""
    engine_dtype: str = "float32"
    """Rollout engine dtype; float32 matches the float32 trainer, so the sync check is tight."""
    workers: int = Field(0, ge=0)
    """Ray rollout workers, each with its own engine; 0 generates in this process."""
    ray_address: str | None = None
    """Ray cluster to join with `workers`; None starts a local one."""
    seed: int = 0
    """Seeds prompt draws and sampling; a resumed run draws the same batches."""
    checkpoint_every: int = Field(10, ge=1)
    """Steps between resumable checkpoints."""
    threads: int | None = None
    """torch intra-op threads for the trainer; None leaves torch's default."""

    @model_validator(mode="after")
    def _weights_match_tasks(self) -> GRPOConfig:
        if self.task_weights is not None and len(self.task_weights) != len(self.tasks):
            raise ValueError(f"task_weights has {len(self.task_weights)} entries for {len(self.tasks)} tasks")
        if self.levels is not None and (not self.levels or not set(self.levels) <= {1, 2, 3, 4, 5}):
            raise ValueError(f"levels must be a non-empty subset of 1-5; got {self.levels}")
        if self.level_weights is not None:
            if self.levels is None or len(self.level_weights) != len(self.levels):
                raise ValueError(f"level_weights needs one entry per entry of levels; got {self.level_weights} "
                                 f"for levels {self.levels}")
            if min(self.level_weights) < 0 or sum(self.level_weights) <= 0:
                raise ValueError(f"level_weights must be non-negative with a positive sum; got {self.level_weights}")
        return self


# ---------------------------------------------------------------------------- the maths


def group_advantages(rewards: list[float | None], groups: list[int],
                     mode: Literal["grpo", "dr_grpo"] = "grpo", eps: float = 1e-4) -> list[float | None]:
    """Group-relative advantages; None where the reward is None.

    GRPO (Shao et al. 2024, DeepSeekMath, eq. 3 outcome supervision):
        A_i = (r_i - mean(r)) / (std(r) + eps), std with Bessel's correction.
    Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"):
        A_i = r_i - mean(r), which does not up-weight groups of low variance.
    Means and stds run over the group's graded samples only; a group with
    fewer than two graded samples, or with equal rewards, gets advantage 0.
    """
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    advantages: list[float | None] = [None] * len(rewards)
    for indices in members.values():
        graded = [i for i in indices if rewards[i] is not None]
        values = [float(rewards[i]) for i in graded]  # type: ignore[arg-type]
        if len(values) < 2:
            for i in graded:
                advantages[i] = 0.0
            continue
        mean = statistics.fmean(values)
        scale = statistics.stdev(values) + eps if mode == "grpo" else 1.0
        for i, value in zip(graded, values):
            advantages[i] = (value - mean) / scale if value != mean else 0.0
    return advantages


def policy_loss(logprobs, old_logprobs, advantages, mask, ref_logprobs=None, *, epsilon: float = 0.2,
                epsilon_high: float | None = None, beta: float = 0.0,
                aggregation: Literal["token", "sequence"] = "token", normaliser: float | None = None):
    """The clipped surrogate with an optional k3 KL penalty, and its diagnostics.

    Per token t of sequence i, with ratio rho = exp(logp - logp_old):
        l_it = -min(rho * A_i, clip(rho, 1 - eps_low, 1 + eps_high) * A_i) + beta * k3_it
    (PPO's clipped objective, Schulman et al. 2017, as used by GRPO; a separate
    eps_high is DAPO's clip-higher, Yu et al. 2025). The KL estimator is k3
    (Schulman 2020, "Approximating KL divergence", as in GRPO):
        k3_it = exp(logp_ref - logp) - (logp_ref - logp) - 1,   always >= 0.
    Aggregation:
        token:    sum_it l_it / N_tokens                 (DAPO's token-level mean)
        sequence: mean_i (sum_t l_it / |o_i|)            (GRPO's per-sequence mean)
    `normaliser` replaces the denominator (N_tokens or the number of sequences)
    when a batch is split into micro-batches, so the pieces add up to the whole.

    All tensors are (batch, length); `advantages` is (batch,). Returns
    (loss, stats) with stats = {"kl", "clip_fraction", "tokens"} as sums over
    tokens, for the caller to average.
    """
    import torch

    high = epsilon if epsilon_high is None else epsilon_high
    mask = mask.to(logprobs.dtype)
    advantage = advantages.unsqueeze(1)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantage
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + high) * advantage
    per_token = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(logprobs)
    if ref_logprobs is not None:
        delta = ref_logprobs - logprobs
        kl = torch.exp(delta) - delta - 1
        if beta:
            per_token = per_token + beta * kl
    if aggregation == "token":
        loss = (per_token * mask).sum() / (normaliser or mask.sum().clamp(min=1))
    else:
        per_sequence = (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        loss = per_sequence.sum() / (normaliser or max(1, logprobs.shape[0]))
    was_clipped = ((ratio < 1 - epsilon) & (advantage < 0)) | ((ratio > 1 + high) & (advantage > 0))
    stats = {"kl": float((kl.detach() * mask).sum()), "clip_fraction": float((was_clipped * mask).sum()),
             "tokens": float(mask.sum())}
    return loss, stats


def token_logprobs(model, sequences: list[tuple[list[int], list[int]]], pad_id: int,
                   temperature: float = 1.0):
    """Log-probs of each completion token under `model`, as a padded (batch, completion) tensor.

    `sequences` holds (prompt ids, completion ids) pairs. Returns (logprobs, mask).
    """
    import torch

    width = max(len(p) + len(c) for p, c in sequences)
    span = max(len(c) for _, c in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, (prompt, completion) in enumerate(sequences):
        tokens = prompt + completion
        ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
    logits = model(input_ids=ids, attention_mask=attention).logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    mask = torch.zeros((len(sequences), span), dtype=torch.bool)
    gathered = []
    for row, (prompt, completion) in enumerate(sequences):
        n = len(completion)
        if n == 0:
            gathered.append(torch.zeros(span))
            continue
        # Position p predicts token p + 1, so completion token j comes from position len(prompt) + j - 1.
        rows = logits[row, len(prompt) - 1: len(prompt) - 1 + n].log_softmax(dim=-1)
        picked = rows.gather(1, torch.tensor(completion).unsqueeze(1)).squeeze(1)
        gathered.append(torch.nn.functional.pad(picked, (0, span - n)))
        mask[row, :n] = True
    return torch.stack(gathered), mask


# ---------------------------------------------------------------------------- rollouts

RewardFn = Callable[[list[Problem], list["Rollout"]], list[float | None]]


class Rollout(BaseModel):
    """One sampled completion and what the step learns from it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    group: int
    problem_id: str
    prompt_ids: list[int]
    completion_ids: list[int]
    engine_logprobs: list[float]
    text: str
    version: int
    reward: float | None = None
    advantage: float | None = None


class LocalRollouts:
    """Rollouts on one in-process vLLM engine that takes new weights while running."""

    def __init__(self, config: GRPOConfig) -> None:
        from reasoner.backends.vllm import VLLMGenerator

        self.generator = VLLMGenerator(config.model, dtype=config.engine_dtype, weight_sync=True,
                                       seed=config.seed)
        self.generator.engine()  # start now, so that step 1's timings are not start-up

    @property
    def formatter(self):
        return self.generator.formatter

    def generate(self, requests: list) -> list:
        from reasoner.runtime import run_sync

        async def all_of():
            return await asyncio.gather(*(self.generator.generate(r) for r in requests))

        return run_sync(all_of())

    def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        from reasoner.runtime import run_sync

        run_sync(self.generator.load_weights(packed, version, expected))

    def close(self) -> None:
        from reasoner.runtime import run_sync

        run_sync(self.generator.close())


class RolloutActor:
    """Body of a Ray rollout worker: one engine with weight sync."""

    def __init__(self, model: str, options: dict[str, Any]) -> None:
        from reasoner.backends.vllm import VLLMGenerator

        self.generator = VLLMGenerator(model, weight_sync=True, **options)

    async def ready(self) -> int:
        import os

        await asyncio.to_thread(self.generator.engine)
        return os.getpid()

    async def generate(self, requests: list) -> list:
        return list(await asyncio.gather(*(self.generator.generate(r) for r in requests)))

    async def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        await self.generator.load_weights(packed, version, expected)


class RayRollouts:
    """Rollouts spread over `workers` Ray actors; new weights are broadcast to all of them."""

    def __init__(self, config: GRPOConfig) -> None:
        import ray

        from reasoner.generation import PromptFormatter
        from reasoner.models import resolve_model

        if not ray.is_initialized():
            ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False)
        resources = {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) >= 1 else {"num_cpus": 1}
        actor_cls = ray.remote(max_concurrency=256, **resources)(RolloutActor)
        options = {"dtype": config.engine_dtype, "seed": config.seed}
        self.actors = [actor_cls.remote(config.model, options) for _ in range(config.workers)]
        ray.get([actor.ready.remote() for actor in self.actors])
        from transformers import AutoTokenizer

        self.formatter = PromptFormatter(AutoTokenizer.from_pretrained(resolve_model(config.model)))

    def generate(self, requests: list) -> list:
        import ray

        shares = [requests[i::len(self.actors)] for i in range(len(self.actors))]
        replies = ray.get([actor.generate.remote(share) for actor, share in zip(self.actors, shares)])
        out: list = [None] * len(requests)
        for i, reply in enumerate(replies):
            out[i::len(self.actors)] = reply
        return out

    def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        import ray

        ref = ray.put(packed)
        ray.get([actor.load_weights.remote(ref, version, expected) for actor in self.actors])

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)


# ---------------------------------------------------------------------------- the trainer


def step_seed(seed: int, step: int, what: str) -> int:
    digest = hashlib.sha256(f"grpo:{seed}:{step}:{what}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def step_problems(config: GRPOConfig, step: int) -> list[Problem]:
    """The prompts of step `step`: a pure function of (seed, step), drawn from training splits."""
    from reasoner.tasks import load_task

    rng = random.Random(step_seed(config.seed, step, "tasks"))
    picks = rng.choices(config.tasks, weights=config.task_weights or [1.0] * len(config.tasks),
                        k=config.prompts_per_step)
    problems = []
    for task in config.tasks:
        count = picks.count(task)
        if not count:
            continue
        seed = step_seed(config.seed, step, task)
        if config.levels is None:
            problems.extend(load_task(task, "train", n=count, seed=seed))
            continue
        if config.level_weights is None:
            problems.extend(_draw_levels(task, seed, set(config.levels), count))
            continue
        level_rng = random.Random(step_seed(config.seed, step, f"{task}:levels"))
        wanted = level_rng.choices(config.levels, weights=config.level_weights, k=count)
        for level in sorted(set(wanted)):
            problems.extend(_draw_levels(task, step_seed(config.seed, step, f"{task}:{level}"), {level},
                                         wanted.count(level)))
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


class GRPOTrainer:
    """Owns the policy, its reference, the optimizer, the rollout engine(s) and the run folder."""

    def __init__(self, config: GRPOConfig, out_dir: str | Path, rollouts: Any = None,
                 reward_fn: RewardFn | None = None) -> None:
        """`rollouts`: an engine to reuse (it must take weight sync; the trainer loads its
        weights into it first and leaves it open). `reward_fn`: replaces the verifiers,
        e.g. for a shaped or synthetic reward; it maps (problems, rollouts) to one
        score or None per rollout."""
        self.config = config
        self.out = Path(out_dir)
        self.state_dir = self.out / "trainer_state"
        self.version = 0
        self.rollouts = rollouts
        self._owns_rollouts = rollouts is None
        self.reward_fn = reward_fn
        self._math = self._code = None

    # -- the loop

    def run(self, progress: bool = True, stop_at: int | None = None) -> dict[str, Any]:
        """Train to `config.steps` (or pause after `stop_at`, checkpointed); returns a summary."""
        import torch

        from reasoner.training.sft import progress_bar

        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        torch.manual_seed(self.config.seed)
        model, reference, tokenizer, optimizer, step = self._load_or_init()
        if self.rollouts is None:
            self.rollouts = RayRollouts(self.config) if self.config.workers else LocalRollouts(self.config)
        started = time.perf_counter()
        try:
            # The engine started from the base weights (or served another run): give it ours.
            self._sync(model, self.version)
            last = min(self.config.steps, stop_at if stop_at is not None else self.config.steps)
            bar = progress_bar(self.config.steps, step, progress, "grpo")
            with (self.out / "metrics.jsonl").open("a", encoding="utf-8") as log:
                while step < last:
                    record = self.step(model, reference, tokenizer, optimizer, step)
                    step += 1
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    bar(step, {"reward": _fmt(record["reward_mean"]), "tok_s": f"{record['gen_tokens_per_s']:.0f}",
                               "sync": _fmt(record["logprob_diff_mean"], ".1e")})
                    if step % self.config.checkpoint_every == 0 or step == last:
                        self._save(model, tokenizer, optimizer, step)
        finally:
            self.close()
        plot_metrics(self.out / "metrics.jsonl", self.out / "training.png")
        return {"steps": step, "seconds": time.perf_counter() - started, "out": str(self.out)}

    def step(self, model, reference, tokenizer, optimizer, step: int) -> dict[str, Any]:
        """One rollout, grading, update and sync; returns the step's metrics."""
        began = time.perf_counter()
        problems = step_problems(self.config, step)
        rollouts, gen_seconds = self._rollouts(problems, step)
        graded = time.perf_counter()
        self._grade(problems, rollouts)
        advantages = group_advantages([r.reward for r in rollouts], [r.group for r in rollouts],
                                      self.config.advantage)
        for rollout, advantage in zip(rollouts, advantages):
            rollout.advantage = advantage
        grade_seconds = time.perf_counter() - graded
        trained = time.perf_counter()
        stats = self._update(model, reference, tokenizer, optimizer, rollouts, step)
        self._sync(model, self.version + 1)
        train_seconds = time.perf_counter() - trained
        rewards = [r.reward for r in rollouts if r.reward is not None]
        tokens = sum(len(r.completion_ids) for r in rollouts)
        return {
            "step": step + 1, "weight_version": self.version,
            "reward_mean": _mean(rewards), "accuracy": _mean([float(r >= 1.0) for r in rewards]),
            "ungradable_fraction": 1 - len(rewards) / len(rollouts),
            "zero_variance_fraction": _zero_variance_fraction(rollouts),
            **stats,
            "generated_tokens": tokens, "mean_completion_tokens": tokens / len(rollouts),
            "gen_tokens_per_s": round(tokens / max(gen_seconds, 1e-9), 1),
            "gen_seconds": round(gen_seconds, 3), "grade_seconds": round(grade_seconds, 3),
            "train_seconds": round(train_seconds, 3), "step_seconds": round(time.perf_counter() - began, 3),
            "lr": self._lr(step),
        }

    # -- pieces of a step

    def _rollouts(self, problems: list[Problem], step: int) -> tuple[list[Rollout], float]:
        from reasoner.generation import GenerationRequest

        sampling = SamplingConfig(temperature=self.config.temperature, top_p=1.0, max_tokens=self.config.max_tokens,
                                  logprobs=True, seed=step_seed(self.config.seed, step, "sample"))
        requests = [GenerationRequest(prompt=p.prompt, n=self.config.group_size,
                                      sampling=sampling.model_copy(update={"seed": sampling.seed + i}))
                    for i, p in enumerate(problems)]
        began = time.perf_counter()
        generations = self.rollouts.generate(requests)  # type: ignore[union-attr]
        seconds = time.perf_counter() - began
        rollouts = []
        for group, (problem, generation) in enumerate(zip(problems, generations)):
            if generation.weight_version != self.version:
                raise WeightSyncError(f"rollouts of step {step + 1} came from weight version "
                                      f"{generation.weight_version}, but the trainer is at {self.version}")
            prompt_ids = self.rollouts.formatter.token_ids(problem.prompt)  # type: ignore[union-attr]
            for candidate in generation.candidates:
                if candidate.token_logprobs is None or len(candidate.token_logprobs) != len(candidate.token_ids):
                    raise EngineError("the rollout engine returned no per-token log-probs")
                rollouts.append(Rollout(group=group, problem_id=problem.id, prompt_ids=prompt_ids,
                                        completion_ids=candidate.token_ids,
                                        engine_logprobs=candidate.token_logprobs, text=candidate.text,
                                        version=generation.weight_version))
        return rollouts, seconds

    def _grade(self, problems: list[Problem], rollouts: list[Rollout]) -> None:
        """Rewards from the verifiers' batch API (or `reward_fn`); a None score (not the
        completion's fault) stays None."""
        if self.reward_fn is not None:
            for rollout, reward in zip(rollouts, self.reward_fn(problems, rollouts), strict=True):
                rollout.reward = reward
            return
        by_domain: dict[str, list[Rollout]] = {}
        for rollout in rollouts:
            by_domain.setdefault(problems[rollout.group].domain, []).append(rollout)
        for domain, items in by_domain.items():
            verifier = self._verifier(domain)
            verdicts = verifier.verify_batch([(r.text, problems[r.group].reference) for r in items])
            for rollout, verdict in zip(items, verdicts):
                rollout.reward = verdict.score

    def _verifier(self, domain: str):
        if domain == "code":
            if self._code is None:
                from verifiers.code import CodeVerifier

                self._code = CodeVerifier()
            return self._code
        if self._math is None:
            from verifiers.math import MathVerifier

            self._math = MathVerifier()
        return self._math

    def _update(self, model, reference, tokenizer, optimizer, rollouts: list[Rollout], step: int) -> dict[str, Any]:
        """`updates_per_step` optimizer steps; the first pass also checks the engine's log-probs."""
        import torch

        usable = sorted((r for r in rollouts if r.advantage is not None and r.completion_ids),
                        key=lambda r: len(r.prompt_ids) + len(r.completion_ids))
        batches = [usable[i:i + self.config.micro_batch] for i in range(0, len(usable), self.config.micro_batch)]
        total_tokens = sum(len(r.completion_ids) for r in usable)
        normaliser = total_tokens if self.config.aggregation == "token" else len(usable)
        pad = tokenizer.pad_token_id
        old: list[Any] = []
        refs: list[Any] = []
        diffs: list[float] = []
        sums = {"kl": 0.0, "clip_fraction": 0.0, "tokens": 0.0}
        loss_total = 0.0
        for group in optimizer.param_groups:
            group["lr"] = self._lr(step)
        model.train()
        for update in range(self.config.updates_per_step):
            optimizer.zero_grad(set_to_none=True)
            for index, batch in enumerate(batches):
                sequences = [(r.prompt_ids, r.completion_ids) for r in batch]
                logprobs, mask = token_logprobs(model, sequences, pad, self.config.temperature)
                if update == 0:
                    old.append(logprobs.detach())
                    diffs.extend(self._engine_gap(model, batch, sequences, logprobs, mask, pad))
                    if reference is not None:
                        with torch.no_grad():
                            refs.append(token_logprobs(reference, sequences, pad, self.config.temperature)[0])
                advantages = torch.tensor([r.advantage for r in batch], dtype=torch.float32)
                loss, stats = policy_loss(logprobs, old[index], advantages, mask,
                                          refs[index] if refs else None, epsilon=self.config.epsilon,
                                          epsilon_high=self.config.epsilon_high, beta=self.config.beta,
                                          aggregation=self.config.aggregation, normaliser=normaliser)
                loss.backward()
                loss_total += float(loss.detach()) / self.config.updates_per_step
                for key in sums:
                    sums[key] += stats[key] / self.config.updates_per_step
            if update == 0:
                self._check_gap(diffs, step)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.max_grad_norm)
            optimizer.step()
        tokens = max(sums["tokens"], 1.0)
        return {"loss": loss_total, "kl": sums["kl"] / tokens, "clip_fraction": sums["clip_fraction"] / tokens,
                "trained_samples": len(usable),
                "logprob_diff_mean": _mean(diffs), "logprob_diff_max": max(diffs, default=None)}

    def _engine_gap(self, model, batch, sequences, logprobs, mask, pad) -> list[float]:
        """|vLLM log-prob - trainer log-prob| per sampled token, against the untempered policy."""
        import torch

        if self.config.temperature == 1.0:
            raw = logprobs.detach()
        else:  # vLLM reports log-probs before temperature
            with torch.no_grad():
                raw = token_logprobs(model, sequences, pad)[0]
        gaps = []
        for row, rollout in enumerate(batch):
            n = len(rollout.completion_ids)
            engine = torch.tensor(rollout.engine_logprobs[:n])
            gaps.extend((engine - raw[row, :n]).abs().tolist())
        return gaps

    def _check_gap(self, diffs: list[float], step: int) -> None:
        gap = _mean(diffs)
        if gap is not None and gap > self.config.logprob_tolerance:
            raise WeightSyncError(
                f"step {step + 1}: vLLM's log-probs differ from the trainer's by {gap:.4f} on average "
                f"(tolerance {self.config.logprob_tolerance}); the engine does not hold weight version "
                f"{self.version}")

    def _sync(self, model, version: int) -> None:
        """Load the trainer's weights into the engine(s) as `version`."""
        from reasoner.backends.weight_sync import checksum, pack_weights

        named = list(model.named_parameters())
        self.rollouts.load_weights(pack_weights(named), version,  # type: ignore[union-attr]
                                   checksum(p.detach() for _, p in named))
        self.version = version

    def _lr(self, step: int) -> float:
        if step < self.config.warmup_steps:
            return self.config.lr * (step + 1) / self.config.warmup_steps
        return self.config.lr

    # -- state

    def _load_or_init(self):
        import torch
        from transformers import AutoTokenizer, LlamaForCausalLM

        from reasoner.models import resolve_model

        base = resolve_model(self.config.model)
        reference = LlamaForCausalLM.from_pretrained(base, torch_dtype=torch.float32).eval()
        reference.requires_grad_(False)
        if (self.state_dir / "optimizer.pt").is_file():
            self._check_config()
            tokenizer = AutoTokenizer.from_pretrained(self.state_dir)
            model = LlamaForCausalLM.from_pretrained(self.state_dir, torch_dtype=torch.float32)
            optimizer = self._optimizer(model)
            state = torch.load(self.state_dir / "optimizer.pt", weights_only=False)
            optimizer.load_state_dict(state["optimizer"])
            self.version = int(state["version"])
            step = int(state["step"])
            truncate_log(self.out / "metrics.jsonl", step)
            return model, reference, tokenizer, optimizer, step
        if (self.out / "metrics.jsonl").exists():
            raise ResumeMismatchError(f"{self.out} has metrics but no checkpoint to resume; use a new folder")
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "grpo_config.json").write_text(self.config.model_dump_json(indent=2))
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = LlamaForCausalLM.from_pretrained(base, torch_dtype=torch.float32)
        return model, reference, tokenizer, self._optimizer(model), 0

    def _check_config(self) -> None:
        saved = GRPOConfig.model_validate_json((self.out / "grpo_config.json").read_text())
        if saved != self.config:
            raise ResumeMismatchError(f"{self.out} was trained with a different configuration: "
                                      f"{saved.model_dump_json()}; use a new output folder")

    def _optimizer(self, model):
        import torch

        return torch.optim.AdamW(model.parameters(), lr=self.config.lr, betas=(0.9, 0.99),
                                 weight_decay=self.config.weight_decay)

    def _save(self, model, tokenizer, optimizer, step: int) -> None:
        save_trainer_state(self.out, model, tokenizer,
                           {"optimizer": optimizer.state_dict(), "step": step, "version": self.version})

    def close(self) -> None:
        if self.rollouts is not None and self._owns_rollouts:
            self.rollouts.close()
            self.rollouts = None
        for verifier in (self._math, self._code):
            if verifier is not None:
                verifier.close()
        self._math = self._code = None


def train_grpo(config: GRPOConfig, out_dir: str | Path, progress: bool = True, stop_at: int | None = None,
               **trainer_options: Any) -> dict[str, Any]:
    """Train (or resume) per `config` into `out_dir`; returns steps, seconds and the folder."""
    return GRPOTrainer(config, out_dir, **trainer_options).run(progress=progress, stop_at=stop_at)


# ---------------------------------------------------------------------------- helpers


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _zero_variance_fraction(rollouts: list[Rollout]) -> float:
    """Share of groups whose graded rewards are all equal: they contribute no policy gradient."""
    groups: dict[int, list[float]] = {}
    for rollout in rollouts:
        if rollout.reward is not None:
            groups.setdefault(rollout.group, []).append(rollout.reward)
    if not groups:
        return 1.0
    return sum(1 for rewards in groups.values() if max(rewards) == min(rewards)) / len(groups)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_metrics(metrics: str | Path, out: str | Path) -> Path | None:
    """`training.png`: reward and accuracy, zero-variance groups, KL and clipping, sync gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not Path(metrics).exists():
        return None
    records = read_metrics(metrics)
    if not records:
        return None
    steps = [r["step"] for r in records]

    def series(key: str) -> list[float]:
        return [r[key] if r.get(key) is not None else float("nan") for r in records]

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    axes[0, 0].plot(steps, series("reward_mean"), label="mean reward")
    axes[0, 0].plot(steps, series("accuracy"), label="accuracy", linestyle="--")
    axes[0, 0].set_title("reward")
    axes[0, 1].plot(steps, series("zero_variance_fraction"), label="zero-variance groups")
    axes[0, 1].plot(steps, series("ungradable_fraction"), label="ungradable samples")
    axes[0, 1].set_title("groups without signal")
    axes[1, 0].plot(steps, series("kl"), label="KL to start (k3)")
    axes[1, 0].plot(steps, series("clip_fraction"), label="clip fraction")
    axes[1, 0].set_title("drift")
    axes[1, 1].plot(steps, series("logprob_diff_mean"), label="mean |vLLM - trainer| log-prob")
    axes[1, 1].set_yscale("log")
    axes[1, 1].set_title("weight sync check")
    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)


