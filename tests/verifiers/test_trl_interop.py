"""The TRL-style reward adapter works unchanged inside TRL's own GRPOTrainer."""

from __future__ import annotations

import math

from verifiers.rewards import MathReward


def test_math_reward_drives_trl_grpo_trainer(tiny_checkpoint, tmp_path, math_verifier):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rows = [{"prompt": f"Ann has {a} pens and buys {b} more. How many pens does she have?", "answer": str(a + b)}
            for a, b in [(3, 4), (5, 2), (7, 1), (2, 2), (6, 3), (1, 8), (4, 4), (9, 0)]]
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=12, max_steps=2, learning_rate=1e-3, logging_steps=1, report_to=[],
                      save_strategy="no", use_cpu=True, bf16=False, beta=0.0, disable_tqdm=True, seed=0)
    trainer = GRPOTrainer(model=str(tiny_checkpoint), reward_funcs=[MathReward(math_verifier)], args=args,
                          train_dataset=Dataset.from_list(rows))
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "rewards/math_reward/mean" in entry]
    assert len(logged) == 2
    for entry in logged:
        # A random model rarely answers; the reward is a real score in [0, 1] (NaN only if all were ungradable).
        mean = entry["rewards/math_reward/mean"]
        assert math.isnan(mean) or 0.0 <= mean <= 1.0
    assert trainer.state.global_step == 2
