"""Size caps on what a client asks for: every integer knob in its options, at any depth, has a limit.

`OPTION_CAPS` names the `Limits` field that caps each known option (a
strategy's `n`, `max_tokens`, a search's `step_tokens` and `max_steps`, a
budget's `samples`, a sweep's `draws`, ...); an integer under any other key is
capped by `max_option_value`, so a knob added to a strategy later is capped
too. A value over its cap is a 400 naming the field and the limit.

Not here: rates (`reasoner.service.limiter`), names (`reasoner.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reasoner.errors import RequestError
from reasoner.service.config import Limits

OPTION_CAPS = {
    "n": "max_samples", "max_n": "max_samples", "iterations": "max_samples", "width": "max_samples",
    "m": "max_samples", "chains": "max_samples", "batch": "max_samples", "samples": "max_samples",
    "budgets": "max_samples",
    "max_tokens": "max_tokens", "max_completion_tokens": "max_tokens", "step_tokens": "max_tokens",
    "rollout_tokens": "max_tokens",
    "max_steps": "max_steps", "depth": "max_steps", "revisions": "max_steps", "show_last": "max_steps",
    "generated_tokens": "max_generated_tokens",
    "concurrency": "max_job_concurrency", "draws": "max_sweep_draws", "resamples": "max_sweep_resamples",
    "limit": "max_job_problems",
}
"""Option key -> the `Limits` field that caps it."""


def check_caps(options: Any, limits: Limits, where: str = "", key: str | None = None) -> None:
    """A 400 naming the field if any integer in `options` (at any depth) is over its cap."""
    if isinstance(options, bool):
        return
    if isinstance(options, int):
        name = OPTION_CAPS.get(key or "", "max_option_value")
        cap = getattr(limits, name)
        if abs(options) > cap:
            raise over(where, options, name, cap)
    elif isinstance(options, Mapping):
        for child, value in options.items():
            check_caps(value, limits, f"{where}.{child}" if where else str(child), str(child))
    elif isinstance(options, list | tuple):
        for value in options:  # a list's items share its key's cap (a sweep's `budgets`)
            check_caps(value, limits, where, key)


def over(param: str, value: Any, limit: str, cap: Any) -> RequestError:
    return RequestError(f"{value} is over the server's limit {limit}={cap}", param=param, code="limit_exceeded")
