"""The Python example runs against the session's real engine and reports what it measured."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_solve_from_python_compares_strategies_on_the_engine(engine, verifiers):
    from reasoner import Reasoner

    example = runpy.run_path(str(EXAMPLES / "solve_from_python.py"))
    r = Reasoner(generator=engine, verifiers=verifiers)   # not closed: the engine belongs to the session
    table = example["compare"](r, limit=3)
    assert set(table) == set(example["STRATEGIES"])
    for row in table.values():
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["tokens_per_problem"] > 0
    # Eight samples cost more tokens than one greedy chain.
    assert table["self_consistency"]["tokens_per_problem"] > table["cot"]["tokens_per_problem"]


def test_compare_budgets_script_names_real_commands_and_flags():
    import subprocess
    import sys

    script = (EXAMPLES / "compare_budgets.sh").read_text()
    sweep_line = next(line for line in script.splitlines() if line.startswith("reasoner sweep"))
    flags = [word for word in sweep_line.split() if word.startswith("--")]
    help_text = subprocess.run([sys.executable, "-m", "reasoner.cli", "sweep", "--help"],
                               capture_output=True, text=True, check=True).stdout
    missing = [flag for flag in flags if flag not in help_text]
    assert not missing, f"examples/compare_budgets.sh uses flags `reasoner sweep` does not have: {missing}"
