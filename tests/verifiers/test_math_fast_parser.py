"""The fast arithmetic parser gives latex2sympy's values on its subset and refuses the rest."""

from __future__ import annotations

import pytest
import sympy as sp

from reasoner.verifiers._latex_fast import parse_simple
from reasoner.verifiers._math_compare import init_worker
from reasoner.verifiers._math_structure import evaluate_matrices

init_worker(None)

SUBSET = [
    "12", "-5", "0.4", "2.50", r"\frac{1}{2}", r"-\frac{3}{4}", "x", "2x+1", "xy", "-x^2", "x^{-1}",
    r"2\sqrt{2}", r"\sqrt[3]{8}", r"\frac{x+3}{5}", "(x+1)(x-1)", "2(x+1)", "a/b/c", r"3\cdot4", r"3\times 4",
    r"\pi r^2", r"\infty", "y=2x+3", "0=0", r"\frac{\sqrt{3}}{2}", "x^2+2x+1", r"4\div 2", "10^{3}", "AB",
    r"\frac{1}{\sqrt{2}}", "3.14159265358979323846", "x<3", r"x \le 3", r"-y > -3", r"x \geq 4", r"4 \leq y",
    # v3: chains, mixed numbers, |x|, functions, e, Greek letters, binomials, matrices and their arithmetic
    r"-3 \le y \le 4", r"5\ge t>-3", r"3\frac{1}{2}", r"-1\frac{1}{2}", r"2\cdot3\frac{1}{2}", "|x-1|",
    r"\sin x\cos x", r"2\sin x\cos x", r"\sin 2x", r"\sin^2(t)", r"\sin^2 t", r"\sin(2x)", r"\sin x^2",
    r"\cos\frac{\pi}{12}", r"\tan(\pi/4)", r"\sqrt{x}\sin x", r"\ln 2", r"\ln(e^2)", r"\log 8", r"\log_2 8",
    r"\exp(2)", "e", r"e^{i\pi}", r"\theta", r"\alpha + \beta", r"0\le\theta<\pi", r"\binom{5}{2}",
    r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{array}{cc}1&2\\3&4\end{array}",
    r"\begin{vmatrix}1&2\\3&4\end{vmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}",
    r"\frac{1}{2}\begin{pmatrix}2&4\\6&8\end{pmatrix}",
    r"\begin{pmatrix}1&2\\3&4\end{pmatrix}+\begin{pmatrix}1&0\\0&1\end{pmatrix}",
    r"\begin{pmatrix}1&1\\0&1\end{pmatrix}^2", "2^10", "5!", r"\frac{1}{5!}",
]
REFUSED = ["E", "f(x)", "3!!", "(3)!", "2^{1000}", "x!", "x_1", "1,2", r"\frac{1}{0}", r"3\frac{x}{2}", r"\sin^{-1} x",
           r"\sin(x)^2", r"\sin x / 2", "2^3^2", "1" * 60, "dx", r"\{1\}", "x = y = z", r"2 < x = 3",
           r"\begin{pmatrix}1&2\\3\end{pmatrix}", r"\begin{cases}1\end{cases}"]


def _slow(text: str):
    from latex2sympy2_extended import NormalizationConfig, latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    return latex2sympy(text, normalization_config=NormalizationConfig(
        basic_latex=False, units=False, malformed_operators=False, nits=False, boxed="none", equations=False),
        conversion_config=ConversionConfig(lowercase_symbols=False))


def _difference(value):
    if isinstance(value, sp.core.relational.Relational):
        return (value.rel_op, sp.expand(value.lhs - value.rhs))
    if isinstance(value, sp.And):
        return [_difference(arg) for arg in value.args]
    return value


def _explicit(value):
    """latex2sympy's value as the worker uses it (matrix arithmetic carried out)."""
    return evaluate_matrices(value)


@pytest.mark.parametrize("text", SUBSET)
def test_same_value_as_latex2sympy(text):
    fast, slow = parse_simple(text), _explicit(_slow(text))
    assert fast is not None
    if isinstance(fast, (sp.core.relational.Relational, sp.And)):
        assert sorted(map(str, _difference(fast))) == sorted(map(str, _difference(slow))) \
            if isinstance(fast, sp.And) else _difference(fast) == _difference(slow)
    elif isinstance(fast, sp.MatrixBase):
        assert fast.shape == slow.shape and all(sp.simplify(a - b) == 0 for a, b in zip(fast, slow))
    else:
        assert fast == slow or sp.simplify(fast - slow) == 0


@pytest.mark.parametrize("text", REFUSED)
def test_refuses_what_it_does_not_cover(text):
    assert parse_simple(text) is None
