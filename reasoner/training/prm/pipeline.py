"""PRM training data at scale: rollouts of several policies and temperatures, labelled, balanced, in shards on disk.

`build_data(config, folder)` fills `folder` shard by shard. Shard i holds
`shard_problems` training-stream problems (a seed derived from the run's seed
and i; the same count at every level; none in the dev or test splits, none
whose prompt an earlier shard holds). For each shard:

1. **rollouts**: every source (a policy, a temperature, samples per problem)
   samples every problem of the shard at once on its shared vLLM engine, so
   the engine batches the whole shard; `raw/<source>/shard-NNNNN.jsonl`.
2. **selection**: each problem's samples from all sources are pooled,
   deduplicated by text (how many copies each had is kept), labelled by the
   exact step checker, and balanced: up to `keep` right and `keep` wrong
   solutions of each problem, or `keep_one_sided` when a problem has only one
   kind; `shards/shard-NNNNN.jsonl`, then `shard-NNNNN.stats.json`.

Every file is written whole or not at all (a temporary file, then a rename),
and a shard counts as done only once its stats file exists, which is written
last. A killed run therefore resumes at the first shard without stats and
never writes a solution twice. Several processes may fill one folder: each
claims a shard with a lock file holding its pid before drawing it, and skips
shards a live process holds (a dead one's lock is taken over). Memory holds one shard and the prompt hashes
of the earlier ones, whatever the number of shards. `manifest.json` records
the settings; a resume with other settings is refused, except another
`problems`: shards are drawn in order, so a larger count adds shards.

Not here: the training loop (`reasoner.training.prm.train`) or tokenized
shards (`reasoner.training.prm.encoded`).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reasoner.errors import ConfigError, ResumeMismatchError
from reasoner.types import Problem
from reasoner.training.prm.data import Labelled, Rollout, exact_labels, step_checker, write_jsonl

LEVELS = (1, 2, 3, 4, 5)
MANIFEST = "manifest.json"


class Source(BaseModel):
    """One policy at one temperature, sampled `samples` times per problem."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    """Bundled model name or folder."""
    temperature: float = Field(0.8, ge=0)
    samples: int = Field(4, ge=1)
    """Samples per problem."""
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)

    @property
    def key(self) -> str:
        """A file-system name for the source, e.g. `tiny-t0.8-n4`."""
        return f"{Path(self.policy).name}-t{self.temperature:g}-n{self.samples}"

    @classmethod
    def parse(cls, text: str) -> Source:
        """`POLICY:TEMPERATURE:SAMPLES` (e.g. `tiny:0.8:4`); a `ConfigError` naming the text otherwise."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3:
            raise ConfigError(f"--source {text!r}: expected POLICY:TEMPERATURE:SAMPLES, e.g. tiny:0.8:4")
        try:
            return cls(policy=parts[0], temperature=float(parts[1]), samples=int(parts[2]))
        except ValueError as exc:
            raise ConfigError(f"--source {text!r}: {exc}") from exc


class DataConfig(BaseModel):
    """What `build_data` draws, labels and keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = "arith"
    problems: int = Field(1000, ge=5)
    """Training-stream problems in all; a multiple of `shard_problems`."""
    shard_problems: int = Field(1000, ge=5)
    """Problems per shard; a multiple of the number of levels (5), the same count at each."""
    sources: tuple[Source, ...] = (Source(policy="tiny"),)
    keep: int = Field(4, ge=1)
    """Right and wrong solutions kept per problem, each, when it has both."""
    keep_one_sided: int = Field(2, ge=0)
    """Solutions kept from a problem whose samples are all right or all wrong."""
    seed: int = 0

    @model_validator(mode="after")
    def _whole_shards(self) -> DataConfig:
        if self.shard_problems % len(LEVELS):
            raise ValueError(f"shard_problems={self.shard_problems} is not a multiple of {len(LEVELS)} levels")
        if self.problems % self.shard_problems:
            raise ValueError(f"problems={self.problems} is not a multiple of shard_problems={self.shard_problems}")
        if len({s.key for s in self.sources}) != len(self.sources) or not self.sources:
            raise ValueError("sources must be given, each (policy, temperature, samples) once")
        return self

    @property
    def shards(self) -> int:
        return self.problems // self.shard_problems


class ShardStats(BaseModel):
    """What one shard holds, per level (keys are levels as strings, and `all`)."""

    shard: int
    problems: dict[str, int]
    samples: dict[str, int]
    """Samples drawn from all sources."""
    distinct: dict[str, int]
    """Distinct solution texts among them."""
    right: dict[str, int]
    """Right solutions kept."""
    wrong: dict[str, int]
    """Wrong solutions kept."""
    both: dict[str, int]
    """Problems that contribute a right and a wrong solution."""


class DataFolder:
    """The files of one data run."""

    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder)

    def raw(self, source: Source, shard: int) -> Path:
        return self.root / "raw" / source.key / f"shard-{shard:05d}.jsonl"

    def shard(self, shard: int) -> Path:
        return self.root / "shards" / f"shard-{shard:05d}.jsonl"

    def stats(self, shard: int) -> Path:
        return self.root / "shards" / f"shard-{shard:05d}.stats.json"

    def done(self, shard: int) -> bool:
        return self.stats(shard).is_file()

    def lock(self, shard: int) -> Path:
        return self.root / "shards" / f"shard-{shard:05d}.lock"

    def claim(self, shard: int) -> bool:
        """Take shard `shard` for this process (a lock file holding its pid); False while a live process
        holds it. A lock left by a dead process (a killed run) is taken over."""
        path = self.lock(shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                with path.open("x", encoding="utf-8") as handle:
                    handle.write(str(os.getpid()))
                return True
            except FileExistsError:
                if _alive(_holder(path)):
                    return False
                path.unlink(missing_ok=True)
        return False

    def release(self, shard: int) -> None:
        self.lock(shard).unlink(missing_ok=True)

    def done_shards(self) -> list[int]:
        """Indices of the finished shards, in order."""
        found = sorted(int(p.name[6:11]) for p in (self.root / "shards").glob("shard-*.stats.json"))
        return found

    def check_manifest(self, config: DataConfig) -> None:
        """Record `config`, or refuse one that differs from the recorded one other than by more problems."""
        path = self.root / MANIFEST
        if path.is_file():
            saved = DataConfig.model_validate_json(path.read_text(encoding="utf-8"))
            if saved.model_copy(update={"problems": config.problems}) != config:
                raise ResumeMismatchError(f"{self.root} holds data drawn with other settings: "
                                          f"{saved.model_dump_json()}; use a new folder")
        self.root.mkdir(parents=True, exist_ok=True)
        _write_text(path, config.model_dump_json(indent=2))


def _holder(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shard_seed(seed: int, shard: int) -> int:
    """The training-stream seed of shard `shard` (never the dev split's seed)."""
    from reasoner.training.prm.data import DEV_SEED

    derived = 1_000_003 * (seed + 1) + shard
    return derived + 1 if derived == DEV_SEED else derived


def shard_problems(config: DataConfig) -> Iterator[tuple[int, list[Problem]]]:
    """(index, problems) of every shard in order: level-balanced, no prompt of an earlier shard."""
    from reasoner.tasks import prompt_hash
    from reasoner.training.prm.data import train_problems

    seen: set[bytes] = set()
    per_level = config.shard_problems // len(LEVELS)
    for index in range(config.shards):
        drawn = train_problems(config.task, 2 * config.shard_problems + 50, seed=shard_seed(config.seed, index))
        kept: dict[int, list[Problem]] = {level: [] for level in LEVELS}
        for problem in drawn:
            digest = bytes.fromhex(prompt_hash(problem.prompt))[:12]
            bucket = kept.get(problem.level or 0)
            if bucket is not None and len(bucket) < per_level and digest not in seen:
                seen.add(digest)
                bucket.append(problem)
        if any(len(bucket) < per_level for bucket in kept.values()):
            raise ConfigError(f"shard {index}: the training stream gave too few problems at some level")
        yield index, [p for level in LEVELS for p in kept[level]]


def build_data(config: DataConfig, folder: str | Path, progress: bool = True,
               stop_after: int | None = None) -> list[ShardStats]:
    """Fill `folder` with every shard of `config` (resuming); the stats of all shards.

    `stop_after`: return after writing that many new shards (the rest are drawn by a later call).
    """
    data = DataFolder(folder)
    data.check_manifest(config)
    written = 0
    bar = _shard_bar(config.shards, len(data.done_shards()), progress)
    for index, problems in shard_problems(config):
        if data.done(index):
            continue
        if stop_after is not None and written >= stop_after:
            break
        if not data.claim(index):
            continue  # another live process is drawing this shard
        try:
            rollouts = {s.key: _rollouts(data, s, index, problems, config.seed) for s in config.sources}
            _select_shard(data, config, index, problems, rollouts)
        finally:
            data.release(index)
        written += 1
        bar(1)
    return [read_stats(data.stats(i)) for i in data.done_shards()]


def _rollouts(data: DataFolder, source: Source, index: int, problems: list[Problem], seed: int) -> list[Rollout]:
    """The source's samples of one shard, drawn (all problems in flight at once) or read back."""
    from reasoner.training.prm.data import read_jsonl

    path = data.raw(source, index)
    if path.is_file():
        return read_jsonl(path, Rollout)
    from reasoner.engine.backends import open_generator
    from reasoner.engine.runtime import run_sync

    generator = open_generator("vllm", source.policy)
    rollouts = run_sync(_sample_shard(generator, problems, source, seed))
    write_jsonl(path, rollouts)
    return rollouts


async def _sample_shard(generator, problems: list[Problem], source: Source, seed: int) -> list[Rollout]:
    from reasoner.engine.generation import GenerationRequest
    from reasoner.jobs.solve import problem_seed
    from reasoner.training.prm.data import rollout_of
    from reasoner.types import SamplingConfig

    async def one(problem: Problem) -> list[Rollout]:
        sampling = SamplingConfig(temperature=source.temperature, top_p=source.top_p, max_tokens=source.max_tokens,
                                  seed=problem_seed(seed, f"{source.key}/{problem.id}"))
        generation = await generator.generate(GenerationRequest(prompt=problem.prompt, n=source.samples,
                                                                sampling=sampling))
        return [rollout_of(problem, c.text, c.num_tokens, c.mean_logprob, source.key) for c in generation.candidates]

    groups = await asyncio.gather(*(one(p) for p in problems))
    return [r for group in groups for r in group]


def _select_shard(data: DataFolder, config: DataConfig, index: int, problems: list[Problem],
                  rollouts: dict[str, list[Rollout]]) -> None:
    """Pool, deduplicate, label and balance one shard; write its examples, then its stats."""
    by_problem: dict[str, list[Rollout]] = {p.id: [] for p in problems}
    for source in config.sources:
        for rollout in rollouts[source.key]:
            by_problem[rollout.problem_id].append(rollout)
    fmt, check = _step_format(config.task), step_checker(config.task)
    examples, counts = [], _Counts()
    for problem in problems:
        pool = by_problem[problem.id]
        kept = select_solutions(pool, config.keep, config.keep_one_sided, random.Random(f"{config.seed}:{problem.id}"))
        chosen = [_labelled(rollout, copies, sources, fmt, check) for rollout, copies, sources in kept]
        chosen = [e for e in chosen if e.labels]
        examples += chosen
        counts.add(problem.level or 0, len(pool), len({r.text.strip() for r in pool}), chosen)
    write_jsonl(data.shard(index), examples)
    _write_text(data.stats(index), counts.stats(index).model_dump_json(indent=2))


def select_solutions(pool: list[Rollout], keep: int, keep_one_sided: int,
                     rng: random.Random) -> list[tuple[Rollout, int, list[str]]]:
    """Distinct solutions of one problem, balanced: (rollout, copies, sources that wrote it).

    Texts equal up to surrounding whitespace are one solution. With right and wrong
    ones both present, up to `keep` of each; otherwise up to `keep_one_sided`.
    """
    distinct: dict[str, Rollout] = {}
    copies: Counter[str] = Counter()
    sources: dict[str, list[str]] = {}
    for rollout in pool:
        text = rollout.text.strip()
        distinct.setdefault(text, rollout)
        copies[text] += 1
        if rollout.source not in sources.setdefault(text, []):
            sources[text].append(rollout.source)
    right = [t for t, r in distinct.items() if r.correct]
    wrong = [t for t, r in distinct.items() if not r.correct]
    rng.shuffle(right)
    rng.shuffle(wrong)
    quota = keep if right and wrong else keep_one_sided
    texts = right[:quota] + wrong[:quota]
    return [(distinct[t], copies[t], sources[t]) for t in texts]


def _labelled(rollout: Rollout, copies: int, sources: list[str], fmt, check) -> Labelled:
    return Labelled(problem_id=rollout.problem_id, prompt=rollout.prompt, text=rollout.text,
                    labels=list(exact_labels(rollout, fmt, check)), level=rollout.level, correct=rollout.correct,
                    copies=copies, sources=[s for s in sources if s is not None])


class _Counts:
    """Per-level tallies of one shard."""

    def __init__(self) -> None:
        self.table: dict[str, Counter[str]] = {}

    def add(self, level: int, samples: int, distinct: int, chosen: list[Labelled]) -> None:
        right = sum(e.correct for e in chosen)
        for key in (str(level), "all"):
            row = self.table.setdefault(key, Counter())
            row["problems"] += 1
            row["samples"] += samples
            row["distinct"] += distinct
            row["right"] += right
            row["wrong"] += len(chosen) - right
            row["both"] += bool(right) and right < len(chosen)

    def stats(self, index: int) -> ShardStats:
        fields = ("problems", "samples", "distinct", "right", "wrong", "both")
        return ShardStats(shard=index, **{f: {k: row[f] for k, row in sorted(self.table.items())} for f in fields})


def read_stats(path: Path) -> ShardStats:
    return ShardStats.model_validate_json(path.read_text(encoding="utf-8"))


def total_stats(stats: list[ShardStats]) -> dict[str, dict[str, int]]:
    """The shards' stats summed: field -> level -> count."""
    total: dict[str, Counter[str]] = {}
    for row in stats:
        for field in ("problems", "samples", "distinct", "right", "wrong", "both"):
            total.setdefault(field, Counter()).update(getattr(row, field))
    return {field: dict(sorted(counts.items())) for field, counts in total.items()}


def close_engines() -> None:
    """Stop the sources' engines so that training gets the CPU."""
    import sys

    if "reasoner.engine.backends.vllm" not in sys.modules:
        return
    from reasoner.engine.backends.vllm import VLLMGenerator

    VLLMGenerator.close_all()


def _step_format(task: str):
    from reasoner.steps import step_format_for

    return step_format_for(task)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(text + "\n", encoding="utf-8")
    staging.replace(path)


def _shard_bar(total: int, done: int, enabled: bool):
    import sys

    if not enabled:
        return lambda k: None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, desc="prm data (shards)", file=sys.stderr, dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    return bar.update


def shard_summary(folder: str | Path) -> dict:
    """The finished shards' count and summed stats, for logs and reports."""
    data = DataFolder(folder)
    stats = [read_stats(data.stats(i)) for i in data.done_shards()]
    return {"shards": len(stats), **total_stats(stats)}

