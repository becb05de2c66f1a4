"""The GRPO loop: rollouts, rewards, advantages, the update and the weight sync, step after step.

One step:
1. Draw `prompts_per_step` training problems (`data.step_problems`) and sample
   `group_size` completions of each on the rollout pool, whose engines are
   tagged with the weight version they hold (`rollouts.sample`).
2. Reward every completion (`rollouts.VerifierRewards`, or a given `RewardFn`).
   Under the score rule of `reasoner.verifiers.base`, no answer, an unparseable one or a timed-out
   comparison scores 0, so it gets a negative advantage. A None reward (a broken reference or a
   verifier failure: not the completion's fault) takes no part in its group's baseline or in
   the loss, and is counted in `ungradable_fraction`.
3. Turn rewards into group-relative advantages (`loss.group_advantages`).
4. Recompute the sampled tokens' log-probs in torch, check them against the
   log-probs vLLM reported (a mismatch means the engine holds other weights
   than the trainer), and take `updates_per_step` optimizer steps on the
   clipped objective (`loss.policy_loss`).
5. Push the new weights into the pool (`load_weights`; checksummed) and bump the weight version.

Each step's record goes to `metrics.jsonl`; `training.png` plots them. The run
folder (`reasoner.training.state.RunFolder`, shared with SFT) is checkpointed
every `checkpoint_every` steps and a re-run of the same command resumes it.

Not here: the settings (`config`), the maths (`loss`), sampling and grading (`rollouts`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasoner.errors import ResumeMismatchError, WeightSyncError
from reasoner.engine.generation import PromptFormatter
from reasoner.training.grpo.config import GRPOConfig
from reasoner.training.grpo.data import step_problems
from reasoner.training.grpo.loss import group_advantages, policy_loss, token_logprobs
from reasoner.training.grpo.run_log import mean, plot_metrics, progress_postfix, rollout_metrics
from reasoner.training.grpo.rollouts import RewardFn, Rollout, RolloutPool, VerifierRewards, sample
from reasoner.training.state import RunFolder, progress_bar


@dataclass
class Policy:
    """The model being trained, its frozen starting copy (the KL reference), tokenizer and optimizer."""

    model: Any
    reference: Any
    tokenizer: Any
    optimizer: Any

    @property
    def formatter(self) -> PromptFormatter:
        return PromptFormatter(self.tokenizer)


@dataclass
class Anchor:
    """What the first pass over a micro-batch fixes for the step's later passes."""

    old: Any
    """Log-probs of the policy that sampled (the ratio's denominator)."""
    ref: Any
    """Log-probs of the reference model, or None without one."""
    gaps: list[float]
    """|engine log-prob - trainer log-prob| per sampled token."""


class GRPOTrainer:
    """Runs one GRPO training run in `out_dir`: the loop, the update and the weight sync."""

    def __init__(self, config: GRPOConfig, out_dir: str | Path, rollouts: RolloutPool | None = None,
                 reward_fn: RewardFn | None = None) -> None:
        """`rollouts`: a pool to reuse (its engines must take weight sync; the trainer loads its
        weights into them first and leaves the pool open). `reward_fn`: replaces the verifiers,
        e.g. for a shaped or synthetic reward."""
        self.config = config
        self.out = Path(out_dir)
        self.folder = RunFolder(self.out, config_file="grpo_config.json", log_file="metrics.jsonl")
        self.version = 0
        self.rollouts = rollouts
        self._owns_rollouts = rollouts is None
        self._verifier_rewards = None if reward_fn is not None else VerifierRewards()
        self.reward_fn: RewardFn = reward_fn or self._verifier_rewards  # type: ignore[assignment]

    # -- the loop

    def run(self, progress: bool = True, stop_at: int | None = None) -> dict[str, Any]:
        """Train to `steps` (or pause after `stop_at`, checkpointed); returns a summary."""
        import torch

        if self.config.run.threads:
            torch.set_num_threads(self.config.run.threads)
        torch.manual_seed(self.config.run.seed)
        policy, step = self._load_or_init()
        if self.rollouts is None:
            self.rollouts = RolloutPool.open(self.config)
        started = time.perf_counter()
        try:
            # The engines started from the base weights (or served another run): give them ours.
            self._sync(policy.model, self.version)
            step = self._loop(policy, step, progress, stop_at)
        finally:
            self.close()
        plot_metrics(self.folder.log_path, self.out / "training.png")
        return {"steps": step, "seconds": time.perf_counter() - started, "out": str(self.out)}

    def _loop(self, policy: Policy, step: int, progress: bool, stop_at: int | None) -> int:
        steps = self.config.run.steps
        last = min(steps, stop_at if stop_at is not None else steps)
        bar = progress_bar(steps, step, progress, "grpo")
        with self.folder.log_path.open("a", encoding="utf-8") as log:
            while step < last:
                record = self.step(policy, step)
                step += 1
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar(step, progress_postfix(record))
                if step % self.config.run.checkpoint_every == 0 or step == last:
                    self.folder.save(policy.model, policy.tokenizer, policy.optimizer, step, version=self.version)
        return step

    def step(self, policy: Policy, step: int) -> dict[str, Any]:
        """One rollout, grading, update and sync; returns the step's metrics."""
        began = time.perf_counter()
        problems = step_problems(self.config, step)
        rollouts, gen_seconds = sample(self.rollouts, problems, policy.formatter,  # type: ignore[arg-type]
                                       self.config, step, self.version)
        graded = time.perf_counter()
        self._reward(problems, rollouts)
        grade_seconds = time.perf_counter() - graded
        trained = time.perf_counter()
        stats = self._update(policy, rollouts, step)
        self._sync(policy.model, self.version + 1)
        return {"step": step + 1, "weight_version": self.version, **rollout_metrics(rollouts, gen_seconds), **stats,
                "gen_seconds": round(gen_seconds, 3), "grade_seconds": round(grade_seconds, 3),
                "train_seconds": round(time.perf_counter() - trained, 3),
                "step_seconds": round(time.perf_counter() - began, 3), "lr": self.config.optim.lr_at(step)}

    def _reward(self, problems, rollouts: list[Rollout]) -> None:
        """Rewards from `reward_fn`, then advantages within each problem's group."""
        for rollout, reward in zip(rollouts, self.reward_fn(problems, rollouts), strict=True):
            rollout.reward = reward
        advantages = group_advantages([r.reward for r in rollouts], [r.group for r in rollouts],
                                      self.config.loss.advantage)
        for rollout, advantage in zip(rollouts, advantages):
            rollout.advantage = advantage

    # -- the update

    def _update(self, policy: Policy, rollouts: list[Rollout], step: int) -> dict[str, Any]:
        """`updates_per_step` optimizer steps; the first pass also checks the engine's log-probs."""
        import torch

        optim = self.config.optim
        usable = sorted((r for r in rollouts if r.advantage is not None and r.completion_ids),
                        key=lambda r: len(r.prompt_ids) + len(r.completion_ids))
        batches = [usable[i:i + optim.micro_batch] for i in range(0, len(usable), optim.micro_batch)]
        tokens = sum(len(r.completion_ids) for r in usable)
        normaliser = tokens if self.config.loss.aggregation == "token" else len(usable)
        for group in policy.optimizer.param_groups:
            group["lr"] = optim.lr_at(step)
        policy.model.train()
        anchors: list[Anchor] = []
        sums = {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "tokens": 0.0}
        for update in range(optim.updates_per_step):
            policy.optimizer.zero_grad(set_to_none=True)
            for index, batch in enumerate(batches):
                anchor, stats = self._backward(policy, batch, anchors[index] if update else None, normaliser)
                if not update:
                    anchors.append(anchor)
                for key in sums:
                    sums[key] += stats[key] / optim.updates_per_step
            if update == 0:
                self._check_gap([gap for anchor in anchors for gap in anchor.gaps], step)
            torch.nn.utils.clip_grad_norm_(policy.model.parameters(), optim.max_grad_norm)
            policy.optimizer.step()
        gaps = [gap for anchor in anchors for gap in anchor.gaps]
        tokens_seen = max(sums["tokens"], 1.0)
        return {"loss": sums["loss"], "kl": sums["kl"] / tokens_seen,
                "clip_fraction": sums["clip_fraction"] / tokens_seen, "trained_samples": len(usable),
                "logprob_diff_mean": mean(gaps), "logprob_diff_max": max(gaps, default=None)}

    def _backward(self, policy: Policy, batch: list[Rollout], anchor: Anchor | None,
                  normaliser: float) -> tuple[Anchor, dict[str, float]]:
        """Loss and gradient of one micro-batch; on the first pass (`anchor` None) it makes the anchor."""
        import torch

        sequences = [(r.prompt_ids, r.completion_ids) for r in batch]
        pad = policy.tokenizer.pad_token_id
        logprobs, mask = token_logprobs(policy.model, sequences, pad, self.config.rollout.temperature)
        if anchor is None:
            anchor = self._anchor(policy, batch, sequences, logprobs)
        advantages = torch.tensor([r.advantage for r in batch], dtype=torch.float32)
        loss_config = self.config.loss
        loss, stats = policy_loss(logprobs, anchor.old, advantages, mask, anchor.ref,
                                  epsilon=loss_config.epsilon, epsilon_high=loss_config.epsilon_high,
                                  beta=loss_config.beta, aggregation=loss_config.aggregation, normaliser=normaliser)
        loss.backward()
        return anchor, {**stats, "loss": float(loss.detach())}

    def _anchor(self, policy: Policy, batch: list[Rollout], sequences, logprobs) -> Anchor:
        import torch

        pad, temperature = policy.tokenizer.pad_token_id, self.config.rollout.temperature
        ref = None
        if policy.reference is not None:
            with torch.no_grad():
                ref = token_logprobs(policy.reference, sequences, pad, temperature)[0]
        return Anchor(old=logprobs.detach(), ref=ref, gaps=self._engine_gap(policy, batch, sequences, logprobs))

    def _engine_gap(self, policy: Policy, batch: list[Rollout], sequences, logprobs) -> list[float]:
        """|vLLM log-prob - trainer log-prob| per sampled token, against the untempered policy."""
        import torch

        if self.config.rollout.temperature == 1.0:
            raw = logprobs.detach()
        else:  # vLLM reports log-probs before temperature
            with torch.no_grad():
                raw = token_logprobs(policy.model, sequences, policy.tokenizer.pad_token_id)[0]
        gaps = []
        for row, rollout in enumerate(batch):
            n = len(rollout.completion_ids)
            engine = torch.tensor(rollout.engine_logprobs[:n])
            gaps.extend((engine - raw[row, :n]).abs().tolist())
        return gaps

    def _check_gap(self, diffs: list[float], step: int) -> None:
        gap = mean(diffs)
        tolerance = self.config.engine.logprob_tolerance
        if gap is not None and gap > tolerance:
            raise WeightSyncError(
                f"step {step + 1}: vLLM's log-probs differ from the trainer's by {gap:.4f} on average "
                f"(tolerance {tolerance}); the engine does not hold weight version {self.version}")

    def _sync(self, model, version: int) -> None:
        """Load the trainer's weights into the rollout pool as `version`."""
        from reasoner.engine.backends.weight_sync import checksum, pack_weights

        named = list(model.named_parameters())
        self.rollouts.load_weights(pack_weights(named), version,  # type: ignore[union-attr]
                                   checksum(p.detach() for _, p in named))
        self.version = version

    # -- state

    def _load_or_init(self) -> tuple[Policy, int]:
        """The policy to train and the step to start at: resumed from the run folder, or fresh."""
        import torch
        from transformers import AutoTokenizer, LlamaForCausalLM

        from reasoner.engine.models import resolve_model

        base = resolve_model(self.config.model)
        reference = LlamaForCausalLM.from_pretrained(base, torch_dtype=torch.float32).eval()
        reference.requires_grad_(False)
        if self.folder.resumable:
            model, tokenizer, optimizer, state = self.folder.resume(self.config, self._optimizer)
            self.version = int(state["version"])
            return Policy(model, reference, tokenizer, optimizer), int(state["step"])
        if self.folder.log_path.exists():
            raise ResumeMismatchError(f"{self.out} has metrics but no checkpoint to resume; use a new folder")
        self.folder.start(self.config)
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = LlamaForCausalLM.from_pretrained(base, torch_dtype=torch.float32)
        return Policy(model, reference, tokenizer, self._optimizer(model)), 0

    def _optimizer(self, model):
        import torch

        return torch.optim.AdamW(model.parameters(), lr=self.config.optim.lr, betas=(0.9, 0.99),
                                 weight_decay=self.config.optim.weight_decay)

    def close(self) -> None:
        """Close the rollout pool if this trainer opened it, and the verifiers."""
        if self.rollouts is not None and self._owns_rollouts:
            self.rollouts.close()
            self.rollouts = None
        if self._verifier_rewards is not None:
            self._verifier_rewards.close()


def train_grpo(config: GRPOConfig, out_dir: str | Path, progress: bool = True, stop_at: int | None = None,
               **trainer_options: Any) -> dict[str, Any]:
    """Train (or resume) per `config` into `out_dir`; returns steps, seconds and the folder."""
    return GRPOTrainer(config, out_dir, **trainer_options).run(progress=progress, stop_at=stop_at)
