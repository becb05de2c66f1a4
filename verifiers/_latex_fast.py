"""A small, fast parser for the LaTeX most final answers are written in.

What it is: a tokenizer and recursive-descent parser for numbers, single-letter
variables and Greek letters, ``e``, ``+ - * /``, ``\\cdot``, ``\\times``,
``\\div``, implicit multiplication, ``^`` with a braced or one-character
exponent, ``\\frac``, ``\\sqrt`` (with an optional index), mixed numbers
(``3\\frac12``), factorials of numbers (``5!``), ``\\pi``, ``\\infty``, ``|x|``, ``\\binom``, the common
functions (``\\sin``, ``\\cos``, ``\\tan``, ``\\cot``, ``\\sec``, ``\\csc``,
``\\ln``, ``\\log``, ``\\log_b``, ``\\exp``, with ``\\sin^2``), matrices
(``pmatrix``, ``bmatrix``, ``matrix``, ``array``; ``vmatrix`` is a
determinant) with their arithmetic, brackets, and one relation or a chain of
inequalities (``-3 \\le t < 5``). It builds sympy objects directly (never
`eval`, never `sympify` of text) and gives the same values
`latex2sympy2_extended` gives for this subset (a test checks each form),
about a hundred times faster than its ANTLR grammar.

What it is not: a LaTeX parser. Anything outside the subset (subscripts,
factorials of expressions, sets, function calls ``f(x)``, ``\\sin^{-1}``, arguments whose
extent is ambiguous, large exponents or numbers) returns None, and the caller
falls back to `latex2sympy2_extended`.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([a-zA-Z])|\\begin\{(\w+)\}(?:\{[lcr|]*\})?|\\end\{(\w+)\}|"
                    r"(\\\\)|(\\[a-zA-Z]+)|([-+*/^(){}\[\]=<>|&_!]))")
_MAX_DIGITS = 50
_MAX_EXPONENT = 64
_MAX_BINOMIAL = 1000
_TIMES = {"*", "\\cdot", "\\times"}
_FUNCTIONS = {"\\sin": "sin", "\\cos": "cos", "\\tan": "tan", "\\cot": "cot", "\\sec": "sec", "\\csc": "csc",
              "\\ln": "log", "\\exp": "exp", "\\log": "log"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"}
_MATRICES = {"pmatrix", "bmatrix", "matrix", "array", "vmatrix"}
_ATOM_COMMANDS = {"\\frac", "\\sqrt", "\\pi", "\\infty", "\\binom", "\\begin"} | {f"\\{g}" for g in _GREEK}
_RELATION_NAMES = {"=", "<", ">", "\\lt", "\\gt", "\\le", "\\leq", "\\ge", "\\geq", "\\ne", "\\neq"}
_ENDS_ARGUMENT = {"+", "-", "=", "<", ">", ")", "}", "]", "|", "&", "\\\\"} | _RELATION_NAMES


def _relations() -> dict[str, Any]:
    import sympy as sp

    return {"=": sp.Eq, "<": sp.Lt, ">": sp.Gt, "\\lt": sp.Lt, "\\gt": sp.Gt, "\\le": sp.Le, "\\leq": sp.Le,
            "\\ge": sp.Ge, "\\geq": sp.Ge, "\\ne": sp.Ne, "\\neq": sp.Ne}


class _Unsupported(Exception):
    """The text is outside the subset; the caller falls back to the full parser."""


def parse_simple(text: str) -> Any:
    """The sympy value of `text`, or None when it is outside the subset."""
    tokens = _tokenize(text)
    if tokens is None or not tokens:
        return None
    try:
        parser = _Parser(tokens)
        value = parser.equation()
    except (_Unsupported, TypeError, ValueError, AttributeError, ArithmeticError):
        return None  # outside the subset, or sympy refused to build it (`A = B` of matrices): the full parser decides
    return value if parser.pos == len(tokens) else None


def _tokenize(text: str) -> list[tuple[str, str]] | None:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            return None
        number, letter, begin, end, row_break, command, symbol = found.groups()
        if number is not None:
            tokens.append(("num", number))
        elif letter is not None:
            tokens.append(("letter", letter))
        elif begin is not None or end is not None:
            tokens.append(("begin" if begin else "end", begin or end))
        elif row_break is not None:
            tokens.append(("sym", "\\\\"))
        elif command is not None:
            tokens.append(("cmd", command))
        else:
            tokens.append(("sym", symbol))
        pos = found.end()
    return tokens


def _add(left: Any, right: Any) -> Any:
    return left + right  # python operators: sympy's for numbers, elementwise for matrices


def _times(left: Any, right: Any) -> Any:
    return left * right


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> tuple[str, str] | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise _Unsupported
        self.pos += 1
        return token

    def equation(self) -> Any:
        import sympy as sp

        sides, names = [self.expr()], []
        while (token := self.peek()) is not None and token[1] in _RELATION_NAMES:
            names.append(self.take()[1])
            sides.append(self.expr())
        if not names:
            return sides[0]
        relations = [_relations()[name](a, b, evaluate=False) for name, a, b in zip(names, sides, sides[1:])]
        if len(relations) == 1:
            return relations[0]
        if any(name in ("=", "\\ne", "\\neq") for name in names):
            raise _Unsupported  # only chains of inequalities: `-3 \\le y \\le 4`
        return sp.And(*relations)

    def expr(self) -> Any:
        value = self.term()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.take()
            term = self.term()
            value = _add(value, -term if token[1] == "-" else term)
        return value

    def term(self) -> Any:
        value = self.unary()
        while (token := self.peek()) is not None:
            if token[1] in _TIMES:
                self.take()
                value = _times(value, self.unary())
            elif token[1] in ("/", "\\div"):
                self.take()
                value = _times(value, self._nonzero(self.unary()) ** -1)
            elif self._starts_atom(token):
                value = _times(value, self.power())
            else:
                break
        return value

    def unary(self) -> Any:
        token = self.peek()
        if token is not None and token[1] in ("-", "+"):
            self.take()
            value = self.unary()
            return -value if token[1] == "-" else value
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if self.peek() == ("sym", "^"):
            self.take()
            exponent = self.exponent()
            if exponent.is_Integer and abs(int(exponent)) > _MAX_EXPONENT:
                raise _Unsupported  # leave huge powers to the guarded path
            if self.peek() == ("sym", "^"):
                raise _Unsupported
            if exponent.is_negative and base == 0:
                raise _Unsupported
            return self._power(base, exponent)
        return base

    def _power(self, base: Any, exponent: Any) -> Any:
        import sympy as sp

        if isinstance(base, sp.MatrixBase):
            if not exponent.is_Integer:
                raise _Unsupported
            return base ** int(exponent)
        if base is sp.E:
            return sp.exp(exponent)
        return sp.Pow(base, exponent)

    def exponent(self) -> Any:
        import sympy as sp

        token = self.peek()
        if token == ("sym", "{"):
            return self.group()
        if token is not None and token[0] == "num" and "." not in token[1]:
            self.take()
            return sp.Integer(token[1])  # `2^10` is 2^{10}, as latex2sympy reads it
        if token is not None and token[0] == "letter" and token[1] not in ("e", "E"):
            self.take()
            return sp.Symbol(token[1])
        raise _Unsupported

    def atom(self) -> Any:
        import sympy as sp

        kind, value = self.take()
        if kind == "num":
            number = self._mixed(_number(value))
            if self.peek() == ("sym", "!"):
                self.take()
                if not number.is_Integer or number < 0:
                    raise _Unsupported
                return sp.factorial(number, evaluate=False)  # left unevaluated: the size guard sees `100000!`
            return number
        if kind == "letter":
            return self._letter(value)
        if kind == "begin":
            return self.matrix(value)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if value == "{":
            self.pos -= 1
            return self.group()
        if value == "|":
            inner = self.expr()
            self.take("|")
            return sp.Abs(inner)
        return self._command(value)

    def _letter(self, value: str) -> Any:
        import sympy as sp

        following = self.peek()
        if value == "E" or following == ("sym", "(") or value == "d" and following and following[0] == "letter":
            raise _Unsupported  # a function call f(x), a differential dx
        return sp.E if value == "e" else sp.Symbol(value)

    def _command(self, value: str) -> Any:
        import sympy as sp

        if value == "\\frac":
            top = self.group()
            return _times(top, self._nonzero(self.group()) ** -1)
        if value == "\\sqrt":
            return self.sqrt()
        if value == "\\pi":
            return sp.pi
        if value == "\\infty":
            return sp.oo
        if value == "\\binom":
            return self.binomial()
        if value[1:] in _GREEK:
            return sp.Symbol(value[1:])
        if value in _FUNCTIONS:
            return self.function(value)
        raise _Unsupported

    def _mixed(self, number: Any) -> Any:
        """`3\\frac{1}{2}` is 7/2 (a mixed number), when both parts are plain integers."""
        if not (number.is_Integer and self.peek() == ("cmd", "\\frac")):
            return number
        parts = [self.peek(k) for k in range(1, 7)]
        shape = [p[1] if p and p[0] != "num" else "n" for p in parts]
        if shape != ["{", "n", "}", "{", "n", "}"]:
            raise _Unsupported
        self.take()
        top, bottom = self.group(), self._nonzero(self.group())
        return number + top / bottom

    def sqrt(self) -> Any:
        import sympy as sp

        if self.peek() == ("sym", "["):
            self.take()
            index = self.expr()
            self.take("]")
            if not (index.is_Integer and 2 <= int(index) <= _MAX_EXPONENT):
                raise _Unsupported
            return sp.root(self.group(), index)
        return sp.sqrt(self.group())

    def binomial(self) -> Any:
        import sympy as sp

        top, bottom = self.group(), self.group()
        if not all(v.is_Integer and 0 <= int(v) <= _MAX_BINOMIAL for v in (top, bottom)):
            raise _Unsupported
        return sp.binomial(top, bottom)

    def function(self, name: str) -> Any:
        import sympy as sp

        base = None
        if name == "\\log" and self.peek() == ("sym", "_"):
            self.take()
            base = self.exponent()  # `\\log_2 8`, `\\log_{10} x`
        power = None
        if self.peek() == ("sym", "^"):
            self.take()
            power = self.exponent()
            if not (power.is_Integer and 1 <= int(power) <= _MAX_EXPONENT):
                raise _Unsupported  # `\\sin^{-1}` is arcsin
        argument = self.argument()
        function = getattr(sp, _FUNCTIONS[name])
        value = function(argument, base if base is not None else 10) if name == "\\log" else function(argument)
        return value ** power if power is not None else value

    def argument(self) -> Any:
        """A function's argument: bracketed, or a run of implicitly multiplied factors that
        ends at an operator or at the next function (`\\sin 2x \\cos x` is sin(2x) cos(x))."""
        token = self.peek()
        if token in (("sym", "("), ("sym", "{")):
            value = self.atom()
            if self.peek() == ("sym", "^"):
                raise _Unsupported  # `\\sin(x)^2`: the power's place is unclear
            return value
        value = self.power()
        while (token := self.peek()) is not None and token[1] not in _FUNCTIONS and self._starts_atom(token):
            value = _times(value, self.power())
        if token is not None and token[1] not in _ENDS_ARGUMENT and token[1] not in _FUNCTIONS:
            raise _Unsupported  # `\\sin x / 2`, `\\sin x \\cdot y`: where the argument ends is unclear
        return value

    def matrix(self, environment: str) -> Any:
        import sympy as sp

        if environment not in _MATRICES:
            raise _Unsupported
        rows, row = [], [self.expr()]
        while (token := self.take())[0] != "end":
            if token[1] == "&":
                row.append(self.expr())
            elif token[1] == "\\\\":
                rows.append(row)
                row = [self.expr()]
            else:
                raise _Unsupported
        rows.append(row)
        if token[1] != environment or len({len(r) for r in rows}) != 1:
            raise _Unsupported
        matrix = sp.Matrix(rows)
        return matrix.det() if environment == "vmatrix" else matrix

    def group(self) -> Any:
        self.take("{")
        inner = self.expr()
        self.take("}")
        return inner

    def _starts_atom(self, token: tuple[str, str]) -> bool:
        kind, value = token
        if kind == "num":
            return False  # `2 3` is ambiguous: leave it to the full parser
        return kind in ("letter", "begin") or value in ("(", "{") or value in _ATOM_COMMANDS or value in _FUNCTIONS

    @staticmethod
    def _nonzero(value: Any) -> Any:
        if value == 0:
            raise _Unsupported
        return value


def _number(text: str) -> Any:
    import sympy as sp

    digits = len(text.replace(".", ""))
    if digits > _MAX_DIGITS:
        raise _Unsupported
    if "." in text:
        return sp.Float(text, max(15, digits))
    return sp.Integer(text)
