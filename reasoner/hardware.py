"""What accelerator this process runs on, as vLLM sees it."""

from __future__ import annotations

import functools


@functools.cache
def on_cpu() -> bool:
    """True when vLLM runs on the CPU build (no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()
