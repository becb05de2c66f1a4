"""Grade a model's final math answer against a reference answer.

What it is: answer extraction for model outputs and for references
(`reasoner.verifiers._math_extract`: text after ``</think>``, boxes, ``#### n``,
answer phrases and the value their sentence states, the last math span, bare
LaTeX, a conservative last-number fallback), string normalisation
(`reasoner.verifiers._math_normalize`), a fast path that decides plain numbers,
fractions, words and identical answers in the calling process without sympy
(`reasoner.verifiers._math_fast`), and an equivalence check that parses LaTeX (a
fast parser for plain arithmetic, `reasoner.verifiers._latex_fast`, else
``latex2sympy2_extended``) and compares with sympy and mpmath inside killable,
reused worker subprocesses (`reasoner.verifiers._math_workers`; the code they run
is in `reasoner.verifiers._math_compare`). Scores follow the one rule in
`reasoner.verifiers.base`: no answer, an unparseable answer or a comparison that
runs out of time or size scores 0 (status ``unparseable`` / ``timeout``); only
a reference that does not parse scores None (status ``error``). No prediction
ever makes the verifier fail: when sympy gives up comparing two parsed
answers, the verdict is ``incorrect`` ("not shown equal", with sympy's error
in the detail). What it is not: a proof checker, a grader of working, or a
parser of free-form prose. Model text is never passed to ``eval``,
``sympify`` or ``parse_expr``.

Equivalence rules, applied after normalisation:

- Normalisation drops ``$``, ``\\left``/``\\right``, spacing commands
  (``\\,``, ``\\!``, ``\\quad``, ``\\hspace{}``, ``\\phantom{}``),
  ``\\text{}``/``\\mathrm{}``/``\\textbf{}`` units (with a trailing ``^2``),
  plain unit words after a number (``5 cm``, ``60 km/h``, ``42cm``, in each
  item of a list), degree marks (``^\\circ``, ``°``, "degrees"; inside
  ``\\sin``/``\\cos``/... they become radians), ``\\$``, a trailing period and
  a leading ``x \\in`` (also ``\\theta \\in``). ``**`` becomes ``^`` (and
  ``**5**`` is 5); ``\\dfrac``/``\\tfrac``/``\\cfrac`` and ``{a \\over b}``
  become ``\\frac``; ``\\frac12`` and ``\\sqrt2`` get their braces;
  ``>=``/``\\geqslant`` become ``\\ge`` (and so on for ``<=`` and ``!=``);
  ``.4`` becomes ``0.4``; ``A \\approx B`` keeps the exact ``A``;
  ``0.\\overline{3}`` and ``0.(3)`` are 1/3. An answer made only of text
  (``\\text{(A)}``, ``\\text{Monday}``) keeps the text; word answers compare
  case-insensitively; "all real numbers" is ``(-\\infty, \\infty)``.
- Number formats: a whole answer (or the right side of ``x = ...``) like
  ``1,000``, ``1 000``, ``45\\,210``, ``45{,}210``, ``22,\\!222`` or
  ``12,345,678.5`` is one number. A comma after a lone leading zero is a
  decimal comma (``0,375`` is 0.375). ``3,15`` and ``250,5`` (a comma not
  followed by exactly three digits) are read both as a decimal with a comma
  separator and as a list; either may match. Inside brackets commas always
  separate items, so ``(1,000)`` is the pair (1, 0) and ``(1, 0)`` !=
  ``1,000``; ``45, 210`` (a comma and a space) is a list. Mixed numbers
  (``3\\frac12``) are 7/2; ``6.02 \\times 10^{23}``, ``6.02e23`` and
  ``2.5E+3`` are scientific notation.
- Chains: ``y = 2+3 = 5`` and ``x = 8/2 = 4 \\approx 4.0`` answer with their
  last side, also when the sides disagree (``2+2 = 5`` is 5); so does an
  equation of numbers (``6 \\cdot 4 = 24``).
- Structure: ``\\{a, b\\}``, bare lists ``a, b`` (also joined by "and",
  "or", ";") and several boxes compare as sets (order and repeats ignored);
  a set of one answer is that answer. Semicolons separate answers whose
  parts are separated by commas (``a=3,b=1;a=5,b=1`` is the two pairs (3, 1)
  and (5, 1)). ``(a, b, c)`` and ``[a, b, c]`` compare in order. A pair
  ``(a, b)``/``[a, b]``/``(a, b]`` is an interval or a tuple and must have the
  same brackets. Unions split on ``\\cup``; relations joined by "and" are an
  intersection. An interval or union matches inequalities in one variable
  (chained, reversed, joined by "and"/"or", with ``|x|``, or a set-builder
  ``\\{t \\mid -3 \\le t \\le 5\\}``) with the same solution set; ``x \\ne
  3`` matches its two-interval union. A column or row vector matches a tuple
  of the same entries. Matrix arithmetic in an answer (``A + B``, ``2A``,
  ``AI``, ``A^2``, ``\\det``) is carried out before comparing; so are written
  integrals, sums and derivatives.
- Equations: ``lhs = rhs`` equals another equation when ``(lhs - rhs)`` of one
  is a nonzero constant multiple of the other's; equations without a variable
  (``0 = 0``, ``1 = 2``) equal nothing as equations. ``name = value`` (a
  variable, ``f(x)``, or a product name like ``PQ``, not occurring in
  ``value``) equals a bare ``value``, so ``x = 3`` == ``3`` but ``x`` !=
  ``x = x``; ``(a, b) = (4, 1)`` is the tuple ``(4, 1)``. Inequalities
  compare up to a positive factor.
- Labelled values: ``label = value`` where the label names a quantity
  (``|PQ|``, ``AB:CD``, ``\\frac{PM}{MQ}``, ``m\\angle A``, ``f(3)``,
  ``a_{10}``, ``P(A)``) and the value has no variable equals the bare value,
  in either direction; two labelled values compare as values only under the
  same label (``PQ = 6`` != ``QR = 6``). A ratio ``a:b`` is the fraction a/b
  (``2:7`` == ``4:14`` == ``\\frac27``); ``a:b:c`` is the tuple (a, b, c).
- Angles: a whole answer in degrees (``30^\\circ``, also labelled) is the
  number 30 and also pi/6 radians, so it matches ``30`` and
  ``\\frac{\\pi}{6}``; a bare ``\\frac{\\pi}{6}`` does not match a bare
  ``30``.
- Percent, the rule: ``p\\%`` (also ``p %``, ``p percent``, ``p\\text{\\%}``)
  means p/100 and, with ``percent="both"`` (the default), also the number p as
  written, because datasets store "what percent" answers both ways; either
  reading may match the other side. So ``75\\%`` == ``0.75`` == ``\\frac34``
  and ``75\\%`` == ``75``, in either direction. A number without a percent
  sign is never read as a percentage (``0.75`` != ``75``). Two percentages
  compare as they are written (``50\\%`` != ``0.5\\%``). ``percent="strict"``
  reads ``p\\%`` only as p/100 (``75\\%`` != ``75``).
- Decimals: tolerance applies only where one side says it is rounded. A
  decimal *reference* is a rounded value: an answer matches within relative
  ``rel_tol`` (default 1e-4) or, when the reference has two or more decimal
  places, within half a unit of the reference's last place (``\\frac27`` ==
  ``0.29``, ``\\pi`` == ``3.14``); an answer written with fewer decimal
  places than the reference must equal it exactly (``33.33`` != ``33.333``).
  A decimal *answer* with two or more decimal places matches an exact
  reference (integer, fraction, radical, ``\\pi``) when it is that value
  rounded to the answer's own number of places: ``0.33`` == ``\\frac13``,
  ``0.14285714285714`` == ``\\frac17``, ``1.414`` == ``\\sqrt2``, entry by
  entry in intervals, tuples and vectors (``(0.4, 1.6667]`` ==
  ``(\\frac25, \\frac53]``); a truncation (``0.1428`` for 1/7), a one-place
  decimal (``0.3`` for 1/3) or a wrong last digit does not, and an exact
  integer reference stays exact (``9999.857`` != ``10{,}000``). A caller who
  states ``rel_tol`` replaces this rounding rule with that relative tolerance
  for decimal answers against exact references. Tolerances are evaluated at
  30 significant digits with unbounded exponents, so ``1/2004!`` !=
  ``1/2006!``.
- Exact numbers are compared numerically first: their difference is
  evaluated with mpmath at adaptive precision (up to 1,000 digits of working
  precision, so cancellation is seen); 30 accurate nonzero digits mean
  unequal at once (``10^{100}+1`` != ``10^{100}``). A difference that stays
  zero is confirmed symbolically when it is algebraic (radicals only: its
  minimal polynomial must be ``t``, an exact proof, so nested radicals like
  ``\\sqrt{3+2\\sqrt2}`` == ``1+\\sqrt2`` are proved); any other difference
  (``10^{\\frac{-3+\\sqrt7}{4}}`` against ``\\frac{10^{\\sqrt7/4}}{10^{3/4}}``,
  logarithms, ``\\pi``, trigonometry) that is zero to 1,000 digits is
  accepted without waiting for ``simplify``, which can outlast any time limit
  on nested powers. An odd root of a negative number is the real root
  (``\\sqrt[3]{-27}`` == -3). Expressions with symbols are equal when
  ``a - b`` expands or simplifies to 0 after decimals become exact
  rationals; sample points are used only to reject (a clearly nonzero
  difference at an exact rational point skips simplify). Symbols carry no
  assumptions (complex), so ``\\sqrt{1/n}`` != ``1/\\sqrt{n}``. A lone ``i``
  is the imaginary unit. Symbols are case-sensitive.
- Trivial forms are not accepted: an empty answer is unparseable (and
  `equivalent` returns None for it); ``0 = 0`` equals nothing, not even itself.

Resource limits: each comparison runs in a worker with ``timeout`` seconds and
``memory_mb`` of address space. A stuck worker is killed (SIGKILL) and
replaced in the background; the verdict is ``timeout``. Numbers whose exact
value would exceed 100,000 digits (``100000!``, ``9^{9^{9^9}}``) and memory
exhaustion are also reported as ``timeout``; extracted answers longer than
4,000 characters are refused (``unparseable``), and every scan of the raw
output is linear, so a megabyte output costs milliseconds.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any, ClassVar, Literal, NamedTuple

from reasoner.errors import ConfigError
from reasoner.verifiers._math_compare import Outcome, PercentRule, Rules
from reasoner.verifiers._math_extract import find_prediction_answer, find_reference_answer, last_boxed
from reasoner.verifiers._math_fast import DEFINITE, fast_outcome, is_words, pair_readings, quick_key, simple_number
from reasoner.verifiers._math_normalize import normalize_answer
from reasoner.verifiers._math_workers import WorkerDied, WorkerPool, WorkerTimeout
from reasoner.verifiers.base import Status, Verdict, score_for

Fallback = Literal["last_number", "none"]

# ----------------------------------------------------------------- extraction


def extract_answer(text: str, fallback: Fallback | None = "last_number") -> str | None:
    """The final answer of a model output, or None.

    Looks after the last ``</think>`` (prices such as ``$18`` are not math
    delimiters), then tries, in order: the last closed
    ``\\boxed{...}``/``\\fbox{...}`` (boxes joined by commas, "and"/"or" or
    a few words such as units form one list), the last GSM8K ``#### n`` line,
    the last "final answer is X" / "the answer is X" / "Answer: X" (the value
    its sentence states: "The smallest $k$ is 17" is 17), the last math span
    (``$...$``, ``\\(...\\)``, ``\\[...\\]``; or the value the sentence
    states after it), an output that is nothing but math without delimiters
    (``\\frac{7}{4}``), then `fallback`: ``"last_number"`` takes the value the
    last sentence states (``so x equals \\frac{3+\\sqrt7}{4}``), a last line
    of bare math, or the last number in the text only when it stands alone
    (not glued to a word, not part of a larger expression); ``"none"`` (or
    None) stops. An empty answer is None.
    """
    _check_fallback(fallback)
    return find_prediction_answer(text, last_number=fallback == "last_number")


def boxed_answer(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}``/``\\fbox{...}`` in `text`, or None (also when empty)."""
    found = last_boxed(text)
    if found is None:
        return None
    return found.strip() or None


def _key(answer: str | None) -> str:
    """The normalised answer ("" for none): plain numbers and fractions skip normalisation."""
    if answer is None:
        return ""
    return quick_key(answer) or normalize_answer(answer)


def _check_fallback(fallback: object) -> None:
    if fallback not in ("last_number", "none", None):
        raise ConfigError(f"fallback must be 'last_number' or 'none', not {fallback!r}")


def _reference_answer(reference: Any) -> str | None:
    if isinstance(reference, (int, float, Fraction)) and not isinstance(reference, bool):
        return str(reference)
    if not isinstance(reference, str):
        raise TypeError(f"reference must be a string or number, not {type(reference).__name__}")
    return find_reference_answer(reference)


# ------------------------------------------------------------------ verifier
# Comparisons that need sympy run in worker processes: see verifiers._math_compare.

_STATUS = {"equal": Status.CORRECT, "unequal": Status.INCORRECT, "bad_answer": Status.UNPARSEABLE,
           "bad_reference": Status.ERROR, "limit": Status.TIMEOUT, "timeout": Status.TIMEOUT,
           "error": Status.ERROR}
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


class MathVerifier:
    """Grades math answers; see the module docstring for the equivalence rules.

    Args:
        timeout: Seconds one comparison may run in a worker before the
            worker is killed and replaced; the verdict is then `timeout`.
            Waiting for a free worker, and the first start of the workers
            (about 2 s), do not count against it.
        workers: Worker processes; None means min(4, CPU count). Workers start
            lazily on the first comparison that needs sympy and are reused.
        percent: "both" reads `50\\%` as 0.5 or 50; "strict" only as 0.5
            (see "Percent, the rule" in the module docstring).
        rel_tol: None (default): a decimal reference is matched within 1e-4
            relative (or, with two or more decimal places, within half a
            unit of its last place), and an exact reference (integer,
            fraction, radical) by a decimal answer with two or more places
            only when it is the reference rounded to those places (`0.33` ==
            1/3, `9999.857` != `10{,}000`). A number: a stated precision,
            used against decimal references and, instead of the rounding
            rule, for a decimal answer against an exact reference.
        fallback: How `verify` finds an answer without a box, `####` or
            "The answer is": "last_number" in the text, or "none".
        cache_size: Answer pairs whose outcome is remembered (LRU); 0 disables.
        memory_mb: Address space each worker may add to what it holds at
            start-up (Linux only); running out gives `timeout`. None: no limit.

    Thread-safe, picklable (workers are recreated after unpickling), and a
    context manager that stops its workers on exit. Workers are plain
    subprocesses that never import the caller's main module, so scripts
    without an `if __name__ == "__main__":` guard, `python -`, notebooks,
    threads and Ray actors all work (`reasoner.verifiers._math_workers`).
    """

    def __init__(self, timeout: float = 5.0, workers: int | None = None,
                 percent: PercentRule = "both", rel_tol: float | None = None,
                 fallback: Fallback | None = "last_number", cache_size: int = 65536,
                 memory_mb: int | None = 2048) -> None:
        if timeout <= 0 or (rel_tol is not None and rel_tol < 0) or cache_size < 0 or (workers is not None and workers < 1):
            raise ConfigError("timeout and workers must be positive; rel_tol and cache_size non-negative")
        if percent not in ("both", "strict"):
            raise ConfigError(f"percent must be 'both' or 'strict', not {percent!r}")
        _check_fallback(fallback)
        self.timeout = timeout
        self.workers = workers or min(4, os.cpu_count() or 1)
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
        self._pool: WorkerPool | None = None
        self._threads: ThreadPoolExecutor | None = None

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

    # The `Verifier` protocol (reasoner.verifiers.base): extract, group, grade

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
        pair = (_key(a), _key(b))
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
        keys = [_key(a) for a in answers]
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
            threads, self._threads = self._threads, None
        if pool is not None:
            pool.close()
        if threads is not None:
            threads.shutdown(wait=False)

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
        ref_key = _key(ref)
        answer_key = _key(extracted)
        if not ref_key:
            return extracted, Outcome("bad_reference", f"reference has no answer: {reference!r:.200}"), None
        if not answer_key:
            return extracted, self._reference_outcome(ref_key) or Outcome(
                "bad_answer", "no answer found in the prediction"), None
        return extracted, None, (answer_key, ref_key)

    def _reference_outcome(self, ref_key: str) -> Outcome | None:
        """`bad_reference` when the reference does not parse (checked even when the answer
        is missing, so a dataset problem is never blamed on the model); else None."""
        if simple_number(ref_key) or is_words(ref_key):
            return None
        key = (ref_key, "\0reference")
        outcome = self._cache.get(key)
        if outcome is None:
            try:
                reading = pair_readings(ref_key, ref_key)[0][1]
                outcome = self._worker_pool().call("reference_task", (reading,), self.timeout)
            except (WorkerTimeout, WorkerDied) as exc:
                outcome = Outcome("error", f"reference check failed: {type(exc).__name__} {exc}")
            if outcome.kind != "error":
                self._cache.put(key, outcome)
        return outcome if outcome.kind in ("bad_reference", "error") else None

    def _verdict(self, outcome: Outcome, extracted: str | None, seconds: float) -> Verdict:
        status = _STATUS[outcome.kind]
        return Verdict(status=status, score=score_for(status), extracted=extracted,
                       detail=outcome.detail, seconds=seconds)

    def _decide_many(self, pairs: list[tuple[str, str]]) -> list[Outcome]:
        """Outcomes for normalised pairs: fast path, then cache, then workers (in parallel)."""
        known: dict[tuple[str, str], Outcome] = {}
        todo: list[tuple[str, str]] = []
        for pair in dict.fromkeys(pairs):
            found = fast_outcome(*pair, self._rules) or self._cache.get(pair)
            if found is not None:
                known[pair] = found
            else:
                todo.append(pair)
        if len(todo) == 1:
            known[todo[0]] = self._decide_readings(todo[0])
        elif todo:
            for pair, outcome in zip(todo, self._thread_pool().map(self._decide_readings, todo)):
                known[pair] = outcome
        for pair in todo:
            if known[pair].kind != "error":
                self._cache.put(pair, known[pair])
        return [known[pair] for pair in pairs]

    def _decide_readings(self, pair: tuple[str, str]) -> Outcome:
        """Equal when any reading of each side is equal (`3,15` is 3.15 or the list 3, 15);
        otherwise the most definite outcome among the readings."""
        outcomes = []
        for answer, reference in pair_readings(*pair):
            outcome = fast_outcome(answer, reference, self._rules) or self._compare(answer, reference)
            if outcome.kind == "equal":
                return outcome
            outcomes.append(outcome)
        return min(outcomes, key=lambda o: DEFINITE.index(o.kind))

    def _compare(self, answer: str, reference: str) -> Outcome:
        try:
            return self._worker_pool().call("compare_task", (answer, reference, self._rules), self.timeout)
        except WorkerTimeout:
            return Outcome("timeout", f"no decision within {self.timeout:g} s; worker killed")
        except WorkerDied as exc:  # the input exhausted the worker (e.g. its memory); it is replaced
            return Outcome("limit", f"the worker died on this input ({exc}); a new one replaces it")

    def _worker_pool(self) -> WorkerPool:
        with self._lock:
            if self._pool is None:
                self._pool = WorkerPool(self.workers, self.memory_mb)
                weakref.finalize(self, self._pool.close)
            return self._pool

    def _thread_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="math-verifier")
                weakref.finalize(self, self._threads.shutdown, wait=False)
            return self._threads
