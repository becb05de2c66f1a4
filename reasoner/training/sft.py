"""Supervised training of the bundled models from scratch on the task families.

One entry point, `train_sft(config)`: it trains a byte-level BPE tokenizer on
task text, initialises a Llama of the chosen size, and trains it on a seeded
stream of solve and revision examples (loss on the completion only). Batch i
is a pure function of (seed, i), so a run resumes from its last checkpoint
and produces the same weights as an uninterrupted run. The output folder is
an ordinary Hugging Face checkpoint that vLLM serves.

Not here: evaluation (`reasoner solve`) or RL (`reasoner.training.grpo`).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reasoner.training.checkpoint import ModelShape, render_prompt
from reasoner.tasks import SolutionPaths
from reasoner.training.state import RunFolder, progress_bar

SIZES: dict[str, ModelShape] = {
    # head size 32: the smallest vLLM's CPU attention supports.
    "tiny": ModelShape(hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                       num_attention_heads=4, max_position_embeddings=384),
    # About 5-6x the FLOPs per token of `tiny`, for compute-matched comparisons.
    "small": ModelShape(hidden_size=256, intermediate_size=768, num_hidden_layers=6,
                        num_attention_heads=8, max_position_embeddings=384),
}


class SFTConfig(BaseModel):
    """Settings of one supervised training run."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = ["arith", "pyfunc"]
    """Task families to train on, mixed by `task_weights`."""
    task_weights: list[float] | None = None
    """Sampling weight per task; None means equal."""
    size: str = "tiny"
    """Model shape name, a key of SIZES."""
    shape: ModelShape | None = None
    """Explicit shape overriding `size` (for experiments and fast tests)."""
    steps: int = Field(3000, ge=1)
    """Optimizer steps."""
    batch_size: int = Field(32, ge=1)
    """Sequences per step."""
    micro_batch: int = Field(8, ge=1)
    """Sequences per forward pass; a step sorts its batch by length and accumulates."""
    lr: float = Field(3e-3, gt=0)
    """Peak learning rate (AdamW), reached after warm-up, then cosine decay to 10%."""
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = 0.05
    revision_fraction: float = Field(0.25, ge=0, le=1)
    """Share of revision-format examples (earlier attempts in the prompt)."""
    solution_paths: SolutionPaths = "reference"
    """Targets: the one reference solution, or a correct solution along a random path per example
    (`reasoner.tasks.training_examples`); MODEL.md measures what varied paths do."""
    direct_fraction: float = Field(0.0, ge=0, le=1)
    """Share of solve examples at level `direct_from_level` and up whose target is the bare answer
    (`reasoner.tasks.training_examples`); the bundled `tiny` uses 0.6, MODEL.md says why."""
    direct_from_level: int = Field(3, ge=1)
    """Lowest level that gets bare-answer targets."""
    max_len: int = Field(384, ge=32)
    """Longer examples are truncated."""
    vocab_size: int = Field(512, ge=300)
    """Tokenizer vocabulary, special tokens included."""
    tokenizer_examples: int = 20000
    """Training examples per task used to fit the tokenizer."""
    seed: int = 0
    checkpoint_every: int = Field(100, ge=1)
    """Steps between resumable checkpoints."""
    threads: int | None = None
    """torch intra-op threads; None leaves torch's default."""
    bf16: bool = True
    """bf16 autocast for the forward pass (fp32 master weights)."""
    init_from: str | None = None
    """Start from this HF checkpoint (weights and tokenizer) instead of a fresh model and tokenizer."""
    grow_from: str | None = None
    """Start from this HF checkpoint grown to `size` (Net2Net, `reasoner.training.grow`), with its tokenizer."""


def lr_at(step: int, config: SFTConfig) -> float:
    """Linear warm-up, then cosine decay from `lr` to 0.1 x `lr`."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def target_options(config: SFTConfig) -> dict[str, Any]:
    """The `training_examples` options that shape prompts and targets."""
    return config.model_dump(include={"revision_fraction", "solution_paths", "direct_fraction", "direct_from_level"})


def batch_examples(config: SFTConfig, step: int) -> list[tuple[str, str]]:
    """The (prompt, completion) pairs of batch `step`: a pure function of (seed, step)."""
    from reasoner.tasks import training_examples

    rng = random.Random(f"sft:{config.seed}:{step}")
    weights = config.task_weights or [1.0] * len(config.tasks)
    picks = rng.choices(config.tasks, weights=weights, k=config.batch_size)
    pairs: list[tuple[str, str]] = []
    for task in config.tasks:
        count = picks.count(task)
        if count:
            examples = training_examples(task, count, seed=rng.randrange(2**31), **target_options(config))
            pairs.extend((e.prompt, e.completion) for e in examples)
    return pairs


def encode(tokenizer, prompt: str, completion: str, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels; prompt positions are masked with -100."""
    prompt_ids = tokenizer(render_prompt(prompt), add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = (prompt_ids + target_ids)[:max_len]
    labels = ([-100] * len(prompt_ids) + target_ids)[:max_len]
    return ids, labels


def collate(rows: list[tuple[list[int], list[int]]], pad_id: int):
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row_ids, row_labels) in enumerate(rows):
        ids[i, : len(row_ids)] = torch.tensor(row_ids)
        labels[i, : len(row_labels)] = torch.tensor(row_labels)
        mask[i, : len(row_ids)] = 1
    return ids, labels, mask


def tokenizer_corpus(config: SFTConfig) -> list[str]:
    """Text the tokenizer is fitted on: prompts and completions of training examples."""
    from reasoner.tasks import training_examples

    texts = []
    for task in config.tasks:
        for example in training_examples(task, config.tokenizer_examples, seed=10_000 + config.seed,
                                         **target_options(config)):
            texts.extend((example.prompt, example.completion))
    return texts


class Trainer:
    """Owns the model, optimizer and checkpoints of one SFT run in `out_dir`."""

    def __init__(self, config: SFTConfig, out_dir: str | Path) -> None:
        self.config = config
        self.out = Path(out_dir)
        self.folder = RunFolder(self.out, config_file="sft_config.json", log_file="train_log.jsonl")

    def run(self, progress: bool = True, stop_at: int | None = None) -> dict[str, Any]:
        """Train to `config.steps`, or pause after step `stop_at` (checkpointed) to resume later."""
        import torch

        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        model, tokenizer, optimizer, step = self._load_or_init()
        log = self.folder.log_path.open("a", encoding="utf-8")
        started, tokens = time.perf_counter(), 0
        bar = progress_bar(self.config.steps, step, progress, "sft")
        model.train()
        last = min(self.config.steps, stop_at if stop_at is not None else self.config.steps)
        while step < last:
            loss, batch_tokens = self._step(model, tokenizer, optimizer, step)
            step += 1
            tokens += batch_tokens
            record = {"step": step, "loss": round(loss, 5), "lr": lr_at(step - 1, self.config),
                      "tok_s": round(tokens / (time.perf_counter() - started), 1)}
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar(step, {"loss": f"{record['loss']:.3f}", "tok_s": f"{record['tok_s']:.0f}"})
            if step % self.config.checkpoint_every == 0 or step == last:
                self._save(model, tokenizer, optimizer, step)
        log.close()
        return {"steps": step, "seconds": time.perf_counter() - started, "tokens": tokens}

    def _step(self, model, tokenizer, optimizer, step: int) -> tuple[float, int]:
        """One optimizer step over the batch, in length-sorted micro-batches to cut padding."""
        import torch

        rows = [encode(tokenizer, p, c, self.config.max_len) for p, c in batch_examples(self.config, step)]
        rows.sort(key=lambda row: len(row[0]))
        targets = sum(sum(1 for label in labels if label != -100) for _, labels in rows)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, self.config)
        optimizer.zero_grad(set_to_none=True)
        total_loss, tokens = 0.0, 0
        for start in range(0, len(rows), self.config.micro_batch):
            ids, labels, mask = collate(rows[start:start + self.config.micro_batch], tokenizer.pad_token_id)
            share = int((labels[:, 1:] != -100).sum()) / targets
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.bf16):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss * share
            loss.backward()
            total_loss += float(loss.detach())
            tokens += int(mask.sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return total_loss, tokens

    def _load_or_init(self):
        import torch
        from transformers import AutoTokenizer, LlamaForCausalLM

        from reasoner.training.checkpoint import llama_config, train_tokenizer
        from reasoner.errors import ConfigError

        if self.folder.resumable:
            # Threads are how the machine runs the maths, not what it computes: a run may resume with others.
            model, tokenizer, optimizer, state = self.folder.resume(self.config, self._optimizer,
                                                                    ignore=frozenset({"threads"}))
            return model, tokenizer, optimizer, int(state["step"])
        self.folder.start(self.config)
        if self.config.init_from is not None and self.config.grow_from is not None:
            raise ConfigError("give init_from or grow_from, not both")
        if self.config.init_from is not None:
            tokenizer = AutoTokenizer.from_pretrained(self.config.init_from)
            model = LlamaForCausalLM.from_pretrained(self.config.init_from, torch_dtype=torch.float32)
            return model, tokenizer, self._optimizer(model), 0
        if self.config.grow_from is not None:
            from reasoner.engine.models import resolve_model
            from reasoner.training.grow import grow

            source = resolve_model(self.config.grow_from)
            tokenizer = AutoTokenizer.from_pretrained(source)
            small = LlamaForCausalLM.from_pretrained(source, torch_dtype=torch.float32)
            model = grow(small, self.config.shape or SIZES[self.config.size], tokenizer, seed=self.config.seed)
            return model, tokenizer, self._optimizer(model), 0
        tokenizer = train_tokenizer(tokenizer_corpus(self.config), vocab_size=self.config.vocab_size)
        torch.manual_seed(self.config.seed)
        model = LlamaForCausalLM(llama_config(self.config.shape or SIZES[self.config.size], tokenizer))
        return model, tokenizer, self._optimizer(model), 0

    def _optimizer(self, model):
        import torch

        return torch.optim.AdamW(model.parameters(), lr=self.config.lr, betas=(0.9, 0.95),
                                 weight_decay=self.config.weight_decay)

    def _save(self, model, tokenizer, optimizer, step: int) -> None:
        self.folder.save(model, tokenizer, optimizer, step)


def train_sft(config: SFTConfig, out_dir: str | Path, progress: bool = True,
              stop_at: int | None = None) -> dict[str, Any]:
    """Train (or resume) a model per `config` into `out_dir`; returns steps, seconds, tokens."""
    return Trainer(config, out_dir).run(progress=progress, stop_at=stop_at)


SHIPPED_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                 "chat_template.jinja", "special_tokens_map.json", "sft_config.json")


def export_model(run_dir: str | Path, dest: str | Path) -> Path:
    """Copy a finished run's model to `dest` with bf16 weights (half the bytes), for shipping."""
    from reasoner.training.state import export_run

    return export_run(run_dir, dest, "LlamaForCausalLM", SHIPPED_FILES)
