"""Train a process (or outcome) reward model on the CPU: `reasoner train prm`.

`train_prm(config, out)` runs the whole pipeline into one folder: policy
rollouts on training-stream problems (vLLM, cached in `out/data/`), labels
(`exact`, `mc` or `outcome`), then torch training of a Llama with a scalar
head, started from the policy's weights. Batch i is a pure function of
(seed, i), checkpoints every `checkpoint_every` steps, and a re-run resumes.
The loss is binary cross-entropy at each labelled step end (soft targets for
Monte Carlo labels). The ORM (`labels="outcome"`) is the same network, data
and step count with only the last step labelled.

`fit_prm(examples, config, out)` is the training stage alone, on labelled
solutions already in hand (the tests use it).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reasoner.training.prm.data import LabelKind, Labelled, MCSettings, SampleSettings


class PRMConfig(BaseModel):
    """Settings of one PRM (or ORM) run."""

    model_config = ConfigDict(extra="forbid")

    task: str = "arith"
    """Task family whose training stream the problems come from."""
    labels: LabelKind = "exact"
    """`exact` (step checker), `mc` (Monte Carlo completions) or `outcome` (ORM baseline)."""
    problems: int = Field(1500, ge=1)
    """Training-stream problems to sample solutions for."""
    rollouts: SampleSettings = SampleSettings()
    """Policy and sampling of the solutions that get labelled."""
    mc: MCSettings = MCSettings()
    """Monte Carlo labelling (used when labels is `mc`)."""
    delimiter: str | None = None
    """Step delimiter; None takes the task's registered step format."""
    init_from: str | None = None
    """Checkpoint the network starts from; None means the rollout policy."""
    steps: int = Field(600, ge=1)
    """Optimizer steps."""
    batch_size: int = Field(32, ge=1)
    """Solutions per step."""
    lr: float = Field(1e-3, gt=0)
    """Peak learning rate (AdamW), after warm-up, then cosine decay to 10%."""
    warmup_steps: int = Field(30, ge=0)
    weight_decay: float = 0.0
    max_len: int = Field(384, ge=16)
    """Longer prompt + solution texts are cut; their late steps go unlabelled."""
    seed: int = 0
    checkpoint_every: int = Field(100, ge=1)
    threads: int | None = None
    """torch intra-op threads; None leaves torch's default."""
    bf16: bool = True
    """bf16 autocast for the forward pass (fp32 master weights)."""
    rank_weight: float = Field(0.0, ge=0)
    """Weight of a within-problem ranking loss (0: off). When on, batches hold whole problems' solutions,
    and each (right, wrong) pair of one problem adds -log sigmoid(min step logit of the right one - of the wrong)."""

    def step_format(self):
        from reasoner.steps import StepFormat, step_format_for

        return step_format_for(self.task) if self.delimiter is None else StepFormat(delimiter=self.delimiter)


def lr_at(step: int, config: PRMConfig) -> float:
    """Linear warm-up, then cosine decay from `lr` to 0.1 x `lr`."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def prepare_data(config: PRMConfig, out: Path, progress: bool = True) -> list[Labelled]:
    """Rollouts and labels for `config`, made once and cached under `out/data/`."""
    from reasoner.training.prm.data import label_rollouts, read_jsonl, sample_rollouts, train_problems, write_jsonl

    labels_path = labels_file(config, out)
    if labels_path.is_file():
        return read_jsonl(labels_path, Labelled)
    soft = labels_file(config.model_copy(update={"mc": config.mc.model_copy(update={"target": "soft"})}), out)
    if config.labels == "mc" and config.mc.target == "hard" and soft.is_file():
        examples = hard_from_soft(read_jsonl(soft, Labelled))  # the same completions, no new sampling
        write_jsonl(labels_path, examples)
        return examples
    problems = train_problems(config.task, config.problems, seed=config.rollouts.seed)
    rollouts = sample_rollouts(problems, config.rollouts, out / "data" / "rollouts.jsonl", progress)
    if config.labels == "mc":
        _close_engine(config.rollouts.policy)
    examples = label_rollouts(rollouts, config.labels, config.step_format(), config.task, config.mc, progress)
    write_jsonl(labels_path, examples)
    _close_engine(config.mc.policy if config.labels == "mc" else config.rollouts.policy)
    return examples


def labels_file(config: PRMConfig, out: Path) -> Path:
    """Where the labels of `config` are cached: Monte Carlo labels are keyed by k and target too."""
    if config.labels == "mc":
        return out / "data" / f"labels-mc-k{config.mc.k}-{config.mc.target}.jsonl"
    return out / "data" / f"labels-{config.labels}.jsonl"


def hard_from_soft(examples: list[Labelled]) -> list[Labelled]:
    """Hard Monte Carlo labels (any completion reached the reference) from soft ones (the fraction that did)."""
    return [e.model_copy(update={"labels": [None if v is None else float(v > 0) for v in e.labels]})
            for e in examples]


def _close_engine(policy: str) -> None:
    """Stop the policy's engine so that training gets the CPU."""
    import sys

    if "reasoner.engine.backends.vllm" not in sys.modules:
        return
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync

    for generator in list(VLLMGenerator._shared.values()):
        if generator.config.model == policy:
            run_sync(generator.close())


class PRMTrainer:
    """Owns the network, optimizer and checkpoints of one PRM run in `out`."""

    def __init__(self, config: PRMConfig, out: str | Path, examples: list[Labelled]) -> None:
        self.config = config
        self.out = Path(out)
        self.state_dir = self.out / "trainer_state"
        self.examples = examples
        self.fmt = config.step_format()

    def run(self, progress: bool = True, stop_at: int | None = None) -> dict[str, Any]:
        """Train to `config.steps`, or pause after step `stop_at` (checkpointed) to resume later."""
        import torch

        from reasoner.training.state import progress_bar

        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        model, tokenizer, optimizer, step = self._load_or_init()
        encoded = self._encode(tokenizer)
        log = (self.out / "train_log.jsonl").open("a", encoding="utf-8")
        started = time.perf_counter()
        bar = progress_bar(self.config.steps, step, progress, f"prm ({self.config.labels})")
        model.train()
        last = min(self.config.steps, stop_at if stop_at is not None else self.config.steps)
        while step < last:
            loss = self._step(model, optimizer, encoded, tokenizer.pad_token_id, step)
            step += 1
            log.write(json.dumps({"step": step, "loss": round(loss, 5), "lr": lr_at(step - 1, self.config)}) + "\n")
            log.flush()
            bar(step, {"loss": f"{loss:.3f}"})
            if step % self.config.checkpoint_every == 0 or step == last:
                self._save(model, tokenizer, optimizer, step)
        log.close()
        return {"steps": step, "seconds": round(time.perf_counter() - started, 1),
                "solutions": len(self.examples), "labelled_steps": sum(len(e) for _, e in encoded)}

    def _encode(self, tokenizer) -> list[tuple[list[int], list[tuple[int, float]]]]:
        """Per solution: token ids and (position, label) of each labelled step."""
        from reasoner.verifiers.prm.encoding import encode

        rows, self._problem_of = [], []
        for example in self.examples:
            ids, positions = encode(tokenizer, self.fmt, example.prompt, example.text, self.config.max_len)
            pairs = [(p, label) for p, label in zip(positions, example.labels) if label is not None]
            if pairs:
                rows.append((ids, pairs))
                self._problem_of.append(example.problem_id)
        groups: dict[str, list[int]] = {}
        for index, problem_id in enumerate(self._problem_of):
            groups.setdefault(problem_id, []).append(index)
        self._groups = list(groups.values())
        if not rows:
            from reasoner.errors import ConfigError

            raise ConfigError("no labelled step to train on; the labelled solutions are empty")
        return rows

    def _step(self, model, optimizer, encoded, pad_id: int, step: int) -> float:
        import torch

        from reasoner.verifiers.prm.encoding import step_logits

        picked = self._batch(len(encoded), step)
        batch = [encoded[i] for i in picked]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, self.config)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.bf16):
            logits = step_logits(model, [(ids, [p for p, _ in pairs]) for ids, pairs in batch], pad_id)
        scores = torch.cat(logits).float()
        targets = torch.tensor([label for _, pairs in batch for _, label in pairs], dtype=torch.float32)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, targets)
        if self.config.rank_weight:
            loss = loss + self.config.rank_weight * self._rank_loss(logits, batch, picked)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss.detach())

    def _batch(self, size: int, step: int) -> list[int]:
        """Row indices of batch `step`, a pure function of (seed, step): uniform, or whole problems when ranking."""
        rng = random.Random(f"prm:{self.config.seed}:{step}")
        if not self.config.rank_weight:
            return [rng.randrange(size) for _ in range(self.config.batch_size)]
        picked: list[int] = []
        while len(picked) < self.config.batch_size:
            picked += self._groups[rng.randrange(len(self._groups))]
        return picked[: self.config.batch_size]

    def _rank_loss(self, logits, batch, picked: list[int]):
        """Mean of -log sigmoid(min logit of a right solution - min logit of a wrong one) over same-problem pairs."""
        import torch

        right = [min(label for _, label in pairs) >= 0.5 for _, pairs in batch]
        low = [row.float().min() for row in logits]
        terms = [torch.nn.functional.logsigmoid(low[i] - low[j])
                 for i in range(len(batch)) for j in range(len(batch))
                 if right[i] and not right[j] and self._problem_of[picked[i]] == self._problem_of[picked[j]]]
        return -torch.stack(terms).mean() if terms else torch.zeros(())

    def _load_or_init(self):
        import torch
        from transformers import AutoTokenizer, LlamaForTokenClassification

        from reasoner.engine.models import resolve_model
        from reasoner.training.prm.model import build

        if (self.state_dir / "optimizer.pt").is_file():
            self._check_config()
            tokenizer = AutoTokenizer.from_pretrained(self.state_dir)
            model = LlamaForTokenClassification.from_pretrained(self.state_dir, torch_dtype=torch.float32)
            optimizer = self._optimizer(model)
            state = torch.load(self.state_dir / "optimizer.pt", weights_only=False)
            optimizer.load_state_dict(state["optimizer"])
            from reasoner.training.state import truncate_log

            truncate_log(self.out / "train_log.jsonl", int(state["step"]))
            return model, tokenizer, optimizer, int(state["step"])
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "prm_train_config.json").write_text(self.config.model_dump_json(indent=2))
        model, tokenizer = build(resolve_model(self.config.init_from or self.config.rollouts.policy),
                                 seed=self.config.seed)
        model.config.pad_token_id = tokenizer.pad_token_id
        return model, tokenizer, self._optimizer(model), 0

    def _check_config(self) -> None:
        from reasoner.errors import ResumeMismatchError

        saved = PRMConfig.model_validate_json((self.out / "prm_train_config.json").read_text())
        if saved.model_copy(update={"threads": None}) != self.config.model_copy(update={"threads": None}):
            raise ResumeMismatchError(f"{self.out} was trained with a different configuration: "
                                      f"{saved.model_dump_json()}; use a new output folder")

    def _optimizer(self, model):
        import torch

        return torch.optim.AdamW(model.parameters(), lr=self.config.lr, betas=(0.9, 0.95),
                                 weight_decay=self.config.weight_decay)

    def _save(self, model, tokenizer, optimizer, step: int) -> None:
        from reasoner.training.prm.model import save_prm
        from reasoner.training.state import save_trainer_state

        save_trainer_state(self.out, model, tokenizer, {"optimizer": optimizer.state_dict(), "step": step})
        info = {"kind": "orm" if self.config.labels == "outcome" else "prm", "task": self.config.task,
                "labels": self.config.labels, "policy": self.config.rollouts.policy,
                "init_from": self.config.init_from or self.config.rollouts.policy, "steps": step,
                "solutions": len(self.examples)}
        save_prm(self.out, self.fmt, tokenizer, info)


def fit_prm(examples: list[Labelled], config: PRMConfig, out: str | Path, progress: bool = True,
            stop_at: int | None = None) -> dict[str, Any]:
    """Train (or resume) a PRM on `examples` into `out`; returns steps, seconds and data sizes."""
    return PRMTrainer(config, out, examples).run(progress=progress, stop_at=stop_at)


def train_prm(config: PRMConfig, out: str | Path, progress: bool = True,
              stop_at: int | None = None) -> dict[str, Any]:
    """The whole pipeline: rollouts, labels, training. Each stage is cached or resumed in `out`."""
    started = time.perf_counter()
    examples = prepare_data(config, Path(out), progress)
    data_seconds = time.perf_counter() - started
    stats = fit_prm(examples, config, out, progress=progress, stop_at=stop_at)
    return {**stats, "data_seconds": round(data_seconds, 1)}
