"""The benchmark scripts as a room of their own: each has a quick `--help`, and shares one set of helpers.

Every script in `benchmarks/` (a file with a `__main__` guard) must answer `--help` with exit status 0
without importing vLLM, torch, Ray or transformers, must write its results file through
`measure.write_results` (or `measure.save_section`, which calls it), and must not copy what `measure.py`
or `reasoner.stats` already have: no `sys.path` edits, no JSON written to a file by hand, no bootstrap of
its own. A new script that copies a helper fails here. `write_results` itself is checked for what it
promises: provenance in the file, atomic replacement, nothing lost when a report cannot be written.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if 'if __name__ == "__main__"' in p.read_text())
HEAVY = ("vllm", "torch", "ray", "transformers")
WRITE_NO_RESULTS = {
    "make_gsm8k_style.py": "writes a data set (benchmarks/data), not results",
    "make_math_outputs.py": "writes a data set (benchmarks/data), not results",
    "math_verifier_table.py": "prints a table from math_verifier.json",
    "mathverify_runner.py": "answers bench_math_verifier.py on stdout, from Math-Verify's own venv",
    "prm_samples.py": "writes PRM training rollouts under runs/ through the job runner",
    "prm_ci_fixture.py": "cuts a test fixture (tests/fixtures) from PRM samples",
}
"""Scripts that write no results file, and why (a data set written by hand is fine)."""

# Runs a script as `python benchmarks/NAME.py --help` does (its folder first on sys.path), then reports
# its exit status and which heavy packages it imported on the way.
HELP_PROBE = """
import json, runpy, sys
script = sys.argv[1]
sys.path[0] = sys.argv[2]
sys.argv = [script, "--help"]
try:
    runpy.run_path(script, run_name="__main__")
    code = 0
except SystemExit as done:
    code = done.code or 0
print(json.dumps({"code": code, "heavy": sorted({m.split(".")[0] for m in sys.modules} & %r)}), file=sys.stderr)
""" % (set(HEAVY),)


def run_help(script: Path) -> tuple[str, dict, str]:
    done = subprocess.run([sys.executable, "-c", HELP_PROBE, str(script), str(BENCHMARKS)],
                          capture_output=True, text=True, timeout=120, cwd=BENCHMARKS.parent)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "{}"
    return done.stdout, json.loads(last) if last.startswith("{") else {"code": done.returncode}, done.stderr


@pytest.fixture(scope="module")
def helps() -> dict[str, tuple[str, dict, str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((p.name for p in SCRIPTS), pool.map(run_help, SCRIPTS)))


def test_the_scripts_are_found():
    assert len(SCRIPTS) >= 25, [p.name for p in SCRIPTS]
    assert "measure.py" not in {p.name for p in SCRIPTS}


@pytest.mark.parametrize("name", [p.name for p in SCRIPTS])
def test_help_exits_zero_without_heavy_imports(helps, name):
    stdout, probe, stderr = helps[name]
    assert probe["code"] == 0, f"{name} --help exited with {probe['code']}:\n{stderr[-2000:]}"
    assert stdout.startswith("usage:"), f"{name} --help printed no argparse usage:\n{stdout[:500]}"
    assert probe["heavy"] == [], f"{name} imports {probe['heavy']} before parsing its arguments"


def calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def call_name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def jsonl_line(call: ast.Call) -> bool:
    """`handle.write(json.dumps(record) + "\\n")`: one line appended to a JSONL stream of records (samples
    drawn so far, a data set), which a crash cuts at a line, not a results file written whole."""
    line = call.args[0] if len(call.args) == 1 else None
    return (call_name(call).endswith(".write") and isinstance(line, ast.BinOp)
            and isinstance(line.left, ast.Call) and call_name(line.left) == "json.dumps"
            and not any(keyword.arg == "indent" for keyword in line.left.keywords)
            and isinstance(line.right, ast.Constant) and line.right.value == "\n")


@pytest.mark.parametrize("name", [p.name for p in SCRIPTS])
def test_results_go_through_the_shared_writer(name):
    tree = ast.parse((BENCHMARKS / name).read_text())
    names = {call_name(call) for call in calls(tree)}
    if name in WRITE_NO_RESULTS:
        return
    assert names & {"write_results", "save_section"}, f"{name} writes no results through measure.write_results"
    by_hand = [ast.unparse(call) for call in calls(tree) if call_name(call).endswith(("write_text", ".write"))
               and "json.dump" in ast.unparse(call) and not jsonl_line(call)]
    by_hand += [ast.unparse(call) for call in calls(tree) if call_name(call) == "json.dump"
                and not ast.unparse(call.args[1]).startswith("sys.std")]
    allowed = {"bench_prm.py": "cache.write_text(json.dumps(out))"}  # its PRM score cache under runs/
    assert [c for c in by_hand if c != allowed.get(name)] == [], f"{name} writes JSON by hand: {by_hand}"


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_no_copied_helpers(path):
    tree = ast.parse(path.read_text())
    path_edits = [ast.unparse(call) for call in calls(tree) if call_name(call).startswith("sys.path.")]
    assert path_edits == [], f"{path.name} edits sys.path; run it as python benchmarks/{path.name}"
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    own_statistics = {d for d in defined if "bootstrap" in d or d in {"confidence_interval", "ci"}}
    assert own_statistics == set(), f"{path.name} defines {own_statistics}; use reasoner.stats.bootstrap_ci"
    if path.name != "measure.py":
        copies = defined & {"machine", "prompts", "percentile", "peak_rss_mb", "write_results", "save_section",
                            "math_cases", "arith_prompts", "engine_env", "versions"}
        assert copies == set(), f"{path.name} defines {copies}, which benchmarks/measure.py provides"


@pytest.fixture()
def measure(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import measure

    return measure


def test_write_results_adds_provenance_and_replaces_atomically(measure, tmp_path):
    path = tmp_path / "out" / "figures.json"
    measure.write_results(path, {"ratio": 1.5}, argv=["--repeats", "3"])
    written = json.loads(path.read_text())
    assert written["ratio"] == 1.5
    provenance = written["provenance"]
    assert provenance["command"].endswith("--repeats 3")
    assert provenance["machine"]["cpus"] >= 1 and len(provenance["machine"]["load_average"]) == 3
    assert "reasoner" in provenance["machine"]["versions"]
    assert len(provenance["load_average_at_start"]) == 3 and provenance["date"].endswith("+00:00")
    assert sorted(p.name for p in path.parent.iterdir()) == ["figures.json"]


def test_a_report_that_cannot_be_written_leaves_the_old_file(measure, tmp_path):
    path = tmp_path / "figures.json"
    measure.write_results(path, {"ratio": 1.5})
    before = path.read_text()
    with pytest.raises(TypeError):
        measure.write_results(path, {"ratio": object()})
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures.json"]


def test_rows_keep_their_shape_and_get_provenance_beside_them(measure, tmp_path):
    path = tmp_path / "rows.json"
    measure.write_results(path, [{"a": 1}, {"a": 2}])
    assert json.loads(path.read_text()) == [{"a": 1}, {"a": 2}]
    assert "command" in json.loads((tmp_path / "rows.provenance.json").read_text())


def test_save_section_keeps_other_sections(measure, tmp_path):
    path = tmp_path / "sections.json"
    measure.save_section(path, "dev", {"accuracy": 0.5}, notes="dev first")
    measure.save_section(path, "test", {"accuracy": 0.4}, notes="then test")
    written = json.loads(path.read_text())
    assert (written["dev"], written["test"], written["notes"]) == ({"accuracy": 0.5}, {"accuracy": 0.4}, "then test")
    assert list(written)[-1] == "provenance"
