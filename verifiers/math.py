"""Grade a model's final math answer against a reference answer.

What it is: answer extraction (last ``\\boxed{}``/``\\fbox{}``, GSM8K ``#### n``,
"The answer is X", then a configurable fallback), string normalisation, and an
equivalence check that parses LaTeX with ``latex2sympy2_extended`` and compares
with sympy inside killable, reused worker processes (``pebble.ProcessPool``;
the code they run is in `verifiers._math_compare`).
What it is not: a proof checker, a grader of working, or a parser of
free-form prose. Model text is never passed to ``eval``, ``sympify`` or
``parse_expr``.

Equivalence rules, applied after normalisation:

- Normalisation drops ``$``, ``\\left``/``\\right``, spacing commands,
  ``\\text{}``/``\\mathrm{}`` units (with a trailing ``^2``), trailing plain
  unit words after a number (``5 cm``), degrees (``^\\circ``; inside
  ``\\sin``/``\\cos``/... they become radians), ``\\$``, a trailing period
  and a leading ``x \\in``. ``**`` becomes ``^``; ``\\dfrac``/``\\tfrac``
  become ``\\frac``; ``\\frac12`` and ``\\sqrt2`` get their braces. An
  answer made only of text (``\\text{(A)}``, ``\\text{Monday}``) keeps the
  text; two word answers compare case-insensitively.
- Thousands separators: a whole answer (or the right side of ``x = ...``)
  that looks like ``1,000`` or ``12,345,678.5`` is one number. Inside
  brackets commas always separate items, so ``(1,000)`` is the pair (1, 0)
  and ``(1, 0)`` != ``1,000``.
- Structure: ``\\{a, b\\}`` and bare lists ``a, b`` compare as sets (order and
  repeats ignored); ``(a, b, c)`` and ``[a, b, c]`` compare in order. A pair
  ``(a, b)``/``[a, b]``/``(a, b]`` is an interval or a tuple and must have the
  same brackets. Unions split on ``\\cup``. An interval also matches an
  inequality in one variable with the same solution set.
- Equations: ``lhs = rhs`` equals another equation when ``(lhs - rhs)`` of one
  is a nonzero constant multiple of the other's; equations without a variable
  (``0 = 0``, ``1 = 2``) equal nothing. ``v = value`` (``v`` a variable not in
  ``value``) equals a bare ``value``, so ``x = 3`` == ``3`` but ``x`` !=
  ``x = x``. Inequalities compare the same way with a positive factor.
- Percent: ``percent="both"`` reads ``50\\%`` as 0.5 or as 50; ``"strict"``
  reads it only as its value 0.5. Two percentages compare as they are
  written (``50\\%`` != ``0.5\\%``).
- Numbers without free symbols are compared exactly (``simplify(a - b) ==
  0``) when neither side contains a decimal literal, so ``1/2004!`` !=
  ``1/2006!`` and ``\\sqrt{2}`` != ``99/70``; no float ever underflows.
  When either side has a decimal they are equal when
  ``|a - b| <= rel_tol * max(|a|, |b|)``, evaluated at 30 significant digits
  with unbounded exponents (default ``rel_tol=1e-4``; purely relative, so 0
  only equals 0). Plain numbers (``12``, ``0.50``) are decided by the same
  rule in the calling process, with exact fractions, without a worker.
- Expressions with symbols are equal when ``simplify(a - b) == 0`` after
  decimals become exact rationals. Symbols carry no assumptions (complex), so
  ``\\sqrt{1/n}`` != ``1/\\sqrt{n}``. A lone ``i`` is the imaginary unit.
  Symbols are case-sensitive. Nothing is accepted without a proof of
  equality: no random-point testing.
- Trivial forms are not accepted: an empty answer is unparseable (and
  `equivalent` returns None for it); ``0 = 0`` equals nothing, not even itself.

Resource limits: each comparison runs in a worker with ``timeout`` seconds and
``memory_mb`` of address space. A stuck worker is killed and replaced;
the verdict is ``timeout``. Numbers whose exact value would exceed
100,000 digits (``100000!``, ``9^{9^{9^9}}``) and memory exhaustion are also
reported as ``timeout``: the budget ran out, the answer was not graded.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import TimeoutError as FutureTimeout
from fractions import Fraction
from typing import Any, ClassVar, Literal, NamedTuple

from reasoner.errors import ConfigError
from verifiers._math_compare import Outcome, Rules, compare_task, init_worker
from verifiers.base import Status, Verdict

PercentRule = Literal["both", "strict"]
Fallback = Literal["last_number", "none"]

# ----------------------------------------------------------------- extraction


def extract_answer(text: str, fallback: Fallback | None = "last_number") -> str | None:
    """The final answer in `text`, or None.

    Tries, in order: the last complete ``\\boxed{...}``/``\\fbox{...}``
    (braces matched by a scan, escaped ``\\{`` skipped), the last GSM8K
    ``#### n`` line, the last "The answer is X" / "Final answer: X" (trailing
    period stripped), then `fallback`: ``"last_number"`` (the last number in
    the text) or ``"none"`` (None works too). An empty answer is None.
    """
    _check_fallback(fallback)
    for finder in (_last_boxed, _gsm8k_answer, _answer_phrase):
        found = finder(text)
        if found is not None:
            return found.strip() or None
    return _last_number(text) if fallback == "last_number" else None


def boxed_answer(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}``/``\\fbox{...}`` in `text`, or None (also when empty)."""
    found = _last_boxed(text)
    if found is None:
        return None
    return found.strip() or None


def _check_fallback(fallback: object) -> None:
    if fallback not in ("last_number", "none", None):
        raise ConfigError(f"fallback must be 'last_number' or 'none', not {fallback!r}")


def _last_boxed(text: str) -> str | None:
    end, boxed, fbox = len(text), text.rfind("\\boxed"), text.rfind("\\fbox")
    while (start := max(boxed, fbox)) >= 0:
        content = _boxed_content(text, start, end)
        if content is not None:
            return content
        end = start
        if start == boxed:
            boxed = text.rfind("\\boxed", 0, start)
        else:
            fbox = text.rfind("\\fbox", 0, start)
    return None


def _boxed_content(text: str, start: int, end: int) -> str | None:
    """Content of the box command at `start`; None when it is not closed before `end`.

    A box that is never closed keeps every earlier box from closing after it,
    so each scan stops at the next unclosed box and the search stays linear.
    """
    pos = start + (6 if text.startswith("\\boxed", start) else 5)
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if text[pos:pos + 1] == "{":
        close = _matching_brace(text, pos, end)
        return None if close is None else text[pos + 1:close]
    token = re.match(r"[^\s$]+", text[pos:])  # `\boxed 5`
    return token.group(0) if token else None


def _matching_brace(text: str, open_pos: int, end: int | None = None) -> int | None:
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


_GSM8K = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(r"(?:answer\s+is|final\s+answer\s*:)\s*:?\s*([^\n]*)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")


def _gsm8k_answer(text: str) -> str | None:
    found = _GSM8K.findall(text)
    return found[-1].strip().rstrip(".") if found else None


def _answer_phrase(text: str) -> str | None:
    found = _ANSWER_IS.findall(text)
    if not found:
        return None
    answer = found[-1].replace("**", "").strip()
    if answer.startswith("$"):
        math_part = re.match(r"\$+([^$]*)\$", answer)
        return math_part.group(1) if math_part else answer.strip("$")
    answer = re.split(r"\.\s", answer)[0]
    return answer.strip().rstrip(".")


def _last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return found[-1] if found else None


def _reference_answer(reference: Any) -> str | None:
    if isinstance(reference, (int, float, Fraction)) and not isinstance(reference, bool):
        return str(reference)
    if not isinstance(reference, str):
        raise TypeError(f"reference must be a string or number, not {type(reference).__name__}")
    if "\\boxed" in reference or "\\fbox" in reference or "####" in reference:
        return extract_answer(reference, fallback="none")
    return reference.strip() or None


# -------------------------------------------------------------- normalisation

_UNICODE = str.maketrans({"−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ",
                          "π": "\\pi ", "∞": "\\infty ", "√": "\\sqrt", "≤": "\\le ",
                          "≥": "\\ge ", "％": "\\%", "∪": "\\cup "})
_REWRITES = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"^\$+|\$+$|^\\[(\[]|\\[)\]]$", ""),
    (r"\\(?:left|right)\.", ""),
    (r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])", ""),
    (r"\\(?:displaystyle|textstyle|scriptstyle)(?![a-zA-Z])", ""),
    (r"(\d)\\,(\d{3})(?!\d)", r"\1\2"),
    (r"\{,\}", ","),
    (r"\\!", ""),
    (r"\\[,;: ]|\\q?quad(?![a-zA-Z])|~", " "),
    (r"\\[dtc]frac(?![a-zA-Z])", r"\\frac"),
    (r"\\[dt]binom(?![a-zA-Z])", r"\\binom"),
    (r"\\varnothing(?![a-zA-Z])", r"\\emptyset"),
    (r"\\langle(?![a-zA-Z])", "("),
    (r"\\rangle(?![a-zA-Z])", ")"),
    (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])|°", ""),
    (r"\\\$|\$", ""),
    (r"(?<!\\)%|\\text\{\s*percent\s*\}|\s*\bpercent\b", r"\\%"),
    (r"\s*\\text\{\s*(?:and|or)\s*\}\s*|\s+(?:and|or)\s+", ", "),
    (r"\\mathrm\{([ei])\}", r"\1"),
    (r"\\(?:mathit|mathbf|boldsymbol)(?![a-zA-Z])", ""),
    (r"\\text\{\s*\}", ""),
    (r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}"),
    (r"\\frac\s*([0-9a-zA-Z])\s*\{", r"\\frac{\1}{"),
    (r"\\frac\s*(\{(?:[^{}]|\{[^{}]*\})*\})\s*([0-9a-zA-Z])", r"\\frac\1{\2}"),
    (r"\\sqrt\s*(\[[^\]]*\])?\s*([0-9a-zA-Z])", r"\\sqrt\1{\2}"),
]]
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|textrm|textsf|textnormal|mathrm|mbox)\s*\{")
_UNIT_POWER = re.compile(r"\s*\^\s*(?:\{\s*\d\s*\}|\d)")
_TRAILING_WORDS = re.compile(r"^(.*[\d}])\s+([A-Za-z]+\.?(?:\s+[A-Za-z]+\.?)*)$")
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
    text = answer.strip().translate(_UNICODE).replace("**", "^")
    if _TRIG.search(text):  # sin 30^\circ is sin(pi/6); elsewhere a degree mark is a unit
        text = _DEGREES.sub(r"(\\frac{\1\\pi}{180})", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text).strip()
    text = _strip_text(text)
    text = re.sub(r"^[a-zA-Z]\s*\\in(?![a-zA-Z])\s*", "", text)
    text = _strip_unit_words(text.strip().rstrip(".").strip())
    text = _THOUSANDS.sub(lambda m: (m.group(1) or "") + m.group(2).replace(",", ""), text)
    text = _SCIENTIFIC.sub(r"\1\\times 10^{\2}", text)
    text = _CHOICE.sub(r"\1", _unwrap_braces(text))
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(?<=[^\w\s])\s+|\s+(?=[^\w\s])", "", text).strip()


def _unwrap_braces(text: str) -> str:
    """`{5}` -> `5`: a bare brace group is grouping, not a set."""
    while text.startswith("{") and _matching_brace(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _strip_text(text: str) -> str:
    """Drop `\\text{}`-style units; keep their content when nothing else is left."""
    math_parts, text_parts, pos = [], [], 0
    while (command := _TEXT_COMMAND.search(text, pos)) is not None:
        close = _matching_brace(text, command.end() - 1)
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
    """`5 cm` -> `5`; keeps single letters (`2 x`) and function names."""
    found = _TRAILING_WORDS.match(text)
    if not found:
        return text
    words = [word.rstrip(".").lower() for word in found.group(2).split()]
    if all((len(w) >= 3 or w in _SHORT_UNITS) and w not in _MATH_WORDS for w in words):
        return found.group(1)
    return text


# ------------------------------------------------------------------ verifier
# Comparisons that need sympy run in worker processes: see verifiers._math_compare.

_STATUS = {"equal": Status.CORRECT, "unequal": Status.INCORRECT, "bad_answer": Status.UNPARSEABLE,
           "bad_reference": Status.ERROR, "limit": Status.TIMEOUT, "timeout": Status.TIMEOUT,
           "error": Status.ERROR}
_SCORE = {Status.CORRECT: 1.0, Status.INCORRECT: 0.0}
_PLAIN_NUMBER = re.compile(r"[-+]?\d{1,40}(?:\.\d{1,40})?")
_WORDS = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]+)*")


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int
    maxsize: int


class _LRU:
    """A thread-safe bounded map from answer pairs to outcomes, with hit counts."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = self.misses = 0
        self._data: OrderedDict[tuple[str, str], Outcome] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Outcome | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._data.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: Outcome) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, len(self._data), self.maxsize)


def _fast_outcome(answer: str, reference: str, rules: Rules) -> Outcome | None:
    """Decide cheaply in the parent when possible: identical strings, plain numbers, words.

    Identical equations still go to sympy, so that `0=0` never equals itself.
    """
    if answer == reference and "=" not in answer:
        return Outcome("equal", "identical after normalisation")
    if _PLAIN_NUMBER.fullmatch(answer) and _PLAIN_NUMBER.fullmatch(reference):
        a, b = Fraction(answer), Fraction(reference)
        if "." in answer or "." in reference:
            same = abs(a - b) <= Fraction(rules.rel_tol) * max(abs(a), abs(b))
        else:
            same = a == b
        return Outcome("equal", "equal numbers") if same else Outcome("unequal", "different numbers")
    if _WORDS.fullmatch(answer) and _WORDS.fullmatch(reference) and answer.lower() == reference.lower():
        return Outcome("equal", "same words")
    return None


class MathVerifier:
    """Grades math answers; see the module docstring for the equivalence rules.

    Args:
        timeout: Seconds one comparison may run in a worker before the
            worker is killed and replaced; the verdict is then `timeout`.
            Waiting for a free worker, and the first start of the workers
            (about 2 s), do not count against it.
        workers: Worker processes; None means min(4, CPU count). Workers start
            lazily on the first comparison that needs sympy and are reused.
        percent: "both" reads `50\\%` as 0.5 or 50; "strict" only as 0.5.
        rel_tol: Relative tolerance for numbers when either side is written
            as a decimal; exact values are compared exactly.
        fallback: How `verify` finds an answer without a box, `####` or
            "The answer is": "last_number" in the text, or "none".
        cache_size: Answer pairs whose outcome is remembered (LRU); 0 disables.
        memory_mb: Address space each worker may add to what it holds at
            start-up (Linux only); running out gives `timeout`. None: no limit.

    Thread-safe, picklable (workers are recreated after unpickling), and a
    context manager that stops its workers on exit. Workers start with
    forkserver (spawn where unavailable), which re-imports the main module:
    scripts need an `if __name__ == "__main__":` guard.
    """

    def __init__(self, timeout: float = 5.0, workers: int | None = None,
                 percent: PercentRule = "both", rel_tol: float = 1e-4,
                 fallback: Fallback | None = "last_number", cache_size: int = 65536,
                 memory_mb: int | None = 2048) -> None:
        if timeout <= 0 or rel_tol < 0 or cache_size < 0 or (workers is not None and workers < 1):
            raise ConfigError("timeout and workers must be positive; rel_tol and cache_size non-negative")
        if percent not in ("both", "strict"):
            raise ConfigError(f"percent must be 'both' or 'strict', not {percent!r}")
        _check_fallback(fallback)
        self.timeout = timeout
        self.workers = workers or min(4, multiprocessing.cpu_count())
        self.percent: PercentRule = percent
        self.rel_tol = rel_tol
        self.fallback = fallback
        self.cache_size = cache_size
        self.memory_mb = memory_mb
        self._setup()

    def _setup(self) -> None:
        self._rules = Rules(self.percent, self.rel_tol)
        self._cache = _LRU(self.cache_size)
        self._lock = threading.Lock()
        self._pool: Any = None

    # Public API

    def verify(self, prediction: str, reference: Any) -> Verdict:
        """Grade raw model text against a bare, boxed or `#### n` reference."""
        return self.verify_batch([(prediction, reference)])[0]

    def verify_batch(self, items: list[tuple[str, Any]]) -> list[Verdict]:
        """Grade many predictions; comparisons run in parallel across workers.

        Each verdict's `seconds` is the wall time of the whole call.
        """
        started = time.perf_counter()
        prepared = [self._prepare(prediction, reference) for prediction, reference in items]
        pairs = [pair for _, _, pair in prepared if pair is not None]
        decided = iter(self._decide_many(pairs))
        seconds = time.perf_counter() - started
        return [self._verdict(outcome or next(decided), extracted, seconds)
                for extracted, outcome, _ in prepared]

    # The `Verifier` protocol (verifiers.base): extract, group, grade

    domain: ClassVar[str] = "math"

    def extract(self, text: str) -> str | None:
        """The final answer `text` commits to (see `extract_answer`), or None."""
        return extract_answer(text, self.fallback)

    def group(self, answers: list[str | None]) -> list[int | None]:
        """Equal labels for equivalent answers (`cluster`)."""
        return self.cluster(answers)

    def grade(self, answer: str | None, reference: Any) -> Verdict:
        """An answer already extracted (by `extract`) against a reference, without extracting again."""
        return self.grade_batch([(answer, reference)])[0]

    def grade_batch(self, items: list[tuple[str | None, Any]]) -> list[Verdict]:
        """`grade` for many pairs; comparisons run in parallel across workers."""
        started = time.perf_counter()
        prepared = [self._prepare_answer(answer, reference) for answer, reference in items]
        pairs = [pair for _, _, pair in prepared if pair is not None]
        decided = iter(self._decide_many(pairs))
        seconds = time.perf_counter() - started
        return [self._verdict(outcome or next(decided), extracted, seconds) for extracted, outcome, _ in prepared]

    def equivalent(self, a: str, b: str) -> bool | None:
        """Whether two extracted answers are equal; None when undecidable."""
        pair = (normalize_answer(a), normalize_answer(b))
        if not all(pair):
            return None  # an empty answer is never equal to anything, itself included
        return {"equal": True, "unequal": False}.get(self._decide_many([pair])[0].kind)

    def cluster(self, answers: list[str | None]) -> list[int | None]:
        """Label equivalent answers with the same int, in order of first appearance.

        None and empty answers get None. Each new distinct normalised answer is
        compared with one representative per existing cluster (in parallel,
        memoised) and joins the first it equals. Equivalence is not always
        transitive (`50\\%` ~ 0.5 and ~ 50), so labels depend on order.
        """
        keys = [normalize_answer(a) if a is not None else "" for a in answers]
        labels: dict[str, int] = {}
        representatives: list[str] = []
        for key in dict.fromkeys(k for k in keys if k):
            outcomes = self._decide_many([(key, rep) for rep in representatives])
            match = next((i for i, o in enumerate(outcomes) if o.kind == "equal"), None)
            if match is None:
                representatives.append(key)
                match = len(representatives) - 1
            labels[key] = match
        return [labels[k] if k else None for k in keys]

    def cache_info(self) -> CacheInfo:
        """Hits, misses and size of the equivalence cache (fast paths are not counted)."""
        return self._cache.info()

    def close(self) -> None:
        """Stop the worker processes; a later call starts new ones."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join()

    def __enter__(self) -> MathVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in
                ("timeout", "workers", "percent", "rel_tol", "fallback", "cache_size", "memory_mb")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    # Internals

    def _prepare(self, prediction: str, reference: Any) -> tuple[str | None, Outcome | None, Any]:
        """(extracted answer, outcome if already decided, normalised pair to compare)."""
        if not isinstance(prediction, str):
            raise TypeError(f"prediction must be a string, not {type(prediction).__name__}")
        return self._prepare_answer(extract_answer(prediction, self.fallback), reference)

    def _prepare_answer(self, extracted: str | None, reference: Any) -> tuple[str | None, Outcome | None, Any]:
        ref = _reference_answer(reference)
        ref_key = normalize_answer(ref) if ref is not None else ""
        answer_key = normalize_answer(extracted) if extracted is not None else ""
        if not ref_key:
            return extracted, Outcome("bad_reference", f"reference has no answer: {reference!r:.200}"), None
        if not answer_key:
            return extracted, Outcome("bad_answer", "no answer found in the prediction"), None
        return extracted, None, (answer_key, ref_key)

    def _verdict(self, outcome: Outcome, extracted: str | None, seconds: float) -> Verdict:
        status = _STATUS[outcome.kind]
        return Verdict(status=status, score=_SCORE.get(status), extracted=extracted,
                       detail=outcome.detail, seconds=seconds)

    def _decide_many(self, pairs: list[tuple[str, str]]) -> list[Outcome]:
        """Outcomes for normalised pairs: fast path, then cache, then workers."""
        known: dict[tuple[str, str], Outcome] = {}
        futures: dict[tuple[str, str], Any] = {}
        for pair in pairs:
            if pair in known or pair in futures:
                continue
            found = _fast_outcome(*pair, self._rules) or self._cache.get(pair)
            if found is not None:
                known[pair] = found
            else:
                futures[pair] = self._get_pool().schedule(
                    compare_task, args=(*pair, self._rules), timeout=self.timeout)
        for pair, future in futures.items():
            known[pair] = self._collect(future)
            if known[pair].kind != "error":
                self._cache.put(pair, known[pair])
        return [known[pair] for pair in pairs]

    def _collect(self, future: Any) -> Outcome:
        from pebble import ProcessExpired

        try:
            return future.result()
        except FutureTimeout:
            return Outcome("timeout", f"no decision within {self.timeout:g} s; worker killed")
        except ProcessExpired as exc:
            return Outcome("error", f"worker process died: {exc}")

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None or not self._pool.active:
                from pebble import ProcessPool

                if self._pool is not None:
                    self._pool.stop()  # broken: replace it whole
                methods = multiprocessing.get_all_start_methods()
                context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
                self._pool = ProcessPool(max_workers=self.workers, initializer=init_worker,
                                         initargs=(self.memory_mb,), context=context)
                weakref.finalize(self, self._pool.stop)
            return self._pool
