"""A training run's folder: its saved configuration, resumable trainer state, step log and progress bar.

SFT and GRPO keep runs the same way. The folder is always an ordinary HF
checkpoint (so `reasoner solve --model DIR` evaluates it), plus:
- `<name>_config.json`: the run's settings; resuming with others is refused;
- `trainer_state/`: the model, tokenizer and `optimizer.pt` (optimizer state,
  step and whatever else the trainer keeps), replaced atomically;
- a JSONL log with one line per step; lines past the last checkpoint are
  dropped on resume, because those steps are redone.

Not here: what a step computes, or how a fresh model is made.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from reasoner.errors import ResumeMismatchError

STATE_DIR = "trainer_state"
STATE_FILE = "optimizer.pt"


class RunFolder:
    """The files of one training run in `out`."""

    def __init__(self, out: str | Path, config_file: str, log_file: str) -> None:
        self.out = Path(out)
        self.config_path = self.out / config_file
        self.log_path = self.out / log_file
        self.state_dir = self.out / STATE_DIR

    @property
    def resumable(self) -> bool:
        """Whether a checkpoint to resume from exists."""
        return (self.state_dir / STATE_FILE).is_file()

    def start(self, config: BaseModel) -> None:
        """Create the folder and record `config` for later resumes."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config.model_dump_json(indent=2))

    def check_config(self, config: BaseModel, ignore: frozenset[str] = frozenset()) -> None:
        """Refuse to resume with settings other than the saved ones (top-level fields in `ignore` may differ)."""
        try:
            saved = type(config).model_validate_json(self.config_path.read_text())
        except (OSError, ValidationError) as exc:
            raise ResumeMismatchError(f"{self.config_path} does not hold a readable {type(config).__name__} "
                                      f"({exc}); use a new output folder") from exc
        if saved.model_dump(exclude=set(ignore)) != config.model_dump(exclude=set(ignore)):
            raise ResumeMismatchError(f"{self.out} was trained with a different configuration: "
                                      f"{saved.model_dump_json()}; use a new output folder")

    def resume(self, config: BaseModel, make_optimizer: Callable[[Any], Any],
               ignore: frozenset[str] = frozenset()) -> tuple[Any, Any, Any, dict[str, Any]]:
        """(model, tokenizer, optimizer, saved state) of the last checkpoint, after checking `config`."""
        import torch
        from transformers import AutoTokenizer, LlamaForCausalLM

        self.check_config(config, ignore)
        tokenizer = AutoTokenizer.from_pretrained(self.state_dir)
        model = LlamaForCausalLM.from_pretrained(self.state_dir, torch_dtype=torch.float32)
        optimizer = make_optimizer(model)
        state = torch.load(self.state_dir / STATE_FILE, weights_only=False)
        optimizer.load_state_dict(state.pop("optimizer"))
        truncate_log(self.log_path, int(state["step"]))
        return model, tokenizer, optimizer, state

    def save(self, model, tokenizer, optimizer, step: int, **extra: Any) -> None:
        """Checkpoint after `step`: the HF checkpoint in `out`, the resumable state beside it."""
        save_trainer_state(self.out, model, tokenizer, {"optimizer": optimizer.state_dict(), "step": step, **extra})


def export_run(run_dir: str | Path, dest: str | Path, model_class: str, files: tuple[str, ...]) -> Path:
    """Copy a finished run's model to `dest` with bf16 weights (half the bytes) and the listed
    files, without trainer state, for shipping. `model_class`: a `transformers` class name."""
    import torch
    import transformers

    run, out = Path(run_dir), Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    model = getattr(transformers, model_class).from_pretrained(run, torch_dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    for name in files:
        if (run / name).is_file():
            shutil.copy2(run / name, out / name)
    return out


def save_trainer_state(out: Path, model, tokenizer, state: dict[str, Any]) -> None:
    """The HF checkpoint to `out`, and resumable state (the model plus `state` in
    `optimizer.pt`) atomically to `out/trainer_state`."""
    import torch

    from reasoner.training.checkpoint import save_checkpoint

    staging = out / f"{STATE_DIR}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    save_checkpoint(model, tokenizer, staging)
    torch.save(state, staging / STATE_FILE)
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)
    staging.rename(out / STATE_DIR)
    save_checkpoint(model, tokenizer, out)


def truncate_log(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint (they will be redone) and any torn last line."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", math.inf) <= step:
            kept.append(line)
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSONL step log."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def progress_bar(total: int, start: int, enabled: bool, description: str):
    """A tqdm bar over training steps; returns `update(step, postfix)`. Quiet when not enabled."""
    if not enabled:
        return lambda step, postfix: None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=start, desc=description, file=sys.stderr, dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)

    def update(step: int, postfix: dict[str, str]) -> None:
        bar.update(step - bar.n)
        bar.set_postfix(postfix, refresh=False)
        if step >= total:
            bar.close()

    return update
