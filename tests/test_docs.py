"""The documentation: the MkDocs site builds strictly, and the README's links and set-up commands hold.

`mkdocs build --strict` fails on a broken link, a missing anchor, a page missing from disk or a results file
that is gone (the results pages link into `benchmarks/results/` through `docs/benchmarks/results`, a link to
that folder). The README is not part of the site, so its links are checked here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_docs_site_builds_strictly(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its successor, not a doc problem
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "site" / "results" / "grpo" / "index.html").exists()
    assert (tmp_path / "site" / "benchmarks" / "results" / "grpo_dev_selection.json").exists()


def relative_links(markdown: Path) -> list[str]:
    links = [link for link in LINK.findall(markdown.read_text(encoding="utf-8"))
             if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    return [link.split("#")[0] for link in links]


@pytest.mark.parametrize("name", ["README.md", "MODEL.md", "examples/README.md"])
def test_every_relative_link_of_a_top_level_page_names_a_file_that_exists(name):
    page = ROOT / name
    missing = [link for link in relative_links(page) if not (page.parent / link).exists()]
    assert not missing, f"{name} links to files that do not exist: {missing}"


def test_every_results_page_links_its_results_files():
    pages = [p for p in (ROOT / "docs" / "results").glob("*.md") if p.name != "index.md"]
    assert pages
    without = [p.name for p in pages if not any("benchmarks/results/" in link for link in relative_links(p))]
    assert not without, f"results pages with no link to a results file: {without}"


def test_the_readme_sets_up_with_exactly_the_two_make_targets():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up: two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    for target in ("demo", "test"):  # both exist and parse; -n runs nothing
        done = subprocess.run(["make", "-n", target, "REASONER_EXTRA=cpu", "TORCH_CPU_INDEX=http://127.0.0.1:9"],
                              cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
