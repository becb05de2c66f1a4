"""`reasoner report RESULTS.jsonl --html OUT/`: the console's job and problem views as static pages; a sweep
folder's page and two results files' compare page (the console's script over a `data.js`); their bad input.

The results file is written the way a job writes it (`record_of` through a `JsonlStore`), with a
self-consistency record whose candidate holds a script and a beam-search record with its tree.
"""

from __future__ import annotations

import json
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


def graded_copy(results: Path, path: Path, right: set[str]) -> Path:
    """`results` with the problems in `right` graded correct (the others incorrect): a second run to compare."""
    lines = []
    for line in results.read_text().splitlines():
        record = json.loads(line)
        ok = record["problem_id"] in right
        record.update(correct=ok, score=float(ok), status="correct" if ok else "incorrect")
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def compare_files(tmp_path: Path) -> tuple[Path, Path]:
    first = results_file(tmp_path / "a.jsonl")
    return first, graded_copy(first, tmp_path / "b.jsonl", right={"arith-test-00001"})


def report_data(site: Path) -> dict:
    text = (site / "data.js").read_text()
    assert text.splitlines()[1].startswith("window.REPORT = ") and text.rstrip().endswith(";")
    return json.loads(text.splitlines()[1].removeprefix("window.REPORT = ").rstrip(";"))


def test_a_sweep_folder_becomes_the_consoles_sweep_page(tmp_path):
    from tests.reasoner.eval.synthetic_sweep import SWEEP

    assert main(["report", str(SWEEP), "--html", str(tmp_path / "site")]) == 0
    site = tmp_path / "site"
    assert sorted(p.name for p in site.iterdir()) == ["app.css", "app.js", "data.js", "index.html"]
    assert report_data(site) == {"page": "sweep", "summary": json.loads((SWEEP / "summary.json").read_text())}
    page = (site / "index.html").read_text()
    assert '<script src="data.js" defer></script><script src="app.js" defer></script>' in page
    assert "<script>" not in page and "http" not in page.replace('http-equiv', '')  # nothing inline, no CDN
    from reasoner.service.ui import STATIC

    assert (site / "app.js").read_bytes() == (STATIC / "app.js").read_bytes()  # the console's own script


def test_two_results_files_become_the_compare_page(tmp_path, capsys):
    first, second = compare_files(tmp_path)
    assert main(["report", str(first), "--compare", str(second), "--html", str(tmp_path / "site")]) == 0
    data = report_data(tmp_path / "site")
    assert data["page"] == "compare" and data["a"]["id"] == "a.jsonl" and data["b"]["id"] == "b.jsonl"
    rows = {row["problem_id"]: row for row in data["rows"]}
    assert set(rows) == {"arith-test-00001", "arith-test-00007"}
    assert rows["arith-test-00001"]["a"]["correct"] is False and rows["arith-test-00001"]["b"]["correct"] is True
    assert {b["level"]: (b["problems"], b["both"], b["only_a"], b["only_b"]) for b in data["by_level"]} == \
        {2: (1, 0, 0, 1), None: (1, 0, 0, 0)}
    views = data["problems"]["arith-test-00001"]
    assert [len(v["candidates"]) for v in views] == [3, 3] and XSS in views[0]["candidates"][0]["text"]
    assert "2 shared problems, 1 where the two differ" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["no summary", "different problems", "missing file", "no --html"])
def test_bad_input_to_a_sweep_or_compare_page_names_the_file_and_writes_nothing(tmp_path, capsys, case):
    first, second = compare_files(tmp_path)
    site = tmp_path / "site"
    if case == "no summary":
        (tmp_path / "sweep").mkdir()
        argv, named = ["report", str(tmp_path / "sweep"), "--html", str(site)], "summary.json"
    elif case == "different problems":
        lines = second.read_text().splitlines()
        other = json.loads(lines[1])
        other["problem_id"] = "arith-test-00099"
        second.write_text(lines[0] + "\n" + json.dumps(other) + "\n")
        argv, named = ["report", str(first), "--compare", str(second), "--html", str(site)], str(second)
    elif case == "missing file":
        argv, named = ["report", str(first), "--compare", str(tmp_path / "nope.jsonl"), "--html", str(site)], \
            str(tmp_path / "nope.jsonl")
    else:
        argv, named = ["report", str(first), "--compare", str(second)], "--html"
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err
    assert "reasoner: error:" in err and named in err, err
    assert not site.exists()
    if case == "different problems":
        assert "arith-test-00099" in err
