"""Relations read as sets: `x > 4` is the interval (4, oo), `-3 \\le t \\le 5` is [-3, 5].

What it is: solution sets of one-variable relations (built directly when
linear, else by sympy's solver) and the equality of sympy sets, so that an
interval, a union, or inequalities with the same solution set compare equal.

What it is not: parsing or the comparison's dispatch
(`reasoner.verifiers._math_compare`). It runs in the verifier's worker
processes; sympy is imported lazily.
"""

from __future__ import annotations

from typing import Any

from reasoner.verifiers import _math_numbers as numbers

def is_inequality(value: Any) -> bool:
    import sympy as sp

    return isinstance(value, sp.core.relational.Relational) and value.rel_op in ("<", "<=", ">", ">=")


def inequalities_equal(x: Any, y: Any) -> bool:
    if (x.rel_op in ("<", ">")) != (y.rel_op in ("<", ">")):
        return False
    return numbers.proportional(numbers.exact(x.gts - x.lts), numbers.exact(y.gts - y.lts), positive=True)


def is_set_like(value: Any) -> bool:
    import sympy as sp

    return isinstance(value, (sp.Set, sp.And, sp.Or, sp.Ne)) or is_inequality(value)


def value_as_set(value: Any) -> Any:
    import sympy as sp

    if isinstance(value, sp.Set):
        return value
    if is_set_like(value) and len(value.free_symbols) == 1:
        direct = linear_relation_set(value)
        if direct is not None:
            return direct
        try:
            return value.as_set()
        except (NotImplementedError, ValueError, TypeError):
            return None  # e.g. periodic solutions: not comparable as an interval
    return None


def linear_relation_set(value: Any) -> Any:
    """The solution set of relations linear in their one variable (`x > 4`, `-3 \\le t \\le 5`,
    `-y > -3`), built directly; None for anything else (then sympy's solver decides)."""
    import sympy as sp

    if isinstance(value, (sp.And, sp.Or)):
        parts = [linear_relation_set(arg) for arg in value.args]
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
    return one_sided(value.rel_op, -rest / slope, flipped=bool(slope < 0))


def one_sided(op: str, point: Any, flipped: bool) -> Any:
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


def sympy_sets_equal(a: Any, b: Any) -> bool:
    import sympy as sp

    if a is None or b is None:
        return False
    if a == b:
        return True
    return sp.Complement(a, b) == sp.S.EmptySet and sp.Complement(b, a) == sp.S.EmptySet
