"""How much the inference engine says: quiet by default, everything with `verbose=True`.

vLLM logs dozens of INFO and WARNING lines while it starts an engine (platform
checks, kernel choices, timings), from this process and from the engine
processes it spawns. None of them asks anything of a user who only wants an
answer, so by default only vLLM's errors show. This project's own warnings,
Python warnings other than deprecation notices, and engine errors still show.
One line per engine process remains: vLLM's note that Triton has no CPU backend,
logged while vLLM is imported, before any logging setting can reach it.

The spawned engine processes configure their logging from their environment
when they start, so `configure_engine_logs` writes the settings there (it never
reads them) and must run before an engine starts. Not here: the project's own
progress output (see `reasoner.progress`).
"""

from __future__ import annotations

import logging
import os

QUIET_LEVEL = "ERROR"
"""vLLM's log level unless verbose."""
VERBOSE_LEVEL = "INFO"
"""vLLM's log level with verbose: what vLLM itself prints by default."""


def engine_log_settings(verbose: bool) -> dict[str, str]:
    """Environment settings that make engine processes started afterwards quiet (or not)."""
    settings = {
        "VLLM_LOGGING_LEVEL": VERBOSE_LEVEL if verbose else QUIET_LEVEL,
        # Logs go to stderr, so stdout stays for results (e.g. the CLI's --json line).
        "VLLM_LOGGING_STREAM": "ext://sys.stderr",
    }
    if not verbose:
        # torch's C++ warnings (e.g. NUMA binding notes), library deprecation notices, and the
        # resource tracker's note at exit about shared memory vLLM's engine left behind.
        settings["TORCH_CPP_LOG_LEVEL"] = "ERROR"
        settings["PYTHONWARNINGS"] = ("ignore::FutureWarning,ignore::DeprecationWarning,"
                                      "ignore::UserWarning:multiprocessing.resource_tracker")
    return settings


def configure_engine_logs(verbose: bool = False) -> None:
    """Quiet vLLM (or not) in this process and in every engine process started after this call."""
    os.environ.update(engine_log_settings(verbose))
    logging.getLogger("vllm").setLevel(VERBOSE_LEVEL if verbose else QUIET_LEVEL)


def engine_load_options(verbose: bool) -> dict[str, bool]:
    """Engine arguments for weight loading: its progress bar only when verbose."""
    return {"use_tqdm_on_load": verbose}
