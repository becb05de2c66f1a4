"""GRPO on verifier-produced rewards: a completion that says nothing must be pushed down.

Rewards come from the real math verifier through the trainer's own reward
path (`GRPOTrainer._reward` with its default `VerifierRewards`), which also
turns them into group-relative advantages.
"""

from __future__ import annotations

from reasoner.training.grpo import GRPOConfig, GRPOTrainer, Rollout, group_advantages
from reasoner.training.grpo.rollouts import VerifierRewards
from reasoner.types import Problem
from reasoner.verifiers import VerifierSet

OUTPUTS = [
    "3 + 4 = 7, so the answer is $\\boxed{7}$.",   # right
    "I am not sure how to do this.",                 # says nothing
    "",                                              # empty
    "The answer is \\boxed{\\frac{}{}}.",            # unparseable
    "Adding them gives \\boxed{8}.",                 # wrong
]


def _graded_rollouts(tmp_path, math_verifier, reference: str) -> list[Rollout]:
    # The session's verifier, so no second worker pool starts.
    trainer = GRPOTrainer(GRPOConfig(), tmp_path, reward_fn=VerifierRewards(VerifierSet({"math": math_verifier})))
    problems = [Problem(id="sum", prompt="What is 3 + 4?", answer=reference)]
    rollouts = [Rollout(group=0, problem_id="sum", prompt_ids=[1], completion_ids=[2], engine_logprobs=[0.0],
                        text=text, version=0) for text in OUTPUTS]
    trainer._reward(problems, rollouts)
    return rollouts


def test_silent_and_unparseable_completions_score_zero(tmp_path, math_verifier):
    rewards = [r.reward for r in _graded_rollouts(tmp_path, math_verifier, "7")]
    assert rewards == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_silent_completions_get_a_negative_advantage(tmp_path, math_verifier):
    rollouts = _graded_rollouts(tmp_path, math_verifier, "7")
    advantages = [r.advantage for r in rollouts]
    assert advantages == group_advantages([r.reward for r in rollouts], [r.group for r in rollouts],
                                          GRPOConfig().loss.advantage)
    assert advantages[0] > 0 and all(a < 0 for a in advantages[1:])


def test_a_broken_reference_leaves_the_whole_group_ungraded(tmp_path, math_verifier):
    rollouts = _graded_rollouts(tmp_path, math_verifier, "\\frac{")
    assert [r.reward for r in rollouts] == [None] * len(OUTPUTS)
    assert group_advantages([r.reward for r in rollouts], [0] * len(OUTPUTS), "grpo") == [None] * len(OUTPUTS)
