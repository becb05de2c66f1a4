"""The settings of one GRPO run: one small model per concern, composed by `GRPOConfig`.

Every field has a default that trains the bundled `tiny` on arith. Field
names are unique across sections, so flat options (the CLI's flags) map onto
the sections by name (`GRPOConfig.from_flat`).

Not here: what the settings do (`loss`, `rollouts`, `trainer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class DataConfig(BaseModel):
    """Which training problems each step draws (a curriculum over tasks and levels)."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = ["arith"]
    """Task families whose training splits supply the prompts."""
    task_weights: list[float] | None = None
    """Sampling weight per task; None means equal."""
    levels: list[int] | None = None
    """Train only on problems of these difficulty levels (a curriculum); None means all."""
    level_weights: list[float] | None = None
    """Sampling weight per entry of `levels`, e.g. a few easy prompts beside the hard ones so the
    easy levels are held while the hard ones move; None draws the chosen levels uniformly."""
    prompts_per_step: int = Field(16, ge=1)
    """Problems per step (P)."""

    @model_validator(mode="after")
    def _weights_match(self) -> DataConfig:
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


class RolloutConfig(BaseModel):
    """How each problem's group of completions is sampled."""

    model_config = ConfigDict(extra="forbid")

    group_size: int = Field(8, ge=2)
    """Completions per problem (G); advantages are relative within a group."""
    max_tokens: int = Field(160, ge=1)
    """Cap on generated tokens per completion."""
    min_tokens: int = Field(0, ge=0)
    """Tokens each completion generates before it may end (benchmarks: equal work on both sides)."""
    temperature: float = Field(1.0, gt=0)
    """Rollout sampling temperature; the loss uses the same tempered policy."""


class RewardConfig(BaseModel):
    """What a completion's reward is."""

    model_config = ConfigDict(extra="forbid")

    reward: Literal["verifier", "ttrl"] = "verifier"
    """`verifier`: graded against the reference; `ttrl`: agreement with the group's majority answer, no
    reference read (`reasoner.verifiers.rewards.majority_rewards`; the verifier reward is still logged)."""
    ttrl_min_votes: int = Field(2, ge=1)
    """`ttrl`: completions that must hold the majority answer for the group to have a label."""


class LossConfig(BaseModel):
    """The objective: advantages, clipping, the KL term and how tokens are averaged."""

    model_config = ConfigDict(extra="forbid")

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


class OptimConfig(BaseModel):
    """The optimizer and how each rollout batch is stepped through."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(1e-4, gt=0)
    """AdamW learning rate (constant after `warmup_steps`); 1e-4 beat 2e-4 on the arith dev split
    (benchmarks/results/grpo_dev_selection.json)."""
    warmup_steps: int = Field(5, ge=0)
    """Steps of linear warm-up to `lr`."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    max_grad_norm: float = Field(1.0, gt=0)
    """Gradient-norm clip per optimizer step."""
    updates_per_step: int = Field(1, ge=1)
    """Optimizer steps per rollout batch (mu). Above 1 the policy drifts from the
    sampling policy within a step and the clipping starts to bite."""
    micro_batch: int = Field(32, ge=1)
    """Sequences per forward pass."""

    def lr_at(self, step: int) -> float:
        """Linear warm-up over `warmup_steps`, then constant."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        return self.lr


GRPO_ENGINE_SETTINGS = ("dtype", "seed", "weight_sync")
"""Engine settings a GRPO run sets itself (from `engine_dtype` and the run's seed; weight sync always on)."""


class RolloutEngineConfig(BaseModel):
    """Where rollouts run, and how closely their log-probs must match the trainer's."""

    model_config = ConfigDict(extra="forbid")

    engine_dtype: str = "float32"
    """Rollout engine dtype; float32 matches the float32 trainer, so the sync check is tight."""
    workers: int = Field(0, ge=0)
    """Ray rollout workers (a `RayPool`), each with its own engine; 0 generates in this process."""
    ray_address: str | None = None
    """Ray cluster to join with `workers`; None starts a local one."""
    cpu_threads: int | None = Field(None, ge=1)
    """OpenMP threads of an in-process CPU engine; None: every usable core but one."""
    engine_options: dict[str, Any] = Field(default_factory=dict)
    """More engine settings of every rollout engine (`--engine-arg`: vLLM's `AsyncEngineArgs` fields, e.g.
    tensor_parallel_size or gpu_memory_utilization). Not those GRPO sets itself: dtype (`engine_dtype`),
    seed (the run's) and weight_sync (always on)."""
    logprob_tolerance: float = Field(1e-3, gt=0)
    """Largest mean |vLLM log-prob - trainer log-prob| accepted over a step's sampled tokens. A synced
    float32 engine measures about 1e-7 here; one missed update moves it to 1e-3 or more."""

    @field_validator("engine_options")
    @classmethod
    def _not_set_by_grpo(cls, options: dict[str, Any]) -> dict[str, Any]:
        for key in options:
            if key in GRPO_ENGINE_SETTINGS:
                hint = " (use engine_dtype)" if key == "dtype" else ""
                raise ValueError(f"{key!r} is set by the GRPO run itself{hint}")
        return options


class RunConfig(BaseModel):
    """How long the run is, how it is seeded and how often it is checkpointed."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(100, ge=1)
    """Rollout-and-update steps."""
    seed: int = 0
    """Seeds prompt draws and sampling; a resumed run draws the same batches."""
    checkpoint_every: int = Field(10, ge=1)
    """Steps between resumable checkpoints."""
    threads: int | None = None
    """torch intra-op threads for the trainer; None leaves torch's default."""


class GRPOConfig(BaseModel):
    """Settings of one GRPO run, by concern."""

    model_config = ConfigDict(extra="forbid")

    model: str = "tiny"
    """Starting checkpoint: a bundled name or an HF folder. Also the frozen KL reference."""
    data: DataConfig = Field(default_factory=DataConfig)
    """Which problems each step trains on."""
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    """How completions are sampled."""
    rewards: RewardConfig = Field(default_factory=RewardConfig)
    """What a completion's reward is."""
    loss: LossConfig = Field(default_factory=LossConfig)
    """The objective."""
    optim: OptimConfig = Field(default_factory=OptimConfig)
    """The optimizer."""
    engine: RolloutEngineConfig = Field(default_factory=RolloutEngineConfig)
    """Where rollouts run."""
    run: RunConfig = Field(default_factory=RunConfig)
    """Length, seed and checkpoints."""

    @model_validator(mode="after")
    def _votes_fit_the_group(self) -> GRPOConfig:
        if self.rewards.reward == "ttrl" and self.rewards.ttrl_min_votes > self.rollout.group_size:
            raise ValueError(f"ttrl_min_votes ({self.rewards.ttrl_min_votes}) is more than group_size "
                             f"({self.rollout.group_size}): no group could ever have a majority label")
        return self

    @classmethod
    def from_flat(cls, options: Mapping[str, Any]) -> GRPOConfig:
        """A config from flat option names, e.g. {"group_size": 4, "lr": 1e-3} as the CLI's flags give them.

        A name no section has is an error naming it.
        """
        nested: dict[str, Any] = {}
        for key, value in options.items():
            section = _SECTION_OF.get(key)
            if section is None:
                nested[key] = value
            else:
                nested.setdefault(section, {})[key] = value
        return cls.model_validate(nested)


_SECTIONS: dict[str, type[BaseModel]] = {"data": DataConfig, "rollout": RolloutConfig, "rewards": RewardConfig,
                                          "loss": LossConfig,
                                          "optim": OptimConfig, "engine": RolloutEngineConfig, "run": RunConfig}
_SECTION_OF: dict[str, str] = {field: section for section, model in _SECTIONS.items() for field in model.model_fields}
