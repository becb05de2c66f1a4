"""A trace's confidence from its per-token top-k log-probabilities: DeepConf's measures and self-certainty.

Pure functions over `Candidate.top_logprobs` (position -> the k most likely
tokens' log-probabilities). The definitions are those of DeepConf (Fu et al.,
2025, "Deep Think with Confidence"):

- token confidence: C_i = -(1/k) * sum_j log P_i(j) over the top k tokens at
  position i (a peaked distribution puts the other top-k tokens far below the
  first, so C_i is large);
- group confidence: the mean of C_i over a sliding window of `window` tokens
  (stride 1); a trace shorter than the window is one group of all its tokens;
- a trace's confidence, by `metric`: `lowest_group` (the least group
  confidence), `bottom_share` (the mean of its lowest `share` of groups; the
  paper's bottom-10%), `tail` (the mean C_i of its last `tail` tokens) or
  `mean` (the mean C_i over the whole trace).

Self-certainty (Kang et al., 2025) is the mean over positions of KL(U || p),
the distribution's divergence from uniform over the vocabulary V:
-log|V| - (1/|V|) * sum_j log p_j. Only the top k of p are known; the
remaining mass is taken as spread evenly over the other |V| - k tokens. Of all
ways to spread it, that one makes the sum of logs largest, so the estimate is a
lower bound on the exact self-certainty (exact when k covers the vocabulary).

`WindowMonitor` follows a trace's group confidence token by token, as online
DeepConf needs while the trace is generated. Not here: what to do with the
numbers (strategies, scorers).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Literal

Metric = Literal["lowest_group", "bottom_share", "tail", "mean"]
METRICS: tuple[str, ...] = ("lowest_group", "bottom_share", "tail", "mean")


def token_confidence(top: Sequence[float]) -> float:
    """C_i of one position: minus the mean of its top-k log-probabilities."""
    return -sum(top) / len(top)


def token_confidences(top_logprobs: Sequence[Sequence[float]]) -> list[float]:
    """C_i for every position of a trace."""
    return [token_confidence(top) for top in top_logprobs]


def group_confidences(confidences: Sequence[float], window: int) -> list[float]:
    """The mean C_i of every window of `window` consecutive tokens; one group when the trace is shorter."""
    if not confidences:
        return []
    if len(confidences) <= window:
        return [sum(confidences) / len(confidences)]
    monitor = WindowMonitor(window)
    return [group for c in confidences if (group := monitor.push(c)) is not None]


def trace_confidence(confidences: Sequence[float], metric: Metric = "lowest_group", window: int = 16,
                     share: float = 0.1, tail: int = 32) -> float | None:
    """One trace's confidence by `metric` (see the module docstring); None for a trace without tokens."""
    if not confidences:
        return None
    if metric == "mean":
        return sum(confidences) / len(confidences)
    if metric == "tail":
        last = confidences[-tail:]
        return sum(last) / len(last)
    groups = group_confidences(confidences, window)
    if metric == "lowest_group":
        return min(groups)
    if metric == "bottom_share":
        lowest = sorted(groups)[:max(1, math.ceil(share * len(groups)))]
        return sum(lowest) / len(lowest)
    raise ValueError(f"unknown confidence metric {metric!r}; choose one of {', '.join(METRICS)}")


class WindowMonitor:
    """A trace's group confidence as its tokens arrive: `push` returns the current window's mean once full."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._values: deque[float] = deque()
        self._sum = 0.0
        self.lowest: float | None = None
        """The least full-window group confidence so far."""

    def push(self, confidence: float) -> float | None:
        """Add one token's C_i; the mean of the last `window` of them, or None before the window is full."""
        self._values.append(confidence)
        self._sum += confidence
        if len(self._values) > self.window:
            self._sum -= self._values.popleft()
        if len(self._values) < self.window:
            return None
        group = self._sum / self.window
        self.lowest = group if self.lowest is None else min(self.lowest, group)
        return group


TAIL_FLOOR = 1e-12
"""Least probability mass left to the tokens outside the top k (float rounding can make it 0 or less)."""


def self_certainty(top_logprobs: Sequence[Sequence[float]], vocab_size: int) -> float | None:
    """Mean over positions of the estimated KL(uniform || p) (see the module docstring); None without tokens."""
    if not top_logprobs:
        return None
    return sum(_position_certainty(top, vocab_size) for top in top_logprobs) / len(top_logprobs)


def _position_certainty(top: Sequence[float], vocab_size: int) -> float:
    rest = vocab_size - len(top)
    log_sum = sum(top)
    if rest > 0:
        mass = max(1.0 - sum(math.exp(value) for value in top), TAIL_FLOOR)
        log_sum += rest * math.log(mass / rest)
    return -math.log(vocab_size) - log_sum / vocab_size
