"""Splits, the registry and SFT examples, for every bundled family."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

import pytest

from reasoner.errors import ConfigError
from reasoner.tasks import (
    TASKS,
    TWO_ATTEMPT_MAX_CHARS,
    SFTExample,
    load_task,
    prompt_hash,
    resolve_family,
    revision_prompt,
    training_examples,
)
from reasoner.tasks.arith import boxed_answer

FAMILIES = sorted(TASKS)

# sha256 of the whole test split. Changing one of these is a deliberate
# dataset-version change (old results stop being comparable): bump
# DATASET_VERSION in reasoner/tasks/__init__.py and say so in the commit.
TEST_SPLIT_SHA256 = {
    "arith": "1b433bb7173501abf16a6eb2d9c7c7509d19fd7528aad8cbb6bd275baffbfd36",
    "pyfunc": "5515153f5cec91d75f513bcbdcea466c0df4736afc8e99ad4e4eed2d02cba7f5",
}

# The dev split, likewise (tuning data: router fits, chosen defaults).
DEV_SPLIT_SHA256 = {
    "arith": "840faa32402e7ad735738673caea79620bc20566318cd7d56ed79d8a5ea92f18",
    "pyfunc": "ecac977a03591250dfc9947aacad29beb1fe3d9526f12daa571d87a782023930",
}


def split_digest(problems) -> str:
    blob = json.dumps([problem.model_dump(mode="json") for problem in problems], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@pytest.mark.parametrize("name", FAMILIES)
def test_test_split_matches_the_committed_hash(name):
    assert split_digest(load_task(name, "test")) == TEST_SPLIT_SHA256[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_test_split_ignores_the_seed(name):
    assert split_digest(load_task(name, "test", seed=7)) == TEST_SPLIT_SHA256[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_test_split_has_100_problems_per_level(name):
    problems = load_task(name, "test")
    assert len(problems) == 500
    assert Counter(problem.level for problem in problems) == {level: 100 for level in range(1, 6)}


@pytest.mark.parametrize("name", FAMILIES)
def test_test_split_prompts_are_distinct(name):
    assert len({prompt_hash(problem.prompt) for problem in load_task(name, "test")}) == 500


@pytest.mark.parametrize("name", FAMILIES)
def test_test_split_prefix_spans_every_level(name):
    assert [problem.level for problem in load_task(name, "test", n=10)] == [1, 2, 3, 4, 5] * 2


@pytest.mark.parametrize("name", FAMILIES)
def test_test_split_prefix_is_a_prefix(name):
    assert load_task(name, "test", n=37) == load_task(name, "test")[:37]


@pytest.mark.parametrize("name", FAMILIES)
def test_ids_and_metadata(name):
    test, train = load_task(name, "test", n=5), load_task(name, "train", n=5, seed=3)
    assert test[4].id == f"{name}-test-00004"
    assert train[4].id == f"{name}-train-s3-000004"
    for problem in test + train:
        assert problem.metadata["family"] == name
        assert problem.metadata["solution"]


@pytest.mark.parametrize("name", FAMILIES)
def test_train_is_deterministic_for_a_seed(name):
    assert load_task(name, "train", n=200, seed=5) == load_task(name, "train", n=200, seed=5)


@pytest.mark.parametrize("name", FAMILIES)
def test_train_differs_between_seeds(name):
    first = {prompt_hash(p.prompt) for p in load_task(name, "train", n=200, seed=0)}
    second = {prompt_hash(p.prompt) for p in load_task(name, "train", n=200, seed=1)}
    assert len(first & second) < 20


@pytest.mark.parametrize("name", FAMILIES)
def test_train_levels_are_an_even_mix_even_in_small_draws(name):
    levels = Counter(p.level for seed in range(300) for p in load_task(name, "train", n=3, seed=seed))
    assert set(levels) == {1, 2, 3, 4, 5}
    assert max(levels.values()) < 1.3 * min(levels.values())


@pytest.mark.parametrize("name", FAMILIES)
def test_train_never_contains_a_test_prompt(name):
    test = {prompt_hash(problem.prompt) for problem in load_task(name, "test")}
    train = load_task(name, "train", n=20_000, seed=0)
    assert not test & {prompt_hash(problem.prompt) for problem in train}


@pytest.mark.parametrize("name", FAMILIES)
def test_dev_split_matches_the_committed_hash(name):
    assert split_digest(load_task(name, "dev")) == DEV_SPLIT_SHA256[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_dev_split_is_fixed_whatever_the_seed(name):
    assert load_task(name, "dev", seed=3) == load_task(name, "dev")


@pytest.mark.parametrize("name", FAMILIES)
def test_dev_split_is_level_balanced_like_test(name):
    problems = load_task(name, "dev")
    assert Counter(problem.level for problem in problems) == {level: 100 for level in range(1, 6)}
    assert [problem.level for problem in problems[:10]] == [1, 2, 3, 4, 5] * 2
    assert len({prompt_hash(problem.prompt) for problem in problems}) == 500
    assert problems[4].id == f"{name}-dev-00004"


@pytest.mark.parametrize("name", FAMILIES)
def test_dev_never_contains_a_test_prompt(name):
    test = {prompt_hash(problem.prompt) for problem in load_task(name, "test")}
    assert not test & {prompt_hash(problem.prompt) for problem in load_task(name, "dev")}


@pytest.mark.parametrize("name", FAMILIES)
def test_train_never_contains_a_dev_prompt(name):
    dev = {prompt_hash(problem.prompt) for problem in load_task(name, "dev")}
    train = load_task(name, "train", n=20_000, seed=0)
    assert not dev & {prompt_hash(problem.prompt) for problem in train}


def test_dev_exclusion_replaces_only_the_train_problems_it_hits(monkeypatch):
    """pyfunc's small problem space makes train draws hit dev prompts; only those problems change."""
    from reasoner import tasks

    drawn = load_task("pyfunc", "train", n=5_000, seed=1)
    dev = {prompt_hash(problem.prompt) for problem in load_task("pyfunc", "dev")}
    real = tasks._hashes
    monkeypatch.setattr(tasks, "_hashes", lambda family, split: frozenset() if split == "dev" else real(family, split))
    unfiltered = load_task("pyfunc", "train", n=5_000, seed=1)
    changed = [i for i, (a, b) in enumerate(zip(drawn, unfiltered, strict=True)) if a != b]
    assert changed, "no train draw hit a dev prompt; the check below would be vacuous"
    assert all(prompt_hash(unfiltered[i].prompt) in dev for i in changed)
    assert all(drawn[i].level == unfiltered[i].level for i in changed)


def test_prompt_hash_normalises_case_and_whitespace():
    assert prompt_hash("Mia has  3\napples.") == prompt_hash("mia has 3 apples. ")
    assert prompt_hash("Mia has 3 apples.") != prompt_hash("Mia has 4 apples.")


@pytest.mark.parametrize(("split", "n"), [("test", 501), ("test", -1), ("dev", 501), ("train", None), ("valid", 5)])
def test_load_task_rejects_bad_requests(split, n):
    with pytest.raises(ConfigError):
        load_task("arith", split, n=n)


def test_unknown_family_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown task"):
        load_task("nope", "test")


def test_family_by_module_path():
    assert load_task("reasoner.tasks.pyfunc", "test", n=10) == load_task("pyfunc", "test", n=10)


@pytest.mark.parametrize("path", ["reasoner.tasks.nope", "reasoner.tasks.arith:nope", "reasoner.types:Problem"])
def test_bad_family_path_is_a_config_error(path):
    with pytest.raises(ConfigError):
        resolve_family(path)


def test_revision_prompt_format():
    prompt = revision_prompt("Write f.", ["def f(): pass", "def f(): return 1"], ["assert f() == 2 failed", None])
    assert prompt == (
        "Write f.\n\n"
        "Previous attempt:\ndef f(): pass\nFeedback: assert f() == 2 failed\n\n"
        "Previous attempt:\ndef f(): return 1\n\n"
        "Write a correct solution."
    )


def test_revision_prompt_without_feedback():
    assert revision_prompt("Q?", ["1 + 1 = 3"]) == "Q?\n\nPrevious attempt:\n1 + 1 = 3\n\nWrite a correct solution."


@pytest.mark.parametrize(("attempts", "feedback"), [([], None), (["a"], []), (["a"], [None, None])])
def test_revision_prompt_rejects_misuse(attempts, feedback):
    with pytest.raises(ConfigError):
        revision_prompt("Q?", attempts, feedback)


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_training_examples_reject_bad_fraction(fraction):
    with pytest.raises(ConfigError):
        training_examples("arith", 5, 0, fraction)


@pytest.mark.parametrize("name", FAMILIES)
def test_training_examples_follow_the_train_split(name):
    problems = load_task(name, "train", n=300, seed=4)
    examples = training_examples(name, 300, 4)
    for problem, example in zip(problems, examples, strict=True):
        assert example.completion == problem.metadata["solution"]
        assert example.prompt.startswith(problem.prompt)
        assert (example.prompt == problem.prompt) == (example.kind == "solve")


@pytest.mark.parametrize("name", FAMILIES)
def test_training_examples_are_deterministic(name):
    assert training_examples(name, 100, 2) == training_examples(name, 100, 2)


@pytest.mark.parametrize(("fraction", "low", "high"), [(0.0, 0, 0), (0.25, 0.18, 0.32), (1.0, 1, 1)])
def test_revision_share_follows_the_fraction(fraction, low, high):
    examples = training_examples("arith", 600, 0, fraction)
    share = sum(example.kind == "revision" for example in examples) / len(examples)
    assert low <= share <= high


def attempts_in(example: SFTExample) -> list[str]:
    blocks = example.prompt.split("\n\nPrevious attempt:\n")[1:]
    return [block.removesuffix("\n\nWrite a correct solution.").split("\nFeedback: ")[0] for block in blocks]


def test_arith_revisions_show_mostly_wrong_attempts_without_feedback():
    problems = load_task("arith", "train", n=400, seed=0)
    examples = training_examples("arith", 400, 0, revision_fraction=1.0)
    wrong = total = 0
    for problem, example in zip(problems, examples, strict=True):
        assert "Feedback:" not in example.prompt
        attempts = attempts_in(example)
        assert 1 <= len(attempts) <= 2
        total += len(attempts)
        wrong += sum(boxed_answer(attempt) != problem.answer for attempt in attempts)
    assert 0.7 <= wrong / total <= 0.9


def test_pyfunc_revisions_carry_execution_feedback():
    examples = training_examples("pyfunc", 400, 0, revision_fraction=1.0)
    notes = re.findall(r"\nFeedback: (.*)\n", "\n".join(example.prompt for example in examples))
    assert len(notes) > 0.5 * 400
    assert all(re.fullmatch(r"assert f\(.*\) == .* (failed|raised \w+)", note) for note in notes)


@pytest.mark.parametrize("name", FAMILIES)
def test_two_attempt_revisions_stay_within_budget(name):
    examples = training_examples(name, 500, 0, revision_fraction=1.0)
    two = [e for e in examples if e.prompt.count("Previous attempt:") == 2]
    assert two
    assert all(len(e.prompt) + len(e.completion) <= TWO_ATTEMPT_MAX_CHARS for e in two)


def test_varied_training_examples_keep_problems_and_prompts():
    reference = training_examples("arith", 300, 4)
    varied = training_examples("arith", 300, 4, solution_paths="varied")
    assert [e.prompt for e in varied] == [e.prompt for e in reference]
    assert [boxed_answer(e.completion) for e in varied] == [boxed_answer(e.completion) for e in reference]
    changed = sum(v.completion != r.completion for v, r in zip(varied, reference, strict=True))
    assert changed >= 100


def test_varied_paths_leave_families_without_them_alone():
    assert training_examples("pyfunc", 50, 1, solution_paths="varied") == training_examples("pyfunc", 50, 1)


def test_unknown_solution_paths_is_a_config_error():
    with pytest.raises(ConfigError, match="solution_paths"):
        training_examples("arith", 5, 0, solution_paths="random")


def test_direct_answers_replace_solve_targets_on_hard_levels_only():
    problems = load_task("arith", "train", n=1500, seed=5)
    reference = training_examples("arith", 1500, 5)
    direct = training_examples("arith", 1500, 5, direct_fraction=0.6, direct_from_level=3)
    assert [e.prompt for e in direct] == [e.prompt for e in reference]
    bare = Counter()
    solves = Counter()
    for problem, ref, example in zip(problems, reference, direct, strict=True):
        assert boxed_answer(example.completion) == problem.answer
        if example.completion != ref.completion:
            assert example.completion == f"The answer is \\boxed{{{problem.answer}}}."
            assert example.kind == "solve"
            bare[problem.level] += 1
        if example.kind == "solve":
            solves[problem.level] += 1
    assert bare[1] == bare[2] == 0
    for level in (3, 4, 5):
        assert 0.5 <= bare[level] / solves[level] <= 0.7


def test_pyfunc_direct_answers_hard_code_the_first_example():
    problems = load_task("pyfunc", "train", n=200, seed=3)
    examples = training_examples("pyfunc", 200, 3, revision_fraction=0.0, direct_fraction=1.0, direct_from_level=3)
    stubs = 0
    for problem, example in zip(problems, examples, strict=True):
        if (problem.level or 0) < 3:
            assert example.completion == problem.metadata["solution"]
            continue
        stubs += 1
        code = example.completion.removeprefix("```python\n").removesuffix("\n```")
        namespace: dict = {}
        exec(code, namespace)  # noqa: S102 - our own generated two-line function
        exec(problem.public_tests.asserts[0], namespace)  # passes the example it copies ...
        failures = 0
        for statement in problem.tests.asserts:  # ... and no problem's hidden tests
            try:
                exec(statement, namespace)
            except AssertionError:
                failures += 1
        assert failures >= 1
    assert stubs > 60


@pytest.mark.parametrize("fraction", [-0.1, 1.01])
def test_bad_direct_fraction_is_a_config_error(fraction):
    with pytest.raises(ConfigError, match="direct_fraction"):
        training_examples("arith", 5, 0, direct_fraction=fraction)
