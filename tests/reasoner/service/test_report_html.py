"""`reasoner report RESULTS.jsonl --html OUT/`: the console's job and problem views as static pages.

The results file is written the way a job writes it (`record_of` through a `JsonlStore`), with a
self-consistency record whose candidate holds a script and a beam-search record with its tree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reasoner.cli import main
from reasoner.jobs import JsonlStore, record_of
from reasoner.types import Candidate, FinishReason, Problem, Result, TraceEvent
from tests.reasoner.eval.test_tree import PROBLEM, search_tree

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def results_file(path: Path) -> Path:
    voted = Problem(id="arith-test-00001", prompt="3 + 4?", answer="7", metadata={"level": 2})
    texts = [f"{XSS} so \\boxed{{7}}", "I think \\boxed{8}", "\\boxed{7}"]
    candidates = [Candidate(text=t, num_tokens=5, finish_reason=FinishReason.STOP) for t in texts]
    store = JsonlStore(path, "hash-1")
    store.write(record_of(voted, Result(problem_id=voted.id, strategy="self_consistency", answer="7", chosen=0,
                                        candidates=candidates,
                                        trace=[TraceEvent(kind="vote", data={"groups": {"0": [0, 2], "1": [1]}})]),
                          "hash-1"))
    chain = Candidate(text="12 + 5 = 17\n17 * 3 = 51\nThe answer is \\boxed{51}.", num_tokens=20,
                      finish_reason=FinishReason.STOP)
    store.write(record_of(PROBLEM, Result(problem_id=PROBLEM.id, strategy="beam_search", answer="51", chosen=0,
                                          candidates=[chain], trace=[TraceEvent(kind="tree", data=search_tree())]),
                          "hash-1"))
    store.close()
    return path


def write(tmp_path: Path) -> Path:
    results = results_file(tmp_path / "results.jsonl")
    assert main(["report", str(results), "--html", str(tmp_path / "site")]) == 0
    return tmp_path / "site"


def test_the_folder_holds_the_job_and_every_problem(tmp_path):
    site = write(tmp_path)
    index = (site / "index.html").read_text()
    pages = sorted((site / "problems").glob("0*.html"))
    assert [p.name for p in pages] == ["000000.html", "000001-tree.html", "000001.html"]
    assert re.search(r"<td>all</td><td class=\"num\">2</td><td class=\"num\">(\d)</td>", index)
    assert 'href="problems/000000.html"' in index and 'data-level="2"' in index
    beam = (site / "problems" / "000001.html").read_text()
    assert 'href="000001-tree.html"' in beam
    tree = (site / "problems" / "000001-tree.html").read_text()
    assert "first wrong step" in tree and "17 * 3 = 41" in tree


def test_model_output_is_escaped(tmp_path):
    page = (write(tmp_path) / "problems" / "000000.html").read_text()
    assert "<script>window" not in page and "onerror=\"" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert page.count('class="card candidate') == 3 and "answer: 8" in page


def test_html_onto_a_file_is_refused(tmp_path, capsys):
    results = results_file(tmp_path / "results.jsonl")
    (tmp_path / "taken").write_text("x")
    assert main(["report", str(results), "--html", str(tmp_path / "taken")]) == 2
    assert "--html" in capsys.readouterr().err and (tmp_path / "taken").read_text() == "x"
