"""Reward adapters: TRL-style functions and verl-style compute_score over the same verifiers."""

from __future__ import annotations

import pytest

from reasoner.verifiers.base import CodeTests
from reasoner.verifiers.rewards import CodeReward, MathReward, compute_score


def test_math_reward_scores_plain_and_chat_completions(math_verifier):
    reward = MathReward(math_verifier)
    completions = ["so \\boxed{0.5}", [{"role": "assistant", "content": "The answer is 3."}], "\\boxed{7}"]
    assert reward(["p"] * 3, completions, answer=["1/2", "3", "8"]) == [1.0, 1.0, 0.0]


def test_completion_that_says_nothing_scores_zero(math_verifier):
    reward = MathReward(math_verifier)
    scores = reward(["p"] * 3, ["I give up.", "", r"\boxed{\frac{}{}}"], answer=["2", "2", "2"])
    assert scores == [0.0, 0.0, 0.0]


def test_verl_score_of_a_silent_response_is_zero():
    assert compute_score("math", "no idea", "12") == 0.0


def test_ungradable_sample_is_none_never_zero(math_verifier):
    reward = MathReward(math_verifier)
    scores = reward(["p", "p"], ["no answer at all", "\\boxed{2}"], answer=["\\frac{", "2"])
    assert scores[0] is None and scores[1] == 1.0


def test_code_reward_runs_the_tests_column(code_verifier):
    reward = CodeReward(code_verifier)
    good = "```python\ndef f(x):\n    return x + 1\n```"
    bad = "```python\ndef f(x):\n    return x\n```"
    tests = [["assert f(1) == 2"], {"asserts": ["assert f(1) == 2"]}]
    assert reward(["p", "p"], [good, bad], tests=tests) == [1.0, 0.0]


def test_missing_column_names_the_column(math_verifier):
    with pytest.raises(KeyError, match="no 'answer' column"):
        MathReward(math_verifier)(["p"], ["\\boxed{1}"], solution=["1"])


def test_reward_function_has_a_name_for_trainer_logs():
    assert MathReward().__name__ == "math_reward" and CodeReward().__name__ == "code_reward"


def test_verl_compute_score_routes_by_ground_truth():
    assert compute_score("gsm8k", "#### 1,000", "1000") == 1.0
    assert compute_score("gsm8k", "#### 999", "1000") == 0.0
    tests = CodeTests(asserts=["assert f(2) == 4"])
    assert compute_score("mbpp", "def f(x):\n    return 2 * x\n", tests.model_dump()) == 1.0
    assert compute_score("mbpp", "def f(x):\n    return x\n", ["assert f(2) == 4"]) == 0.0
