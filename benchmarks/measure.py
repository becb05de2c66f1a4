"""What several benchmark scripts do the same way: a command's peak resident memory, and a results file written in sections."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

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


def save_section(path: Path, key: str, value: dict, notes: str) -> None:
    """Write `value` as section `key` of the JSON report at `path`, keeping its other sections."""
    report = json.loads(path.read_text()) if path.exists() else {}
    report[key] = value
    report["notes"] = notes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
