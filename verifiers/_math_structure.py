"""Parsing a normalised math answer into the structure the comparison walks.

What it is: brackets and top-level separators split into structures (`Seq`:
tuples, vectors and intervals in order; `Bag`: sets, lists, unions and
intersections, unordered), and each leaf parsed into a sympy value by the fast
parser (`reasoner.verifiers._latex_fast`) or else ``latex2sympy2_extended``; a
leaf then has its written integrals and matrix arithmetic carried out and its
odd roots of negative numbers made real. Exact numbers too large to hold
(more than 100,000 digits) are refused before sympy tries to build them.

What it is not: the comparison (`reasoner.verifiers._math_compare`). It runs in
the verifier's worker processes; sympy is imported lazily.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_DIGITS = 100_000
_LOG10_2 = math.log10(2)


class ParseFailure(Exception):
    """An answer latex2sympy could not turn into a sympy object."""


class LimitExceeded(Exception):
    """An exact number too large to compute within the resource budget."""


RESOURCE_ERRORS = (LimitExceeded, MemoryError, OverflowError, RecursionError)


@dataclass(frozen=True)
class Leaf:
    """One parsed value (a number, expression, relation, set or matrix)."""

    value: Any
    percent: bool
    """Written with a percent sign."""
    places: int | None = None
    """Most digits after a decimal point in the leaf's text; None without a decimal."""


@dataclass(frozen=True)
class Seq:
    """Ordered items: a tuple, vector or (for two items) an interval."""

    opener: str
    closer: str
    items: tuple


@dataclass(frozen=True)
class Bag:
    """Unordered items: `"set"` (braces), `"list"` (bare commas), `"union"` or `"intersection"`."""

    kind: str
    items: tuple


def describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def parse_latex(text: str) -> Any:
    from reasoner.verifiers._latex_fast import parse_simple

    simple = parse_simple(text)
    if simple is not None:
        return simple
    from latex2sympy2_extended import NormalizationConfig, latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    return latex2sympy(
        text,
        normalization_config=NormalizationConfig(basic_latex=False, units=False, malformed_operators=False,
                                                 nits=False, boxed="none", equations=False),
        conversion_config=ConversionConfig(lowercase_symbols=False),
    )


def structure(text: str) -> Leaf | Seq | Bag:
    text = drop_tuple_names(text.strip())
    for separator, kind in (("\\cup", "union"), ("\\cap", "intersection")):
        pieces = split_top(text, (separator,))
        if len(pieces) > 1:
            return Bag(kind, tuple(structure(p) for p in pieces))
    if text.startswith("\\{") and text.endswith("\\}") and closing(text, 1) == len(text) - 1:
        return Bag("set", tuple(structure(p) for p in split_top(text[2:-2])))
    if text[:1] in "([" and text[-1:] in ")]" and closing(text, 0) == len(text) - 1:
        items = split_top(text[1:-1])
        if len(items) > 1:
            return Seq(text[0], text[-1], tuple(structure(p) for p in items))
    groups = split_top(text, (";",))  # `a=3,b=1;a=5,b=1`: semicolons separate answers, commas their parts
    items = groups if len(groups) > 1 else split_top(text)
    if len(items) > 1:
        return Bag("list", tuple(structure(p) for p in items))
    return parse_leaf(text)


NAMES = re.compile(r"[(\[]\s*[A-Za-z](?:_\{?\w+\}?)?(?:\s*,\s*[A-Za-z](?:_\{?\w+\}?)?)+\s*[)\]]\s*=(?!=)")


def drop_tuple_names(text: str) -> str:
    """`(a, b) = (4, 1)` -> `(4, 1)`: named tuple components are the tuple."""
    found = NAMES.match(text)
    return text[found.end():].strip() if found and text[found.end():].strip() else text


def split_top(text: str, separators: tuple[str, ...] = (",", ";")) -> list[str]:
    """Split on separators outside any bracket; empty pieces are dropped."""
    pieces, depth, start, pos = [], 0, 0, 0
    while pos < len(text):
        char = text[pos]
        depth += (char in "([{") - (char in ")]}")
        separator = next((s for s in separators if depth == 0 and text.startswith(s, pos)), None)
        if separator:
            pieces.append(text[start:pos])
            start = pos = pos + len(separator)
            continue
        pos += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def closing(text: str, open_pos: int) -> int | None:
    """Index of the bracket closing the one at `open_pos`; any bracket kind closes."""
    depth = 0
    for pos in range(open_pos, len(text)):
        depth += (text[pos] in "([{") - (text[pos] in ")]}")
        if depth == 0:
            return pos
    return None


def parse_leaf(text: str) -> Leaf | Seq | Bag:
    import sympy as sp

    percent = text.endswith("\\%")
    body = text[:-2].strip() if percent else text
    if not body:
        raise ParseFailure(f"empty answer {text!r}")
    if body.count("\\pm") == 1 and not percent:  # `\\frac{-b \\pm \\sqrt{d}}{2a}`: both roots
        return Bag("set", tuple(parse_leaf(body.replace("\\pm", sign)) for sign in ("+", "-")))
    try:
        value = parse_latex(body)
    except RESOURCE_ERRORS:
        raise
    except Exception as exc:  # latex2sympy signals syntax errors with bare Exception
        raise ParseFailure(f"{body[:200]!r} ({describe(exc)})") from None
    check_size(value)
    value = real_odd_roots(evaluate_matrices(evaluate_calculus(value)))
    if percent and not isinstance(value, (sp.Expr, sp.Equality)):
        raise ParseFailure(f"a percent sign on a non-number: {body[:200]!r}")
    if isinstance(value, sp.Equality) and isinstance(value.rhs, sp.FiniteSet) and is_name(value.lhs):
        value = value.rhs  # `x = \pm 3`
    if isinstance(value, sp.FiniteSet) and not percent:  # `1 \pm \sqrt{2}`
        return Bag("set", tuple(Leaf(v, False, places(body)) for v in value.args))
    if isinstance(value, sp.Tuple) and not percent:
        return Seq("(", ")", tuple(Leaf(v, False, places(body)) for v in value.args))
    return Leaf(value, percent, places(body))


MAX_MATRIX_POWER = 64


def evaluate_calculus(value: Any) -> Any:
    """Integrals, sums, products, derivatives and limits written in an answer are carried out."""
    import sympy as sp

    kinds = (sp.Integral, sp.Sum, sp.Product, sp.Derivative, sp.Limit)
    if isinstance(value, sp.Basic) and value.has(*kinds):
        return value.doit()
    return value


def evaluate_matrices(value: Any) -> Any:
    """`A + B`, `2A`, `A I` and `A^2` of explicit matrices become the matrix they equal."""
    import sympy as sp

    if isinstance(value, sp.Pow) and isinstance(value.base, sp.MatrixBase):
        exponent = value.exp
        if exponent.is_Integer and abs(int(exponent)) <= MAX_MATRIX_POWER:
            return value.base ** int(exponent)
        return value
    if isinstance(value, sp.MatrixExpr) and not isinstance(value, sp.MatrixBase):
        done = value.doit()
        return done.as_explicit() if isinstance(done, sp.MatrixExpr) and done.is_Matrix is not False else done
    return value


def real_odd_roots(value: Any) -> Any:
    """An odd root of a negative number is the real one, as in school math: `\\sqrt[3]{-8}` is -2."""
    import sympy as sp

    if not isinstance(value, sp.Expr) or not value.has(sp.Pow):
        return value

    def odd_root_of_negative(e: Any) -> bool:
        return (e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer and e.exp.q % 2 == 1
                and e.base.is_number and e.base.is_extended_negative is True)

    def real_root(e: Any) -> Any:
        magnitude = sp.Pow(-e.base, e.exp)
        return -magnitude if e.exp.p % 2 else magnitude

    return value.replace(odd_root_of_negative, real_root)


def places(text: str) -> int | None:
    found = [len(m) for m in re.findall(r"\d\.(\d+)", text)]
    return max(found) if found else None


def check_size(value: Any) -> None:
    import sympy as sp

    if isinstance(value, sp.Basic) and digits(value) > MAX_DIGITS:
        raise LimitExceeded(f"an exact number in the answer has more than {MAX_DIGITS} digits")


def digits(expr: Any) -> float:
    """Upper estimate of the decimal digits needed to hold `expr` exactly."""
    import sympy as sp

    if expr.is_Integer:
        bits = int(expr).bit_length()
        return math.log10(abs(int(expr))) if 0 < bits < 1000 else bits * _LOG10_2
    if expr.is_Rational:
        return max(digits(sp.Integer(expr.p)), digits(sp.Integer(expr.q)))
    if isinstance(expr, sp.factorial) and expr.args[0].is_number:
        n = magnitude(expr.args[0])
        return n * (math.log10(n) - math.log10(math.e)) if n > 2 else 1.0
    if expr.is_Pow and expr.exp.is_number:
        base = digits(expr.base)
        return base * abs(magnitude(expr.exp)) if base else 0.0
    return sum(digits(arg) for arg in getattr(expr, "args", ()) if hasattr(arg, "is_Integer"))


def magnitude(expr: Any) -> float:
    """|expr| as a float, inf when astronomically large; 1 for non-numbers."""
    if expr.is_Number:
        try:
            return abs(float(expr))
        except OverflowError:
            return math.inf
    if not expr.is_number:
        return 1.0
    count = digits(expr)
    return 10.0 ** count if count < 300 else math.inf


def is_name(expr: Any) -> bool:
    """A variable, a function `f(x)`, an inverse `f^{-1}(x)` or a product name like `PQ`."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if isinstance(expr, (sp.Symbol, AppliedUndef)):
        return True
    if isinstance(expr, sp.Pow) and expr.exp == -1 and isinstance(expr.base, AppliedUndef):
        return True  # `f^{-1}(x)`, an inverse function's name
    return isinstance(expr, sp.Mul) and all(isinstance(f, sp.Symbol) for f in expr.args)
