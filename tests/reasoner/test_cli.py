"""The `reasoner` command: solve, report, verify, models, and its error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reasoner.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures"


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_solve_json_summary_and_report(engine, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tiny_checkpoint),
                 "--strategy", "self_consistency", "--n", "2", "--max-tokens", "8", "--out", str(out), "--json"])
    assert code == 0
    summary = last_json(capsys.readouterr().out)
    assert {"accuracy", "problems", "strategy", "n", "generated_tokens", "wall_s"} <= summary.keys()
    assert summary["problems"] == 2 and summary["strategy"] == "self_consistency" and summary["n"] == 2
    assert summary["generated_tokens"] > 0
    assert main(["report", str(out), "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert report["problems"] == 2 and report["generated_tokens"] == summary["generated_tokens"]
    assert set(report["by_level"]) == {"1", "2"}


def test_missing_model_path_exits_with_a_clear_message(tmp_path, capsys):
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tmp_path / "absent")])
    assert code == 1
    assert f"no model folder at {tmp_path / 'absent'}" in capsys.readouterr().err


def test_bad_dataset_line_exits_with_file_and_line(capsys):
    code = main(["solve", "--dataset", str(FIXTURES / "bad_json.jsonl")])
    assert code == 1
    assert "bad_json.jsonl:2: invalid JSON" in capsys.readouterr().err


def test_report_of_missing_file_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.jsonl")]) == 1
    assert "no results file" in capsys.readouterr().err


def test_verify_math_prints_a_json_verdict(capsys):
    assert main(["verify", "math", "--pred", "so \\boxed{\\frac{1}{2}}", "--ref", "0.5", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["status"] == "correct" and verdict["score"] == 1.0


def test_verify_code_prints_a_json_verdict(tmp_path, capsys):
    program = tmp_path / "p.py"
    program.write_text("def f(x):\n    return x + 1\n")
    tests = tmp_path / "t.json"
    tests.write_text(json.dumps({"asserts": ["assert f(1) == 2", "assert f(2) == 4"]}))
    assert main(["verify", "code", "--program", str(program), "--tests", str(tests), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["status"] == "incorrect" and verdict["score"] == 0.0
    assert "f(2) == 4" in verdict["detail"]


def test_help_imports_no_heavy_module():
    script = ("import sys\nfrom reasoner.cli import build_parser\nbuild_parser().format_help()\n"
              "heavy = [m for m in ('vllm', 'torch', 'ray', 'sympy', 'transformers') if m in sys.modules]\n"
              "print(heavy)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
