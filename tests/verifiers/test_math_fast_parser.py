"""The fast arithmetic parser gives latex2sympy's values on its subset and refuses the rest."""

from __future__ import annotations

import pytest
import sympy as sp

from reasoner.verifiers._latex_fast import parse_simple
from reasoner.verifiers._math_compare import init_worker

init_worker(None)

SUBSET = [
    "12", "-5", "0.4", "2.50", r"\frac{1}{2}", r"-\frac{3}{4}", "x", "2x+1", "xy", "-x^2", "x^{-1}",
    r"2\sqrt{2}", r"\sqrt[3]{8}", r"\frac{x+3}{5}", "(x+1)(x-1)", "2(x+1)", "a/b/c", r"3\cdot4", r"3\times 4",
    r"\pi r^2", r"\infty", "y=2x+3", "0=0", r"\frac{\sqrt{3}}{2}", "x^2+2x+1", r"4\div 2", "10^{3}", "AB",
    r"\frac{1}{\sqrt{2}}", "3.14159265358979323846", "x<3", r"x \le 3", r"-y > -3", r"x \geq 4", r"4 \leq y",
]
REFUSED = ["e", "e^x", "f(x)", "2^{1000}", "x!", "x_1", r"\sin x", r"3\frac{1}{2}", "1,2", r"\frac{1}{0}",
           "2^3^2", "1" * 60, "dx", r"\{1\}", r"-3 \le y \le 4"]


def _slow(text: str):
    from latex2sympy2_extended import NormalizationConfig, latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    return latex2sympy(text, normalization_config=NormalizationConfig(
        basic_latex=False, units=False, malformed_operators=False, nits=False, boxed="none", equations=False),
        conversion_config=ConversionConfig(lowercase_symbols=False))


def _difference(value):
    if isinstance(value, sp.core.relational.Relational):
        return (value.rel_op, sp.expand(value.lhs - value.rhs))
    return value


@pytest.mark.parametrize("text", SUBSET)
def test_same_value_as_latex2sympy(text):
    fast, slow = parse_simple(text), _slow(text)
    if isinstance(fast, sp.core.relational.Relational):
        assert _difference(fast) == _difference(slow)
    else:
        assert fast is not None and (fast == slow or sp.simplify(fast - slow) == 0)


@pytest.mark.parametrize("text", REFUSED)
def test_refuses_what_it_does_not_cover(text):
    assert parse_simple(text) is None
