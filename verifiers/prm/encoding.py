"""Our PRM format, read for scoring: which tokens are read, how one forward pass gives every step's logit.

A PRM of ours is a Hugging Face `LlamaForTokenClassification` with one output:
its logit at token t is the log-odds that the solution is still right after
the step ending at t, so one forward pass over prompt + solution scores every
step. Its folder is self-describing: `config.json` and safetensors, the
tokenizer, the step format (`step_format.json`) and how it was made
(`prm_config.json`, with the tokenizer's digest).

Training (`reasoner.training.prm`) encodes its examples with the same
functions, so a PRM is read at inference exactly as it was trained.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from reasoner.errors import ConfigError
from reasoner.steps import StepFormat

PRM_CONFIG_FILE = "prm_config.json"


def prompt_text(tokenizer, prompt: str) -> str:
    """The prompt as the policy saw it (its chat template), so the PRM reads the same text."""
    from reasoner.engine.generation import PromptFormatter

    return PromptFormatter(tokenizer).render(prompt)


def encode(tokenizer, fmt: StepFormat, prompt: str, text: str, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids of prompt + solution, and the index of the token that ends each step.

    Steps whose end falls past `max_len` tokens are dropped (their scores are unknown).
    """
    head = tokenizer(prompt_text(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    body = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = body["offset_mapping"]
    positions, token = [], 0
    for step in fmt.split(text):
        while token + 1 < len(offsets) and offsets[token + 1][0] < step.end:
            token += 1
        positions.append(len(head) + token)
    ids = (list(head) + list(body["input_ids"]))[:max_len]
    return ids, [p for p in positions if p < len(ids)]


def step_logits(model, batch: list[tuple[list[int], list[int]]], pad_id: int):
    """One forward pass over `batch` (ids, step positions); returns each row's step logits (a list of tensors)."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (row_ids, _) in enumerate(batch):
        ids[row, : len(row_ids)] = torch.tensor(row_ids)
        mask[row, : len(row_ids)] = 1
    logits = model(input_ids=ids, attention_mask=mask).logits[..., 0]
    return [logits[row, positions] for row, (_, positions) in enumerate(batch)]


def tokenizer_fingerprint(tokenizer) -> str:
    """A digest of the vocabulary and special tokens: equal digests tokenize text the same way."""
    vocab = sorted(tokenizer.get_vocab().items())
    special = sorted(tokenizer.all_special_tokens)
    return hashlib.sha256(json.dumps([vocab, special]).encode()).hexdigest()[:16]


def read_prm_config(folder: str | Path) -> dict[str, Any]:
    """The `prm_config.json` of a PRM folder; missing or unreadable is a `ConfigError` naming it."""
    path = Path(folder) / PRM_CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{folder} has no {PRM_CONFIG_FILE}; it is not a PRM folder "
                          f"(make one with `reasoner train prm`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
