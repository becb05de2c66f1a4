"""Finding the final answer in a model's output or in a dataset's reference.

What it is: pure string scanning, run in the calling process. The finders, in
order of trust:

1. the text after the last ``</think>`` (an unclosed ``<think>`` means the
   model never answered);
2. the last complete ``\\boxed{}``/``\\fbox{}``; boxes separated only by
   commas, "and"/"or" and math delimiters form one answer list
   (``\\boxed{3}`` and ``\\boxed{5}`` is ``3, 5``);
3. the last GSM8K ``#### n`` line;
4. the last "final answer is X" / "the answer is X" / "Answer: X": a math
   span right after the phrase, else the words up to the end of the sentence;
5. the last math span (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``),
   with the spans joined to it only by commas, "and" or "or";
6. (predictions only, when enabled) the last number in the text, but only
   when it stands alone: never a digit inside a word (``QX7B``) or a number
   that is part of a larger expression (``\\frac{3+\\sqrt{7}}{4}``, ``3 + 4``).

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
    """The final answer of a model output (finders 1-6 of the module docstring)."""
    body = split_think(text)
    if body is None:
        return None
    for finder in (last_boxed, gsm8k_answer, phrase_answer, last_math_span):
        found = finder(body)
        if found is not None:
            return _bounded(found)
    return _bounded(standalone_last_number(body)) if last_number else None


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
        if not _BOX_JOINER.fullmatch(text[end:group[-1][0]]):
            break
        group.append((start, end, content))
    contents = [c.strip() for _, _, c in reversed(group) if c.strip()]
    return ", ".join(contents) if contents else ""


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
        return next(g for g in span.groups() if g is not None)
    sentence = re.split(r"\.(?:\s|$)|\n|(?<=[a-z])\.(?=[A-Z])", rest, maxsplit=1)[0]
    sentence = re.sub(r"\s+(?:I hope it is correct|hope this helps).*$", "", sentence, flags=re.IGNORECASE)
    sentence = sentence.strip().rstrip(".").strip()
    return sentence or None


def last_math_span(text: str) -> str | None:
    """The last math span; spans joined only by commas, "and" or "or" form one list."""
    spans = list(_MATH_SPAN.finditer(text))
    if not spans:
        return None
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        if len(group) >= 20 or not _BOX_JOINER.fullmatch(text[span.end():group[-1].start()]):
            break
        group.append(span)
    contents = [next(g for g in span.groups() if g is not None).strip() for span in reversed(group)]
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
