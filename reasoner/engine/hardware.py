"""What hardware this process runs on, as vLLM sees it, and how many threads its engine should take."""

from __future__ import annotations

import functools
import os
from typing import Any


def vllm_platform() -> Any:
    """The platform vLLM detected for this process (`vllm.platforms.current_platform`)."""
    from vllm.platforms import current_platform

    return current_platform


@functools.cache
def on_cpu() -> bool:
    """True when vLLM runs on the CPU (the platform it reports, whichever vLLM package is installed)."""
    return vllm_platform().is_cpu()


def eager_mode(requested: bool | None, platform: Any) -> bool | None:
    """`enforce_eager` for an engine on `platform` (as `vllm_platform()` reports it): as requested when given;
    else True on CPU, where vLLM has no CUDA graphs to capture and compiling only slows start-up; else None,
    which leaves vLLM's own choice (CUDA graphs on a GPU: slower start, faster decoding)."""
    if requested is not None:
        return requested
    return True if platform.is_cpu() else None


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def engine_threads() -> int:
    """OpenMP threads for a CPU engine: every usable core but one, which is left to the
    process that schedules steps and turns outputs into results (at least one thread)."""
    return max(1, usable_cores() - 1)
