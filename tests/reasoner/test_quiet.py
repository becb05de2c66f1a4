"""One answer through the Python API prints the answer, not the engine's start-up logs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    from reasoner import Reasoner
    from reasoner.types import Problem

    if __name__ == "__main__":
        with Reasoner(model={model!r}) as reasoner:
            result = reasoner.solve(Problem(id="p", prompt="What is 2 + 3?", answer="5"), max_tokens=8)
        print("ANSWER", result.answer is not None or result.candidates[0].num_tokens > 0)
""")

ENGINE_PROCESSES = 2
"""The engine core and its worker: each logs one Triton notice while importing vLLM (see reasoner.engine.logs)."""


def test_one_answer_through_the_python_api_prints_only_the_answer(tiny_checkpoint, tmp_path):
    script = tmp_path / "one.py"
    script.write_text(SCRIPT.format(model=str(tiny_checkpoint)))
    run = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == ["ANSWER True"]
    others = run.stderr.splitlines()
    assert not [line for line in others if " INFO " in line or " WARNING " in line], run.stderr
    assert len(others) <= ENGINE_PROCESSES, run.stderr
