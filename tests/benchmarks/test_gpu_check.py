"""`benchmarks/gpu_check.py` where it can run: a machine without a GPU, which it refuses clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def no_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: `make gpu-check` runs the real check")


def test_without_a_gpu_it_exits_2_saying_why_and_runs_nothing(no_gpu, tmp_path):
    out = tmp_path / "rows.json"
    run = run_script("--out", str(out))
    assert run.returncode == 2
    assert "gpu-check needs a CUDA GPU" in run.stderr and "REASONER_EXTRA=gpu make install" in run.stderr
    assert run.stdout == "" and not out.exists()


def test_a_child_part_is_refused_too(no_gpu, tmp_path):
    rows = tmp_path / "rows.jsonl"
    run = run_script("--part", "strategies", "--rows", str(rows))
    assert run.returncode == 2 and not rows.exists()


def test_help_says_what_it_runs():
    run = run_script("--help")
    assert run.returncode == 0
    for words in ("every strategy", "PRM-guided search", "GRPO", "weight sync", "Ray pool", "tokens/s",
                  "status 2"):
        assert words in " ".join(run.stdout.split()), words
    assert "--part" not in run.stdout  # the internal flag stays out of the help


def test_make_gpu_check_runs_the_script():
    run = subprocess.run(["make", "-n", "gpu-check", "REASONER_EXTRA=cpu"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and "benchmarks/gpu_check.py" in run.stdout


def test_every_strategy_row_builds_with_its_options(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import gpu_check
    from reasoner.strategies import STRATEGIES, build_strategy

    runs = gpu_check.strategy_runs()
    assert {name for name, _, _ in runs} == set(STRATEGIES.names())
    assert any(options.get("scorer") == "prm" for _, _, options in runs)
    for name, _, options in runs:
        build_strategy(name, options)  # a ConfigError here would be a failed row on the GPU
