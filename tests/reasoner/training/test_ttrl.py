"""The TTRL reward: agreement with the group's majority answer, no reference read.

The rule (`reasoner.verifiers.rewards.majority_rewards`) on its own, then through the GRPO trainer's reward
path with the real math verifier: a group with a majority, a tie at the top, a group whose answers all
differ (no majority), and a group with no parseable answer. Every rollout gets a number; none is dropped.
"""

from __future__ import annotations

import pytest

from reasoner.training.grpo import GRPOConfig, GRPOTrainer, Rollout
from reasoner.training.grpo.rollouts import TTRLRewards
from reasoner.types import Problem
from reasoner.verifiers import VerifierSet
from reasoner.verifiers.rewards import MajorityVoteReward, majority_rewards


@pytest.mark.parametrize(("labels", "rewards", "label", "why"), [
    ([0, 0, 1, None], [1.0, 1.0, 0.0, 0.0], 0, "majority"),       # unparseable disagrees
    ([2, 1, 2, 2], [1.0, 0.0, 1.0, 1.0], 2, "majority"),
    ([0, 0, 1, 1], [0.0] * 4, None, "tie"),                         # a tie at the top: no label
    ([0, 1, 2, 3], [0.0] * 4, None, "tie"),                         # all differ: no majority
    ([None, None, None], [0.0] * 3, None, "no_answer"),             # nothing parseable
    ([0, None, None, None], [0.0] * 4, None, "too_few_votes"),      # a lone answer is no majority
    ([], [], None, "no_answer"),
])
def test_the_majority_rule(labels, rewards, label, why):
    outcome = majority_rewards(labels, min_votes=2)
    assert (outcome.rewards, outcome.label, outcome.why) == (rewards, label, why)


def test_min_votes_one_lets_a_lone_answer_be_the_label():
    assert majority_rewards([0, None, None], min_votes=1).rewards == [1.0, 0.0, 0.0]


def test_min_votes_below_one_is_refused():
    with pytest.raises(ValueError, match="min_votes"):
        majority_rewards([0], min_votes=0)


GROUPS = {
    "majority": (["\\boxed{7}", "so 3 + 4 = 7", "The answer is 7.0", "\\boxed{8}", "no idea"], "7"),
    "tie": (["\\boxed{7}", "\\boxed{7}", "\\boxed{8}", "\\boxed{8}", "hmm"], "7"),
    "all_differ": (["\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "\\boxed{4}", "\\boxed{5}"], "3"),
    "unparseable": (["no idea", "", "\\boxed{\\frac{}{}}", "I give up", "still thinking"], "7"),
}


def _rewarded(tmp_path, math_verifier, groups):
    rewards = TTRLRewards(VerifierSet({"math": math_verifier}))
    trainer = GRPOTrainer(GRPOConfig(), tmp_path, reward_fn=rewards)
    problems, rollouts = [], []
    for group, (texts, reference) in enumerate(groups):
        problems.append(Problem(id=f"p{group}", prompt="What is 3 + 4?", answer=reference))
        rollouts += [Rollout(group=group, problem_id=f"p{group}", prompt_ids=[1], completion_ids=[2],
                             engine_logprobs=[0.0], text=text, version=0) for text in texts]
    trainer._reward(problems, rollouts)
    return rollouts, rewards.step_metrics()


def test_the_trainer_rewards_agreement_with_the_equivalent_majority(tmp_path, math_verifier):
    rollouts, _ = _rewarded(tmp_path, math_verifier, [GROUPS["majority"]])
    assert [r.reward for r in rollouts] == [1.0, 1.0, 1.0, 0.0, 0.0]  # 7 and 7.0 vote together
    assert rollouts[0].advantage > 0 > rollouts[3].advantage


@pytest.mark.parametrize("name", ["tie", "all_differ", "unparseable"])
def test_a_group_without_a_label_gets_zero_for_every_rollout_and_no_advantage(tmp_path, math_verifier, name):
    rollouts, metrics = _rewarded(tmp_path, math_verifier, [GROUPS[name]])
    assert [r.reward for r in rollouts] == [0.0] * 5 and [r.advantage for r in rollouts] == [0.0] * 5
    assert metrics["ttrl_labelled_groups"] == 0.0 and metrics["ttrl_label_accuracy"] is None


def test_no_reference_is_read_for_the_reward_only_for_the_logged_comparison(tmp_path, math_verifier):
    right, _ = _rewarded(tmp_path / "a", math_verifier, [GROUPS["majority"]])
    wrong_reference = (GROUPS["majority"][0], "8")
    other, metrics = _rewarded(tmp_path / "b", math_verifier, [wrong_reference])
    assert [r.reward for r in right] == [r.reward for r in other]
    assert metrics["ttrl_labelled_groups"] == 1.0 and metrics["ttrl_label_accuracy"] == 0.0
    assert metrics["verifier_reward_mean"] == pytest.approx(1 / 5)  # one completion says 8


def test_a_step_mixing_groups_counts_each(tmp_path, math_verifier):
    groups = [GROUPS["majority"], GROUPS["tie"], GROUPS["unparseable"]]
    rollouts, metrics = _rewarded(tmp_path, math_verifier, groups)
    assert len([r for r in rollouts if r.reward is None]) == 0
    assert metrics["ttrl_labelled_groups"] == pytest.approx(1 / 3) and metrics["ttrl_label_accuracy"] == 1.0


def test_the_trl_shaped_reward_groups_completions_by_prompt(math_verifier):
    reward = MajorityVoteReward(math_verifier)
    prompts = ["a", "a", "a", "b", "b"]
    completions = ["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "\\boxed{5}", "\\boxed{6}"]
    assert reward(prompts, completions) == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_grpo_config_takes_the_ttrl_reward_and_refuses_an_impossible_vote():
    config = GRPOConfig.from_flat({"reward": "ttrl", "group_size": 4, "ttrl_min_votes": 3})
    assert config.rewards.reward == "ttrl" and config.rewards.ttrl_min_votes == 3
    with pytest.raises(ValueError, match="ttrl_min_votes"):
        GRPOConfig.from_flat({"reward": "ttrl", "group_size": 4, "ttrl_min_votes": 5})
