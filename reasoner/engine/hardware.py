"""What hardware this process runs on, as vLLM sees it, and how many threads its engine should take."""

from __future__ import annotations

import functools
import os


@functools.cache
def on_cpu() -> bool:
    """True when vLLM runs on the CPU build (no GPU)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def engine_threads() -> int:
    """OpenMP threads for a CPU engine: every usable core but one, which is left to the
    process that schedules steps and turns outputs into results (at least one thread)."""
    return max(1, usable_cores() - 1)
