"""The sharded PRM data pipeline on a small real draw: shards, a kill mid-run, balance, exact labels.

One `reasoner train prm --data-only` subprocess draws bundled `tiny`'s samples
(two temperatures) for 40 training-stream problems in 8 shards of 5. It is
killed (SIGKILL, its whole process group) once two shards are finished, then
run again to the end. Every test below reads the folder that leaves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from reasoner.steps import StepFormat
from reasoner.tasks import prompt_hash
from reasoner.training.prm.data import Labelled, Rollout, dev_problems, exact_labels, read_jsonl, step_checker
from reasoner.training.prm.pipeline import DataConfig, DataFolder, Source, select_solutions, shard_problems

SOURCES = ("tiny:0.8:4", "tiny:1.2:4")
PROBLEMS, SHARD, KEEP, ONE_SIDED = 40, 5, 2, 1
LINES = StepFormat(delimiter="\n")


def _command(out: Path) -> list[str]:
    command = [sys.executable, "-m", "reasoner.cli", "train", "prm", "--data-only", "--problems", str(PROBLEMS),
               "--shard-problems", str(SHARD), "--keep", str(KEEP), "--keep-one-sided", str(ONE_SIDED),
               "--seed", "4", "--out", str(out)]
    for source in SOURCES:
        command += ["--source", source]
    return command


def _config() -> DataConfig:
    return DataConfig(problems=PROBLEMS, shard_problems=SHARD, keep=KEEP, keep_one_sided=ONE_SIDED, seed=4,
                      sources=tuple(Source.parse(s) for s in SOURCES))


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The data folder after a kill once two shards were done and a second run to the end."""
    out = tmp_path_factory.mktemp("prm-data")
    folder = DataFolder(out / "data")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(_command(out), env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900
    while len(folder.done_shards()) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_at_kill = folder.done_shards()
    assert 2 <= len(done_at_kill) < PROBLEMS // SHARD, (done_at_kill, first.stderr.read().decode()[-2000:])
    before = {i: folder.shard(i).read_bytes() for i in done_at_kill}
    mtimes = {i: folder.shard(i).stat().st_mtime_ns for i in done_at_kill}
    second = subprocess.run(_command(out), env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-2000:]
    return {"folder": folder, "done_at_kill": done_at_kill, "before": before, "mtimes": mtimes,
            "summary": json.loads(second.stdout.strip().splitlines()[-1])}


def _examples(folder: DataFolder) -> list[Labelled]:
    return [e for i in folder.done_shards() for e in read_jsonl(folder.shard(i), Labelled)]


def test_every_shard_is_written_and_the_summary_counts_them(killed_and_resumed):
    folder = killed_and_resumed["folder"]
    assert folder.done_shards() == list(range(PROBLEMS // SHARD))
    summary = killed_and_resumed["summary"]
    assert summary["shards"] == PROBLEMS // SHARD and summary["problems"]["all"] == PROBLEMS
    assert summary["right"]["all"] + summary["wrong"]["all"] == len(_examples(folder))
    assert not list(folder.root.rglob("*.tmp"))


def test_the_resumed_run_left_the_finished_shards_alone(killed_and_resumed):
    folder = killed_and_resumed["folder"]
    for index, content in killed_and_resumed["before"].items():
        assert folder.shard(index).read_bytes() == content
        assert folder.shard(index).stat().st_mtime_ns == killed_and_resumed["mtimes"][index]


def test_no_problem_or_solution_appears_twice(killed_and_resumed):
    folder = killed_and_resumed["folder"]
    examples = _examples(folder)
    per_shard = [{e.problem_id for e in read_jsonl(folder.shard(i), Labelled)} for i in folder.done_shards()]
    assert sum(len(ids) for ids in per_shard) == len(set().union(*per_shard))
    solutions = Counter((e.problem_id, e.text.strip()) for e in examples)
    assert max(solutions.values()) == 1
    raw = [r for i in folder.done_shards() for s in _config().sources for r in read_jsonl(folder.raw(s, i), Rollout)]
    assert len(raw) == PROBLEMS * sum(s.samples for s in _config().sources)


def test_shards_are_level_balanced_and_outside_the_dev_and_test_splits(killed_and_resumed):
    from reasoner.tasks import load_task

    problems = [p for _, shard in shard_problems(_config()) for p in shard]
    assert Counter(p.level for p in problems) == {level: PROBLEMS // 5 for level in range(1, 6)}
    held_out = {prompt_hash(p.prompt) for split in ("dev", "test") for p in load_task("arith", split)}
    held_out |= {prompt_hash(p.prompt) for p in dev_problems("arith")}
    assert not {prompt_hash(p.prompt) for p in problems} & held_out
    assert len({prompt_hash(p.prompt) for p in problems}) == PROBLEMS


def test_each_problem_keeps_a_balanced_set_of_its_distinct_samples(killed_and_resumed):
    folder, config = killed_and_resumed["folder"], _config()
    kept = Counter()
    for index in folder.done_shards():
        raw = [r for s in config.sources for r in read_jsonl(folder.raw(s, index), Rollout)]
        examples = read_jsonl(folder.shard(index), Labelled)
        for problem_id in {r.problem_id for r in raw}:
            pool = [r for r in raw if r.problem_id == problem_id]
            right = {r.text.strip() for r in pool if r.correct}
            wrong = {r.text.strip() for r in pool if not r.correct}
            mine = [e for e in examples if e.problem_id == problem_id]
            both = bool(right) and bool(wrong)
            quota = KEEP if both else ONE_SIDED
            assert sum(e.correct for e in mine) == min(quota, len(right))
            assert sum(not e.correct for e in mine) == min(quota, len(wrong))
            assert all(e.copies == sum(r.text.strip() == e.text.strip() for r in pool) for e in mine)
            kept["both"] += both
    assert kept["both"] >= 3  # tiny gets some but not all of its samples right at levels 2-4


def test_stored_labels_are_the_exact_checkers(killed_and_resumed):
    check = step_checker("arith")
    examples = _examples(killed_and_resumed["folder"])
    assert examples
    for example in examples:
        rollout = Rollout(problem_id=example.problem_id, prompt=example.prompt, answer="", text=example.text,
                          num_tokens=0, correct=bool(example.correct))
        assert example.labels == exact_labels(rollout, LINES, check)
        lines = [line for line in example.text.split("\n") if line.strip()]
        first_wrong = next((i for i, line in enumerate(lines) if check(line) is False), None)
        if first_wrong is not None:
            assert example.labels[first_wrong:] == [0.0] * (len(lines) - first_wrong)


def test_a_resume_with_other_settings_is_refused(killed_and_resumed):
    from reasoner.errors import ResumeMismatchError
    from reasoner.training.prm.pipeline import build_data

    other = _config().model_copy(update={"keep": KEEP + 1})
    with pytest.raises(ResumeMismatchError, match="other settings"):
        build_data(other, killed_and_resumed["folder"].root, progress=False)


def test_selection_merges_copies_and_keeps_right_and_wrong():
    import random

    def sample(text: str, correct: bool, source: str) -> Rollout:
        return Rollout(problem_id="p", prompt="q", answer="3", text=text, num_tokens=1, correct=correct,
                       source=source)

    pool = [sample("1 + 2 = 3\nThe answer is \\boxed{3}.", True, "a"),
            sample("1 + 2 = 3\nThe answer is \\boxed{3}.\n", True, "b"),
            sample("1 + 2 = 4\nThe answer is \\boxed{4}.", False, "a"),
            sample("The answer is \\boxed{5}.", False, "a"), sample("The answer is \\boxed{6}.", False, "b")]
    kept = select_solutions(pool, keep=2, keep_one_sided=1, rng=random.Random(0))
    assert sum(r.correct for r, _, _ in kept) == 1 and sum(not r.correct for r, _, _ in kept) == 2
    (right,) = [(copies, sources) for r, copies, sources in kept if r.correct]
    assert right == (2, ["a", "b"])
    one_sided = select_solutions([p for p in pool if not p.correct], keep=2, keep_one_sided=1, rng=random.Random(0))
    assert len(one_sided) == 1


@pytest.mark.parametrize("text, message", [("tiny:0.8", "POLICY:TEMPERATURE:SAMPLES"),
                                           ("tiny:hot:4", "could not convert"), ("tiny:0.8:0", "greater than")])
def test_a_bad_source_is_named(text, message):
    from reasoner.errors import ConfigError

    with pytest.raises(ConfigError, match=message) as caught:
        Source.parse(text)
    assert repr(text) in str(caught.value)


def test_shard_sizes_must_divide_evenly():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not a multiple of 5 levels"):
        DataConfig(problems=12, shard_problems=6)
    with pytest.raises(ValidationError, match="not a multiple of shard_problems"):
        DataConfig(problems=12, shard_problems=5)


def _synthetic_folder(tmp_path: Path) -> tuple[DataConfig, DataFolder]:
    """A folder whose raw rollouts are already written (reference solutions and one slip each): no engine."""
    import random

    from reasoner.tasks import arith
    from reasoner.training.prm.data import rollout_of, write_jsonl

    config = DataConfig(problems=15, shard_problems=5, sources=(Source.parse("synthetic:0.8:2"),), seed=9)
    folder = DataFolder(tmp_path / "data")
    for index, problems in shard_problems(config):
        rows = [rollout_of(p, text, 5, -0.5, "synthetic-t0.8-n2") for p in problems
                for text in (p.metadata["solution"], arith.wrong_attempt(p, random.Random(index))[0])]
        write_jsonl(folder.raw(config.sources[0], index), rows)
    return config, folder


def test_a_shard_another_live_process_holds_is_left_to_it_and_a_dead_ones_lock_is_taken_over(tmp_path):
    from reasoner.training.prm.pipeline import build_data

    config, folder = _synthetic_folder(tmp_path)
    folder.lock(1).parent.mkdir(parents=True, exist_ok=True)
    folder.lock(1).write_text(str(os.getpid()))  # a live holder: this test process
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder.lock(2).write_text(dead.stdout.strip())  # a holder that has exited
    build_data(config, folder.root, progress=False)
    assert folder.done_shards() == [0, 2] and not folder.lock(2).exists()
    folder.release(1)
    build_data(config, folder.root, progress=False)
    assert folder.done_shards() == [0, 1, 2] and not list(folder.root.rglob("*.lock"))
