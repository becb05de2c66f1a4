"""The distribution's shape: one import package `reasoner`, folders where the design card puts them.

`strategies/` and `verifiers/` sit at the repository's top level but install as
`reasoner.strategies` and `reasoner.verifiers`, so nothing of ours lands in
`site-packages/verifiers` or `site-packages/strategies`, where PyPI's packages of
those names live.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _folder(package: str, package_dir: dict[str, str]) -> Path:
    """The folder setuptools takes `package` from, under the package-dir mapping."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        if head in package_dir:
            return ROOT / package_dir[head] / Path(*parts[cut:])
    return ROOT / Path(*parts)


def test_every_folder_with_an_init_is_a_listed_package():
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = {_folder(name, setuptools["package-dir"]).resolve(): name for name in listed}
    on_disk = {init.parent.resolve() for top in ("reasoner", "strategies", "verifiers")
               for init in (ROOT / top).rglob("__init__.py")}
    assert set(mapped) == on_disk, (sorted(map(str, on_disk - set(mapped))), sorted(map(str, set(mapped) - on_disk)))


def test_no_module_imports_the_bare_top_level_names():
    """Not in code, and not in code kept in strings either (a worker's bootstrap, a test's subprocess)."""
    bare = re.compile(r"(^|[\"';(]\s*)(from|import) (strategies|verifiers)\b")  # a statement's start
    found = []
    for path in ROOT.glob("**/*.py"):
        if {".venv", "build"} & set(path.relative_to(ROOT).parts):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if bare.search(line.split("#", 1)[0]):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (found,) = out.glob("reasoner-*.whl")
    return found


def test_the_wheel_installs_only_under_reasoner(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"reasoner"}
    assert "reasoner/verifiers/base.py" in names and "reasoner/strategies/base.py" in names
    assert "reasoner/data/models/tiny/config.json" in names


def test_pypis_verifiers_and_ours_install_side_by_side(wheel, tmp_path):
    """PyPI's `verifiers` (an RL-environments library) and ours in one site folder: both are found, each from
    its own files. Their dependencies are not installed, so the check stops at finding each module's files."""
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           "verifiers==0.4.0", str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    code = ("import importlib.util, sys\n"
            f"sys.path.insert(0, {str(target)!r})\n"
            "theirs = importlib.util.find_spec('verifiers').origin\n"
            "import reasoner.verifiers.base as ours\n"
            "print(theirs); print(ours.__file__)\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    theirs, ours = shown.stdout.split()
    assert theirs == str(target / "verifiers" / "__init__.py")
    assert ours == str(target / "reasoner" / "verifiers" / "base.py")
    assert not (target / "strategies").exists()
