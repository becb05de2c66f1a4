"""GRPO on a real vLLM engine: weight sync, the log-prob check, learning, resume."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from reasoner.engine.backends.weight_sync import checksum, pack_weights
from reasoner.errors import EngineError, ResumeMismatchError, WeightSyncError
from reasoner.engine.generation import GenerationRequest
from reasoner.training.grpo import GRPOConfig, GRPOTrainer, RolloutPool, read_metrics, token_logprobs, train_grpo
from reasoner.types import SamplingConfig


@pytest.fixture(scope="module")
def rollouts(tiny_checkpoint):
    """One weight-sync engine on the random test checkpoint, shared by this module's trainers."""
    engine = RolloutPool.local(GRPOConfig(model=str(tiny_checkpoint)))
    yield engine
    engine.close()


def quick(tiny_checkpoint, **overrides) -> GRPOConfig:
    options = dict(model=str(tiny_checkpoint), steps=4, prompts_per_step=4, group_size=6, max_tokens=12,
                   lr=2e-2, warmup_steps=0, checkpoint_every=1, threads=1, advantage="dr_grpo")
    return GRPOConfig.from_flat({**options, **overrides})


def low_token_share(problems, rollouts):
    """A reward any policy can learn fast: the share of sampled token ids below 128."""
    return [sum(t < 128 for t in r.completion_ids) / max(1, len(r.completion_ids)) for r in rollouts]


def greedy(rollouts, prompt: str):
    request = GenerationRequest(prompt=prompt, n=1, sampling=SamplingConfig(temperature=0.0, max_tokens=12,
                                                                            logprobs=True))
    return rollouts.generate([request])[0].candidates[0]


def test_sync_changes_what_the_engine_computes_and_matches_the_trainer(rollouts, tiny_checkpoint):
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(tiny_checkpoint, torch_dtype=torch.float32)
    named = list(model.named_parameters())
    rollouts.load_weights(pack_weights(named), 100, checksum(p.detach() for _, p in named))
    prompt = "Ann has 3 pens and buys 4 more. How many pens does she have?"
    before = greedy(rollouts, prompt)
    with torch.no_grad():
        for _, parameter in named:
            parameter.add_(torch.randn_like(parameter) * 0.5)
    rollouts.load_weights(pack_weights(named), 101, checksum(p.detach() for _, p in named))
    after = greedy(rollouts, prompt)
    assert rollouts.pool.generator.weight_version == 101
    assert (after.token_ids, after.token_logprobs) != (before.token_ids, before.token_logprobs)
    prompt_ids = rollouts.pool.generator.formatter.token_ids(prompt)
    with torch.no_grad():
        trainer_logprobs, _ = token_logprobs(model, [(prompt_ids, after.token_ids)], 0)
    gap = (torch.tensor(after.token_logprobs) - trainer_logprobs[0, : len(after.token_ids)]).abs().max()
    assert float(gap) < 1e-4


def test_corrupted_transfer_fails_loudly(rollouts, tiny_checkpoint):
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(tiny_checkpoint, torch_dtype=torch.float32)
    named = list(model.named_parameters())
    expected = checksum(p.detach() for _, p in named)
    packed = pack_weights(named)
    name, dtype, shape, raw = packed[3]
    packed[3] = (name, dtype, shape, raw[:-4] + b"\x00\x00\x80\x7f")  # last float becomes +inf
    with pytest.raises(EngineError, match="corrupted"):
        rollouts.load_weights(packed, 7, expected)


def test_a_few_steps_on_a_learnable_reward_raise_it(rollouts, tiny_checkpoint, tmp_path):
    train_grpo(quick(tiny_checkpoint, steps=6), tmp_path, progress=False, rollouts=rollouts,
               reward_fn=low_token_share)
    metrics = read_metrics(tmp_path / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert [m["weight_version"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    rewards = [m["reward_mean"] for m in metrics]
    assert (rewards[-1] + rewards[-2]) / 2 > rewards[0] + 0.1, rewards
    # Every step's rollouts came from the weights the trainer held: vLLM and torch agree.
    assert max(m["logprob_diff_mean"] for m in metrics) < 1e-4
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "config.json").is_file() and (tmp_path / "model.safetensors").is_file()


def test_a_skipped_sync_is_caught_by_the_logprob_check(rollouts, tiny_checkpoint, tmp_path):
    trainer = GRPOTrainer(quick(tiny_checkpoint, steps=3), tmp_path, rollouts=rollouts,
                          reward_fn=low_token_share)
    real_sync = trainer._sync

    def forget_updates(model, version):
        if version == 0:  # the start-up load happens; the per-step ones are "forgotten"
            real_sync(model, version)

    trainer._sync = forget_updates
    with pytest.raises(WeightSyncError, match="log-probs differ"):
        trainer.run(progress=False)
    assert len(read_metrics(tmp_path / "metrics.jsonl")) == 1


def test_rollouts_from_a_stale_version_are_refused(rollouts, tiny_checkpoint, tmp_path):
    trainer = GRPOTrainer(quick(tiny_checkpoint, steps=3), tmp_path, rollouts=rollouts,
                          reward_fn=low_token_share)
    real_sync = trainer._sync

    def bump_without_loading(model, version):
        if version == 0:
            real_sync(model, version)
        else:
            trainer.version = version

    trainer._sync = bump_without_loading
    with pytest.raises(WeightSyncError, match="weight version 0, but the trainer is at 1"):
        trainer.run(progress=False)


def test_resume_continues_at_the_right_step(rollouts, tiny_checkpoint, tmp_path):
    config = quick(tiny_checkpoint, steps=4, checkpoint_every=2)
    train_grpo(config, tmp_path, progress=False, stop_at=3, rollouts=rollouts, reward_fn=low_token_share)
    # Step 3 ran after the last checkpoint (step 2): its metrics line is dropped and it is redone.
    state = torch.load(tmp_path / "trainer_state" / "optimizer.pt", weights_only=False)
    assert state["step"] == 3  # stop_at always checkpoints
    train_grpo(config, tmp_path, progress=False, rollouts=rollouts, reward_fn=low_token_share)
    metrics = read_metrics(tmp_path / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert [m["weight_version"] for m in metrics] == [1, 2, 3, 4]
    assert torch.load(tmp_path / "trainer_state" / "optimizer.pt", weights_only=False)["step"] == 4


def test_resume_with_other_settings_is_refused_and_keeps_the_run(rollouts, tiny_checkpoint, tmp_path):
    train_grpo(quick(tiny_checkpoint, steps=1), tmp_path, progress=False, rollouts=rollouts,
               reward_fn=low_token_share)
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(ResumeMismatchError, match="different configuration"):
        train_grpo(quick(tiny_checkpoint, steps=2, lr=1e-3), tmp_path, progress=False, rollouts=rollouts)
    assert (tmp_path / "metrics.jsonl").read_text() == before


class GradesSeen(GRPOTrainer):
    """The real trainer, keeping each step's graded rollouts for the test to check."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.graded: list[list[tuple[str, str, float | None]]] = []

    def _reward(self, problems, rollouts) -> None:
        super()._reward(problems, rollouts)
        self.graded.append([(r.text, problems[r.group].reference, r.reward) for r in rollouts])


def test_verifier_rewards_and_ungradable_samples_are_logged(tmp_path, math_verifier):
    """The real reward path: each rollout's reward is the math verifier's verdict on its text.

    The bundled `tiny` model, not the random checkpoint: it answers some level-1
    problems, so rewards differ between rollouts and a mis-graded one shows.
    """
    from reasoner.engine.models import resolve_model

    config = GRPOConfig.from_flat(dict(model=resolve_model("tiny"), steps=1, prompts_per_step=4, group_size=6,
                                       max_tokens=64, levels=[1], lr=1e-5, warmup_steps=0, checkpoint_every=1,
                                       threads=1))
    own = RolloutPool.local(config)
    try:
        trainer = GradesSeen(config, tmp_path, rollouts=own)
        trainer.run(progress=False)
    finally:
        own.close()
    (metrics,) = read_metrics(tmp_path / "metrics.jsonl")
    (graded,) = trainer.graded
    assert len(graded) == 24
    rewards = [reward for _, _, reward in graded]
    assert rewards == [math_verifier.verify(text, reference).score for text, reference, _ in graded]
    assert 1.0 in rewards, "no rollout was right, so grading was not exercised"
    scored = [r for r in rewards if r is not None]
    assert metrics["ungradable_fraction"] == pytest.approx(1 - len(scored) / len(rewards))
    assert metrics["reward_mean"] == pytest.approx(sum(scored) / len(scored))
    assert metrics["trained_samples"] == len(scored)


@pytest.fixture(scope="module")
def ray_rollouts(ray_runtime, tiny_checkpoint):
    """A one-actor RayPool with weight sync, opened as `--workers 1` opens it."""
    pool = RolloutPool.open(quick(tiny_checkpoint, workers=1))
    yield pool
    pool.close()


def test_ray_rollout_workers_receive_every_update(ray_rollouts, tiny_checkpoint, tmp_path):
    train_grpo(quick(tiny_checkpoint, steps=2), tmp_path, progress=False, rollouts=ray_rollouts,
               reward_fn=low_token_share)
    metrics = read_metrics(tmp_path / "metrics.jsonl")
    assert [m["weight_version"] for m in metrics] == [1, 2]
    # Step 2's rollouts came from the actor's engine after the step-1 update reached it.
    assert metrics[1]["logprob_diff_mean"] < 1e-4 and metrics[1]["kl"] > 0


def test_a_worker_killed_mid_rollouts_is_replaced_with_the_current_weights(ray_rollouts, tiny_checkpoint,
                                                                          tmp_path):
    import ray

    pool = ray_rollouts.pool
    restarts_at_grading = []

    def reward(problems, rollouts):  # runs right after each step's rollouts, before the weight sync
        restarts_at_grading.append(pool.restarts)
        return low_token_share(problems, rollouts)

    trainer = GRPOTrainer(quick(tiny_checkpoint, steps=2, max_tokens=64), tmp_path, rollouts=ray_rollouts,
                          reward_fn=reward)
    seen: dict[str, int] = {}
    finished = threading.Event()

    def kill_during_step_two_rollouts():
        while not finished.is_set() and (trainer.version < 1 or pool.in_flight == 0):
            time.sleep(0.002)
        if not finished.is_set():
            seen.update(version=trainer.version, in_flight=pool.in_flight)
            ray.kill(pool.actors[0])

    killer = threading.Thread(target=kill_during_step_two_rollouts)
    killer.start()
    before = pool.restarts
    try:
        trainer.run(progress=False)
    finally:
        finished.set()
        killer.join()
    assert seen["version"] == 1 and seen["in_flight"] > 0
    # The kill hit step 2's rollouts (the actor was replaced before they were graded) ...
    assert [r - before for r in restarts_at_grading] == [0, 1]
    # ... and the replacement generated from weight version 1: the trainer checked the version
    # of every rollout, and vLLM's log-probs match the trainer's.
    metrics = read_metrics(tmp_path / "metrics.jsonl")
    assert [m["weight_version"] for m in metrics] == [1, 2]
    assert metrics[1]["logprob_diff_mean"] < 1e-4
