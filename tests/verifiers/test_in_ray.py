"""Verifiers work inside a Ray actor (no main-thread-only timeouts), with a real Ray runtime."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")


def test_math_and_code_verifiers_grade_inside_an_actor(ray_runtime):
    @ray.remote(num_cpus=0)
    class Grader:
        def grade(self):
            from reasoner.verifiers.base import CodeTests
            from reasoner.verifiers.code import CodeVerifier
            from reasoner.verifiers.math import MathVerifier

            with MathVerifier(timeout=2.0) as math, CodeVerifier(timeout=2.0) as code:
                return [
                    math.verify("\\boxed{\\frac{1}{2}}", "0.5").status.value,
                    math.verify("\\boxed{9^{9^{9^{9}}}}", "1").status.value,
                    code.verify("def f(x):\n    return x + 1\n", CodeTests(asserts=["assert f(1) == 2"])).status.value,
                    code.verify("while True:\n    pass\n", CodeTests(asserts=["assert True"])).status.value,
                ]

    grader = Grader.remote()
    assert ray.get(grader.grade.remote(), timeout=180) == ["correct", "timeout", "correct", "timeout"]
