"""What a GRPO run logs: one `metrics.jsonl` record per step, and `training.png` drawn from them.

Not here: computing the quantities (`trainer`, `loss`).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from reasoner.training.grpo.rollouts import Rollout
from reasoner.training.state import read_log


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The per-step records of a run's `metrics.jsonl`."""
    return read_log(path)


def mean(values: list[float]) -> float | None:
    """The mean, or None for no values."""
    return statistics.fmean(values) if values else None


def fmt(value: float | None, spec: str = ".3f") -> str:
    """A number for the progress bar; `-` for None."""
    return "-" if value is None else format(value, spec)


def zero_variance_fraction(rollouts: list[Rollout]) -> float:
    """Share of groups whose graded rewards are all equal: they contribute no policy gradient."""
    groups: dict[int, list[float]] = {}
    for rollout in rollouts:
        if rollout.reward is not None:
            groups.setdefault(rollout.group, []).append(rollout.reward)
    if not groups:
        return 1.0
    return sum(1 for rewards in groups.values() if max(rewards) == min(rewards)) / len(groups)


def rollout_metrics(rollouts: list[Rollout], gen_seconds: float) -> dict[str, Any]:
    """Rewards, signal and generation throughput of one step's rollouts."""
    rewards = [r.reward for r in rollouts if r.reward is not None]
    tokens = sum(len(r.completion_ids) for r in rollouts)
    return {
        "reward_mean": mean(rewards), "accuracy": mean([float(r >= 1.0) for r in rewards]),
        "ungradable_fraction": 1 - len(rewards) / len(rollouts),
        "zero_variance_fraction": zero_variance_fraction(rollouts),
        "generated_tokens": tokens, "mean_completion_tokens": tokens / len(rollouts),
        "gen_tokens_per_s": round(tokens / max(gen_seconds, 1e-9), 1),
    }


def progress_postfix(record: dict[str, Any]) -> dict[str, str]:
    """What the progress bar shows of a step's record."""
    return {"reward": fmt(record["reward_mean"]), "tok_s": f"{record['gen_tokens_per_s']:.0f}",
            "sync": fmt(record["logprob_diff_mean"], ".1e")}


def plot_metrics(metrics: str | Path, out: str | Path) -> Path | None:
    """`training.png`: reward and accuracy, zero-variance groups, KL and clipping, sync gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not Path(metrics).exists():
        return None
    records = read_metrics(metrics)
    if not records:
        return None
    steps = [r["step"] for r in records]

    def series(key: str) -> list[float]:
        return [r[key] if r.get(key) is not None else float("nan") for r in records]

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    axes[0, 0].plot(steps, series("reward_mean"), label="mean reward")
    axes[0, 0].plot(steps, series("accuracy"), label="accuracy", linestyle="--")
    axes[0, 0].set_title("reward")
    axes[0, 1].plot(steps, series("zero_variance_fraction"), label="zero-variance groups")
    axes[0, 1].plot(steps, series("ungradable_fraction"), label="ungradable samples")
    axes[0, 1].set_title("groups without signal")
    axes[1, 0].plot(steps, series("kl"), label="KL to start (k3)")
    axes[1, 0].plot(steps, series("clip_fraction"), label="clip fraction")
    axes[1, 0].set_title("drift")
    axes[1, 1].plot(steps, series("logprob_diff_mean"), label="mean |vLLM - trainer| log-prob")
    axes[1, 1].set_yscale("log")
    axes[1, 1].set_title("weight sync check")
    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)


