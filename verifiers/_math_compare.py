"""Worker side of the math verifier: parse two answers with sympy and compare them.

What it is: the code that runs inside `MathVerifier`'s worker
subprocesses (`reasoner.verifiers._math_workers`). `init_worker` prepares a worker (memory limit, parser warm-up) and
`compare_task` turns two normalised answers into an `Outcome`: it splits
brackets and top-level commas into structures (tuples, intervals, sets,
unions), parses each leaf with ``latex2sympy2_extended``, refuses exact numbers
too large to hold, and applies the equivalence rules documented in
`reasoner.verifiers.math`. Both are module-level functions so that workers can call
them by name; `Rules` and `Outcome` cross the process
boundary by pickle.

What it is not: the public API, answer extraction or normalisation (all in
`reasoner.verifiers.math`), or anything that runs in the calling process. sympy is
imported lazily, inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

PercentRule = Literal["both", "strict"]
"""How `50\\%` reads: "both" as 0.5 or 50, "strict" only as 0.5."""

_MAX_DIGITS = 100_000
_LOG10_2 = math.log10(2)


class _ParseFailure(Exception):
    """An answer latex2sympy could not turn into a sympy object."""


class _LimitExceeded(Exception):
    """An exact number too large to compute within the resource budget."""


_RESOURCE_ERRORS = (_LimitExceeded, MemoryError, OverflowError, RecursionError)


@dataclass(frozen=True)
class Rules:
    """The caller's settings that change a comparison (see `MathVerifier`)."""

    percent: PercentRule
    rel_tol: float | None
    """None: tolerance only against a decimal reference; a number: also against exact ones."""
    ref_places: int | None = None
    """Decimal places of the reference leaf being compared (set per leaf)."""
    answer_places: int | None = None
    """Decimal places of the answer leaf being compared (set per leaf)."""


class Outcome(NamedTuple):
    """A comparison's result; `MathVerifier` maps `kind` to a verdict status."""

    kind: Literal["equal", "unequal", "bad_answer", "bad_reference", "limit", "timeout", "error"]
    detail: str


@dataclass(frozen=True)
class _Leaf:
    value: Any
    percent: bool
    places: int | None = None
    """Most digits after a decimal point in the leaf's text; None without a decimal."""


@dataclass(frozen=True)
class _Seq:
    """Ordered items: a tuple, vector or (for two items) an interval."""

    opener: str
    closer: str
    items: tuple


@dataclass(frozen=True)
class _Bag:
    """Unordered items: `"set"` (braces), `"list"` (bare commas), `"union"` or `"intersection"`."""

    kind: str
    items: tuple


def init_worker(memory_mb: int | None) -> None:
    sys.set_int_max_str_digits(0)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    if memory_mb and sys.platform.startswith("linux"):
        _limit_memory(memory_mb)
    try:
        _warm_up()
    except ImportError:
        pass  # raised again by the first task, to the caller; failing here would respawn forever


_WARM_UP = [(r"x_{1}+\\sqrt{2}", r"\\sqrt{2}+x_{1}"), (r"\\sqrt{3+2\\sqrt{2}}", r"1+\\sqrt{2}"), (r"\\pi", "3.14"),
            (r"x \\le 2", r"(-\\infty, 2]"), (r"\\sin^2 x + \\cos^2 x", "1")]
"""Pairs that load what later comparisons need (latex2sympy's grammar, evalf, minimal polynomials,
sets, simplification), so a worker's first real task is not charged for it."""


def _warm_up() -> None:
    """Import sympy and build both parsers before the first timed task."""
    rules = Rules("both", None)
    for answer, reference in _WARM_UP:
        compare_task(answer, reference, rules)


def _limit_memory(extra_mb: int) -> None:
    """Cap address space at what the worker holds now plus `extra_mb`.

    Relative, because a worker inherits whatever the parent's main module
    imported (it is re-imported under spawn and forkserver).
    """
    import resource

    with open("/proc/self/statm") as statm:
        current = int(statm.read().split()[0]) * resource.getpagesize()
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = current + extra_mb * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def compare_task(answer: str, reference: str, rules: Rules) -> Outcome:
    """Worker entry point: compare two normalised answers."""
    try:
        try:
            right = _structure(reference)
        except _ParseFailure as exc:
            return Outcome("bad_reference", f"reference does not parse: {exc}")
        try:
            left = _structure(answer)
        except _ParseFailure as exc:
            return Outcome("bad_answer", f"answer does not parse: {exc}")
        same = _nodes_equal(left, right, rules)
    except _RESOURCE_ERRORS as exc:
        return Outcome("limit", f"resource limit: {_describe(exc)}")
    except Exception as exc:  # both sides parsed; sympy gave up comparing them, so nothing was shown equal
        return Outcome("unequal", f"not shown equal: sympy failed while comparing ({_describe(exc)})")
    return Outcome("equal", "equivalent") if same else Outcome("unequal", "not equivalent")


def reference_task(reference: str) -> Outcome:
    """Worker entry point: whether a normalised reference parses (`equal` means it does)."""
    try:
        _structure(reference)
    except _ParseFailure as exc:
        return Outcome("bad_reference", f"reference does not parse: {exc}")
    except _RESOURCE_ERRORS as exc:
        return Outcome("bad_reference", f"reference too large: {_describe(exc)}")
    except Exception as exc:  # sympy raises many types; reported as an error, never as "unequal"
        return Outcome("error", f"sympy failed on the reference: {_describe(exc)}")
    return Outcome("equal", "reference parses")


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def _parse_latex(text: str) -> Any:
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


# Structure: split brackets and top-level commas before handing leaves to the parser.

def _structure(text: str) -> _Leaf | _Seq | _Bag:
    text = _drop_tuple_names(text.strip())
    for separator, kind in (("\\cup", "union"), ("\\cap", "intersection")):
        pieces = _split_top(text, (separator,))
        if len(pieces) > 1:
            return _Bag(kind, tuple(_structure(p) for p in pieces))
    if text.startswith("\\{") and text.endswith("\\}") and _closing(text, 1) == len(text) - 1:
        return _Bag("set", tuple(_structure(p) for p in _split_top(text[2:-2])))
    if text[:1] in "([" and text[-1:] in ")]" and _closing(text, 0) == len(text) - 1:
        items = _split_top(text[1:-1])
        if len(items) > 1:
            return _Seq(text[0], text[-1], tuple(_structure(p) for p in items))
    groups = _split_top(text, (";",))  # `a=3,b=1;a=5,b=1`: semicolons separate answers, commas their parts
    items = groups if len(groups) > 1 else _split_top(text)
    if len(items) > 1:
        return _Bag("list", tuple(_structure(p) for p in items))
    return _parse_leaf(text)


_NAMES = re.compile(r"[(\[]\s*[A-Za-z](?:_\{?\w+\}?)?(?:\s*,\s*[A-Za-z](?:_\{?\w+\}?)?)+\s*[)\]]\s*=(?!=)")


def _drop_tuple_names(text: str) -> str:
    """`(a, b) = (4, 1)` -> `(4, 1)`: named tuple components are the tuple."""
    found = _NAMES.match(text)
    return text[found.end():].strip() if found and text[found.end():].strip() else text


def _split_top(text: str, separators: tuple[str, ...] = (",", ";")) -> list[str]:
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


def _closing(text: str, open_pos: int) -> int | None:
    """Index of the bracket closing the one at `open_pos`; any bracket kind closes."""
    depth = 0
    for pos in range(open_pos, len(text)):
        depth += (text[pos] in "([{") - (text[pos] in ")]}")
        if depth == 0:
            return pos
    return None


def _parse_leaf(text: str) -> _Leaf | _Seq | _Bag:
    import sympy as sp

    percent = text.endswith("\\%")
    body = text[:-2].strip() if percent else text
    if not body:
        raise _ParseFailure(f"empty answer {text!r}")
    if body.count("\\pm") == 1 and not percent:  # `\\frac{-b \\pm \\sqrt{d}}{2a}`: both roots
        return _Bag("set", tuple(_parse_leaf(body.replace("\\pm", sign)) for sign in ("+", "-")))
    try:
        value = _parse_latex(body)
    except _RESOURCE_ERRORS:
        raise
    except Exception as exc:  # latex2sympy signals syntax errors with bare Exception
        raise _ParseFailure(f"{body[:200]!r} ({_describe(exc)})") from None
    _check_size(value)
    value = _real_odd_roots(_evaluate_matrices(_evaluate_calculus(value)))
    if percent and not isinstance(value, (sp.Expr, sp.Equality)):
        raise _ParseFailure(f"a percent sign on a non-number: {body[:200]!r}")
    if isinstance(value, sp.Equality) and isinstance(value.rhs, sp.FiniteSet) and _is_name(value.lhs):
        value = value.rhs  # `x = \pm 3`
    if isinstance(value, sp.FiniteSet) and not percent:  # `1 \pm \sqrt{2}`
        return _Bag("set", tuple(_Leaf(v, False, _places(body)) for v in value.args))
    if isinstance(value, sp.Tuple) and not percent:
        return _Seq("(", ")", tuple(_Leaf(v, False, _places(body)) for v in value.args))
    return _Leaf(value, percent, _places(body))


_MAX_MATRIX_POWER = 64


def _evaluate_calculus(value: Any) -> Any:
    """Integrals, sums, products, derivatives and limits written in an answer are carried out."""
    import sympy as sp

    kinds = (sp.Integral, sp.Sum, sp.Product, sp.Derivative, sp.Limit)
    if isinstance(value, sp.Basic) and value.has(*kinds):
        return value.doit()
    return value


def _evaluate_matrices(value: Any) -> Any:
    """`A + B`, `2A`, `A I` and `A^2` of explicit matrices become the matrix they equal."""
    import sympy as sp

    if isinstance(value, sp.Pow) and isinstance(value.base, sp.MatrixBase):
        exponent = value.exp
        if exponent.is_Integer and abs(int(exponent)) <= _MAX_MATRIX_POWER:
            return value.base ** int(exponent)
        return value
    if isinstance(value, sp.MatrixExpr) and not isinstance(value, sp.MatrixBase):
        done = value.doit()
        return done.as_explicit() if isinstance(done, sp.MatrixExpr) and done.is_Matrix is not False else done
    return value


def _real_odd_roots(value: Any) -> Any:
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


def _places(text: str) -> int | None:
    found = [len(m) for m in re.findall(r"\d\.(\d+)", text)]
    return max(found) if found else None


def _check_size(value: Any) -> None:
    import sympy as sp

    if isinstance(value, sp.Basic) and _digits(value) > _MAX_DIGITS:
        raise _LimitExceeded(f"an exact number in the answer has more than {_MAX_DIGITS} digits")


def _digits(expr: Any) -> float:
    """Upper estimate of the decimal digits needed to hold `expr` exactly."""
    import sympy as sp

    if expr.is_Integer:
        bits = int(expr).bit_length()
        return math.log10(abs(int(expr))) if 0 < bits < 1000 else bits * _LOG10_2
    if expr.is_Rational:
        return max(_digits(sp.Integer(expr.p)), _digits(sp.Integer(expr.q)))
    if isinstance(expr, sp.factorial) and expr.args[0].is_number:
        n = _magnitude(expr.args[0])
        return n * (math.log10(n) - math.log10(math.e)) if n > 2 else 1.0
    if expr.is_Pow and expr.exp.is_number:
        base = _digits(expr.base)
        return base * abs(_magnitude(expr.exp)) if base else 0.0
    return sum(_digits(arg) for arg in getattr(expr, "args", ()) if hasattr(arg, "is_Integer"))


def _magnitude(expr: Any) -> float:
    """|expr| as a float, inf when astronomically large; 1 for non-numbers."""
    if expr.is_Number:
        try:
            return abs(float(expr))
        except OverflowError:
            return math.inf
    if not expr.is_number:
        return 1.0
    digits = _digits(expr)
    return 10.0 ** digits if digits < 300 else math.inf


# Comparison of structures.

def _nodes_equal(a: Any, b: Any, rules: Rules) -> bool:
    if isinstance(a, _Leaf) and isinstance(b, _Leaf):
        return _leaves_equal(a, b, rules)
    if isinstance(a, _Seq) and isinstance(b, _Seq):
        return _seqs_equal(a, b, rules)
    if _is_singleton(a) and isinstance(b, _Leaf) or isinstance(a, _Leaf) and _is_singleton(b):
        return _nodes_equal(a.items[0] if isinstance(a, _Bag) else a, b.items[0] if isinstance(b, _Bag) else b, rules)
    if isinstance(a, _Bag) and isinstance(b, _Bag) and {a.kind, b.kind} <= {"set", "list"}:
        return _bags_equal(a, b, rules)
    if isinstance(a, _Bag) and isinstance(b, _Bag) and a.kind == b.kind == "union":
        return _bags_equal(a, b, rules) or _as_sets_equal(a, b)
    if _is_vector_leaf(a) and isinstance(b, _Seq) or isinstance(a, _Seq) and _is_vector_leaf(b):
        xs = list(a.value) if isinstance(a, _Leaf) else list(a.items)
        ys = list(b.value) if isinstance(b, _Leaf) else list(b.items)
        wrap = lambda v: v if isinstance(v, (_Leaf, _Seq, _Bag)) else _Leaf(v, False)
        return len(xs) == len(ys) and all(_nodes_equal(wrap(p), wrap(q), rules) for p, q in zip(xs, ys))
    if _is_ordered_pair(a, b) or _is_ordered_pair(b, a):
        return len(a.items) == len(b.items) and all(
            _nodes_equal(x, y, rules) for x, y in zip(a.items, b.items))
    return _as_sets_equal(a, b)


def _is_singleton(node: Any) -> bool:
    """`\\{3\\}`: a set of one answer is that answer."""
    return isinstance(node, _Bag) and node.kind == "set" and len(node.items) == 1


def _is_vector_leaf(node: Any) -> bool:
    import sympy as sp

    return isinstance(node, _Leaf) and isinstance(node.value, sp.MatrixBase) and 1 in node.value.shape


def _is_ordered_pair(seq: Any, bag: Any) -> bool:
    """A parenthesised tuple against a bare list: `(1, 2)` vs `1, 2`."""
    return isinstance(seq, _Seq) and seq.opener == "(" and isinstance(bag, _Bag) and bag.kind == "list"


def _seqs_equal(a: _Seq, b: _Seq, rules: Rules) -> bool:
    if len(a.items) != len(b.items):
        return False
    if len(a.items) == 2 and (a.opener, a.closer) != (b.opener, b.closer):
        return False  # (1, 2) vs [1, 2]: open vs closed interval
    return all(_nodes_equal(x, y, rules) for x, y in zip(a.items, b.items))


def _bags_equal(a: _Bag, b: _Bag, rules: Rules) -> bool:
    """Set semantics: every item of each side equals some item of the other."""
    return all(any(_nodes_equal(x, y, rules) for y in b.items) for x in a.items) and all(
        any(_nodes_equal(x, y, rules) for x in a.items) for y in b.items)


def _as_sets_equal(a: Any, b: Any) -> bool:
    set_a = _as_sympy_set(a)
    return set_a is not None and _sympy_sets_equal(set_a, _as_sympy_set(b))


def _as_sympy_set(node: Any) -> Any:
    """A sympy Set for intervals, unions, finite sets and one-variable inequalities."""
    import sympy as sp

    if isinstance(node, _Seq):
        if len(node.items) != 2 or not all(isinstance(i, _Leaf) for i in node.items):
            return None
        low, high = (item.value for item in node.items)
        interval = sp.Interval(low, high, node.opener == "(", node.closer == ")")
        return None if interval is sp.S.EmptySet else interval  # (2, 1) is a tuple, not {}
    if isinstance(node, _Bag):
        if node.kind == "list" and all(isinstance(i, _Leaf) and _is_set_like(i.value) for i in node.items):
            parts = [_value_as_set(i.value) for i in node.items]  # `x < 1 or x > 2`
            return None if any(p is None for p in parts) else sp.Union(*parts)
        combined = node.kind in ("union", "intersection")
        parts = [_as_sympy_set(i) if combined else _leaf_value(i) for i in node.items]
        if any(p is None for p in parts):
            return None
        if node.kind == "intersection":
            return sp.Intersection(*parts)
        return sp.Union(*parts) if node.kind == "union" else sp.FiniteSet(*parts)
    return _value_as_set(node.value) if not node.percent else None


def _leaf_value(node: Any) -> Any:
    return node.value if isinstance(node, _Leaf) and not node.percent else None


# Comparison of parsed values.

def _leaves_equal(a: _Leaf, b: _Leaf, rules: Rules) -> bool:
    if a.percent and b.percent:  # 50% vs 0.5%: compare like with like
        return _values_equal(a.value, b.value, replace(rules, ref_places=b.places, answer_places=a.places))
    return any(_values_equal(x, y, replace(rules, ref_places=y_places, answer_places=x_places))
               for x, x_places in _readings(a, rules) for y, y_places in _readings(b, rules))


def _readings(leaf: _Leaf, rules: Rules) -> list[tuple[Any, int | None]]:
    """(value, decimal places) a leaf may mean: `50\\%` is 1/2 (two more places), and also
    50 under percent="both"."""
    import sympy as sp

    if not leaf.percent:
        return [(leaf.value, leaf.places)]
    value = leaf.value
    if isinstance(value, sp.Equality):
        scaled = sp.Eq(value.lhs, value.rhs * sp.Rational(1, 100), evaluate=False)
    else:
        scaled = value * sp.Rational(1, 100)
    scaled_places = None if leaf.places is None else leaf.places + 2
    return [(scaled, scaled_places), (value, leaf.places)] if rules.percent == "both" else [(scaled, scaled_places)]


def _values_equal(x: Any, y: Any, rules: Rules) -> bool:
    import sympy as sp

    if isinstance(x, sp.logic.boolalg.BooleanAtom) or isinstance(y, sp.logic.boolalg.BooleanAtom):
        return False
    if isinstance(x, sp.Equality) or isinstance(y, sp.Equality):
        return _equations_equal(x, y, rules)
    if _is_inequality(x) and _is_inequality(y):
        return _inequalities_equal(x, y)
    if _is_set_like(x) or _is_set_like(y):
        return _sympy_sets_equal(_value_as_set(x), _value_as_set(y))
    if isinstance(x, sp.MatrixBase) or isinstance(y, sp.MatrixBase):
        return _matrices_equal(x, y, rules)
    if isinstance(x, sp.Expr) and isinstance(y, sp.Expr):
        return _exprs_equal(x, y, rules)
    return x == y


def _equations_equal(x: Any, y: Any, rules: Rules) -> bool:
    """Equations match up to a nonzero constant factor; `v = value` matches `value`."""
    import sympy as sp

    if not isinstance(y, sp.Equality):
        value = _assigned_value(x)
        return value is not None and _values_equal(value, y, rules)
    if not isinstance(x, sp.Equality):
        value = _assigned_value(y)
        return value is not None and _values_equal(x, value, rules)
    sides = (x.lhs, x.rhs, y.lhs, y.rhs)
    if not all(isinstance(s, sp.Expr) for s in sides):
        return x == y
    return _proportional(_exact(x.lhs - x.rhs), _exact(y.lhs - y.rhs), positive=False)


def _assigned_value(equation: Any) -> Any:
    """The right side of an equation of numbers (`6 \\cdot 4 = 24`), or the value of `name = value`
    (either way round), or None when it is not an assignment.

    A name is a symbol, an applied function `f(x)`, or a product of symbols
    read from a name like `PQ`; it must not occur in the value.
    """
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if not equation.free_symbols and all(isinstance(side, sp.Expr) for side in equation.args):
        return equation.rhs  # `6 \\cdot 4 = 24` (and `2 + 2 = 5`: a chain answers with its last side)
    for name, value in ((equation.lhs, equation.rhs), (equation.rhs, equation.lhs)):
        if not _is_name(name) or value.has(name):
            continue
        if isinstance(name, AppliedUndef) or not (name.free_symbols & value.free_symbols):
            return value
    return None


def _is_name(expr: Any) -> bool:
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if isinstance(expr, (sp.Symbol, AppliedUndef)):
        return True
    if isinstance(expr, sp.Pow) and expr.exp == -1 and isinstance(expr.base, AppliedUndef):
        return True  # `f^{-1}(x)`, an inverse function's name
    return isinstance(expr, sp.Mul) and all(isinstance(f, sp.Symbol) for f in expr.args)


def _proportional(d1: Any, d2: Any, positive: bool) -> bool:
    """d1 = c * d2 for a constant c (> 0 if `positive`); both must involve a variable."""
    import sympy as sp

    if not (d1.free_symbols and d2.free_symbols) or _is_zero(d1) or _is_zero(d2):
        return False  # `0 = 0`, `1 = 2` and `x = x` equal nothing
    samples = _sample_values(d1 / d2)
    if len(samples) >= 2 and abs(samples[0] - samples[1]) > sp.Float("1e-9") * (1 + abs(samples[0])):
        return False  # the ratio is not constant
    ratio = sp.cancel(d1 / d2)
    if ratio.free_symbols:
        ratio = sp.simplify(ratio)
    if ratio.free_symbols or ratio.is_finite is not True or ratio.is_zero is not False:
        return False
    return ratio.is_positive is True if positive else True


def _is_inequality(value: Any) -> bool:
    import sympy as sp

    return isinstance(value, sp.core.relational.Relational) and value.rel_op in ("<", "<=", ">", ">=")


def _inequalities_equal(x: Any, y: Any) -> bool:
    if (x.rel_op in ("<", ">")) != (y.rel_op in ("<", ">")):
        return False
    return _proportional(_exact(x.gts - x.lts), _exact(y.gts - y.lts), positive=True)


def _is_set_like(value: Any) -> bool:
    import sympy as sp

    return isinstance(value, (sp.Set, sp.And, sp.Or, sp.Ne)) or _is_inequality(value)


def _value_as_set(value: Any) -> Any:
    import sympy as sp

    if isinstance(value, sp.Set):
        return value
    if _is_set_like(value) and len(value.free_symbols) == 1:
        direct = _linear_relation_set(value)
        if direct is not None:
            return direct
        try:
            return value.as_set()
        except (NotImplementedError, ValueError, TypeError):
            return None  # e.g. periodic solutions: not comparable as an interval
    return None


def _linear_relation_set(value: Any) -> Any:
    """The solution set of relations linear in their one variable (`x > 4`, `-3 \\le t \\le 5`,
    `-y > -3`), built directly; None for anything else (then sympy's solver decides)."""
    import sympy as sp

    if isinstance(value, (sp.And, sp.Or)):
        parts = [_linear_relation_set(arg) for arg in value.args]
        if any(p is None for p in parts):
            return None
        return sp.Intersection(*parts) if isinstance(value, sp.And) else sp.Union(*parts)
    if not isinstance(value, sp.core.relational.Relational):
        return None
    (symbol,) = value.free_symbols
    difference = sp.expand(value.lhs - value.rhs)
    slope = difference.coeff(symbol)
    rest = sp.expand(difference - slope * symbol)
    if rest.has(symbol) or not slope.is_number or not slope.is_extended_real or slope == 0 \
            or not rest.is_number or not rest.is_extended_real:
        return None
    return _one_sided(value.rel_op, -rest / slope, flipped=bool(slope < 0))


def _one_sided(op: str, point: Any, flipped: bool) -> Any:
    """The set of t with `t op point` (`op` reversed when the relation was divided by a negative)."""
    import sympy as sp

    if flipped:
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
    if op in ("<", "<="):
        return sp.Interval(-sp.oo, point, True, op == "<")
    if op in (">", ">="):
        return sp.Interval(point, sp.oo, op == ">", True)
    if op == "==":
        return sp.FiniteSet(point)
    return sp.Union(sp.Interval.open(-sp.oo, point), sp.Interval.open(point, sp.oo)) if op == "!=" else None


def _sympy_sets_equal(a: Any, b: Any) -> bool:
    import sympy as sp

    if a is None or b is None:
        return False
    if a == b:
        return True
    return sp.Complement(a, b) == sp.S.EmptySet and sp.Complement(b, a) == sp.S.EmptySet


def _matrices_equal(x: Any, y: Any, rules: Rules) -> bool:
    import sympy as sp

    if not (isinstance(x, sp.MatrixBase) and isinstance(y, sp.MatrixBase)) or x.shape != y.shape:
        return False
    return all(_values_equal(p, q, rules) for p, q in zip(x, y))


def _exprs_equal(x: Any, y: Any, rules: Rules) -> bool:
    """`x` is the answer's value, `y` the reference's (tolerance depends on the reference)."""
    import sympy as sp

    x, y = _imaginary_unit(x), _imaginary_unit(y)
    if x == y:
        return True
    if x.free_symbols or y.free_symbols:
        return _is_zero(_exact(x) - _exact(y))
    if y.has(sp.Float):
        return _close_to_decimal_reference(x, y, rules)
    if x.has(sp.Float) and rules.rel_tol is not None:
        return _close(x, y, rules.rel_tol)
    if x.has(sp.Float) and _numbers_equal(_exact(x), y):
        return True
    if x.has(sp.Float):
        return _rounds_exact_value(x, y, rules.answer_places)
    return _numbers_equal(x, y)


def _rounds_exact_value(x: Any, y: Any, places: int | None) -> bool:
    """A decimal answer with two or more places matches an exact reference it rounds:
    `0.33` is 1/3 rounded to two places, `0.14285714285714` is 1/7 to fourteen; a
    truncation (`0.1428`) or fewer than two places (`0.3`) does not."""
    import sympy as sp

    if places is None or places < 2 or not (x.is_Float or (-x).is_Float):
        return False
    difference = sp.N(_exact(x) - y, 30, maxn=_NUMERIC_DIGITS)
    return bool(difference.is_comparable and abs(difference) <= sp.Rational(1, 2) * sp.Rational(1, 10) ** places
                * (1 + sp.Rational(1, 10**9)))


def _close_to_decimal_reference(x: Any, y: Any, rules: Rules) -> bool:
    """A decimal reference is a rounded value: within `rel_tol` (default 1e-4), or, when
    it has two or more decimal places, within half a unit of its last place."""
    import sympy as sp

    if rules.answer_places is not None and rules.ref_places is not None and rules.answer_places < rules.ref_places:
        return _is_zero(_exact(x) - _exact(y))  # 33.33 is not 33.333: fewer digits than asked for
    if _close(x, y, 1e-4 if rules.rel_tol is None else rules.rel_tol):
        return True
    if rules.ref_places is None or rules.ref_places < 2:
        return False
    difference = sp.N(x - _exact(y), 30)
    return bool(difference.is_finite and abs(difference) <= sp.Rational(1, 2) * sp.Rational(1, 10) ** rules.ref_places
                * (1 + sp.Rational(1, 10**9)))


_NUMERIC_DIGITS = 1000
"""Working precision (digits) up to which a difference of exact numbers is evaluated."""


def _numbers_equal(x: Any, y: Any) -> bool:
    """Exact numbers (no variables), numerically first, symbolically only to confirm.

    The difference is evaluated with adaptive precision (mpmath, up to
    `_NUMERIC_DIGITS` digits of working precision, so cancellation is seen): a
    difference with 30 accurate nonzero digits is unequal at once. One that
    stays zero is confirmed: an algebraic difference (radicals only) must have
    minimal polynomial `t`, an exact proof that also rejects values equal to
    a thousand digits but not exactly; any other (`10^{\\sqrt7/4}`, `\\pi`,
    logarithms) is accepted as zero to that precision, since simplify can take
    longer than any time limit on nested powers."""
    import sympy as sp

    difference = x - y
    if difference == 0:
        return True
    if difference.is_Rational:
        return False
    if _numerically_nonzero(difference):
        return False
    if not _is_algebraic(difference):
        return True  # zero to 1000 digits; sympy has no cheaper proof for these
    try:
        return sp.minimal_polynomial(difference, sp.Dummy("t")).is_Symbol
    except (sp.polys.polyerrors.NotAlgebraic, NotImplementedError, ValueError, sp.polys.polyerrors.PolynomialError):
        return True  # zero to 1000 digits, and sympy cannot say otherwise


def _numerically_nonzero(difference: Any) -> bool:
    """Whether 30 accurate digits of `difference` can be computed and are not all zero."""
    from sympy.core.evalf import PrecisionExhausted

    import sympy as sp

    digits = _NUMERIC_DIGITS if not difference.has(sp.Integral, sp.Sum, sp.Product) else 60  # quadrature is slow
    try:
        value = difference.evalf(30, maxn=digits, strict=True)
    except PrecisionExhausted:
        return False  # zero to the working precision
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
        return False  # not a plain number (undefined, complex infinity): left to the symbolic check
    return bool(value.is_number and value != 0)


def _is_algebraic(expr: Any) -> bool:
    """Built from rationals, `i` and rational powers only (no pi, e, logs, trig, irrational exponents)."""
    import sympy as sp

    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and not node.exp.is_Rational:
            return False
        if isinstance(node, (sp.Function, sp.NumberSymbol)) or node in (sp.E, sp.pi):
            return False
        if node.is_Atom and not (node.is_Rational or node is sp.I):
            return False
    return True


def _imaginary_unit(expr: Any) -> Any:
    """Read a lone symbol `i` as the imaginary unit (`3 + 2i`)."""
    import sympy as sp

    symbols = expr.free_symbols
    if symbols and all(s.name == "i" for s in symbols):
        return expr.subs({s: sp.I for s in symbols})
    return expr


def _exact(expr: Any) -> Any:
    """Replace decimal literals by the exact rationals they spell."""
    import sympy as sp

    return expr.xreplace({f: sp.Rational(str(f)) for f in expr.atoms(sp.Float)})


def _is_zero(expr: Any) -> bool:
    """A proof that `expr` is 0: structurally, by expansion, by cheap rewrites (a common
    denominator; trigonometric and hyperbolic functions as exponentials), or by `simplify`.

    Sample points only ever reject: when `expr` is clearly nonzero at an exact
    rational point, the rewrites and simplify (the slow step) are skipped.
    """
    import sympy as sp
    from sympy.functions.elementary.hyperbolic import HyperbolicFunction
    from sympy.functions.elementary.trigonometric import TrigonometricFunction

    if expr == 0 or expr.is_zero is True:
        return True
    if expr.is_Rational or _clearly_nonzero(expr):
        return False
    if sp.expand(expr) == 0 or sp.cancel(sp.together(expr)) == 0:
        return True
    if expr.has(TrigonometricFunction, HyperbolicFunction) and sp.expand(expr.rewrite(sp.exp)) == 0:
        return True
    return sp.simplify(expr) == 0


_SAMPLES = ("7/13", "11/17", "5/19")


def _sample_values(expr: Any) -> list[Any]:
    """`expr` evaluated at a few exact rational points (30 digits, complex values kept); non-finite
    values are skipped."""
    import sympy as sp

    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    values = []
    for k, sample in enumerate(_SAMPLES):
        point = {symbol: sp.Rational(sample) + sp.Rational(j + k, 3) for j, symbol in enumerate(symbols)}
        try:
            value = sp.N(expr.xreplace(point), 30)
        except (TypeError, ValueError, ZeroDivisionError, AttributeError, NotImplementedError):
            continue
        if value.is_number and value.is_finite and abs(value).is_comparable:  # complex values reject too
            values.append(value)
        if not symbols:
            break
    return values


def _clearly_nonzero(expr: Any) -> bool:
    import sympy as sp

    for value in _sample_values(expr):
        size = abs(value)
        scale = 1 + max((abs(sp.N(term, 15)) for term in sp.Add.make_args(expr) if not term.free_symbols),
                        default=sp.Integer(0))
        if size.is_comparable and size > sp.Float("1e-9") * scale:
            return True
    return False


def _close(x: Any, y: Any, rel_tol: float) -> bool:
    """|x - y| <= rel_tol * max(|x|, |y|) at 30 digits; arbitrary exponent range."""
    import sympy as sp

    vx, vy = sp.N(x, 30), sp.N(y, 30)
    if not (vx.is_finite and vy.is_finite):
        return vx == vy
    scale = sp.Max(abs(vx), abs(vy))
    if scale == 0:
        return True
    return bool(abs(vx - vy) <= rel_tol * scale)
