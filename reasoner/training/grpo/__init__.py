"""GRPO: reinforcement learning from the verifiers' rewards, with rollouts on vLLM through a worker pool.

By concern:
- `config`: the run's settings, one small model per concern, composed by `GRPOConfig`;
- `data`: which training problems each step draws;
- `rollouts`: sampling groups of completions on a `LocalPool` or `RayPool`, and grading them;
- `loss`: group-relative advantages, the clipped policy loss, per-token log-probs (torch only);
- `trainer`: the loop, the update, the weight sync and the run folder (shared with SFT);
- `metrics`: the per-step records and their plot.

`train_grpo(GRPOConfig(...), out)` trains (or resumes) a run; its folder is
always a loadable HF checkpoint, so `reasoner solve --model DIR` evaluates it.

Not here: supervised training (`reasoner.training.sft`) or evaluation.
"""

from reasoner.training.grpo.config import (DataConfig, GRPOConfig, LossConfig, OptimConfig, RolloutConfig,
                                           RolloutEngineConfig, RunConfig)
from reasoner.training.grpo.data import step_problems
from reasoner.training.grpo.loss import group_advantages, policy_loss, token_logprobs
from reasoner.training.grpo.run_log import plot_metrics, read_metrics
from reasoner.training.grpo.rollouts import RewardFn, Rollout, RolloutPool
from reasoner.training.grpo.trainer import GRPOTrainer, train_grpo

__all__ = ["DataConfig", "GRPOConfig", "GRPOTrainer", "LossConfig", "OptimConfig", "RewardFn", "Rollout",
           "RolloutConfig", "RolloutEngineConfig", "RolloutPool", "RunConfig", "group_advantages",
           "plot_metrics", "policy_loss", "read_metrics", "step_problems", "token_logprobs", "train_grpo"]
