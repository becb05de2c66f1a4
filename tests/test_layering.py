"""The house's floors: each wing imports only wings on its own floor or below, and no wings import in a circle.

`FLOORS` is the table drawn in `docs/design/architecture.md` (a test holds the two together); every import is
read from the source (module level and inside functions alike), so a lazy import that climbs a floor fails
here too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOORS: dict[str, int] = {
    # 0, the ground floor: records, errors, and helpers that import nothing above them
    "types": 0, "errors": 0, "registry": 0, "progress": 0, "steps": 0, "stats": 0,
    # 1: where tokens come from
    "engine": 1,
    # 2: grading and scoring, the meter every model call goes through, and the task families with their data
    # (a dataset file's reference answer is read with the verifier's own extraction)
    "verifiers": 2, "budget": 2, "tasks": 2,
    # 3: the strategies
    "strategies": 3,
    # 4: solving problems (the runner, pools)
    "jobs": 4,
    # 5: what runs jobs: sweeps and evaluation, training
    "eval": 5, "training": 5,
    # 6: the Python API
    "api": 6,
    # 7: the faces: the package's public names, the service, the command line
    "__init__": 7, "service": 7, "cli": 7, "cli_options": 7, "cli_sweep": 7, "cli_train": 7, "cli_serve": 7,
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] in ("strategies", "verifiers"):
        parts.insert(0, "reasoner")
    return ".".join(parts)


def _wing(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 or parts[1] == "__init__" else parts[1]


def _imports() -> list[tuple[str, str, int, str]]:
    """(source module, imported module, line, file) for every import of `reasoner` anywhere in the package."""
    found = []
    for top in ("reasoner", "strategies", "verifiers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = _module(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    if name == "reasoner" or name.startswith("reasoner."):
                        found.append((module, name, node.lineno, str(path.relative_to(ROOT))))
    return found


def test_every_wing_has_a_floor():
    wings = {_wing(source) for source, *_ in _imports()} | {_wing(target) for _, target, *_ in _imports()}
    assert wings <= set(FLOORS), sorted(wings - set(FLOORS))


def test_no_import_climbs_a_floor():
    climbing = [f"{file}:{line}: {source} ({_wing(source)}, floor {FLOORS[_wing(source)]}) imports {target} "
                f"({_wing(target)}, floor {FLOORS[_wing(target)]})"
                for source, target, line, file in _imports()
                if _wing(target) != "__init__" and FLOORS[_wing(target)] > FLOORS[_wing(source)]]
    assert climbing == []


def test_nothing_but_the_faces_imports_the_package_face():
    """`from reasoner import X` inside the package would load the public API's names from below it."""
    upward = [f"{file}:{line}: {source}" for source, target, line, file in _imports()
              if target == "reasoner" and FLOORS[_wing(source)] < FLOORS["__init__"]]
    assert upward == []


def test_no_wings_import_each_other_in_a_circle():
    edges: dict[str, set[str]] = defaultdict(set)
    for source, target, *_ in _imports():
        if _wing(source) != _wing(target):
            edges[_wing(source)].add(_wing(target))
    circle = _find_circle(edges)
    assert circle is None, " -> ".join(circle or [])


def _find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_drawn_table_is_the_checked_one():
    """Each row of the floors table in the architecture page lists exactly the wings `FLOORS` puts there."""
    page = (ROOT / "docs" / "design" / "architecture.md").read_text(encoding="utf-8")
    drawn: dict[str, int] = {}
    for line in page.split("## Floors", 1)[1].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            for wing in cells[1].replace("(", ",").replace(")", ",").split(","):
                wing = wing.strip().strip("`")
                if wing and not wing.startswith("the "):
                    drawn[wing] = int(cells[0])
    drawn["__init__"] = drawn.pop("package face", FLOORS["__init__"])
    assert drawn == {wing: floor for wing, floor in FLOORS.items() if wing != "__main__"}


def test_the_layering_check_sees_a_climbing_import(tmp_path):
    """The checker itself can fail: a ground-floor module importing a strategy is reported."""
    edges = {"types": {"strategies"}, "strategies": {"types"}}
    assert _find_circle(edges) == ["strategies", "types", "strategies"]
    assert FLOORS["strategies"] > FLOORS["types"]


def test_import_reasoner_loads_no_strategy_verifier_or_engine():
    code = ("import sys, reasoner\n"
            "heavy = ('reasoner.strategies', 'reasoner.verifiers', 'reasoner.engine', 'reasoner.jobs', "
            "'vllm', 'torch', 'ray', 'sympy', 'transformers')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
            "reasoner.Problem, reasoner.Budget\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    at_import, after_records = done.stdout.splitlines()
    assert at_import == "[]" and after_records == "[]"


def test_the_public_names_load_on_first_use():
    code = "import reasoner; print(reasoner.Reasoner.__module__, reasoner.Meter.__module__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["reasoner.api", "reasoner.budget"]
