"""SFT: batches are reproducible, loss goes down, and a run resumes where it stopped."""

from __future__ import annotations

import json

import pytest

from reasoner.engine.models import count_parameters
from reasoner.errors import ResumeMismatchError
from reasoner.training.sft import SIZES, SFTConfig, batch_examples, lr_at, train_sft

from reasoner.training.checkpoint import ModelShape

# A 2-layer model keeps each step fast; one thread avoids OpenMP spin-waits on a busy 2-core machine.
MICRO = ModelShape(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
QUICK = dict(shape=MICRO, batch_size=8, micro_batch=8, lr=1e-2, warmup_steps=5, tokenizer_examples=300,
             checkpoint_every=10, bf16=False, threads=1)


def losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


def test_batches_are_a_pure_function_of_seed_and_step():
    config = SFTConfig(**QUICK)
    assert batch_examples(config, 3) == batch_examples(config, 3)
    assert batch_examples(config, 3) != batch_examples(config, 4)


def test_varied_paths_change_targets_not_prompts():
    reference = batch_examples(SFTConfig(tasks=["arith"], batch_size=64), 3)
    varied = batch_examples(SFTConfig(tasks=["arith"], batch_size=64, solution_paths="varied"), 3)
    assert [prompt for prompt, _ in varied] == [prompt for prompt, _ in reference]
    assert sum(v != r for (_, v), (_, r) in zip(varied, reference, strict=True)) >= 16


def test_direct_answers_change_only_hard_arith_targets():
    config = SFTConfig(tasks=["arith"], batch_size=64)
    reference = batch_examples(config, 3)
    direct = batch_examples(config.model_copy(update={"direct_fraction": 1.0, "direct_from_level": 1}), 3)
    assert [prompt for prompt, _ in direct] == [prompt for prompt, _ in reference]
    bare = [completion for _, completion in direct if "\n" not in completion]
    assert bare and all(completion.startswith("The answer is \\boxed{") for completion in bare)
    # Revision examples keep their worked targets.
    assert all("\n" in completion for prompt, completion in direct if "Previous attempt:" in prompt)


def test_learning_rate_warms_up_then_decays():
    config = SFTConfig(**QUICK, steps=100)
    assert lr_at(0, config) < lr_at(4, config) == pytest.approx(config.lr)
    assert lr_at(99, config) == pytest.approx(0.1 * config.lr, rel=0.01)


def test_short_run_lowers_the_loss(tmp_path):
    train_sft(SFTConfig(**QUICK, steps=40), tmp_path, progress=False)
    curve = losses(tmp_path)
    assert len(curve) == 40
    assert sum(curve[-5:]) / 5 < 0.6 * sum(curve[:5]) / 5
    assert count_parameters(tmp_path) > 50_000


def test_resume_continues_at_the_saved_step_and_matches(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_sft(SFTConfig(**QUICK, steps=20), straight, progress=False)
    train_sft(SFTConfig(**QUICK, steps=20), resumed, progress=False, stop_at=10)
    assert len(losses(resumed)) == 10
    train_sft(SFTConfig(**QUICK, steps=20), resumed, progress=False)
    steps = [json.loads(line)["step"] for line in (resumed / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 21))
    assert losses(resumed) == pytest.approx(losses(straight), rel=1e-4)


def test_resume_with_another_configuration_is_refused(tmp_path):
    train_sft(SFTConfig(**QUICK, steps=10), tmp_path, progress=False)
    with pytest.raises(ResumeMismatchError):
        train_sft(SFTConfig(**{**QUICK, "lr": 1e-3}, steps=10), tmp_path, progress=False)


def test_small_has_four_to_eight_times_the_flops_of_tiny():
    def per_token(shape):
        layer = 4 * shape.hidden_size ** 2 + 3 * shape.hidden_size * shape.intermediate_size
        return layer * shape.num_hidden_layers

    ratio = per_token(SIZES["small"]) / per_token(SIZES["tiny"])
    assert 4 <= ratio <= 8


def test_resume_after_a_crash_drops_log_lines_past_the_checkpoint_and_may_change_threads(tmp_path):
    train_sft(SFTConfig(**QUICK, steps=14), tmp_path, progress=False, stop_at=10)
    with (tmp_path / "train_log.jsonl").open("a") as log:  # what a crash at step 12 leaves behind
        log.write('{"step": 11, "loss": 9.0}\n{"step": 12, "loss": 9.0}\n{"step": 1')
    train_sft(SFTConfig(**{**QUICK, "threads": 2}, steps=14), tmp_path, progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 15))
    assert 9.0 not in losses(tmp_path)
