"""A small, fast parser for the plain arithmetic most final answers are written in.

What it is: a tokenizer and recursive-descent parser for numbers, single-letter
variables, ``+ - * /``, ``\\cdot``, ``\\times``, ``\\div``, implicit
multiplication, ``^`` with a braced or one-character exponent, ``\\frac``,
``\\sqrt`` (with an optional index), ``\\pi``, ``\\infty``, brackets and one
relation (``=``, ``<``, ``\\le``, ``\\ge``, ``\\ne``, ...). It builds sympy objects directly (never `eval`, never `sympify` of
text) and gives the same values `latex2sympy2_extended` gives for this subset,
about a hundred times faster than its ANTLR grammar.

What it is not: a LaTeX parser. Anything outside the subset (functions,
``e``, subscripts, factorials, sets, chained relations, large
exponents or numbers) returns None, and the caller falls back to
`latex2sympy2_extended`.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([a-zA-Z])|(\\[a-zA-Z]+)|([-+*/^(){}\[\]=<>]))")
_MAX_DIGITS = 50
_MAX_EXPONENT = 64
_ATOM_COMMANDS = {"\\frac", "\\sqrt", "\\pi", "\\infty"}
_TIMES = {"*", "\\cdot", "\\times"}


def _relations() -> dict[str, Any]:
    import sympy as sp

    return {"=": sp.Eq, "<": sp.Lt, ">": sp.Gt, "\\lt": sp.Lt, "\\gt": sp.Gt, "\\le": sp.Le, "\\leq": sp.Le,
            "\\ge": sp.Ge, "\\geq": sp.Ge, "\\ne": sp.Ne, "\\neq": sp.Ne}


_RELATION_NAMES = {"=", "<", ">", "\\lt", "\\gt", "\\le", "\\leq", "\\ge", "\\geq", "\\ne", "\\neq"}


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
        if parser.pos != len(tokens):
            return None
        return value
    except _Unsupported:
        return None


def _tokenize(text: str) -> list[tuple[str, str]] | None:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            return None
        number, letter, command, symbol = found.groups()
        if number is not None:
            tokens.append(("num", number))
        elif letter is not None:
            tokens.append(("letter", letter))
        elif command is not None:
            tokens.append(("cmd", command))
        else:
            tokens.append(("sym", symbol))
        pos = found.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise _Unsupported
        self.pos += 1
        return token

    def equation(self) -> Any:

        left = self.expr()
        token = self.peek()
        if token is not None and token[1] in _RELATION_NAMES:
            self.take()
            right = self.expr()
            if self.peek() is not None and self.peek()[1] in _RELATION_NAMES:
                raise _Unsupported  # chains: `-3 \\le y \\le 4`
            return _relations()[token[1]](left, right, evaluate=False)
        return left

    def expr(self) -> Any:
        import sympy as sp

        terms = [self.term()]
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.take()
            term = self.term()
            terms.append(-term if token[1] == "-" else term)
        return sp.Add(*terms) if len(terms) > 1 else terms[0]

    def term(self) -> Any:
        import sympy as sp

        value = self.unary()
        while (token := self.peek()) is not None:
            if token[1] in _TIMES:
                self.take()
                value = sp.Mul(value, self.unary())
            elif token[1] in ("/", "\\div"):
                self.take()
                value = sp.Mul(value, sp.Pow(self._nonzero(self.unary()), -1))
            elif self._starts_atom(token):
                if token[1] == "\\frac" and self.tokens[self.pos - 1][0] == "num":
                    raise _Unsupported  # `3\\frac{1}{2}` is a mixed number, 7/2
                value = sp.Mul(value, self.power())
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
        import sympy as sp

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
            return sp.Pow(base, exponent)
        return base

    def exponent(self) -> Any:
        import sympy as sp

        token = self.peek()
        if token == ("sym", "{"):
            return self.group()
        if token is not None and token[0] == "num" and len(token[1]) == 1:
            self.take()
            return sp.Integer(token[1])
        if token is not None and token[0] == "letter" and token[1] not in ("e", "E"):
            self.take()
            return sp.Symbol(token[1])
        raise _Unsupported

    def atom(self) -> Any:
        import sympy as sp

        token = self.take()
        kind, value = token
        if kind == "num":
            return _number(value)
        if kind == "letter":
            following = self.peek()
            if value in ("e", "E") or following == ("sym", "(") or value == "d" and following and following[0] == "letter":
                raise _Unsupported  # Euler's number, a function call f(x), a differential dx
            return sp.Symbol(value)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if value == "{":
            self.pos -= 1
            return self.group()
        if value == "\\frac":
            top = self.group()
            return sp.Mul(top, sp.Pow(self._nonzero(self.group()), -1))
        if value == "\\sqrt":
            return self.sqrt()
        if value == "\\pi":
            return sp.pi
        if value == "\\infty":
            return sp.oo
        raise _Unsupported

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

    def group(self) -> Any:
        self.take("{")
        inner = self.expr()
        self.take("}")
        return inner

    def _starts_atom(self, token: tuple[str, str]) -> bool:
        kind, value = token
        if kind == "num":
            return False  # `2 3` is ambiguous: leave it to the full parser
        return kind == "letter" or value in ("(", "{") or value in _ATOM_COMMANDS

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
