"""Finding the final answer in a model's output or in a dataset's reference.

What it is: pure string scanning, run in the calling process. The finders, in
order of trust:

1. the text after the last ``</think>`` (an unclosed ``<think>`` means the
   model never answered);
2. the last complete ``\\boxed{}``/``\\fbox{}``; boxes separated only by
   commas, "and"/"or" and math delimiters form one answer list
   (``\\boxed{3}`` and ``\\boxed{5}`` is ``3, 5``);
3. the last GSM8K ``#### n`` line;
4. the last "final answer is X" / "the answer is X" / "Answer: X": the
   value its sentence states (``The smallest $k$ is 17`` answers 17, ``$a+b$
   equals 11`` answers 11), else a math span right after the phrase, else the
   words up to the end of the sentence;
5. the last math span (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``),
   with the spans joined to it only by commas, "and" or "or"; when the
   sentence goes on to state a value (``the smallest $k$ is 17.``), that value;
6. (predictions only) an output that is nothing but math without delimiters
   (``\\frac{7}{4}``, ``-\\sqrt{3}/2``, ``(2,9) or (9,2)``);
7. (predictions only, when the last-number fallback is enabled) the value the
   last sentence states (``So x equals \\frac{3+\\sqrt{7}}{4}``), a last line
   of bare math, then the last number in the text, but only when it stands
   alone: never a digit inside a word (``QX7B``) or a number that is part of a
   larger expression (``\\frac{3+\\sqrt{7}}{4}``, ``3 + 4``).

Several boxes form one answer list when only separators stand between them
(commas, "and"/"or", math delimiters, a repeated ``x =``, or a few words
such as units: ``\\boxed{4} apples and \\boxed{6} pears``), never across a
sentence end or words that revise an answer (``\\boxed{1} is wrong, so ...``).

A dollar sign that is currency, not a math delimiter (``costs $18 a day``: a
``$`` before a number whose "span" would run through prose or past the end
of the line), is dropped first, so prose between two prices is never read as
math.

What it is not: normalisation or comparison (`reasoner.verifiers.math`,
`reasoner.verifiers._math_compare`). Every scan here is linear or bounded, so a
megabyte output costs milliseconds.
"""

from __future__ import annotations

import re

MAX_ANSWER_CHARS = 4000
"""Longer extracted answers are refused (no answer): no real final answer is this long."""

_THINK_END = re.compile(r"</think\s*>", re.IGNORECASE)
_THINK_START = re.compile(r"<think\s*>", re.IGNORECASE)
_GSM8K = re.compile(r"####[ \t]*([^\n]*)")
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer\s*(?:is|:)|the\s+answer\s+is|answer\s*(?:is|:)|answer\s+should\s+be|"
    r"(?:the\s+)?solutions?\s+(?:is|are)|\*\*answer\*\*\s*:?)"
    r"[\s:*]*(?:the\s+final\s+answer\s+is)?[\s:*]*", re.IGNORECASE)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]",
                        re.DOTALL)
_BOX_JOINER = re.compile(r"(?:\s|\$|\\\)|\\\(|\\\]|\\\[|,|;|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\}|"
                         r"\band\b|\bor\b|&|\\\\)*")
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_BEFORE_MATH = set("^_/\\{}*<>|[(+-,")
_MATH_AFTER = re.compile(r"[=^\\_{}<>*/+|]|\w!")
_OPERATOR_WORD_BEFORE = re.compile(r"(?:\bmod|\bover|\btimes|\bplus|\bminus|\bdivided by|\bto the)$")
_AFTER_MATH = set("^_/\\{}*=<>|[]()+-!")


def split_think(text: str) -> str | None:
    """The part of an output after its reasoning; None when the reasoning never ended."""
    ends = list(_THINK_END.finditer(text))
    if ends:
        return text[ends[-1].end():]
    if _THINK_START.search(text):
        return None
    return text


def find_prediction_answer(text: str, last_number: bool) -> str | None:
    """The final answer of a model output (finders 1-7 of the module docstring)."""
    body = split_think(text)
    if body is None:
        return None
    body = strip_currency(body)
    for finder in (last_boxed, gsm8k_answer, phrase_answer, last_math_span, bare_math_output):
        found = finder(body)
        if found is not None:
            return _bounded(found)
    if not last_number:
        return None
    for finder in (stated_value, bare_math_last_line, standalone_last_number):
        found = finder(body)
        if found is not None:
            return _bounded(found)
    return None


def find_reference_answer(text: str) -> str | None:
    """The answer of a reference: bare, wrapped in math delimiters, boxed, or a worked solution."""
    body = split_think(text)
    if body is None:
        return None
    stripped = body.strip()
    whole_span = _MATH_SPAN.fullmatch(stripped)
    if whole_span:
        return _bounded(next(g for g in whole_span.groups() if g is not None))
    for finder in (last_boxed, gsm8k_answer):
        found = finder(body)
        if found is not None:
            return _bounded(found)
    if _looks_like_prose(stripped):
        for finder in (phrase_answer, last_math_span):
            found = finder(body)
            if found is not None:
                return _bounded(found)
    return _bounded(stripped)


_CURRENCY_START = re.compile(r"\$\s?\d")
_PROSE_WORDS = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}(?![A-Za-z])")


def strip_currency(text: str) -> str:
    """`text` without the dollar signs that are prices rather than math delimiters."""
    if "$" not in text:
        return text
    kept, pos = [], 0
    while (start := text.find("$", pos)) >= 0:
        if start and text[start - 1] == "\\":  # `\$`: a typeset dollar sign, already literal
            kept.append(text[pos:start + 1])
            pos = start + 1
            continue
        if text.startswith("$$", start):
            close = text.find("$$", start + 2)
            end = len(text) if close < 0 else close + 2
            kept.append(text[pos:end])
            pos = end
            continue
        close = text.find("$", start + 1)
        content = text[start + 1:close] if close >= 0 else text[start + 1:]
        if _CURRENCY_START.match(text, start) and _not_math(content, close < 0, text[close + 1:close + 2]):
            kept.append(text[pos:start])  # a price: drop its dollar sign, read on from the number
            pos = start + 1
            continue
        end = len(text) if close < 0 else close + 1
        kept.append(text[pos:end])
        pos = end
    kept.append(text[pos:])
    return "".join(kept)


_MATH_WORDS = frozenset("and mod max min gcd lcm deg det dim".split())
_TEXT_CONTENT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}")


def _not_math(content: str, unclosed: bool, after_close: str) -> bool:
    """What follows a `$<digit>` is a price, not a math span: nothing closes it on its line, a
    word follows the number, it ends in a space, or its closing `$` is itself a price (`$10 is $5`)."""
    if unclosed or "\n" in content or content.endswith(" ") or after_close.isdigit():
        return True
    words = _PROSE_WORDS.findall(_TEXT_CONTENT.sub(" ", content))
    return any(w.lower() not in _MATH_WORDS for w in words)


def _looks_like_prose(text: str) -> bool:
    """A worked solution rather than a bare answer: several sentences or a math span inside text."""
    return bool(re.search(r"[.!?:]\s+[A-Z]", text) or _MATH_SPAN.search(text) or "\n" in text.strip())


def _bounded(answer: str | None) -> str | None:
    if answer is None:
        return None
    answer = answer.strip()
    return answer if answer and len(answer) <= MAX_ANSWER_CHARS else None


# -------------------------------------------------------------------- boxes

def last_boxed(text: str) -> str | None:
    """The last closed box; boxes joined only by separators become one list `a, b`."""
    boxes = _closed_boxes_from_end(text)
    if not boxes:
        return None
    group = [boxes[0]]
    for start, end, content in boxes[1:]:
        if not joins_answers(text[end:group[-1][0]]):
            break
        group.append((start, end, content))
    contents = [c.strip() for _, _, c in reversed(group) if c.strip()]
    return ", ".join(contents) if contents else ""


_REPEATED_NAME = re.compile(r"(?<![A-Za-z\\])[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=")
_JOINER_CLEAN = re.compile(r"\$|\\[()\[\]]|\\q?quad\b|\\text\{([^{}]*)\}|\\\\|&|~|\\[,;: !]")
_REVISING = frozenset("is are was were be not no but so then thus hence therefore which wrong fails failed instead "
                      "answer correct incorrect get gives got try tried check checking final only".split())


def joins_answers(between: str) -> bool:
    """Whether the text between two boxes (or spans) only separates answers of one list."""
    if _BOX_JOINER.fullmatch(between):
        return True
    if len(between) > 80:
        return False
    rest = _REPEATED_NAME.sub(" ", _JOINER_CLEAN.sub(lambda m: f" {m.group(1) or ''} ", between))
    if re.search(r"[^A-Za-z\s,;]", rest):
        return False  # more math, or a sentence end, stands between them
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", rest)]
    linked = "," in rest or ";" in rest or any(w in ("and", "or") for w in words)
    return linked and len(words) <= 4 and not any(w in _REVISING for w in words)


def _closed_boxes_from_end(text: str, limit: int = 20) -> list[tuple[int, int, str]]:
    """(start, end, content) of closed boxes, last first; at most `limit` of them."""
    found: list[tuple[int, int, str]] = []
    end, boxed, fbox = len(text), text.rfind("\\boxed"), text.rfind("\\fbox")
    while (start := max(boxed, fbox)) >= 0 and len(found) < limit:
        box = _box_at(text, start, end)
        if box is not None:
            found.append((start, box[0], box[1]))
        end = start
        if start == boxed:
            boxed = text.rfind("\\boxed", 0, start)
        else:
            fbox = text.rfind("\\fbox", 0, start)
    return found


def _box_at(text: str, start: int, end: int) -> tuple[int, str] | None:
    """(end, content) of the box command at `start`; None when it is not closed before `end`.

    A box that is never closed keeps every earlier box from closing after it,
    so each scan stops at the next unclosed box and the search stays linear.
    """
    pos = start + (6 if text.startswith("\\boxed", start) else 5)
    while pos < end and text[pos] == " ":
        pos += 1
    if text[pos:pos + 1] == "{":
        close = matching_brace(text, pos, end)
        return None if close is None else (close + 1, text[pos + 1:close])
    token = re.match(r"[^\s$]+", text[pos:min(end, pos + 200)])  # `\boxed 5`
    return (pos + token.end(), token.group(0)) if token else None


def matching_brace(text: str, open_pos: int, end: int | None = None) -> int | None:
    """Index of the `}` closing the `{` at `open_pos`; escaped braces are skipped."""
    depth, pos, end = 0, open_pos, len(text) if end is None else end
    while pos < end:
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return None


# ------------------------------------------------------------ other finders

def gsm8k_answer(text: str) -> str | None:
    found = _GSM8K.findall(text)
    return found[-1].strip().rstrip(".") if found else None


def phrase_answer(text: str) -> str | None:
    """What follows the last answer phrase: a math span there, else the sentence."""
    last = None
    for last in _ANSWER_PHRASE.finditer(text):
        pass
    if last is None:
        return None
    rest = text[last.end():last.end() + MAX_ANSWER_CHARS + 10].replace("**", "")
    rest = rest.lstrip()
    span = _MATH_SPAN.match(rest)
    if span:
        following = _sentence(rest[span.end():])
        stated = _value_after_copula(following, anchored=True)
        return stated if stated is not None else _span_content(span)
    sentence = _sentence(rest)
    stated = _value_after_copula(sentence, anchored=False)
    if stated is not None:
        return stated
    sentence = re.sub(r"\s+(?:I hope it is correct|hope this helps).*$", "", sentence, flags=re.IGNORECASE)
    sentence = sentence.strip().rstrip(".").strip()
    return sentence or None


def _sentence(text: str) -> str:
    """`text` up to the end of its first sentence (a period that ends a sentence, or a line break)."""
    return re.split(r"\.(?:\s|$)|\n|(?<=[a-z])\.(?=[A-Z])", text, maxsplit=1)[0]


def _span_content(span: re.Match) -> str:
    return next(g for g in span.groups() if g is not None)


def last_math_span(text: str) -> str | None:
    """The last math span; spans joined only by commas, "and" or "or" form one list."""
    spans = list(_MATH_SPAN.finditer(text))
    if not spans:
        return None
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        if len(group) >= 20 or not joins_answers(text[span.end():group[-1].start()]):
            break
        group.append(span)
    stated = _value_after_copula(_sentence(text[spans[-1].end():]), anchored=True)
    if stated is not None:
        return stated  # `the smallest $k$ is 17.`: the sentence states the value after the span
    contents = [_span_content(span).strip() for span in reversed(group)]
    return ", ".join(c for c in contents if c)


def standalone_last_number(text: str) -> str | None:
    """The last number in `text` when it stands alone, else None (never an earlier one)."""
    tail = text[-20000:]
    number = None
    for number in _NUMBER.finditer(tail):
        pass
    if number is None:
        return None
    glued_before = tail[number.start() - 1:number.start()] if number.start() else ""
    glued_after = tail[number.end():number.end() + 1]
    if glued_before.isalnum() or glued_before in ("_", ".") or glued_after.isalnum() or glued_after == "_":
        return None  # QX7B, x7, 3x
    before, after = tail[:number.start()].rstrip(), tail[number.end():].lstrip()
    if before[-1:] and before[-1] in _BEFORE_MATH or after[:1] and after[0] in _AFTER_MATH:
        return None  # 3 + 4, \frac{..}{4}, (1, 2)
    if after[:1] == "." and after[1:2].isdigit():
        return None
    if _MATH_AFTER.search(after) or _OPERATOR_WORD_BEFORE.search(before):
        return None  # `n=8 and get n!`, `12 mod 5`: more math follows or surrounds it
    percent = re.match(r"\\?%", after)
    return number.group(0) + ("\\%" if percent else "")


# ------------------------------------------------- stated values and bare math

_COPULA = re.compile(r"(?:\b(?:is|are|was|were|equals|becomes|be)\b|=)")
_HEDGE = re.compile(r"^(?:about|approximately|exactly|just|precisely|then|therefore|thus|hence|now|still)\s+",
                    re.IGNORECASE)
_NUMBER_WITH_UNITS = re.compile(
    r"([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?)((?:\s+[A-Za-z]{2,}\.?){0,3})")
_NOT_UNITS = frozenset("because since as if when which that but so and or not it is are was with for than more less "
                       "times plus minus over mod".split())
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|operatorname)\s*\{[^{}]*\}")
_NUMBER_SUBSCRIPT = re.compile(r"\d\s*_")


def _value_after_copula(sentence: str, anchored: bool) -> str | None:
    """The value a sentence states after "is"/"equals"/"=" and that ends it, or None.

    `anchored`: the copula must open `sentence` (the text right after a math span);
    otherwise the last copula outside math spans whose remainder is a value counts.
    """
    spans = [(m.start(), m.end()) for m in _MATH_SPAN.finditer(sentence)]
    copulas = [m for m in _COPULA.finditer(sentence) if not any(a <= m.start() < b for a, b in spans)]
    if anchored:
        copulas = [m for m in copulas if not sentence[:m.start()].strip()]
    for copula in reversed(copulas):
        value = as_value(sentence[copula.end():])
        if value is not None:
            return value
    return None


def as_value(text: str) -> str | None:
    """`text` when it is one value and nothing else: a math span, a number (with unit words) or bare math."""
    text = _HEDGE.sub("", text.strip().rstrip(".!").strip())
    if not text:
        return None
    span = _MATH_SPAN.fullmatch(text)
    if span:
        return _span_content(span).strip() or None
    number = _NUMBER_WITH_UNITS.fullmatch(text)
    if number:
        words = [w.rstrip(".").lower() for w in number.group(2).split()]
        return text if not any(w in _NOT_UNITS for w in words) else None
    return text if is_bare_math(text) else None


def is_bare_math(text: str) -> bool:
    """Math written without delimiters: no prose words (outside ``\\text{}``), something mathematical in it."""
    text = text.strip()
    if not text or len(text) > 1000 or "$" in text or "\n" in text or _NUMBER_SUBSCRIPT.search(text):
        return False
    if text.rstrip("*")[-1:] in ("", "=", "+", "-", "*", "/", "^", "_", "(", ","):  # `**5**` is bold, not a power
        return False  # `182 - 201 =`: an unfinished line, not a value
    words = [w for w in _PROSE_WORD.findall(_TEXT_GROUP.sub(" ", text)) if w.lower() not in ("and", "or")]
    return not words and bool(re.search(r"[\d\\]", text) or len(text) <= 2)


def bare_math_output(text: str) -> str | None:
    """The whole output, when it is nothing but math without delimiters (one line)."""
    stripped = text.strip()
    return stripped if is_bare_math(stripped) and "\\boxed" not in stripped else None


def bare_math_last_line(text: str) -> str | None:
    """The last non-empty line, when it is bare math."""
    lines = [line.strip() for line in text[-5000:].splitlines() if line.strip()]
    return lines[-1] if lines and is_bare_math(lines[-1]) else None


def stated_value(text: str) -> str | None:
    """The value the last sentence of plain text states (``So x equals \\frac{3+\\sqrt{7}}{4}``)."""
    tail = text[-2000:].rstrip().rstrip(".!").rstrip()
    sentences = re.split(r"\.\s+|\n", tail)
    return _value_after_copula(sentences[-1], anchored=False) if sentences else None
