"""Worker side of the math verifier: compare two normalised answers.

What it is: the code that runs inside `MathVerifier`'s worker subprocesses
(`reasoner.verifiers._math_workers`). `init_worker` prepares a worker (memory
limit, warm-up) and `compare_task` turns two normalised answers into an
`Outcome`: both are parsed into structures (`reasoner.verifiers._math_structure`:
tuples, intervals, sets, unions, leaves), and the structures are compared by
the rules documented in `reasoner.verifiers.math`, with numbers and expressions
decided in `reasoner.verifiers._math_numbers` and relations read as sets in
`reasoner.verifiers._math_sets`. Both entry points are module-level functions so
that workers can call them by name; `Rules` and `Outcome` cross the process
boundary by pickle.

What it is not: the public API, answer extraction or normalisation (all in
`reasoner.verifiers.math`), or anything that runs in the calling process. sympy is
imported lazily, inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

from reasoner.verifiers import _math_numbers as numbers
from reasoner.verifiers import _math_sets as sets
from reasoner.verifiers import _math_structure as structure

PercentRule = Literal["both", "strict"]
"""How `50\\%` reads: "both" as 0.5 or 50, "strict" only as 0.5."""


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
            right = structure.structure(reference)
        except structure.ParseFailure as exc:
            return Outcome("bad_reference", f"reference does not parse: {exc}")
        try:
            left = structure.structure(answer)
        except structure.ParseFailure as exc:
            return Outcome("bad_answer", f"answer does not parse: {exc}")
        same = _nodes_equal(left, right, rules)
    except structure.RESOURCE_ERRORS as exc:
        return Outcome("limit", f"resource limit: {structure.describe(exc)}")
    except Exception as exc:  # both sides parsed; sympy gave up comparing them, so nothing was shown equal
        return Outcome("unequal", f"not shown equal: sympy failed while comparing ({structure.describe(exc)})")
    return Outcome("equal", "equivalent") if same else Outcome("unequal", "not equivalent")


def reference_task(reference: str) -> Outcome:
    """Worker entry point: whether a normalised reference parses (`equal` means it does)."""
    try:
        structure.structure(reference)
    except structure.ParseFailure as exc:
        return Outcome("bad_reference", f"reference does not parse: {exc}")
    except structure.RESOURCE_ERRORS as exc:
        return Outcome("bad_reference", f"reference too large: {structure.describe(exc)}")
    except Exception as exc:  # sympy raises many types; reported as an error, never as "unequal"
        return Outcome("error", f"sympy failed on the reference: {structure.describe(exc)}")
    return Outcome("equal", "reference parses")


# Comparison of structures.


def _nodes_equal(a: Any, b: Any, rules: Rules) -> bool:
    if isinstance(a, structure.Leaf) and isinstance(b, structure.Leaf):
        return _leaves_equal(a, b, rules)
    if isinstance(a, structure.Seq) and isinstance(b, structure.Seq):
        return _seqs_equal(a, b, rules)
    if _is_singleton(a) and isinstance(b, structure.Leaf) or isinstance(a, structure.Leaf) and _is_singleton(b):
        return _nodes_equal(a.items[0] if isinstance(a, structure.Bag) else a, b.items[0] if isinstance(b, structure.Bag) else b, rules)
    if isinstance(a, structure.Bag) and isinstance(b, structure.Bag) and {a.kind, b.kind} <= {"set", "list"}:
        return _bags_equal(a, b, rules)
    if isinstance(a, structure.Bag) and isinstance(b, structure.Bag) and a.kind == b.kind == "union":
        return _bags_equal(a, b, rules) or _as_sets_equal(a, b)
    if _is_vector_leaf(a) and isinstance(b, structure.Seq) or isinstance(a, structure.Seq) and _is_vector_leaf(b):
        xs = list(a.value) if isinstance(a, structure.Leaf) else list(a.items)
        ys = list(b.value) if isinstance(b, structure.Leaf) else list(b.items)
        wrap = lambda v: v if isinstance(v, (structure.Leaf, structure.Seq, structure.Bag)) else structure.Leaf(v, False)
        return len(xs) == len(ys) and all(_nodes_equal(wrap(p), wrap(q), rules) for p, q in zip(xs, ys))
    if _is_ordered_pair(a, b) or _is_ordered_pair(b, a):
        return len(a.items) == len(b.items) and all(
            _nodes_equal(x, y, rules) for x, y in zip(a.items, b.items))
    return _as_sets_equal(a, b)


def _is_singleton(node: Any) -> bool:
    """`\\{3\\}`: a set of one answer is that answer."""
    return isinstance(node, structure.Bag) and node.kind == "set" and len(node.items) == 1


def _is_vector_leaf(node: Any) -> bool:
    import sympy as sp

    return isinstance(node, structure.Leaf) and isinstance(node.value, sp.MatrixBase) and 1 in node.value.shape


def _is_ordered_pair(seq: Any, bag: Any) -> bool:
    """A parenthesised tuple against a bare list: `(1, 2)` vs `1, 2`."""
    return isinstance(seq, structure.Seq) and seq.opener == "(" and isinstance(bag, structure.Bag) and bag.kind == "list"


def _seqs_equal(a: structure.Seq, b: structure.Seq, rules: Rules) -> bool:
    if len(a.items) != len(b.items):
        return False
    if len(a.items) == 2 and (a.opener, a.closer) != (b.opener, b.closer):
        return False  # (1, 2) vs [1, 2]: open vs closed interval
    return all(_nodes_equal(x, y, rules) for x, y in zip(a.items, b.items))


def _bags_equal(a: structure.Bag, b: structure.Bag, rules: Rules) -> bool:
    """Set semantics: every item of each side equals some item of the other."""
    return all(any(_nodes_equal(x, y, rules) for y in b.items) for x in a.items) and all(
        any(_nodes_equal(x, y, rules) for x in a.items) for y in b.items)


def _as_sets_equal(a: Any, b: Any) -> bool:
    set_a = _as_sympy_set(a)
    return set_a is not None and sets.sympy_sets_equal(set_a, _as_sympy_set(b))


def _as_sympy_set(node: Any) -> Any:
    """A sympy Set for intervals, unions, finite sets and one-variable inequalities."""
    import sympy as sp

    if isinstance(node, structure.Seq):
        if len(node.items) != 2 or not all(isinstance(i, structure.Leaf) for i in node.items):
            return None
        low, high = (item.value for item in node.items)
        interval = sp.Interval(low, high, node.opener == "(", node.closer == ")")
        return None if interval is sp.S.EmptySet else interval  # (2, 1) is a tuple, not {}
    if isinstance(node, structure.Bag):
        if node.kind == "list" and all(isinstance(i, structure.Leaf) and sets.is_set_like(i.value) for i in node.items):
            parts = [sets.value_as_set(i.value) for i in node.items]  # `x < 1 or x > 2`
            return None if any(p is None for p in parts) else sp.Union(*parts)
        combined = node.kind in ("union", "intersection")
        parts = [_as_sympy_set(i) if combined else _leaf_value(i) for i in node.items]
        if any(p is None for p in parts):
            return None
        if node.kind == "intersection":
            return sp.Intersection(*parts)
        return sp.Union(*parts) if node.kind == "union" else sp.FiniteSet(*parts)
    return sets.value_as_set(node.value) if not node.percent else None


def _leaf_value(node: Any) -> Any:
    return node.value if isinstance(node, structure.Leaf) and not node.percent else None


# Comparison of parsed values.


def _leaves_equal(a: structure.Leaf, b: structure.Leaf, rules: Rules) -> bool:
    if a.percent and b.percent:  # 50% vs 0.5%: compare like with like
        return _values_equal(a.value, b.value, replace(rules, ref_places=b.places, answer_places=a.places))
    return any(_values_equal(x, y, replace(rules, ref_places=y_places, answer_places=x_places))
               for x, x_places in _readings(a, rules) for y, y_places in _readings(b, rules))


def _readings(leaf: structure.Leaf, rules: Rules) -> list[tuple[Any, int | None]]:
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
    if sets.is_inequality(x) and sets.is_inequality(y):
        return sets.inequalities_equal(x, y)
    if sets.is_set_like(x) or sets.is_set_like(y):
        return sets.sympy_sets_equal(sets.value_as_set(x), sets.value_as_set(y))
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
    return numbers.proportional(numbers.exact(x.lhs - x.rhs), numbers.exact(y.lhs - y.rhs), positive=False)


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
        if not structure.is_name(name) or value.has(name):
            continue
        if isinstance(name, AppliedUndef) or not (name.free_symbols & value.free_symbols):
            return value
    return None




def _matrices_equal(x: Any, y: Any, rules: Rules) -> bool:
    import sympy as sp

    if not (isinstance(x, sp.MatrixBase) and isinstance(y, sp.MatrixBase)) or x.shape != y.shape:
        return False
    return all(_values_equal(p, q, rules) for p, q in zip(x, y))


def _exprs_equal(x: Any, y: Any, rules: Rules) -> bool:
    """`x` is the answer's value, `y` the reference's (tolerance depends on the reference)."""
    import sympy as sp

    x, y = numbers.imaginary_unit(x), numbers.imaginary_unit(y)
    if x == y:
        return True
    if x.free_symbols or y.free_symbols:
        return numbers.is_zero(numbers.exact(x) - numbers.exact(y))
    if y.has(sp.Float):
        return numbers.close_to_decimal_reference(x, y, rules)
    if x.has(sp.Float) and rules.rel_tol is not None:
        return numbers.close(x, y, rules.rel_tol)
    if x.has(sp.Float) and numbers.numbers_equal(numbers.exact(x), y):
        return True
    if x.has(sp.Float):
        return numbers.rounds_exact_value(x, y, rules.answer_places)
    return numbers.numbers_equal(x, y)
