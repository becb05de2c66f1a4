"""The math verifier's fast path: what is decided in the calling process, without sympy.

What it is: a quick canonical key for the plainest answers (integers,
decimals, ``1,234``, ``\\frac{a}{b}``, ``a/b``) that skips normalisation; the
decision of identical answers, simple numbers (exact fractions, with the
same decimal rules as the workers) and words; and the readings a pair of
normalised answers may be compared under (a decimal comma, a labelled
choice, an angle in degrees, a labelled value). Nothing here imports sympy:
an ordinary boxed number is graded in microseconds.

What it is not: extraction (`reasoner.verifiers._math_extract`), normalisation
(`reasoner.verifiers._math_normalize`) or the sympy comparison
(`reasoner.verifiers._math_compare`, run in workers).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

from reasoner.verifiers._math_compare import Outcome, Rules

_PLAIN_NUMBER = re.compile(r"[-+]?\d{1,40}(?:\.\d{1,40})?")
_WORDS = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]+)*")


def fast_outcome(answer: str, reference: str, rules: Rules) -> Outcome | None:
    """Decide cheaply in the parent when possible: identical strings, simple numbers
    (also mixed numbers and percentages), words.

    Identical equations still go to sympy, so that `0=0` never equals itself.
    """
    if answer == reference and "=" not in answer:
        return Outcome("equal", "identical after normalisation")
    numbers = simple_number(answer), simple_number(reference)
    if numbers[0] is not None and numbers[1] is not None and _same_name(numbers[0].name, numbers[1].name):
        same = any(_numbers_equal(a, b, rules) for a, b in _percent_readings(*numbers, rules))
        return Outcome("equal", "equal numbers") if same else Outcome("unequal", "different numbers")
    if _PROSE.search(answer) and not _PROSE.search(reference):
        return Outcome("unequal", "the answer is prose, not a value")  # `in section 4.2b`: never parsed
    if _LETTER.fullmatch(answer) and _LETTER.fullmatch(reference):
        return Outcome("unequal", "different letters")  # choices `(A)`/`B`, or different symbols
    if is_words(answer) and is_words(reference):
        if answer.lower() == reference.lower():
            return Outcome("equal", "same words")
        if sorted(answer.replace(" ", "")) != sorted(reference.replace(" ", "")):
            return Outcome("unequal", "different words")  # not even equal as products of their letters
    return None


_PROSE = re.compile(r"(?<![\\A-Za-z])(?!(?:and|or|mod|sin|cos|tan|log|ln|exp|max|min|gcd|lcm)\b)[A-Za-z]{2,}"
                    r"\s+(?!(?:and|or|mod)\b)[A-Za-z]{3,}(?![A-Za-z({])")
"""Two words in a row, outside commands: prose rather than math (`in section 4.2b`)."""
_LETTER = re.compile(r"[A-DF-HJ-Za-df-hj-z]")
"""One letter other than e/E and i/I (which may be Euler's number or the imaginary unit)."""
_NAME_PREFIX = re.compile(r"^([a-zA-Z](?:_\{?\w{1,3}\}?)?)=(?!=)")
_FRACTION = re.compile(r"([-+]?)\\frac\{(\d{1,40})\}\{(\d{1,40})\}|([-+]?\d{1,40})/(\d{1,40})")
_MIXED = re.compile(r"([-+]?)(\d{1,40})\\frac\{(\d{1,40})\}\{(\d{1,40})\}")


class SimpleNumber(NamedTuple):
    value: Fraction
    places: int | None
    """Digits after the decimal point as written; None when there is no decimal point."""
    name: str | None
    """The name in `x=...`, or None."""
    percent: bool = False
    """Written with a percent sign."""


def simple_number(text: str) -> SimpleNumber | None:
    """`12`, `-0.5`, `\\frac{3}{4}`, `3/4`, `3\\frac{1}{2}`, `75\\%` or `x=...` of those; None for anything else."""
    name = None
    prefix = _NAME_PREFIX.match(text)
    if prefix:
        name, text = prefix.group(1), text[prefix.end():]
    percent = text.endswith("\\%")
    if percent:
        text = text[:-2]
    if _PLAIN_NUMBER.fullmatch(text):
        places = len(text.split(".")[1]) if "." in text else None
        return SimpleNumber(Fraction(text), places, name, percent)
    value = _fraction_value(text)
    return None if value is None else SimpleNumber(value, None, name, percent)


def _fraction_value(text: str) -> Fraction | None:
    mixed = _MIXED.fullmatch(text)
    if mixed:
        sign, whole, top, bottom = mixed.groups()
        if int(bottom) == 0:
            return None
        magnitude = int(whole) + Fraction(int(top), int(bottom))
        return -magnitude if sign == "-" else magnitude
    fraction = _FRACTION.fullmatch(text)
    if fraction is None:
        return None
    sign, top, bottom = (fraction.group(1), fraction.group(2), fraction.group(3)) if fraction.group(2) else (
        "", fraction.group(4), fraction.group(5))
    if int(bottom) == 0:
        return None
    return Fraction(int(sign + top if sign != "+" else top), int(bottom))


def _percent_readings(answer: SimpleNumber, reference: SimpleNumber,
                      rules: Rules) -> list[tuple[SimpleNumber, SimpleNumber]]:
    """The worker's percent rule: `p\\%` is p/100 (two more places) and, under "both", p; two
    percentages compare as written."""
    if answer.percent and reference.percent:
        return [(answer, reference)]
    return [(a, r) for a in _percent_values(answer, rules) for r in _percent_values(reference, rules)]


def _percent_values(number: SimpleNumber, rules: Rules) -> list[SimpleNumber]:
    if not number.percent:
        return [number]
    scaled = number._replace(value=number.value / 100, places=None if number.places is None else number.places + 2)
    return [scaled, number] if rules.percent == "both" else [scaled]


def _same_name(a: str | None, b: str | None) -> bool:
    """`x=5` and `5` may be compared as numbers; `x=5` and `y=5` are left to sympy."""
    return a is None or b is None or a == b


def _numbers_equal(answer: SimpleNumber, reference: SimpleNumber, rules: Rules) -> bool:
    """The worker's number rule (see the module docstring), on exact fractions."""
    a, answer_places = answer.value, answer.places
    b, ref_places = reference.value, reference.places
    if a == b:
        return True
    if ref_places is not None:
        if answer_places is not None and answer_places < ref_places:
            return False  # 33.33 is not 33.333: fewer digits than the reference gives
        if ref_places >= 2 and _within_half_unit(a, b, ref_places):
            return True
        tolerance = 1e-4 if rules.rel_tol is None else rules.rel_tol
    elif answer_places is None:
        return False
    elif rules.rel_tol is None:
        return answer_places >= 2 and _within_half_unit(a, b, answer_places)  # 0.33 rounds 1/3
    else:
        tolerance = rules.rel_tol
    return abs(a - b) <= Fraction(tolerance) * max(abs(a), abs(b))


def _within_half_unit(a: Fraction, b: Fraction, places: int) -> bool:
    return abs(a - b) <= Fraction(1, 2 * 10**places) * (1 + Fraction(1, 10**9))


_DECIMAL_COMMA = re.compile(r"[-+]?\d+,(?:\d{1,2}|\d{4,})")
_LABELLED_CHOICE = re.compile(r"\(([A-Z])\)(.+)")
_DEGREES = "^{\\circ}"
DEFINITE = ("unequal", "bad_answer", "timeout", "limit", "bad_reference", "error", "equal")
"""Which outcome a pair reports when no reading is equal: the most definite first."""


def pair_readings(answer: str, reference: str) -> list[tuple[str, str]]:
    """The (answer, reference) readings to compare, the written forms first.

    A labelled value (`|PQ|=6`, `\\frac{PM}{MQ}=\\frac13`, `m\\angle A=30^\\circ`) is also
    read as its value against an unlabelled side, or against the same label.
    """
    answer_label, reference_label = labelled_value(answer), labelled_value(reference)
    answers, references = [answer], [reference]
    if answer_label and reference_label and answer_label[0] == reference_label[0]:
        answers, references = [answer_label[1]], [reference_label[1]]
    elif answer_label and "=" not in reference:
        answers = [answer_label[1]]  # the equation `label = value` against a value says no more than its value
    elif reference_label and "=" not in answer:
        references = [reference_label[1]]
    return [(a, r) for a_key in answers for r_key in references
            for a in _readings(a_key) for r in _readings(r_key)]


_LABEL_COMMANDS = re.compile(r"\\(?:angle|measuredangle|triangle|overline|widehat|overrightarrow|vec|frac|text|"
                             r"mathrm|cdot|hat|bar|left|right)(?![a-zA-Z])")


def labelled_value(key: str) -> tuple[str, str] | None:
    """(label, value) of `label=value` where the label names a quantity (`|PQ|`, `AB:CD`, `f(3)`,
    `a_{10}`, `m\\angle A`) and the value has no variables, or the label is a function `f(x)`;
    None otherwise."""
    sides = key.split("=")
    if len(sides) != 2 or not sides[0] or not sides[1] or re.search(r"[<>]|\\[lgn]e", key):
        return None
    label, value = sides
    if re.search(r"[+\-*^!]|\\sqrt|\\pm", label) or label[0].isdigit():
        return None  # `2x=6`, `x^2=4`: an equation, not a name
    bare = re.sub(r"_\{[^{}]*\}|_\w|\([^()]*\)", "", label)  # subscripts, function arguments
    bare = re.sub(r"\\[a-zA-Z]+", "x", _LABEL_COMMANDS.sub("", bare))  # `\\sin A`, `\\cos\\theta`: names too
    bare = re.sub(r"[{}|:/\s]", "", bare)
    if not bare.isalpha():
        return None
    if re.search(r"[A-Za-z]", re.sub(r"\\[a-zA-Z]+", "", value)) and not _FUNCTION_NAME.fullmatch(label):
        return None  # `y = 2x + 3` is an equation; `f(x) = 2x + 1` names its value
    return label, value


_FUNCTION_NAME = re.compile(r"[a-zA-Z](?:\^\{-1\})?\([a-zA-Z]\)")


def _readings(key: str) -> list[str]:
    """Readings tried in turn: `3,15` and `250,5` are a decimal with a comma separator or a
    list; a labelled choice `(B)12` is the letter or its content; an angle `30^\\circ` is 30
    or pi/6."""
    if _DECIMAL_COMMA.fullmatch(key):
        return [key.replace(",", "."), key]
    choice = _LABELLED_CHOICE.fullmatch(key)
    if choice:
        return [choice.group(1), choice.group(2)]
    if key.endswith(_DEGREES) and key[:-len(_DEGREES)]:
        number = key[:-len(_DEGREES)]
        return [number, f"\\frac{{{number}\\pi}}{{180}}"] if "=" not in number else [number]
    return [key]


def is_words(key: str) -> bool:
    """A word answer (`Monday`, `infinitely many`): compared case-insensitively, never parsed."""
    return bool(_WORDS.fullmatch(key))


_QUICK = re.compile(r"\$?\s*([-+]?)(?:(\d{1,40}(?:\.\d{1,40})?)|([1-9]\d{0,2}(?:,\d{3})+(?:\.\d{1,40})?)|"
                    r"\\[dt]?frac\{(\d{1,40})\}\{(\d{1,40})\}|(\d{1,40})/(\d{1,40}))\s*\$?")


def quick_key(answer: str) -> str | None:
    """The normalised form of a plain number or fraction, without running normalisation, or None.

    Gives exactly what `normalize_answer` gives for these forms (a property test checks it).
    """
    found = _QUICK.fullmatch(answer.strip())
    if found is None:
        return None
    sign, plain, grouped, top, bottom, slash_top, slash_bottom = found.groups()
    if plain is not None:
        return sign + plain
    if grouped is not None:
        return sign + grouped.replace(",", "")
    if top is not None:
        return f"{sign}\\frac{{{top}}}{{{bottom}}}"
    return f"{sign}{slash_top}/{slash_bottom}"
