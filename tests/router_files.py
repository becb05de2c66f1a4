"""Router-fit inputs built from a real sweep's files: copies with edited verdicts or settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def graded_copy(sweep: Path, dest: Path, samples_correct, cot_correct, run_correct: str = "cot@") -> Path:
    """A copy of the sweep whose sample verdicts are `samples_correct(problem, index)`, the verdicts of runs
    whose key starts with `run_correct` are `cot_correct` (a bool, or a function of the problem's level),
    and every other run is wrong."""
    shutil.copytree(sweep, dest)
    lines = []
    for line in (sweep / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["run"].startswith("samples@"):
            for index, candidate in enumerate(record["candidates"]):
                candidate["correct"] = samples_correct(record["problem_id"], index)
                candidate["label"] = 0  # every sample answers the same, so votes have a winner
        else:
            wins = cot_correct(record["level"]) if callable(cot_correct) else cot_correct
            correct = wins and record["run"].startswith(run_correct)
            record["correct"], record["status"] = correct, "correct" if correct else "wrong"
        lines.append(json.dumps(record))
    (dest / "results.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def edit_summary(sweep: Path, dest: Path, **config) -> Path:
    shutil.copytree(sweep, dest)
    summary = json.loads((dest / "summary.json").read_text())
    summary["config"].update(config)
    (dest / "summary.json").write_text(json.dumps(summary))
    return dest


def strategies_copy(sweep: Path, dest: Path, strategies: list[str], samples: bool) -> Path:
    """A copy of the sweep that swept only `strategies`: its records of their runs (and of the shared samples
    if `samples`), its summary's strategies cut to them."""
    edit_summary(sweep, dest, strategies=strategies)
    lines = [line for line in (sweep / "results.jsonl").read_text().splitlines()
             if json.loads(line)["run"].split("@")[0] in strategies
             or samples and json.loads(line)["run"].startswith("samples@")]
    (dest / "results.jsonl").write_text("\n".join(lines) + "\n")
    return dest
