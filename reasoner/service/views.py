"""What the console shows of one solved problem: candidates with their extracted answers and verdicts, the
trace without its tree, and the search tree marked (chosen path, first wrong steps).

Used by the read endpoints (a job's problem) and by a chat request that asks for `detail` (the playground).
Not here: HTTP, or anything stored.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def problem_view(record: dict[str, Any], verifiers) -> dict[str, Any]:
    """A record with each candidate's extracted answer and verdict, its trace without the tree, and the
    tree marked (chosen path, first wrong steps)."""
    graded = _graded_candidates(record, verifiers)
    trace = [event for event in record.get("trace") or [] if event.get("kind") != "tree"]
    view = {key: record.get(key) for key in ("problem_id", "strategy", "level", "answer", "reference", "status",
                                             "score", "correct", "detail", "stop_reason", "error", "cost",
                                             "chosen", "prompt")}
    return {"object": "job.problem", **view, "candidates": graded, "trace": trace, "tree": marked_tree(record)}


def _graded_candidates(record: dict[str, Any], verifiers) -> list[dict[str, Any]]:
    candidates = record.get("candidates") or []
    reference = record.get("reference")
    if reference is None:  # code problems keep their tests on the server: no per-candidate verdicts
        return [{**c, "extracted": None, "verdict": None} for c in candidates]
    verifier = verifiers.for_domain("math")
    answers = [verifier.extract(c.get("text") or "") for c in candidates]
    verdicts = verifier.grade_batch([(answer, reference) for answer in answers])
    return [{**c, "extracted": answer, "verdict": verdict.status.value}
            for c, answer, verdict in zip(candidates, answers, verdicts)]


def marked_tree(record: dict[str, Any]) -> dict[str, Any] | None:
    from reasoner.eval.tree import SearchTree, mark_steps, step_checker_for

    events = [e for e in record.get("trace") or [] if isinstance(e, dict) and e.get("kind") == "tree"]
    if not events:
        return None
    try:
        tree = SearchTree(problem_id=record["problem_id"], strategy=str(record.get("strategy")), **events[-1]["data"])
    except (ValidationError, TypeError) as exc:  # a record from another version: shown as data, not a 500
        return {"error": f"the search tree does not follow the tree format: {str(exc).splitlines()[0][:200]}"}
    marks = mark_steps(tree, step_checker_for(record["problem_id"]))
    return {**tree.model_dump(), "chosen_path": tree.chosen_path(), "checked": marks.checked,
            "wrong": sorted(marks.wrong), "first_wrong": sorted(marks.first_wrong)}
