"""The TRL-style reward adapter works unchanged inside TRL's own GRPOTrainer.

The bundled `tiny` model (trained on these word problems) answers some of them,
so rewards vary; each reward TRL received and logged is checked against the
math verifier's own verdict on the same completion.
"""

from __future__ import annotations

import math

from reasoner.verifiers.rewards import MathReward, completion_text


class Recording:
    """Wraps a TRL reward function and keeps every call's completions, answers and rewards."""

    def __init__(self, reward) -> None:
        self.reward = reward
        self.__name__ = reward.__name__
        self.calls: list[tuple[list[str], list[str], list[float | None]]] = []

    def __call__(self, prompts, completions, **columns):
        rewards = self.reward(prompts, completions, **columns)
        self.calls.append(([completion_text(c) for c in completions], list(columns["answer"]), list(rewards)))
        return rewards


def nanmean(values: list[float | None]) -> float:
    graded = [v for v in values if v is not None]
    return sum(graded) / len(graded) if graded else math.nan


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, abs_tol=1e-6)


def test_math_reward_drives_trl_grpo_trainer(tmp_path, math_verifier):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from reasoner.engine.models import resolve_model

    names = [("Nora", "oranges"), ("Ann", "pens"), ("Sam", "cards"), ("Mia", "shells")]
    rows = [{"prompt": [{"role": "user", "content": f"{who} starts with {a} {what}. Tom gives {who} {b} more. "
                                                    f"How many {what} does {who} have now?"}],
             "answer": str(a + b)}
            for (who, what), (a, b) in zip(names * 2, [(3, 4), (5, 2), (7, 1), (2, 2), (6, 3), (1, 8), (4, 4), (9, 0)])]
    reward = Recording(MathReward(math_verifier))
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=48, max_steps=2, learning_rate=1e-5, logging_steps=1, report_to=[],
                      save_strategy="no", use_cpu=True, bf16=False, beta=0.0, disable_tqdm=True, seed=0)
    trainer = GRPOTrainer(model=resolve_model("tiny"), reward_funcs=[reward], args=args,
                          train_dataset=Dataset.from_list(rows))
    trainer.train()
    assert trainer.state.global_step == 2
    logged = [entry["rewards/math_reward/mean"] for entry in trainer.state.log_history
              if "rewards/math_reward/mean" in entry]
    assert len(logged) == len(reward.calls) == 2
    for (texts, answers, rewards), mean in zip(reward.calls, logged):
        # What the adapter returned is the verifier's verdict on each completion, and TRL logged their mean.
        assert rewards == [math_verifier.verify(text, answer).score for text, answer in zip(texts, answers)]
        assert same(mean, nanmean(rewards)), (mean, rewards)
    all_rewards = [r for _, _, rewards in reward.calls for r in rewards]
    assert any(r == 1.0 for r in all_rewards), "no completion was right, so the reward path was not exercised"
