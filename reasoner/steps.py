"""The step format: where one reasoning step of a solution ends.

A process reward model (PRM) scores steps, so labelling, PRM training, PRM
scoring and step-level search must agree on what a step is. A `StepFormat`
says it with one delimiter: a newline for `arith` (one `a op b = c` per
line), a blank line for MATH-style prose. A PRM saves its format beside its
weights (`step_format.json`), so a scorer never guesses.

This module only splits text. It does not grade steps (`reasoner.tasks.arith.check_step`
does, for `arith`) and does not generate them.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reasoner.errors import ConfigError

STEP_FORMAT_FILE = "step_format.json"


class Step(BaseModel):
    """One step of a solution, located in the solution text."""

    model_config = ConfigDict(frozen=True)

    text: str
    """The step without its delimiter."""
    start: int
    """Offset of its first character in the solution."""
    end: int
    """Offset one past its last character (the delimiter is not included)."""


class StepFormat(BaseModel):
    """How a solution text divides into steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: str = Field("\n", min_length=1)
    """The text that ends a step; a solution's last step may end at the end of the text instead."""

    def split(self, text: str) -> list[Step]:
        """The non-blank steps of `text`, in order, with their offsets."""
        steps, start = [], 0
        while start <= len(text):
            found = text.find(self.delimiter, start)
            end = len(text) if found < 0 else found
            piece = text[start:end]
            if piece.strip():
                steps.append(Step(text=piece, start=start, end=end))
            if found < 0:
                break
            start = found + len(self.delimiter)
        return steps

    def join(self, steps: list[str]) -> str:
        """Steps written back as one text, each but the last followed by the delimiter."""
        return self.delimiter.join(steps)

    def prefix(self, text: str, count: int) -> str:
        """The text through the end of step `count` (1-based), plus the delimiter that follows it."""
        steps = self.split(text)
        if not 1 <= count <= len(steps):
            raise ConfigError(f"asked for the prefix through step {count} of a {len(steps)}-step solution")
        return text[: steps[count - 1].end] + self.delimiter

    def save(self, folder: str | Path) -> Path:
        """Write the format to `folder/step_format.json`."""
        path = Path(folder) / STEP_FORMAT_FILE
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path


STEP_FORMATS: dict[str, StepFormat] = {
    "arith": StepFormat(delimiter="\n"),
    "math": StepFormat(delimiter="\n\n"),
}
"""The step format of each task family; `math` is MATH/GSM8K-style prose with blank lines between steps."""


def step_format_for(task: str) -> StepFormat:
    """The registered step format of `task`."""
    if task not in STEP_FORMATS:
        raise ConfigError(f"no step format for task {task!r}; known: {', '.join(sorted(STEP_FORMATS))}")
    return STEP_FORMATS[task]


def load_step_format(folder: str | Path) -> StepFormat:
    """The step format saved in a model folder; a missing or bad file is a `ConfigError` naming it."""
    path = Path(folder) / STEP_FORMAT_FILE
    if not path.is_file():
        raise ConfigError(f"{folder} has no {STEP_FORMAT_FILE}, so its step delimiter is unknown; a PRM "
                          f"folder must say how it splits steps (see reasoner.steps.StepFormat)")
    try:
        return StepFormat.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"{path}: not a valid step format: {exc}") from exc
