"""Router-fit inputs built from a real sweep's files: copies with edited verdicts or settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def graded_copy(sweep: Path, dest: Path, samples_correct, cot_correct: bool) -> Path:
    """A copy of the sweep whose sample verdicts are `samples_correct(problem, index)` and cot's `cot_correct`."""
    shutil.copytree(sweep, dest)
    lines = []
    for line in (sweep / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["run"].startswith("samples@"):
            for index, candidate in enumerate(record["candidates"]):
                candidate["correct"] = samples_correct(record["problem_id"], index)
                candidate["label"] = 0  # every sample answers the same, so votes have a winner
        else:
            record["correct"] = cot_correct
            record["status"] = "correct" if cot_correct else "wrong"
        lines.append(json.dumps(record))
    (dest / "results.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def edit_summary(sweep: Path, dest: Path, **config) -> Path:
    shutil.copytree(sweep, dest)
    summary = json.loads((dest / "summary.json").read_text())
    summary["config"].update(config)
    (dest / "summary.json").write_text(json.dumps(summary))
    return dest
