"""What several benchmark scripts measure the same way: a command's peak resident memory."""

from __future__ import annotations

import subprocess
import time

import psutil


def peak_rss_mb(command: list[str], interval_s: float = 0.02) -> tuple[float, float]:
    """Peak resident memory (MB) of the process `command` starts (not its children), and its wall time.

    Raises RuntimeError with the end of its stderr when the command fails.
    """
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(interval_s)
    _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}: {err.decode()[-2000:]}")
    return peak / 2**20, time.perf_counter() - started
