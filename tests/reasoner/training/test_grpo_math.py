"""GRPO's advantages and loss against hand-computed values on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from reasoner.engine.backends.weight_sync import checksum, pack_weights, unpack_weights
from reasoner.training.grpo import GRPOConfig, group_advantages, policy_loss


def test_grpo_advantages_standardise_within_each_group():
    advantages = group_advantages([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [0, 0, 0, 0, 1, 1], "grpo", eps=0.0)
    spread = math.sqrt((4 * 0.25) / 3)  # sample std of 1, 0, 0, 1
    assert advantages[:4] == pytest.approx([0.5 / spread, -0.5 / spread, -0.5 / spread, 0.5 / spread])
    assert advantages[4:] == pytest.approx([0.5 / math.sqrt(0.5), -0.5 / math.sqrt(0.5)])


def test_dr_grpo_advantages_only_subtract_the_mean():
    advantages = group_advantages([1.0, 0.0, 0.0, 0.0], [0, 0, 0, 0], "dr_grpo")
    assert advantages == pytest.approx([0.75, -0.25, -0.25, -0.25])


def test_none_rewards_are_left_out_of_the_baseline():
    advantages = group_advantages([1.0, None, 0.0, None], [0, 0, 0, 0], "dr_grpo")
    assert advantages[1] is None and advantages[3] is None
    # The mean is over the two graded samples (0.5), not over four with None as 0 (0.25).
    assert advantages[0] == pytest.approx(0.5) and advantages[2] == pytest.approx(-0.5)


def test_equal_rewards_and_lonely_samples_get_zero_advantage():
    advantages = group_advantages([1.0, 1.0, 1.0, 0.0, None], [0, 0, 0, 1, 1], "grpo")
    assert advantages == [0.0, 0.0, 0.0, 0.0, None]


def test_clipped_loss_matches_hand_computation():
    old = torch.zeros(2, 2)
    new = torch.log(torch.tensor([[1.5, 0.5], [1.5, 0.5]]))
    mask = torch.ones(2, 2, dtype=torch.bool)
    # Positive advantage: min(rho*A, clip(rho)*A) = [1.2, 0.5]; negative: [-1.5, -0.8].
    loss, stats = policy_loss(new, old, torch.tensor([1.0, -1.0]), mask, epsilon=0.2)
    assert float(loss) == pytest.approx((-1.2 - 0.5 + 1.5 + 0.8) / 4)
    # Clipped where the clipped branch was taken: rho=1.5 with A>0 and rho=0.5 with A<0.
    assert stats["clip_fraction"] == pytest.approx(2.0)
    assert stats["tokens"] == 4


def test_upper_clip_can_differ_from_the_lower():
    new = torch.log(torch.tensor([[1.5]]))
    loss, _ = policy_loss(new, torch.zeros(1, 1), torch.tensor([1.0]), torch.ones(1, 1), epsilon=0.2,
                          epsilon_high=0.28)
    assert float(loss) == pytest.approx(-1.28)


def test_sequence_aggregation_averages_each_sequence_first():
    new = torch.zeros(2, 3)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    advantages = torch.tensor([1.0, 3.0])
    by_token, _ = policy_loss(new, torch.zeros(2, 3), advantages, mask, aggregation="token")
    by_sequence, _ = policy_loss(new, torch.zeros(2, 3), advantages, mask, aggregation="sequence")
    assert float(by_token) == pytest.approx(-(1 + 1 + 1 + 3) / 4)
    assert float(by_sequence) == pytest.approx(-(1 + 3) / 2)


def test_k3_kl_penalty_matches_its_formula():
    new = torch.tensor([[0.0, -1.0]])
    ref = torch.tensor([[-0.5, -1.0]])
    loss, stats = policy_loss(new, new.clone(), torch.tensor([0.0]), torch.ones(1, 2), ref, beta=0.1)
    k3 = math.exp(-0.5) + 0.5 - 1  # exp(d) - d - 1 with d = ref - new = -0.5; the second token has d = 0
    assert stats["kl"] == pytest.approx(k3)
    assert float(loss) == pytest.approx(0.1 * k3 / 2)


def test_zero_variance_group_gives_zero_gradient():
    logits = torch.randn(4, 5, requires_grad=True)
    logprobs = torch.log_softmax(logits, dim=-1)
    advantages = torch.tensor(group_advantages([1.0] * 4, [0] * 4, "grpo"))
    loss, _ = policy_loss(logprobs, logprobs.detach(), advantages, torch.ones(4, 5))
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0


def test_masked_tokens_carry_no_gradient():
    logprobs = torch.zeros(1, 3, requires_grad=True)
    mask = torch.tensor([[1, 1, 0]], dtype=torch.bool)
    loss, _ = policy_loss(logprobs, logprobs.detach(), torch.tensor([1.0]), mask)
    loss.backward()
    assert logprobs.grad[0, 2] == 0 and logprobs.grad[0, 0] != 0


def test_packed_weights_round_trip_in_any_dtype():
    tensors = [("a", torch.randn(3, 4)), ("b", torch.randn(5).to(torch.bfloat16)), ("c", torch.empty(0))]
    restored = unpack_weights(pack_weights(tensors))
    assert [name for name, _ in restored] == ["a", "b", "c"]
    for (_, before), (_, after) in zip(tensors, restored):
        assert before.dtype == after.dtype and torch.equal(before, after)
    assert checksum(t for _, t in restored) == checksum(t for _, t in tensors)


def test_config_names_the_bad_field():
    with pytest.raises(ValueError, match="group_size"):
        GRPOConfig(rollout={"group_size": 1})
    with pytest.raises(ValueError, match="task_weights"):
        GRPOConfig(data={"tasks": ["arith", "pyfunc"], "task_weights": [1.0]})


def test_flat_options_reach_their_sections_and_an_unknown_one_is_named():
    config = GRPOConfig.from_flat({"model": "m", "levels": [2], "group_size": 4, "beta": 0.1, "lr": 1e-3,
                                   "workers": 2, "steps": 3})
    assert config.model == "m" and config.data.levels == [2] and config.rollout.group_size == 4
    assert (config.loss.beta, config.optim.lr, config.engine.workers, config.run.steps) == (0.1, 1e-3, 2, 3)
    with pytest.raises(ValueError, match="group_sise"):
        GRPOConfig.from_flat({"group_sise": 4})


def test_step_prompts_are_reproducible_training_problems_of_the_chosen_levels():
    from reasoner.tasks import load_task, prompt_hash
    from reasoner.training.grpo import step_problems

    config = GRPOConfig(data={"levels": [1, 2], "prompts_per_step": 12})
    first = step_problems(config, 5)
    assert [p.id for p in first] == [p.id for p in step_problems(config, 5)]
    assert [p.id for p in first] != [p.id for p in step_problems(config, 6)]
    assert len(first) == 12 and {p.metadata["level"] for p in first} <= {1, 2}
    test_prompts = {prompt_hash(p.prompt) for p in load_task("arith", "test")}
    assert not test_prompts & {prompt_hash(p.prompt) for p in first}
    with pytest.raises(ValueError, match="levels"):
        GRPOConfig(data={"levels": [0, 6]})


def test_level_weights_set_the_share_of_each_level():
    from collections import Counter

    from reasoner.training.grpo import step_problems

    config = GRPOConfig(data={"levels": [1, 3], "level_weights": [1.0, 9.0], "prompts_per_step": 16})
    first = step_problems(config, 3)
    assert [p.id for p in first] == [p.id for p in step_problems(config, 3)]
    assert len(first) == 16 and len({p.id for p in first}) == 16
    counts = Counter(p.metadata["level"] for step in range(20) for p in step_problems(config, step))
    assert set(counts) == {1, 3}
    # 320 draws at P(level 1) = 0.1: 32 expected, and 10-60 holds with overwhelming probability.
    assert 10 <= counts[1] <= 60, counts
    only_hard = GRPOConfig(data={"levels": [1, 3], "level_weights": [0.0, 1.0], "prompts_per_step": 16})
    assert {p.metadata["level"] for p in step_problems(only_hard, 0)} == {3}


@pytest.mark.parametrize("levels, weights", [(None, [1.0]), ([1, 2], [1.0]), ([1, 2], [-1.0, 2.0]), ([1], [0.0])])
def test_bad_level_weights_name_the_field(levels, weights):
    with pytest.raises(ValueError, match="level_weights"):
        GRPOConfig(data={"levels": levels, "level_weights": weights})


@pytest.mark.parametrize("flags, message", [
    (["--levels", "0,9"], "levels"),
    (["--levels", "one"], "--levels must be comma-separated integers"),
    (["--levels", "1,2", "--level-weights", "a,b"], "--level-weights must be comma-separated numbers"),
    (["--levels", "1,2", "--level-weights", "1"], "level_weights"),
    (["--group-size", "1"], "--group-size: input should be greater than or equal to 2"),
    (["--task", "nope"], "--task: unknown task 'nope'"),
])
def test_cli_rejects_bad_options_before_anything_starts(flags, message, tmp_path, capsys):
    from reasoner.cli import main

    assert main(["train", "grpo", *flags, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
