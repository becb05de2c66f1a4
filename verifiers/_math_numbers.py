"""Whether two sympy numbers or expressions are equal, numerically first.

What it is: the equality tests the comparison uses for values: exact numbers
(mpmath at adaptive precision first; a minimal polynomial or acceptance at a
thousand digits to confirm), decimals against exact or decimal references
(the rounding rules of `reasoner.verifiers.math`), expressions with symbols
(rejected at sample points, proved by expansion, cheap rewrites or
`simplify`), and equations or inequalities up to a constant factor.

What it is not: parsing (`reasoner.verifiers._math_structure`) or the dispatch
over structures (`reasoner.verifiers._math_compare`). It runs in the verifier's
worker processes; sympy is imported lazily.
"""

from __future__ import annotations

from typing import Any

def proportional(d1: Any, d2: Any, positive: bool) -> bool:
    """d1 = c * d2 for a constant c (> 0 if `positive`); both must involve a variable."""
    import sympy as sp

    if not (d1.free_symbols and d2.free_symbols) or is_zero(d1) or is_zero(d2):
        return False  # `0 = 0`, `1 = 2` and `x = x` equal nothing
    samples = sample_values(d1 / d2)
    if len(samples) >= 2 and abs(samples[0] - samples[1]) > sp.Float("1e-9") * (1 + abs(samples[0])):
        return False  # the ratio is not constant
    ratio = sp.cancel(d1 / d2)
    if ratio.free_symbols:
        ratio = sp.simplify(ratio)
    if ratio.free_symbols or ratio.is_finite is not True or ratio.is_zero is not False:
        return False
    return ratio.is_positive is True if positive else True


def rounds_exact_value(x: Any, y: Any, places: int | None) -> bool:
    """A decimal answer with two or more places matches an exact reference it rounds:
    `0.33` is 1/3 rounded to two places, `0.14285714285714` is 1/7 to fourteen; a
    truncation (`0.1428`) or fewer than two places (`0.3`) does not."""
    import sympy as sp

    if places is None or places < 2 or not (x.is_Float or (-x).is_Float):
        return False
    difference = sp.N(exact(x) - y, 30, maxn=NUMERIC_DIGITS)
    return bool(difference.is_comparable and abs(difference) <= sp.Rational(1, 2) * sp.Rational(1, 10) ** places
                * (1 + sp.Rational(1, 10**9)))


def close_to_decimal_reference(x: Any, y: Any, rules: Any) -> bool:
    """A decimal reference is a rounded value: within `rel_tol` (default 1e-4), or, when
    it has two or more decimal places, within half a unit of its last place."""
    import sympy as sp

    if rules.answer_places is not None and rules.ref_places is not None and rules.answer_places < rules.ref_places:
        return is_zero(exact(x) - exact(y))  # 33.33 is not 33.333: fewer digits than asked for
    if close(x, y, 1e-4 if rules.rel_tol is None else rules.rel_tol):
        return True
    if rules.ref_places is None or rules.ref_places < 2:
        return False
    difference = sp.N(x - exact(y), 30)
    return bool(difference.is_finite and abs(difference) <= sp.Rational(1, 2) * sp.Rational(1, 10) ** rules.ref_places
                * (1 + sp.Rational(1, 10**9)))


NUMERIC_DIGITS = 1000
"""Working precision (digits) up to which a difference of exact numbers is evaluated."""


def numbers_equal(x: Any, y: Any) -> bool:
    """Exact numbers (no variables), numerically first, symbolically only to confirm.

    The difference is evaluated with adaptive precision (mpmath, up to
    `NUMERIC_DIGITS` digits of working precision, so cancellation is seen): a
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
    if numerically_nonzero(difference):
        return False
    if not is_algebraic(difference):
        return True  # zero to 1000 digits; sympy has no cheaper proof for these
    try:
        return sp.minimal_polynomial(difference, sp.Dummy("t")).is_Symbol
    except (sp.polys.polyerrors.NotAlgebraic, NotImplementedError, ValueError, sp.polys.polyerrors.PolynomialError):
        return True  # zero to 1000 digits, and sympy cannot say otherwise


def numerically_nonzero(difference: Any) -> bool:
    """Whether 30 accurate digits of `difference` can be computed and are not all zero."""
    from sympy.core.evalf import PrecisionExhausted

    import sympy as sp

    digits = NUMERIC_DIGITS if not difference.has(sp.Integral, sp.Sum, sp.Product) else 60  # quadrature is slow
    try:
        value = difference.evalf(30, maxn=digits, strict=True)
    except PrecisionExhausted:
        return False  # zero to the working precision
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
        return False  # not a plain number (undefined, complex infinity): left to the symbolic check
    return bool(value.is_number and value != 0)


def is_algebraic(expr: Any) -> bool:
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


def imaginary_unit(expr: Any) -> Any:
    """Read a lone symbol `i` as the imaginary unit (`3 + 2i`)."""
    import sympy as sp

    symbols = expr.free_symbols
    if symbols and all(s.name == "i" for s in symbols):
        return expr.subs({s: sp.I for s in symbols})
    return expr


def exact(expr: Any) -> Any:
    """Replace decimal literals by the exact rationals they spell."""
    import sympy as sp

    return expr.xreplace({f: sp.Rational(str(f)) for f in expr.atoms(sp.Float)})


def is_zero(expr: Any) -> bool:
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
    if expr.is_Rational or clearly_nonzero(expr):
        return False
    if sp.expand(expr) == 0 or sp.cancel(sp.together(expr)) == 0:
        return True
    if expr.has(TrigonometricFunction, HyperbolicFunction) and sp.expand(expr.rewrite(sp.exp)) == 0:
        return True
    return sp.simplify(expr) == 0


SAMPLES = ("7/13", "11/17", "5/19")


def sample_values(expr: Any) -> list[Any]:
    """`expr` evaluated at a few exact rational points (30 digits, complex values kept); non-finite
    values are skipped."""
    import sympy as sp

    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    values = []
    for k, sample in enumerate(SAMPLES):
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


def clearly_nonzero(expr: Any) -> bool:
    import sympy as sp

    for value in sample_values(expr):
        size = abs(value)
        scale = 1 + max((abs(sp.N(term, 15)) for term in sp.Add.make_args(expr) if not term.free_symbols),
                        default=sp.Integer(0))
        if size.is_comparable and size > sp.Float("1e-9") * scale:
            return True
    return False


def close(x: Any, y: Any, rel_tol: float) -> bool:
    """|x - y| <= rel_tol * max(|x|, |y|) at 30 digits; arbitrary exponent range."""
    import sympy as sp

    vx, vy = sp.N(x, 30), sp.N(y, 30)
    if not (vx.is_finite and vy.is_finite):
        return vx == vy
    scale = sp.Max(abs(vx), abs(vy))
    if scale == 0:
        return True
    return bool(abs(vx - vy) <= rel_tol * scale)
