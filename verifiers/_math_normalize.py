"""Normalising an extracted math answer into a canonical string.

What it is: the string rewrites `reasoner.verifiers.math` applies before comparing
(spacing and size commands, ``\\dfrac``-style shorthand, units, degrees,
currency, thousands separators, relation spellings, ``A \\approx B``,
text-only answers, ...); the module docstring of `reasoner.verifiers.math` lists them
as rules. Equal strings mean equal answers; unequal strings decide nothing.
What it is not: parsing or comparison (`reasoner.verifiers._math_compare`).
"""

from __future__ import annotations

import re

from reasoner.verifiers._math_extract import matching_brace

_UNICODE = str.maketrans({"−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ",
                          "π": "\\pi ", "∞": "\\infty ", "√": "\\sqrt", "≤": "\\le ",
                          "≥": "\\ge ", "％": "\\%", "∪": "\\cup "})
_REWRITES = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"^\$+|(?<!\\)\$+$|^\\[(\[]|\\[)\]]$", ""),
    (r"\\frac\{\\(?:text|mathrm)\{\s*[A-Za-z]+\s*\}\}\{\\(?:text|mathrm)\{\s*[A-Za-z]+\s*\}\}", ""),
    (r"\\(?:left|right)\.", ""),
    (r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])", ""),
    (r"\\(?:displaystyle|textstyle|scriptstyle)(?![a-zA-Z])", ""),
    (r"\\[hv]space\*?\{[^{}]*\}|\\(?:h|v)?phantom\{[^{}]*\}", ""),
    (r"\\text\{\s*\\%\s*\}", r"\\%"),
    (r"^\\text\{\s*(?:all\s+)?real\s+numbers\s*\}$|^(?:all\s+)?real\s+numbers$", r"\\mathbb{R}"),
    (r"(?<=\d)\\,(?=\d{3}(?!\d))", ""),
    (r"\{,\}", ","),
    (r"\\!", ""),
    (r"(?<!\\)\\[,;: ]|\\q?quad(?![a-zA-Z])|~", " "),
    (r"\\[dtc]frac(?![a-zA-Z])", r"\\frac"),
    (r"\{([^{}]*)\\over(?![a-zA-Z])([^{}]*)\}", r"{\\frac{\1}{\2}}"),
    (r"^([^{}]*)\\over(?![a-zA-Z])([^{}]*)$", r"\\frac{\1}{\2}"),
    (r"(?<=[(\[,])\s*\+\s*(?=\\infty)", ""),
    (r">=|=>|\\geqslant(?![a-zA-Z])|\\geqq(?![a-zA-Z])", r"\\ge "),
    (r"<=|=<|\\leqslant(?![a-zA-Z])|\\leqq(?![a-zA-Z])", r"\\le "),
    (r"!=|<>|\\not=", r"\\ne "),
    (r"(?<![\w.}])\.(\d)", r"0.\1"),
    (r"\\mathbb\{R\}|\\R(?![a-zA-Z])", r"(-\\infty,\\infty)"),
    (r"\\operatorname\{([a-zA-Z]+)\}", r"\\\1 "),
    (r"\\[dt]binom(?![a-zA-Z])", r"\\binom"),
    (r"\\text(?:bf)?\{\s*\(([A-Z])\)\s*\}", r"(\1)"),
    (r"\\varnothing(?![a-zA-Z])", r"\\emptyset"),
    (r"\\langle(?![a-zA-Z])", "("),
    (r"\\rangle(?![a-zA-Z])", ")"),
    (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])|°", ""),
    (r"\\\$|\$", ""),
    (r"(?<!\\)%|\\text\{\s*percent\s*\}|\s*\bpercent\b", r"\\%"),
    (r"\\mathrm\{([ei])\}", r"\1"),
    (r"\\(?:mathit|mathbf|boldsymbol)(?![a-zA-Z])", ""),
    (r"\\text\{\s*\}", ""),
    (r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}"),
    (r"\\frac\s*([0-9a-zA-Z])\s*\{", r"\\frac{\1}{"),
    (r"\\frac\s*(\{(?:[^{}]|\{[^{}]*\})*\})\s*([0-9a-zA-Z])", r"\\frac\1{\2}"),
    (r"\\sqrt\s*(\[[^\]]*\])?\s*([0-9a-zA-Z])", r"\\sqrt\1{\2}"),
]]
_APPROX = re.compile(r"\\approx(?![a-zA-Z])|≈")
_SPACE_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
_MATRIX_IN_BRACKETS = re.compile(r"^[\[(]\s*(\\begin\{(\w+)\}.*\\end\{\2\})\s*[\])]$", re.DOTALL)
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|textrm|textsf|textnormal|mathrm|mbox)\s*\{")
_UNIT_POWER = re.compile(r"\s*\^\s*(?:\{\s*\d\s*\}|\d)")
_TRAILING_WORDS = re.compile(r"^(.*[\d}])\s+([A-Za-z]+\.?(?:\s+[A-Za-z]+\.?)*)$")
_COMPOUND_UNIT = re.compile(r"^(.*[\d}])\s*([A-Za-z]{1,5}(?:\^\{?[23]\}?)?(?:\s*/\s*[A-Za-z]{1,5}(?:\^\{?[23]\}?)?)+)$")
_GLUED_UNIT = re.compile(r"^([-+]?\d[\d.,]*)\s*(cm|mm|km|kg|mg|ml|mL|ft|lbs?|oz|hrs?|mins?|secs?|mph|kph|kmh)"
                         r"(?:\^\{?[23]\}?)?$")
_UNIT_LETTERS = {"m", "s", "h", "g", "l", "L", "cm", "mm", "km", "kg", "mg", "ml", "mL", "ft", "in", "min", "hr",
                 "sec", "mi", "yd", "lb", "oz", "day", "wk", "yr", "mol", "K", "N", "J", "W", "Pa"}
_SHORT_UNITS = {"cm", "mm", "km", "kg", "mg", "ft", "in", "lb", "hr", "ml", "mi", "yd", "oz", "sq"}
_MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "mod", "pi", "and", "or"}
_THOUSANDS = re.compile(r"^(.*=\s*)?([-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?)$")
_SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)[eE]([-+]?\d+)$")
_CHOICE = re.compile(r"^\(?([A-Z])\)?$")
_TRIG = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)(?![a-zA-Z])")
_DEGREES = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|°)")


def normalize_answer(answer: str) -> str:
    """A canonical string for an extracted answer (see the module docstring).

    Equal strings mean equal answers; unequal strings decide nothing.
    """
    text = _MARKDOWN_BOLD.sub(r"\1", answer.strip()).translate(_UNICODE).replace("**", "^")
    text = _DEGREE_WORDS.sub(lambda _: "^\\circ", text)
    text = _exact_before_approx(text)
    degrees = bool(_WHOLE_DEGREES.match(text))
    if _TRIG.search(text):  # sin 30^\circ is sin(pi/6); elsewhere a degree mark is a unit
        text = _DEGREES.sub(r"(\\frac{\1\\pi}{180})", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text).strip()
    text = _strip_text(_join_words(text))
    text = _SET_BUILDER.sub(r"\1", text)
    text = _MEMBERSHIP.sub("", text)
    text = _UNIT_SQUARED.sub("", text.strip().rstrip(".").strip())
    text = _each_item(text, _strip_unit_words)
    text = _REPEATING.sub(_repeating_as_fraction, text)
    text = _LEADING_ZERO_COMMA.sub(r"\1\g<2>0.\3", text)
    text = _THOUSANDS.sub(lambda m: (m.group(1) or "") + m.group(2).replace(",", ""), text)
    text = _SPACE_THOUSANDS.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _MATRIX_IN_BRACKETS.sub(r"\1", text)
    text = _SCIENTIFIC.sub(r"\1\\times 10^{\2}", text)
    text = _CHOICE.sub(r"\1", _unwrap_braces(text))
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=[^\w\s])\s+|\s+(?=[^\w\s])", "", text).strip()
    text = _each_item(_each_item(text, _last_side), _ratio).lstrip("=")
    if degrees and text:
        text += "^{\\circ}"  # kept on a whole answer: 30 degrees may also be read as pi/6
    return text.replace("\\\\", "\\\\ ")  # a matrix row break must not glue to the next entry


_UNIT_SQUARED = re.compile(r"(?<=\s)(?:cm|mm|km|m|in|ft|yd|mi|units?|inches|feet|meters)\s*\^\s*\{?[23]\}?$")
_REPEATING = re.compile(r"(?<![\d.])(\d*)\.(\d*)(?:\\overline\{(\d{1,20})\}|\((\d{1,20})\))")
_MARKDOWN_BOLD = re.compile(r"^\*\*(.+)\*\*$")
_DEGREE_WORDS = re.compile(r"\s*\\text\{\s*degrees?\s*\}|(?<=\d)\s*degrees?\b")


def _repeating_as_fraction(found: re.Match) -> str:
    """`0.\\overline{3}` -> `\\frac{1}{3}`; `1.2\\overline{45}` -> its exact fraction."""
    whole, fixed, period = found.group(1) or "0", found.group(2), found.group(3) or found.group(4)
    numerator = int(whole + fixed + period) - int(whole + fixed)
    denominator = 10 ** len(fixed) * (10 ** len(period) - 1)
    return f"\\frac{{{numerator}}}{{{denominator}}}"


def _exact_before_approx(text: str) -> str:
    """`x = 2/7 \\approx 0.29` -> `x = 2/7`: the exact value counts, the approximation is a remark."""
    parts = _APPROX.split(text, maxsplit=1)
    if len(parts) == 1:
        return text
    return parts[0].strip() or parts[1].strip()


def _unwrap_braces(text: str) -> str:
    """`{5}` -> `5`: a bare brace group is grouping, not a set."""
    while text.startswith("{") and matching_brace(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _strip_text(text: str) -> str:
    """Drop `\\text{}`-style units; keep their content when nothing else is left."""
    math_parts, text_parts, pos = [], [], 0
    while (command := _TEXT_COMMAND.search(text, pos)) is not None:
        close = matching_brace(text, command.end() - 1)
        if close is None:
            break
        math_parts.append(text[pos:command.start()])
        text_parts += [text[pos:command.start()], text[command.end():close]]
        power = _UNIT_POWER.match(text, close + 1)
        pos = power.end() if power else close + 1
    math_parts.append(text[pos:])
    text_parts.append(text[pos:])
    math_only = "".join(math_parts)
    return math_only if re.search(r"[0-9A-Za-z\\]", math_only) else "".join(text_parts)


def _strip_unit_words(text: str) -> str:
    """`5 cm` -> `5`, `60 km/h` -> `60`, `42cm` -> `42`; keeps single letters (`2 x`) and function names."""
    glued = _GLUED_UNIT.match(text)
    if glued:
        return glued.group(1)
    compound = _COMPOUND_UNIT.match(text)
    if compound and all(w in _UNIT_LETTERS for w in re.findall(r"[A-Za-z]+", compound.group(2))):
        return compound.group(1)
    found = _TRAILING_WORDS.match(text)
    if not found:
        return text
    words = [word.rstrip(".").lower() for word in found.group(2).split()]
    if all((len(w) >= 3 or w in _SHORT_UNITS) and w not in _MATH_WORDS for w in words):
        return found.group(1)
    return text


_WHOLE_DEGREES = re.compile(r"^(?:[^=]*=)?\s*[-+]?\d+(?:\.\d+)?\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree)\s*\.?$")
_SET_BUILDER = re.compile(r"^\\\{\s*(?:[A-Za-z]|\\[a-zA-Z]+)\s*(?:\\in[^|:]*?)?(?:\\mid|\||:)(.+)\\\}$")
_MEMBERSHIP = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w{1,3}\}?)?\s*\\in(?![a-zA-Z])\s*")
_LEADING_ZERO_COMMA = re.compile(r"^(.*=\s*)?([-+]?)0,(\d+)$")
_JOINER = re.compile(r"\s*\\text\{\s*(and|or)\s*\}\s*|\s+(and|or)\s+")
_RELATION = re.compile(r"<|>|\\[lg]e(?:q|qslant)?(?![a-zA-Z])|\\[lg]t(?![a-zA-Z])")
_RATIO_PART = re.compile(r"-?(?:[\w.]+|\\frac\{[^{}]*\}\{[^{}]*\}|\d*\\sqrt\{[^{}]*\})")


def _join_words(text: str) -> str:
    """`3 and 5` -> `3, 5`; `-3 \\le t and t \\le 5` -> an intersection (`\\cap`), since both sides are
    relations in the same one variable (`x > 1 and y < 2` stays a list)."""
    pieces, words, last = [], [], 0
    for found in _JOINER.finditer(text):
        pieces.append(text[last:found.start()])
        words.append(found.group(1) or found.group(2))
        last = found.end()
    pieces.append(text[last:])
    out = pieces[0]
    for word, left, right in zip(words, pieces, pieces[1:]):
        one_variable = _RELATION.search(left) and _RELATION.search(right) and len(_variables(f"{left} {right}")) == 1
        out += (" \\cap " if word == "and" and one_variable else ", ") + right
    return out


def _variables(text: str) -> set[str]:
    """Single-letter (or Greek) names in `text`, outside commands such as `\\le`."""
    greek = set(re.findall(r"\\(alpha|beta|gamma|theta|phi|lambda|mu|sigma|omega|tau)(?![a-zA-Z])", text))
    return set(re.findall(r"(?<![\\A-Za-z])[A-Za-z](?![A-Za-z])", text)) | greek


def split_top_level(text: str, separators: str = ",;") -> list[str]:
    """`text` cut at separators outside brackets, keeping each separator as its own piece."""
    pieces, depth, start = [], 0, 0
    for pos, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if depth == 0 and char in separators:
            pieces += [text[start:pos], char]
            start = pos + 1
    pieces.append(text[start:])
    return pieces


def _each_item(text: str, rewrite) -> str:
    """Apply `rewrite` to each top-level item of a list (`a, b; c`) or of a set (`\\{a, b\\}`)."""
    if text.startswith("\\{") and text.endswith("\\}") and "\\{" not in text[2:-2]:
        return "\\{" + _each_item(text[2:-2].strip(), rewrite) + "\\}"
    pieces = split_top_level(text)
    if len(pieces) == 1:
        return rewrite(text)
    return "".join(p if p in (",", ";") else _keep_spacing(p, rewrite) for p in pieces)


def _keep_spacing(piece: str, rewrite) -> str:
    """`rewrite` of the piece's text, with the spaces around it kept (`45, 210` stays a list)."""
    core = piece.strip()
    start = piece.find(core) if core else 0
    return piece[:start] + rewrite(core) + piece[start + len(core):]


def _last_side(item: str) -> str:
    """`y = 2+3 = 5` -> `5`: a chain of equalities answers with its last side."""
    sides = split_top_level(item, "=")[::2]
    return sides[-1] if len(sides) > 2 and sides[-1] else item


def _ratio(item: str) -> str:
    """`2:7` -> `\\frac{2}{7}` and `AB:CD=2:7` -> `\\frac{AB}{CD}=\\frac{2}{7}`; three parts make a tuple."""
    sides = split_top_level(item, "=")
    for index in range(0, len(sides), 2):
        parts = split_top_level(sides[index], ":")[::2]
        if len(parts) >= 2 and all(_RATIO_PART.fullmatch(p) for p in parts):
            sides[index] = f"\\frac{{{parts[0]}}}{{{parts[1]}}}" if len(parts) == 2 else f"({','.join(parts)})"
    return "".join(sides)
