"""Property-based tests: no input makes the math verifier fail (the ERROR status) or raise.

Random and adversarial LaTeX and text (hypothesis) go through the whole path a
user's call takes: extraction, normalisation, the fast path and the sympy
workers. A prediction can be wrong, unparseable or too slow (scores 0), never
a verifier failure (scores None); a reference can be unusable (ERROR, named as
the reference's fault), never make the verifier itself fail. Example counts
are small so the suite stays fast; each run draws new inputs, and a failure
prints the input that reproduces it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner.verifiers.base import Status
from reasoner.verifiers.math import MathVerifier, extract_answer

TOKENS = [
    "0", "1", "2", "7", "12", "0.5", "3,15", "1,000", "45{,}210", r"45\,210", "0,375", "-", "+", "*", "/", "^", "_",
    "=", "<", ">", r"\le", r"\ge", r"\ne", r"\approx", ",", ";", ":", "|", "!", "%", r"\%", "(", ")", "[", "]", "{",
    "}", r"\{", r"\}", r"\left(", r"\right)", r"\frac", r"\dfrac", r"\sqrt", r"\sqrt[3]", r"\pi", r"\infty", r"\cdot",
    r"\times", r"\div", r"\pm", r"\cup", r"\cap", r"\in", r"\mid", r"\circ", r"^\circ", r"\text{", r"\mathrm{",
    r"\boxed{", r"\fbox{", "$", "$$", r"\(", r"\)", r"\[", r"\]", r"\begin{pmatrix}", r"\end{pmatrix}", "&", r"\\",
    r"\sin", r"\log", r"\ln", "e", "i", "x", "y", "t", "AB", "PQ", r"\angle", r"\overline", " ", " and ", " or ",
    " is ", " cm", " km/h", " apples", "The answer is ", "Final Answer: ", "####", "\n", "</think>", "<think>",
    r"\over", "E+3", r"\mathbb{R}", r"\emptyset", r"\binom", "!", r"\!", r"\ ", "~", r"\quad", "..", ".",
]

latex_soup = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join)
anything = st.one_of(latex_soup, st.text(max_size=60), latex_soup.map(lambda s: rf"\boxed{{{s}}}"),
                     latex_soup.map(lambda s: f"The answer is ${s}$."))
REFERENCES = ["5", "-3", r"\frac{1}{7}", "0.25", r"\sqrt{2}", "(1, 2]", r"\{3, 8\}", "y = 2x + 3", r"x \le 4",
              r"\begin{pmatrix}1\\2\end{pmatrix}", r"\text{(B)}", r"50\%", "|PQ| = 6", r"30^\circ", "3, 8",
              r"10^{\frac{-3+\sqrt{7}}{4}}", "#### 1,234"]

FUZZ = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(timeout=3.0, workers=2) as v:
        yield v


@FUZZ
@given(prediction=anything, reference=st.sampled_from(REFERENCES))
def test_no_prediction_makes_the_verifier_fail(verifier, prediction, reference):
    verdict = verifier.verify(prediction, reference)
    assert verdict.status is not Status.ERROR and verdict.score in (0.0, 1.0), (verdict.status, verdict.detail)


@FUZZ
@given(answer=latex_soup, reference=latex_soup)
def test_a_bad_reference_is_the_only_error(verifier, answer, reference):
    verdict = verifier.grade(answer, reference)
    if verdict.status is Status.ERROR:
        assert "reference" in verdict.detail and "sympy failed while comparing" not in verdict.detail, verdict.detail


@FUZZ
@given(items=st.lists(st.tuples(anything, st.sampled_from(REFERENCES)), min_size=1, max_size=6))
def test_batches_never_fail(verifier, items):
    verdicts = verifier.verify_batch(items)
    assert len(verdicts) == len(items) and not any(v.status is Status.ERROR for v in verdicts)


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.one_of(anything, st.text(max_size=400)))
def test_extraction_never_raises(text):
    found = extract_answer(text)
    assert found is None or (isinstance(found, str) and found.strip())


number_text = st.one_of(
    st.integers(-10**12, 10**12).map(str), st.integers(1, 10**9).map(lambda n: f"{n:,}"),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.tuples(st.integers(0, 999), st.integers(1, 999)).map(lambda p: rf"\frac{{{p[0]}}}{{{p[1]}}}"),
    st.tuples(st.integers(0, 999), st.integers(1, 999)).map(lambda p: rf"-\dfrac{{{p[0]}}}{{{p[1]}}}"),
    st.tuples(st.integers(0, 999), st.integers(1, 999)).map(lambda p: f"{p[0]}/{p[1]}"),
    st.sampled_from(["0,375", "007", "+5", "5.", ".5", "1,00", "01,000", "1,000.50", "$12$", " 3 "]))


@settings(max_examples=300, deadline=None, database=None)
@given(text=number_text)
def test_the_quick_key_is_what_normalisation_gives(text):
    """The fast path skips normalisation for plain numbers: it must change nothing."""
    from reasoner.verifiers._math_fast import quick_key
    from reasoner.verifiers._math_normalize import normalize_answer

    quick = quick_key(text)
    assert quick is None or quick == normalize_answer(text)


def test_the_quick_key_covers_plain_numbers_and_fractions():
    from reasoner.verifiers._math_fast import quick_key

    found = [quick_key(t) for t in ("13", "-2.50", "1,234", r"\dfrac{3}{4}", "$7/8$", "x = 3", r"\sqrt{2}")]
    assert found == ["13", "-2.50", "1234", r"\frac{3}{4}", "7/8", None, None]
