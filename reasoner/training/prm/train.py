"""Train a process (or outcome) reward model on the CPU: `reasoner train prm`.

`train_prm(config, out)` runs the whole pipeline into one folder:

- **data**: with `sources` (exact labels), the sharded pipeline
  (`reasoner.training.prm.pipeline`: several policies and temperatures,
  deduplicated, balanced, streamed to `data_dir` in resumable shards); without,
  one policy's rollouts on training-stream problems, labelled `exact`, `mc` or
  `outcome` (cached in `out/data/`).
- **training**: a Llama with a scalar head, started from a policy's weights
  (`init_from`). Batches hold whole problems: each problem's solutions are read
  in one packed row with the prompt once (`reasoner.training.prm.encoded`).
  The loss is binary cross-entropy at each labelled step end, plus, with
  `rank_weight`, an in-problem pairwise term: for each right and wrong
  solution of one problem, -log sigmoid(min step logit of the right one minus
  the wrong one's). Epochs visit the problems in a seeded order, so batch i is
  a pure function of (seed, i); checkpoints every `checkpoint_every` steps and
  a re-run resumes.
- **dev curve**: every `eval_every` steps the network scores the `dev_samples`
  (policy samples of dev-split problems) and `dev_log.jsonl` records
  first-wrong-step F1 and best-of-n / weighted-vote accuracy per aggregation
  against majority vote; the weights of that step are kept in
  `snapshots/step-NNNNN` (bf16, shippable) so any point of the curve can be chosen.

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
from reasoner.training.prm.pipeline import DataConfig, Source, close_engines


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
    """Policy and sampling of the solutions that get labelled (without `sources`)."""
    mc: MCSettings = MCSettings()
    """Monte Carlo labelling (used when labels is `mc`)."""
    sources: tuple[Source, ...] = ()
    """Policies and temperatures of the sharded pipeline (exact labels); empty: the single-policy `rollouts`."""
    shard_problems: int = Field(1000, ge=5)
    """Problems per data shard (with `sources`)."""
    keep: int = Field(4, ge=1)
    """Right and wrong solutions kept per problem, each (with `sources`)."""
    keep_one_sided: int = Field(2, ge=0)
    """Solutions kept from a problem whose samples are all right or all wrong (with `sources`)."""
    data_dir: str | None = None
    """Folder of the sharded data (with `sources`); None: `out/data`. Several runs may share one."""
    data_shards: int | None = Field(None, ge=1)
    """Train on the first K shards only (a data-size ablation); None: every shard of `problems`."""
    delimiter: str | None = None
    """Step delimiter; None takes the task's registered step format."""
    init_from: str | None = None
    """Checkpoint the network starts from; None means the (first) rollout policy."""
    steps: int = Field(600, ge=1)
    """Optimizer steps."""
    batch_size: int = Field(32, ge=1)
    """Solutions per step, at least (whole problems are added until it is reached)."""
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
    bf16: bool = False
    """bf16 autocast for the forward pass. Off by default: on this CPU it made a step several times slower."""
    rank_weight: float = Field(0.0, ge=0)
    """Weight of the in-problem pairwise ranking term (0: off)."""
    dev_samples: tuple[str, ...] = ()
    """Rollout JSONL files of dev-split problems (several samples each) scored along the way (the dev curve)."""
    eval_every: int = Field(500, ge=1)
    """Steps between dev evaluations (and snapshots)."""

    def step_format(self):
        from reasoner.steps import StepFormat, step_format_for

        return step_format_for(self.task) if self.delimiter is None else StepFormat(delimiter=self.delimiter)

    @property
    def data_config(self) -> DataConfig:
        """The sharded pipeline's settings."""
        return DataConfig(task=self.task, problems=self.problems, shard_problems=self.shard_problems,
                          sources=self.sources, keep=self.keep, keep_one_sided=self.keep_one_sided, seed=self.seed)

    @property
    def policy(self) -> str:
        return self.sources[0].policy if self.sources else self.rollouts.policy


def lr_at(step: int, config: PRMConfig) -> float:
    """Linear warm-up, then cosine decay from `lr` to 0.1 x `lr`."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def prepare_data(config: PRMConfig, out: Path, progress: bool = True) -> list[Labelled]:
    """Single-policy rollouts and labels for `config`, made once and cached under `out/data/`."""
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
        close_engines()
    examples = label_rollouts(rollouts, config.labels, config.step_format(), config.task, config.mc, progress)
    write_jsonl(labels_path, examples)
    close_engines()
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


def sharded_data(config: PRMConfig, out: Path, tokenizer, progress: bool = True):
    """The sharded pipeline's data for `config` (drawn or resumed), encoded for training."""
    from reasoner.errors import ConfigError
    from reasoner.training.prm.encoded import EncodedSet, encode_shard
    from reasoner.training.prm.pipeline import DataFolder, build_data

    if config.labels != "exact":
        raise ConfigError("--source draws exactly labelled data; Monte Carlo and outcome labels take --policy")
    folder = Path(config.data_dir) if config.data_dir else out / "data"
    build_data(config.data_config, folder, progress)
    close_engines()
    count = config.data_shards or config.data_config.shards
    shards = DataFolder(folder)
    missing = [i for i in range(count) if not shards.done(i)]
    if missing:
        raise ConfigError(f"{folder}: shards {missing[:5]} are not drawn; --data-shards {count} needs them")
    parts = [encode_shard(shards.shard(i), tokenizer, config.step_format(), config.max_len) for i in range(count)]
    return EncodedSet.concat(parts)


class Schedule:
    """Which problems each step trains on: per epoch a seeded order of problems, cut into batches of at
    least `batch_size` solutions (whole problems). Step i's batch depends only on (seed, i)."""

    def __init__(self, groups: list, batch_size: int, seed: int) -> None:
        self.sizes = [len(rows) for rows in groups]
        self.batch_size = batch_size
        self.seed = seed
        self._epochs: list[list[list[int]]] = []

    def epoch(self, index: int) -> list[list[int]]:
        """The batches (lists of problem indices) of epoch `index`."""
        while len(self._epochs) <= index:
            order = list(range(len(self.sizes)))
            random.Random(f"prm:{self.seed}:epoch{len(self._epochs)}").shuffle(order)
            batches, current, rows = [], [], 0
            for problem in order:
                current.append(problem)
                rows += self.sizes[problem]
                if rows >= self.batch_size:
                    batches.append(current)
                    current, rows = [], 0
            if current:
                batches.append(current)
            self._epochs.append(batches)
        return self._epochs[index]

    def batch(self, step: int) -> tuple[int, list[int]]:
        """(epoch, problem indices) of step `step` (0-based)."""
        epoch = 0
        while step >= len(self.epoch(epoch)):
            step -= len(self.epoch(epoch))
            epoch += 1
        return epoch, self.epoch(epoch)[step]

    @property
    def steps_per_epoch(self) -> int:
        return len(self.epoch(0))


class PRMTrainer:
    """Owns the network, optimizer, checkpoints and dev curve of one PRM run in `out`."""

    def __init__(self, config: PRMConfig, out: str | Path, examples: list[Labelled] | None = None) -> None:
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
        self._prepare(tokenizer, progress)
        started, log = time.perf_counter(), (self.out / "train_log.jsonl").open("a", encoding="utf-8")
        bar = progress_bar(self.config.steps, step, progress, f"prm ({self.config.labels})")
        last = min(self.config.steps, stop_at if stop_at is not None else self.config.steps)
        self._evaluate_if_due(model, tokenizer, step, missing_only=True)
        model.train()
        while step < last:
            tick = time.perf_counter()
            losses = self._step(model, optimizer, tokenizer.pad_token_id, step)
            step += 1
            log.write(json.dumps({"step": step, **losses, "lr": lr_at(step - 1, self.config),
                                  "seconds": round(time.perf_counter() - tick, 3)}) + "\n")
            log.flush()
            bar(step, {"loss": f"{losses['loss']:.3f}"})
            if step % self.config.checkpoint_every == 0 or step == last or self._eval_due(step):
                self._save(model, tokenizer, optimizer, step)
            self._evaluate_if_due(model, tokenizer, step)
        log.close()
        return {"steps": step, "seconds": round(time.perf_counter() - started, 1), "problems": self.data.problems,
                "solutions": self.data.solutions, "labelled_steps": self.data.labelled_steps,
                "epochs": round(step / self.schedule.steps_per_epoch, 3)}

    def _prepare(self, tokenizer, progress: bool) -> None:
        """Encode the training data, build the schedule and read the dev samples."""
        import numpy as np

        from reasoner.errors import ConfigError
        from reasoner.training.prm.encoded import encode_examples

        if self.examples is not None:
            self.data = encode_examples(tokenizer, self.fmt, self.examples, self.config.max_len)
        else:
            self.data = sharded_data(self.config, self.out, tokenizer, progress)
        if not self.data.solutions:
            raise ConfigError("no labelled step to train on; the labelled solutions are empty")
        self.groups = self.data.rows_of()
        lows = np.minimum.reduceat(self.data.labels, self.data.step_off[:-1]) if self.data.solutions else []
        self.right = [bool(x >= 0.5) for x in lows]
        self.schedule = Schedule(self.groups, self.config.batch_size, self.config.seed)
        self.dev = self._dev_sets()

    def _dev_sets(self) -> dict[str, list]:
        from reasoner.training.prm.data import Rollout, read_jsonl
        from reasoner.training.prm.evaluate import group_by_problem

        return {Path(path).stem: group_by_problem(read_jsonl(Path(path), Rollout)) for path in self.config.dev_samples}

    def _step(self, model, optimizer, pad_id: int, step: int) -> dict[str, float]:
        import torch

        from reasoner.training.prm.encoded import packed_step_logits

        _, problems = self.schedule.batch(step)
        batch = [(g, list(self.groups[g])) for g in problems]
        rows = [row for _, solutions in batch for row in solutions]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, self.config)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.bf16):
            logits = packed_step_logits(model, self.data, batch, pad_id)
        scores = torch.cat(logits).float()
        targets = torch.as_tensor(
            [label for row in rows for label in self.data.step_labels(row)], dtype=torch.float32)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(scores, targets)
        rank = self._rank_loss(logits, rows) if self.config.rank_weight else torch.zeros(())
        loss = bce + self.config.rank_weight * rank
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return {"loss": round(float(loss.detach()), 5), "bce": round(float(bce.detach()), 5),
                "rank": round(float(rank.detach()), 5)}

    def _rank_loss(self, logits, rows: list[int]):
        """Mean of -log sigmoid(min logit of a right solution - min logit of a wrong one) over same-problem pairs."""
        import torch

        low = [row.float().min() for row in logits]
        group = [int(self.data.group[r]) for r in rows]
        terms = [torch.nn.functional.logsigmoid(low[i] - low[j])
                 for i in range(len(rows)) for j in range(len(rows))
                 if self.right[rows[i]] and not self.right[rows[j]] and group[i] == group[j]]
        return -torch.stack(terms).mean() if terms else torch.zeros(())

    def _eval_due(self, step: int) -> bool:
        return bool(self.dev) and (step % self.config.eval_every == 0 or step == self.config.steps)

    def _evaluate_if_due(self, model, tokenizer, step: int, missing_only: bool = False) -> None:
        """Score the dev samples at an evaluation step, log the figures and keep a snapshot of the weights."""
        from reasoner.training.prm.evaluate import dev_figures, score_groups

        if step == 0 or not self._eval_due(step):
            return
        log_path = self.out / "dev_log.jsonl"
        if missing_only and step in {r["step"] for r in _read_records(log_path)}:
            return
        started = time.perf_counter()
        sets = {name: dev_figures(groups, score_groups(model, tokenizer, self.fmt, groups, self.config.max_len),
                                  self.fmt)
                for name, groups in self.dev.items()}
        self._snapshot(model, tokenizer, step)
        record = {"step": step, "epoch": round(step / self.schedule.steps_per_epoch, 3),
                  "seconds": round(time.perf_counter() - started, 1), "sets": sets}
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _snapshot(self, model, tokenizer, step: int) -> None:
        """The weights of `step` in bf16 with the PRM's files: a folder `reasoner` can load or ship."""
        import copy

        import torch

        from reasoner.training.prm.model import save_prm

        folder = self.out / "snapshots" / f"step-{step:05d}"
        copy.deepcopy(model).to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        save_prm(folder, self.fmt, tokenizer, self._info(step))

    def _load_or_init(self):
        import torch
        from transformers import AutoTokenizer, LlamaForTokenClassification

        from reasoner.engine.models import resolve_model
        from reasoner.training.prm.model import build
        from reasoner.training.state import truncate_log

        if (self.state_dir / "optimizer.pt").is_file():
            self._check_config()
            tokenizer = AutoTokenizer.from_pretrained(self.state_dir)
            model = LlamaForTokenClassification.from_pretrained(self.state_dir, torch_dtype=torch.float32)
            optimizer = self._optimizer(model)
            state = torch.load(self.state_dir / "optimizer.pt", weights_only=False)
            optimizer.load_state_dict(state["optimizer"])
            truncate_log(self.out / "train_log.jsonl", int(state["step"]))
            truncate_log(self.out / "dev_log.jsonl", int(state["step"]))
            return model, tokenizer, optimizer, int(state["step"])
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "prm_train_config.json").write_text(self.config.model_dump_json(indent=2))
        model, tokenizer = build(resolve_model(self.config.init_from or self.config.policy), seed=self.config.seed)
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
        save_prm(self.out, self.fmt, tokenizer, self._info(step))

    def _info(self, step: int) -> dict[str, Any]:
        """How the PRM was made, for its `prm_config.json`."""
        config = self.config
        info = {"kind": "orm" if config.labels == "outcome" else "prm", "task": config.task, "labels": config.labels,
                "policy": config.policy, "init_from": config.init_from or config.policy, "steps": step,
                "solutions": self.data.solutions, "problems": self.data.problems,
                "rank_weight": config.rank_weight}
        if config.sources:
            info["sources"] = [s.key for s in config.sources]
        return info


def _read_records(path: Path) -> list[dict[str, Any]]:
    from reasoner.training.state import read_log

    return read_log(path) if path.is_file() else []


def fit_prm(examples: list[Labelled], config: PRMConfig, out: str | Path, progress: bool = True,
            stop_at: int | None = None) -> dict[str, Any]:
    """Train (or resume) a PRM on `examples` into `out`; returns steps, seconds and data sizes."""
    return PRMTrainer(config, out, examples).run(progress=progress, stop_at=stop_at)


def train_prm(config: PRMConfig, out: str | Path, progress: bool = True,
              stop_at: int | None = None) -> dict[str, Any]:
    """The whole pipeline: data (sharded or single-policy), training, dev curve. Each stage resumes in `out`."""
    started = time.perf_counter()
    examples = None if config.sources else prepare_data(config, Path(out), progress)
    trainer = PRMTrainer(config, out, examples)
    stats = trainer.run(progress=progress, stop_at=stop_at)
    return {**stats, "wall_seconds": round(time.perf_counter() - started, 1)}
