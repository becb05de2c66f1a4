"""Making a PRM network: started from a policy's weights, saved with its self-description, exported for shipping.

How a PRM folder is read and scored (the token positions, the step logits,
`prm_config.json`, the tokenizer digest) lives with the scoring code in
`reasoner.verifiers.prm.encoding`; training and inference share it from there.

Not here: labels, the training loop, or batching requests (`reasoner.verifiers.prm`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reasoner.steps import StepFormat
from reasoner.verifiers.prm.encoding import PRM_CONFIG_FILE, tokenizer_fingerprint


def build(init_from: str, tokenizer_from: str | None = None, seed: int = 0):
    """A PRM network started from the checkpoint `init_from` (a policy), with a fresh scalar head."""
    import torch
    from transformers import AutoTokenizer, LlamaForTokenClassification

    torch.manual_seed(seed)
    model = LlamaForTokenClassification.from_pretrained(init_from, num_labels=1, torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from or init_from)
    return model, tokenizer


def save_prm(folder: str | Path, fmt: StepFormat, tokenizer, info: dict[str, Any]) -> None:
    """Write the PRM's self-description (step format, provenance, tokenizer digest) beside its weights."""
    out = Path(folder)
    fmt.save(out)
    record = {**info, "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer)}
    (out / PRM_CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


SHIPPED_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "chat_template.jinja", "step_format.json", PRM_CONFIG_FILE)


def export_prm(run_dir: str | Path, dest: str | Path) -> Path:
    """Copy a finished PRM run to `dest` with bf16 weights and without trainer state, for shipping."""
    from reasoner.training.state import export_run

    return export_run(run_dir, dest, "LlamaForTokenClassification", SHIPPED_FILES)
