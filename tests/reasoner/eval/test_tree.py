"""`reasoner tree`: one problem's search tree read from a results file and drawn as PNG and HTML.

The results file is written the way a job writes it (a `Result` with a `tree`
trace event, through `record_of` and a `JsonlStore`); the tree itself is a
hand-built 8-node arith search, since the drawing is under test here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reasoner.cli import main
from reasoner.errors import DataError, JobError
from reasoner.eval.tree import load_tree, mark_steps, step_checker_for
from reasoner.eval.tree_draw import CROSS, layout, tree_figure, write_html
from reasoner.jobs import JsonlStore, record_of
from reasoner.types import Candidate, FinishReason, Problem, Result, TraceEvent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROBLEM = Problem(id="arith-test-00007", prompt="Mia has 12 pens, buys 5 more, then triples them. How many?",
                  answer="51")


def node(id: int, parent: int | None, depth: int, text: str, score: float | None, children: list[int],
         visits: int = 1, finished: bool = False, pruned: bool = False) -> dict:
    return {"id": id, "parent": parent, "depth": depth, "text": text, "score": score, "visits": visits,
            "value": score, "children": children, "finished": finished, "pruned": pruned}


def search_tree(visits: dict[int, int] | None = None) -> dict:
    """Root; two first steps (one wrong); under the right one a right and a wrong second step."""
    visits = visits or {}
    nodes = [
        node(0, None, 0, "", None, [1, 2]),
        node(1, 0, 1, "12 + 5 = 17\n", 0.9, [3, 4]),
        node(2, 0, 1, "12 + 5 = 18\n", 0.4, [5]),                             # wrong: first on its path
        node(3, 1, 2, "17 * 3 = 51\n", 0.8, [6]),
        node(4, 1, 2, "17 * 3 = 41\n", 0.3, [7]),                             # wrong: first on its path
        node(5, 2, 2, "18 * 3 = 54\n", 0.35, [], pruned=True),                # right, but below a wrong step
        node(6, 3, 3, "The answer is \\boxed{51}.", 0.85, [], finished=True),  # chosen
        node(7, 4, 3, "The answer is \\boxed{41}.", 0.2, [], finished=True),
    ]
    for node_id, count in visits.items():
        nodes[node_id]["visits"] = count
    return {"value_source": "prm:tiny-prm", "delimiter": "\n", "nodes": nodes, "chosen": 6}


def result(problem: Problem, strategy: str, tree: dict | None) -> Result:
    trace = [TraceEvent(kind="generate", data={"n": 2, "generated_tokens": 12})]
    trace += [TraceEvent(kind="tree", data=tree)] if tree is not None else []
    answer = Candidate(text="12 + 5 = 17\n17 * 3 = 51\nThe answer is \\boxed{51}.", num_tokens=20,
                       finish_reason=FinishReason.STOP)
    return Result(problem_id=problem.id, strategy=strategy, answer="51", chosen=0, candidates=[answer], trace=trace)


def write_results(path: Path, *entries: tuple[Problem, str, dict | None]) -> Path:
    store = JsonlStore(path, "hash-1")
    for problem, strategy, tree in entries:
        store.write(record_of(problem, result(problem, strategy, tree), "hash-1"))
    store.close()
    return path


@pytest.fixture
def results(tmp_path) -> Path:
    voted = Problem(id="arith-test-00001", prompt="Tom has 3 cards and buys 4 more. How many?", answer="7")
    return write_results(tmp_path / "results.jsonl", (voted, "self_consistency", None),
                         (PROBLEM, "beam_search", search_tree()))


def test_the_tree_is_read_back_from_the_job_record(results):
    tree = load_tree(results, PROBLEM.id)
    assert (tree.strategy, tree.value_source, len(tree.nodes), tree.chosen) == ("beam_search", "prm:tiny-prm", 8, 6)
    assert tree.chosen_path() == [0, 1, 3, 6]
    assert not tree.shows_visits


def test_the_step_checker_finds_the_first_wrong_step_of_each_path(results):
    tree = load_tree(results, PROBLEM.id)
    marks = mark_steps(tree, step_checker_for(PROBLEM.id))
    assert marks.wrong == {2, 4} and marks.first_wrong == {2, 4}
    assert marks.after_wrong == {5, 7}


def test_a_task_without_a_step_checker_marks_nothing():
    assert step_checker_for("pyfunc-test-00001") is None
    assert step_checker_for("arith-test-00001") is not None


def test_layout_puts_leaves_in_order_and_parents_over_their_children(results):
    where = layout(load_tree(results, PROBLEM.id))
    assert [where[i][0] for i in (6, 7, 5)] == [0.0, 1.0, 2.0]
    assert where[1][0] == 0.5 and where[0][0] == 1.25 and where[6][1] == 3


def test_cli_writes_a_png(results, tmp_path, capsys):
    out = tmp_path / "tree.png"
    assert main(["tree", str(results), "--problem", PROBLEM.id, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert "first wrong steps at nodes [2, 4]" in capsys.readouterr().out


def test_png_draws_the_chosen_path_thick_and_crosses_the_first_wrong_steps(results):
    tree = load_tree(results, PROBLEM.id)
    axes = tree_figure(tree, mark_steps(tree, step_checker_for(PROBLEM.id))).axes[0]
    chosen_edges = sorted(line.get_gid() for line in axes.get_lines() if line.get_gid().endswith("-chosen"))
    assert chosen_edges == ["edge-1-chosen", "edge-3-chosen", "edge-6-chosen"]
    (crosses,) = [c for c in axes.collections if c.get_gid() == "first-wrong"]
    assert sorted(map(tuple, crosses.get_offsets() - CROSS)) == sorted([layout(tree)[2], layout(tree)[4]])


def node_classes(page: str) -> dict[int, set[str]]:
    return {int(i): set(c.split()) for c, i in re.findall(r'<span class="([^"]*)" data-id="(\d+)"', page)}


def test_html_marks_the_chosen_path_and_the_first_wrong_steps(results, tmp_path):
    out = tmp_path / "tree.html"
    assert main(["tree", str(results), "--problem", PROBLEM.id, "--out", str(out)]) == 0
    page = out.read_text()
    classes = node_classes(page)
    assert sorted(classes) == list(range(8))
    assert {i for i, c in classes.items() if "chosen" in c} == {0, 1, 3, 6}
    assert {i for i, c in classes.items() if "first-wrong" in c} == {2, 4}
    assert {i for i, c in classes.items() if "after-wrong" in c} == {5, 7}
    assert "pruned" in classes[5] and "0.900" in page and "<script" not in page
    assert page.index('data-id="3"') < page.index('data-id="6"') < page.index('data-id="4"')  # nested in order


def test_mcts_visits_are_shown(tmp_path):
    results = write_results(tmp_path / "mcts.jsonl",
                            (PROBLEM, "mcts", search_tree(visits={0: 9, 1: 6, 2: 3, 3: 4, 4: 2, 6: 4, 7: 2})))
    tree = load_tree(results, PROBLEM.id)
    assert tree.shows_visits
    page = write_html(tree, mark_steps(tree, None), tmp_path / "t.html").read_text()
    assert "visits 6" in page
    assert not any("first-wrong" in c for c in node_classes(page).values())


def test_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["tree", str(tmp_path / "none.jsonl"), "--problem", "x"]) == 1
    assert "no results file at" in capsys.readouterr().err


def test_an_unknown_problem_lists_ids_in_the_file(results):
    with pytest.raises(JobError, match=r"'arith-test-09999' is not in .*ids there include arith-test-00001, "
                                       r"arith-test-00007"):
        load_tree(results, "arith-test-09999")


def test_a_record_without_a_tree_names_its_strategy(results, capsys):
    assert main(["tree", str(results), "--problem", "arith-test-00001"]) == 1
    err = capsys.readouterr().err
    assert "made by self_consistency" in err and "only search strategies" in err


def test_an_inconsistent_tree_names_the_file_and_problem(tmp_path):
    broken = search_tree()
    broken["nodes"][3]["parent"] = 2  # node 1 lists 3 as a child; 3 says its parent is 2
    results = write_results(tmp_path / "broken.jsonl", (PROBLEM, "beam_search", broken))
    with pytest.raises(DataError, match=rf"broken.jsonl: record '{PROBLEM.id}': .*node 1 lists child 3"):
        load_tree(results, PROBLEM.id)


def test_a_tree_missing_a_field_names_it(tmp_path):
    broken = search_tree()
    del broken["nodes"][2]["score"]
    results = write_results(tmp_path / "broken.jsonl", (PROBLEM, "beam_search", broken))
    with pytest.raises(DataError, match=r"nodes\.2\.score: Field required"):
        load_tree(results, PROBLEM.id)


def test_a_bad_out_suffix_is_an_option_error(results, tmp_path, capsys):
    assert main(["tree", str(results), "--problem", PROBLEM.id, "--out", str(tmp_path / "t.svg")]) == 2
    assert "give a .png or .html file" in capsys.readouterr().err
