"""GRPO's maths: group-relative advantages, the clipped policy loss, and per-token log-probs.

Pure torch (imported inside the functions, so that importing this module stays
cheap): no engine, no optimizer, no files.
"""

from __future__ import annotations

import statistics
from typing import Literal


def group_advantages(rewards: list[float | None], groups: list[int],
                     mode: Literal["grpo", "dr_grpo"] = "grpo", eps: float = 1e-4) -> list[float | None]:
    """Group-relative advantages; None where the reward is None.

    GRPO (Shao et al. 2024, DeepSeekMath, eq. 3 outcome supervision):
        A_i = (r_i - mean(r)) / (std(r) + eps), std with Bessel's correction.
    Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"):
        A_i = r_i - mean(r), which does not up-weight groups of low variance.
    Means and stds run over the group's graded samples only; a group with
    fewer than two graded samples, or with equal rewards, gets advantage 0.
    """
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    advantages: list[float | None] = [None] * len(rewards)
    for indices in members.values():
        graded = [i for i in indices if rewards[i] is not None]
        values = [float(rewards[i]) for i in graded]  # type: ignore[arg-type]
        if len(values) < 2:
            for i in graded:
                advantages[i] = 0.0
            continue
        mean = statistics.fmean(values)
        scale = statistics.stdev(values) + eps if mode == "grpo" else 1.0
        for i, value in zip(graded, values):
            advantages[i] = (value - mean) / scale if value != mean else 0.0
    return advantages


def policy_loss(logprobs, old_logprobs, advantages, mask, ref_logprobs=None, *, epsilon: float = 0.2,
                epsilon_high: float | None = None, beta: float = 0.0,
                aggregation: Literal["token", "sequence"] = "token", normaliser: float | None = None):
    """The clipped surrogate with an optional k3 KL penalty, and its diagnostics.

    Per token t of sequence i, with ratio rho = exp(logp - logp_old):
        l_it = -min(rho * A_i, clip(rho, 1 - eps_low, 1 + eps_high) * A_i) + beta * k3_it
    (PPO's clipped objective, Schulman et al. 2017, as used by GRPO; a separate
    eps_high is DAPO's clip-higher, Yu et al. 2025). The KL estimator is k3
    (Schulman 2020, "Approximating KL divergence", as in GRPO):
        k3_it = exp(logp_ref - logp) - (logp_ref - logp) - 1,   always >= 0.
    Aggregation:
        token:    sum_it l_it / N_tokens                 (DAPO's token-level mean)
        sequence: mean_i (sum_t l_it / |o_i|)            (GRPO's per-sequence mean)
    `normaliser` replaces the denominator (N_tokens or the number of sequences)
    when a batch is split into micro-batches, so the pieces add up to the whole.

    All tensors are (batch, length); `advantages` is (batch,). Returns
    (loss, stats) with stats = {"kl", "clip_fraction", "tokens"} as sums over
    tokens, for the caller to average.
    """
    import torch

    high = epsilon if epsilon_high is None else epsilon_high
    mask = mask.to(logprobs.dtype)
    advantage = advantages.unsqueeze(1)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantage
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + high) * advantage
    per_token = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(logprobs)
    if ref_logprobs is not None:
        delta = ref_logprobs - logprobs
        kl = torch.exp(delta) - delta - 1
        if beta:
            per_token = per_token + beta * kl
    if aggregation == "token":
        loss = (per_token * mask).sum() / (normaliser or mask.sum().clamp(min=1))
    else:
        per_sequence = (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        loss = per_sequence.sum() / (normaliser or max(1, logprobs.shape[0]))
    was_clipped = ((ratio < 1 - epsilon) & (advantage < 0)) | ((ratio > 1 + high) & (advantage > 0))
    stats = {"kl": float((kl.detach() * mask).sum()), "clip_fraction": float((was_clipped * mask).sum()),
             "tokens": float(mask.sum())}
    return loss, stats


def token_logprobs(model, sequences: list[tuple[list[int], list[int]]], pad_id: int,
                   temperature: float = 1.0):
    """Log-probs of each completion token under `model`, as a padded (batch, completion) tensor.

    `sequences` holds (prompt ids, completion ids) pairs. Returns (logprobs, mask).
    """
    import torch

    width = max(len(p) + len(c) for p, c in sequences)
    span = max(len(c) for _, c in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, (prompt, completion) in enumerate(sequences):
        tokens = prompt + completion
        ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
    logits = model(input_ids=ids, attention_mask=attention).logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    mask = torch.zeros((len(sequences), span), dtype=torch.bool)
    gathered = []
    for row, (prompt, completion) in enumerate(sequences):
        n = len(completion)
        if n == 0:
            gathered.append(torch.zeros(span))
            continue
        # Position p predicts token p + 1, so completion token j comes from position len(prompt) + j - 1.
        rows = logits[row, len(prompt) - 1: len(prompt) - 1 + n].log_softmax(dim=-1)
        picked = rows.gather(1, torch.tensor(completion).unsqueeze(1)).squeeze(1)
        gathered.append(torch.nn.functional.pad(picked, (0, span - n)))
        mask[row, :n] = True
    return torch.stack(gathered), mask
