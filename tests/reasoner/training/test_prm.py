"""PRM data and training: step format, splits, exact / outcome / Monte Carlo labels, and a PRM that learns."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reasoner.errors import ConfigError, ResumeMismatchError
from reasoner.engine.models import BUNDLED_DIR
from reasoner.steps import StepFormat, load_step_format
from reasoner.tasks import arith, load_task, prompt_hash
from reasoner.training.prm.data import (
    Labelled,
    MCSettings,
    Rollout,
    dev_problems,
    exact_labels,
    first_wrong,
    label_rollouts,
    outcome_labels,
    step_checker,
    train_problems,
)
from reasoner.training.prm.train import PRMConfig, fit_prm

LINES = StepFormat(delimiter="\n")


def _rollout(text: str, answer: str = "19", correct: bool | None = None) -> Rollout:
    if correct is None:
        correct = arith.boxed_answer(text) == answer
    return Rollout(problem_id="p", prompt="Ana has 6 cups.", answer=answer, text=text, num_tokens=9, correct=correct)


def test_step_format_splits_with_offsets_and_skips_blank_steps():
    text = "a = 1\n\nb = 2\nThe answer"
    steps = LINES.split(text)
    assert [s.text for s in steps] == ["a = 1", "b = 2", "The answer"]
    assert [text[s.start:s.end] for s in steps] == ["a = 1", "b = 2", "The answer"]
    assert LINES.prefix(text, 2) == "a = 1\n\nb = 2\n"
    assert [s.text for s in StepFormat(delimiter="\n\n").split(text)] == ["a = 1", "b = 2\nThe answer"]


def test_step_format_round_trips_through_a_folder(tmp_path):
    StepFormat(delimiter="\n\n").save(tmp_path)
    assert load_step_format(tmp_path).delimiter == "\n\n"


def test_exact_labels_mark_everything_after_the_first_slip_wrong():
    text = "6 * 3 = 18\n18 + 2 = 21\n21 - 2 = 19\nThe answer is \\boxed{19}."
    assert exact_labels(_rollout(text), LINES, step_checker("arith")) == [1.0, 0.0, 0.0, 0.0]


def test_exact_labels_judge_the_answer_line_by_the_final_answer():
    right = "6 * 3 = 18\n18 + 1 = 19\nThe answer is \\boxed{19}."
    misread = "6 * 3 = 18\n18 + 2 = 20\nThe answer is \\boxed{20}."
    check = step_checker("arith")
    assert exact_labels(_rollout(right), LINES, check) == [1.0, 1.0, 1.0]
    assert exact_labels(_rollout(misread), LINES, check) == [1.0, 1.0, 0.0]
    assert first_wrong(exact_labels(_rollout(misread), LINES, check)) == 2


def test_outcome_labels_only_the_last_step():
    text = "6 * 3 = 18\n18 + 2 = 21\nThe answer is \\boxed{19}."
    assert outcome_labels(_rollout(text, correct=True), LINES) == [None, None, 1.0]


def test_a_task_without_a_step_checker_needs_monte_carlo_labels():
    with pytest.raises(ConfigError, match="no exact step checker; use --labels mc"):
        step_checker("pyfunc")


def test_dev_split_is_disjoint_from_train_and_test():
    dev = {prompt_hash(p.prompt) for p in dev_problems("arith")}
    train = {prompt_hash(p.prompt) for p in train_problems("arith", 2000, seed=0)}
    test = {prompt_hash(p.prompt) for p in load_task("arith", "test")}
    assert len(dev) == 500 and not dev & train and not dev & test and not train & test


def test_monte_carlo_labels_are_fractions_of_k_and_end_with_the_outcome(engine, tiny_checkpoint):
    rollouts = [_rollout("6 * 3 = 18\n18 + 1 = 19\nThe answer is \\boxed{19}."),
                _rollout("6 * 3 = 18\nThe answer is \\boxed{18}.")]
    settings = MCSettings(k=3, policy=str(tiny_checkpoint), max_tokens=8)
    soft = label_rollouts(rollouts, "mc", LINES, "arith", settings, progress=False)
    assert [len(row.labels) for row in soft] == [3, 2]
    assert [row.labels[-1] for row in soft] == [1.0, 0.0]
    assert all(label * 3 == round(label * 3) for row in soft for label in row.labels)
    hard = label_rollouts(rollouts, "mc", LINES, "arith", settings.model_copy(update={"target": "hard"}),
                          progress=False)
    assert all(label in (0.0, 1.0) for row in hard for label in row.labels)


def _labelled(problems, seed: int) -> list[Labelled]:
    """Reference solutions and one-slip attempts, labelled by the exact checker."""
    rng, check, out = random.Random(seed), step_checker("arith"), []
    for problem in problems:
        text = problem.metadata["solution"] if rng.random() < 0.4 else arith.wrong_attempt(problem, rng)[0]
        rollout = Rollout(problem_id=problem.id, prompt=problem.prompt, answer=problem.answer, text=text,
                          num_tokens=0, correct=arith.boxed_answer(text) == problem.answer)
        out.append(Labelled(problem_id=problem.id, prompt=problem.prompt, text=text,
                            labels=exact_labels(rollout, LINES, check)))
    return out


def _auroc(pairs: list[tuple[float, float]]) -> float:
    right = [s for s, label in pairs if label == 1.0]
    wrong = [s for s, label in pairs if label == 0.0]
    return sum((a > b) + 0.5 * (a == b) for a in right for b in wrong) / (len(right) * len(wrong))


@pytest.fixture(scope="module")
def trained_prm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prm-run")
    config = PRMConfig(init_from=str(BUNDLED_DIR / "tiny"), steps=30, batch_size=16, lr=3e-3, warmup_steps=5,
                       checkpoint_every=15, threads=1)
    fit_prm(_labelled(train_problems("arith", 300, seed=5), seed=0), config, out, progress=False)
    return out


def test_a_prm_trained_on_a_few_hundred_steps_beats_chance_on_held_out_steps(trained_prm):
    from reasoner.verifiers.prm.local import PRMVerifier

    held_out = _labelled(dev_problems("arith", 100), seed=1)
    scores = PRMVerifier(trained_prm).score([(e.prompt, e.text) for e in held_out]).steps
    pairs = [(s, label) for e, row in zip(held_out, scores) for s, label in zip(row, e.labels)]
    assert len(pairs) > 300
    assert _auroc(pairs) > 0.65  # chance is 0.5; the null's spread here is about 0.03


def test_the_run_folder_describes_itself(trained_prm):
    import json

    info = json.loads((trained_prm / "prm_config.json").read_text())
    assert info["kind"] == "prm" and info["labels"] == "exact" and info["steps"] == 30
    assert load_step_format(trained_prm).delimiter == "\n"
    assert (trained_prm / "trainer_state" / "optimizer.pt").is_file()


def test_resuming_with_other_settings_is_refused(trained_prm):
    config = PRMConfig(init_from=str(BUNDLED_DIR / "tiny"), steps=30, batch_size=16, lr=1e-2, warmup_steps=5,
                       checkpoint_every=15, threads=1)
    with pytest.raises(ResumeMismatchError, match="different configuration"):
        fit_prm(_labelled(train_problems("arith", 10, seed=5), seed=0), config, trained_prm, progress=False)


def test_nothing_labelled_is_an_error(tmp_path):
    empty = [Labelled(problem_id="p", prompt="q", text="1 + 1 = 2", labels=[None])]
    with pytest.raises(ConfigError, match="no labelled step"):
        fit_prm(empty, PRMConfig(init_from=str(BUNDLED_DIR / "tiny"), steps=1, threads=1), tmp_path, progress=False)


def test_unknown_task_step_format_is_named():
    with pytest.raises(ConfigError, match="no step format for task 'poetry'"):
        PRMConfig(task="poetry").step_format()


def test_hard_monte_carlo_labels_come_from_cached_soft_ones_without_sampling(tmp_path):
    from reasoner.training.prm.data import write_jsonl
    from reasoner.training.prm.train import labels_file, prepare_data

    soft = PRMConfig(labels="mc", mc=MCSettings(k=4, target="soft"))
    row = Labelled(problem_id="p", prompt="q", text="1 + 1 = 2\n2 + 2 = 5\nThe answer is \\boxed{5}.",
                   labels=[0.25, 0.0, 0.0])
    write_jsonl(labels_file(soft, tmp_path), [row])
    hard = soft.model_copy(update={"mc": MCSettings(k=4, target="hard")})
    assert [e.labels for e in prepare_data(hard, tmp_path, progress=False)] == [[1.0, 0.0, 0.0]]
    assert labels_file(hard, tmp_path).is_file()
    assert labels_file(soft.model_copy(update={"mc": MCSettings(k=8)}), tmp_path) != labels_file(soft, tmp_path)


def _two_per_problem(count: int) -> list[Labelled]:
    """For each problem, its reference solution (all steps right) and a one-slip attempt."""
    rng, check, out = random.Random(3), step_checker("arith"), []
    for problem in train_problems("arith", count, seed=5):
        for text in (problem.metadata["solution"], arith.wrong_attempt(problem, rng)[0]):
            rollout = Rollout(problem_id=problem.id, prompt=problem.prompt, answer=problem.answer, text=text,
                              num_tokens=0, correct=arith.boxed_answer(text) == problem.answer)
            out.append(Labelled(problem_id=problem.id, prompt=problem.prompt, text=text,
                                labels=exact_labels(rollout, LINES, check)))
    return out


def _trainer(tmp_path, examples, **options):
    from transformers import AutoTokenizer

    from reasoner.training.prm.train import PRMTrainer

    trainer = PRMTrainer(PRMConfig(init_from=str(BUNDLED_DIR / "tiny"), **options), tmp_path, examples)
    trainer._prepare(AutoTokenizer.from_pretrained(BUNDLED_DIR / "tiny"), progress=False)
    return trainer


def test_batches_hold_whole_problems_and_each_epoch_visits_every_problem_once(tmp_path):
    examples = _two_per_problem(12)
    trainer = _trainer(tmp_path, examples, batch_size=6)
    schedule = trainer.schedule
    assert schedule.steps_per_epoch == 4
    for epoch in (0, 1):
        batches = schedule.epoch(epoch)
        assert sorted(g for batch in batches for g in batch) == list(range(12))
        assert all(sum(len(trainer.groups[g]) for g in batch) >= 6 for batch in batches)
    assert schedule.epoch(0) != schedule.epoch(1)
    assert schedule.batch(5) == (1, schedule.epoch(1)[1])
    assert _trainer(tmp_path / "again", examples, batch_size=6).schedule.batch(5) == schedule.batch(5)


def test_the_ranking_term_pairs_right_with_wrong_solutions_of_one_problem_only(tmp_path):
    import torch

    trainer = _trainer(tmp_path, _two_per_problem(2), batch_size=4, rank_weight=1.0)
    # rows 0/1 are problem A's right and wrong solutions, rows 2/3 problem B's: only (0, 1) and (2, 3) pair up
    assert trainer.right[:4] == [True, False, True, False]
    logits = [torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 5.0]), torch.tensor([0.0]), torch.tensor([0.0])]
    expected = -(torch.nn.functional.logsigmoid(torch.tensor(3.0)) + torch.nn.functional.logsigmoid(torch.tensor(0.0))) / 2
    assert float(trainer._rank_loss(logits, [0, 1, 2, 3])) == pytest.approx(float(expected), abs=1e-6)


def test_packed_problems_score_each_solution_as_if_it_were_alone():
    import torch
    from transformers import AutoTokenizer

    from reasoner.training.prm.encoded import encode_examples, packed_step_logits
    from reasoner.training.prm.model import build
    from reasoner.verifiers.prm.encoding import encode, step_logits

    examples = _two_per_problem(4)
    model, tokenizer = build(str(BUNDLED_DIR / "tiny"))
    data = encode_examples(tokenizer, LINES, examples, 384)
    problems = [(g, list(rows)) for g, rows in enumerate(data.rows_of())]
    with torch.no_grad():
        packed = packed_step_logits(model.eval(), data, problems, tokenizer.pad_token_id)
        alone = step_logits(model, [encode(tokenizer, LINES, e.prompt, e.text, 384) for e in examples],
                            tokenizer.pad_token_id)
    assert len(packed) == len(alone) == 8
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(packed, alone))
    assert data.prompt_ids.size < sum(len(encode(tokenizer, LINES, e.prompt, "", 384)[0]) for e in examples)


def test_an_encoded_set_survives_a_round_trip_and_joins_with_others(tmp_path):
    import numpy as np
    from transformers import AutoTokenizer

    from reasoner.training.prm.encoded import EncodedSet, encode_examples

    tokenizer = AutoTokenizer.from_pretrained(BUNDLED_DIR / "tiny")
    first = encode_examples(tokenizer, LINES, _two_per_problem(3), 384)
    second = encode_examples(tokenizer, LINES, _two_per_problem(5)[6:], 384)
    first.save(tmp_path / "a.npz")
    loaded = EncodedSet.load(tmp_path / "a.npz")
    assert all(np.array_equal(getattr(first, f), getattr(loaded, f)) for f in ("sol_ids", "steps", "labels", "group"))
    joined = EncodedSet.concat([loaded, second])
    assert joined.problems == 5 and joined.solutions == 10
    assert [len(rows) for rows in joined.rows_of()] == [2] * 5
    assert np.array_equal(joined.step_labels(8), second.step_labels(2))


def test_the_dev_curve_records_figures_and_a_loadable_snapshot(tmp_path):
    import json

    from reasoner.training.prm.data import write_jsonl
    from reasoner.verifiers.prm.local import PRMVerifier

    dev = []
    for problem in dev_problems("arith", 6):
        for text in (problem.metadata["solution"], arith.wrong_attempt(problem, random.Random(1))[0]):
            dev.append(Rollout(problem_id=problem.id, prompt=problem.prompt, answer=problem.answer, text=text,
                               num_tokens=5, level=problem.level, correct=arith.boxed_answer(text) == problem.answer))
    write_jsonl(tmp_path / "dev.jsonl", dev)
    config = PRMConfig(init_from=str(BUNDLED_DIR / "tiny"), steps=4, batch_size=8, warmup_steps=1, threads=1,
                       dev_samples=(str(tmp_path / "dev.jsonl"),), eval_every=2)
    fit_prm(_two_per_problem(8), config, tmp_path / "run", progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "dev_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    figures = records[-1]["sets"]["dev"]
    assert figures["budget"] == 2 and figures["pass@k"] == 1.0 and 0.0 <= figures["f1"] <= 1.0
    assert {"prm_bon_min", "prm_bon_last", "prm_vote_mean", "majority"} <= set(figures)
    snapshot = PRMVerifier(tmp_path / "run" / "snapshots" / "step-00004")
    assert snapshot.info["steps"] == 4 and len(snapshot.score([(dev[0].prompt, dev[0].text)]).steps[0]) >= 2
