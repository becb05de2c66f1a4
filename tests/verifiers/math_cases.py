"""The math verifier's table: (kind, model output, reference, correct?) rows.

Written for this project, in the style of public grader test suites: model
outputs are whole solutions (boxed or not), references are stored the ways
datasets store them. `True` means the output must score 1.0, `False` 0.0.
The benchmark (`benchmarks/bench_math_verifier.py`) grades the same rows.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    kind: str
    output: str
    reference: str | int
    correct: bool


def _box(answer: str) -> str:
    return f"Putting the pieces together and simplifying, we get\n\\[\n\\boxed{{{answer}}}\n\\]"


def _minerva(answer: str) -> str:
    return ("We combine the two results from above and check the edge cases.\n"
            f"Final Answer: The final answer is ${answer}$. I hope it is correct.")


def _inline(answer: str) -> str:
    return f"Solving step by step, each term cancels except the last. Therefore the result is ${answer}$."


def _display(answer: str) -> str:
    return f"After substituting back, everything is consistent, so\n$$ {answer} $$"


def _answer_is(answer: str) -> str:
    return f"Let me double-check the arithmetic once more. Yes, it holds. The answer is {answer}."


def _rows(kind: str, rows: list[tuple[str, str | int, bool]]) -> list[Case]:
    return [Case(kind, output, reference, correct) for output, reference, correct in rows]


REFERENCE_FORMS = _rows("reference_forms", [
    (_box(r"\frac{1}{3}"), "$1/3$", True),
    (_box(r"\frac{1}{3}"), r"\(\frac{1}{3}\)", True),
    (_box(r"\frac{1}{3}"), r"\[\frac13\]", True),
    (_box(r"\frac{1}{3}"), r"$$\dfrac{1}{3}$$", True),
    (_box("0.5"), r"The probability is $\boxed{\frac{1}{2}}$.", True),
    (_box("7"), "x = 7", True),
    (_box("7"), "$x = 7$", True),
    (_box("12"), r"There are $4 \cdot 3 = 12$ ways. So the answer is $\boxed{12}$.", True),
    (_box("12"), "Each of 4 rows has 3 seats, 4*3 = 12.\n#### 12", True),
    (_box(r"\sqrt{2}"), r"By Pythagoras, the side is $\sqrt{1+1}$, so the answer is $\sqrt{2}$.", True),
    (_box("5"), r"We have $2x = 10$. Dividing, we get $x = 5$.", True),
    (_box("6"), r"We have $2x = 10$. Dividing, we get $x = 5$.", False),
    (_box(r"\frac{2}{3}"), "$1/3$", False),
    (_box("0.5"), r"The probability is $\boxed{\frac{1}{3}}$.", False),
    (_box("8"), "x = 7", False),
    (_box("13"), "Each of 4 rows has 3 seats, 4*3 = 12.\n#### 12", False),
    (_box("2"), r"By Pythagoras, the side is $\sqrt{1+1}$, so the answer is $\sqrt{2}$.", False),
    (_minerva("42"), "42", True),
    (_minerva("42"), r"\boxed{42}", True),
    (_minerva("41"), r"\boxed{42}", False),
    (_inline(r"\frac{5}{2}"), "2.5", True),
    (_inline(r"\frac{5}{2}"), "$2.5$", True),
    (_inline(r"\frac{5}{3}"), "$2.5$", False),
    (_box("3"), r"$\text{3}$", True),
    (_box(r"2\sqrt{5}"), r"The distance is $\sqrt{20} = \boxed{2\sqrt{5}}$ units.", True),
    (_box(r"4\sqrt{5}"), r"The distance is $\sqrt{20} = \boxed{2\sqrt{5}}$ units.", False),
    (_box("(1,2)"), r"\((1, 2)\)", True),
    (_box("(2,1)"), r"\((1, 2)\)", False),
    (_answer_is("9"), r"The answer is $9$.", True),
    (_answer_is("10"), r"The answer is $9$.", False),
    (_box("9"), "9", True),
    (_box("9"), 9, True),
    (_box("10"), 9, False),
])

UNBOXED = _rows("unboxed", [
    (_minerva(r"\frac{7}{3}"), r"\frac{7}{3}", True),
    (_minerva(r"\frac{7}{3}"), "3", False),
    (_inline(r"\frac{7}{3}"), r"\frac{7}{3}", True),
    (_inline(r"\frac{7}{3}"), "3", False),
    (_display(r"\frac{7}{3}"), r"\frac{7}{3}", True),
    (_display(r"\frac{7}{3}"), "7", False),
    ("First note that $a+b=10$ and $ab=21$. Hence $a$ and $b$ are the roots of "
     r"$t^2-10t+21=0$, which are \(3\) and \(7\). The larger root is \(7\).", "7", True),
    ("First note that $a+b=10$ and $ab=21$. The larger root is \\(7\\).", "3", False),
    (r"The area of the triangle is \[\frac{1}{2}\cdot 6 \cdot 8 = 24.\]", "24", True),
    (r"The area of the triangle is \[\frac{1}{2}\cdot 6 \cdot 8 = 24.\]", "48", False),
    (_answer_is(r"$\sqrt{3}$"), r"\sqrt{3}", True),
    (_answer_is(r"$\sqrt{3}$"), "3", False),
    ("So the final answer is 15.", "15", True),
    ("So the final answer is 15.", "16", False),
    ("**Answer:** 120", "120", True),
    ("**Answer:** 120", "12", False),
    ("Answer: $-\\frac{1}{4}$", r"-\frac14", True),
    ("Answer: $-\\frac{1}{4}$", r"\frac14", False),
    ("The final answer is $\\boxed{2}$ or so I think, but the answer is $3$.", "2", True),
    ("Combining, the sum of the digits is 9.\nThe answer is: 9", "9", True),
    ("Combining, the sum of the digits is 9.\nThe answer is: 9", "18", False),
    ("Hence there are 36 handshakes in total.", "36", True),
    ("Hence there are 36 handshakes in total.", "37", False),
    ("After simplification, we get that the value is \\(\\frac{11}{2}\\).", "5.5", True),
    ("After simplification, we get that the value is \\(\\frac{11}{2}\\).", "11", False),
    ("We find $x^2 - 5x + 6 = 0$, so $x = 2$ or $x = 3$. The product of the roots is $6$.", "6", True),
    ("We find $x^2 - 5x + 6 = 0$, so $x = 2$ or $x = 3$. The product of the roots is $6$.", "5", False),
    ("The answer is \\(\\pi r^2\\) with r = 2, that is \\(4\\pi\\).", r"\pi r^2", True),
    ("I computed it and got 1000 exactly", "1000", True),
    ("I computed it and got 1000 exactly", "100", False),
])

FALLBACK_TRAPS = _rows("fallback_traps", [
    ("The code of the safe is QX7B, written on the back.", "7", False),
    ("So x equals \\frac{3+\\sqrt{7}}{4}", "4", False),
    ("So x equals \\frac{3+\\sqrt{7}}{4}", "7", False),
    ("The total is 3 + 4", "4", False),
    ("The value is 2^10", "10", False),
    ("Its position is (1, 5)", "5", False),
    ("The answer depends on x7 and on y", "7", False),
    ("We reach 3x", "3", False),
    ("The sum is \\sqrt{5}", "5", False),
    ("Then the remainder is 12 mod 5", "5", False),
    ("We use the formula with n=8 and get n!", "8", False),
    ("the answer is in section 4.2b", "4.2", False),
    ("The sum of the first 3 terms is 6-2", "2", False),
    ("So the length is 12 cm", "12", True),
    ("Thus she has 17 apples left", "17", True),
    ("Thus she has 17 apples left", "7", False),
    ("In the end the count is 250.", "250", True),
    ("In the end the count is 250.", "25", False),
    ("I am not sure how to solve this problem.", "0", False),
    ("", "5", False),
    ("   ", "5", False),
    ("The machine printed ABC123 and stopped", "123", False),
    ("We obtain 5/x", "5", False),
    ("Total after discount: $45", "45", True),
    ("The result is 3_2", "3", False),
])

TOLERANCE = _rows("tolerance", [
    (_box("9999.857142857143"), r"10{,}000", False),
    (_box("9999.857142857143"), "10000", False),
    (_box("0.3333"), r"\frac{1}{3}", False),
    (_box("1.414"), r"\sqrt{2}", False),
    (_box("3.14"), r"\pi", False),
    (_box("2.5"), r"\frac{5}{2}", True),
    (_box("0.125"), r"\frac18", True),
    (_box(r"\frac{2}{7}"), "0.29", True),
    (_box(r"\frac{2}{7}"), "0.28", False),
    (_box(r"\pi"), "3.14", True),
    (_box(r"\sqrt{2}"), "1.41", True),
    (_box(r"\sqrt{2}"), "1.42", False),
    (_box("0.2857"), "0.29", True),
    (_box("0.3"), "0.29", False),
    (_box("12.5"), "12.50", True),
    (_box("12.49"), "12.50", False),
    (_box("0.50001"), "0.5", True),
    (_box("0.54"), "0.5", False),
    (_box("33.33"), "33.333", False),
    (_box("1.0"), "1", True),
    (_box("1.00001"), "1", False),
    (_box(r"\frac{1}{3}"), "0.3333", True),
    (_box(r"\frac{1}{3}"), "0.3", False),
    (_box("x = 2/7 \\approx 0.29"), r"\frac{2}{7}", True),
    (_box("x = 2/7 \\approx 0.29"), "0.29", True),
    (_box("x \\approx 0.29"), r"\frac{2}{7}", False),
    (_box(r"6.67 \times 10^{-11}"), "6.67e-11", True),
    (_box("6.7e-11"), r"6.67 \times 10^{-11}", False),
])

NUMBER_FORMATS = _rows("number_formats", [
    (_box("3,15"), "3.15", True),
    (_box("250,5"), "250.5", True),
    (_box("250,5"), "2505", False),
    (_box("1,000"), "1000", True),
    (_box("1 000"), "1000", True),
    (_box(r"22,\!222"), "22222", True),
    (_box(r"22{,}222"), "22222", True),
    (_box(r"1\,000\,000"), "1000000", True),
    (_box("1,000"), "1", False),
    (_box("1,000,000"), "1000", False),
    (_box(".4"), "0.4", True),
    (_box(".4"), r"\frac{2}{5}", True),
    (_box(".4"), "4", False),
    (_box(r"\$2,500.50"), "2500.5", True),
    (_box(r"\$2,500.50"), "2500", False),
    (_box(r"5\text{ cm}"), "5", True),
    (_box(r"5\text{ cm}^2"), "5", True),
    (_box(r"\textbf{18}"), "18", True),
    (_box(r"18 \text{ dollars}"), "18", True),
    (_box(r"19 \text{ dollars}"), "18", False),
    (_box(r"45^\circ"), "45", True),
    (_box(r"45^{\circ}"), "45", True),
    (_box(r"46^\circ"), "45", False),
    (_box(r"50\%"), "50", True),
    (_box(r"50\%"), "0.5", True),
    (_box(r"25\%"), "0.5", False),
    (_box("-.75"), r"-\frac34", True),
    (_box("+5"), "5", True),
    (_box("-5"), "5", False),
    (_box("0007"), "7", True),
    (_box("1.5e3"), "1500", True),
    (_box("10^{3}"), "1000", True),
])

LATEX_SHORTHAND = _rows("latex_shorthand", [
    (_box(r"\frac25"), r"\frac{2}{5}", True),
    (_box(r"\frac25"), r"\frac{5}{2}", False),
    (_box(r"\sqrt5"), r"\sqrt{5}", True),
    (_box(r"\sqrt5"), "5", False),
    (_box(r"\frac4{4}"), "1", True),
    (_box(r"\frac{4}5"), "0.8", True),
    (_box(r"\cfrac{1}{2}"), "0.5", True),
    (_box(r"\dfrac{3}{4}"), "0.75", True),
    (_box(r"\tfrac{3}{4}"), r"\frac34", True),
    (_box(r"\tfrac{3}{4}"), r"\frac43", False),
    (_box(r"\left( \frac{1}{2} \right)"), "0.5", True),
    (_box(r"\left(3, 4\right)"), "(3,4)", True),
    (_box(r"\left(3, 4\right)"), "(4,3)", False),
    (_box(r"\sqrt[3]{27}"), "3", True),
    (_box(r"2\sqrt{2}"), r"\sqrt{8}", True),
    (_box(r"2\sqrt{2}"), r"\sqrt{6}", False),
    (_box(r"\frac{\sqrt{3}}{2}"), r"\sqrt{3}/2", True),
    (_box(r"\frac{\sqrt3}2"), r"\frac{\sqrt{3}}{2}", True),
    (_box(r"\displaystyle\frac{1}{6}"), r"1/6", True),
    (_box(r"\dfrac{1}{6}"), r"1/7", False),
    (_box(r"{\frac{1}{2}}"), "1/2", True),
    (_box(r"\binom{5}{2}"), "10", True),
    (_box(r"\dbinom{5}{2}"), "10", True),
    (_box(r"\binom{5}{2}"), "20", False),
    (_box(r"2\cdot 3"), "6", True),
    (_box(r"2\times 3"), "5", False),
])

ASSIGNMENTS = _rows("assignments", [
    (_box(r"m = \frac{2}{5}"), "2/5", True),
    (_box(r"m = \frac{2}{5}"), "5/2", False),
    (_box(r"(a,b)=(4,1)"), "(4,1)", True),
    (_box(r"(a,b)=(4,1)"), "(1,4)", False),
    (_box("PQ=6, RS=2"), "6, 2", True),
    (_box("PQ=6, RS=2"), "6, 3", False),
    (_box("x = 3"), "3", True),
    (_box("x = 3"), "x=3", True),
    (_box("x = 3"), "4", False),
    (_box("k = -2"), "-2", True),
    (_box("k = -2"), "2", False),
    (_box(r"f(x) = 2x+1"), "2x+1", True),
    (_box(r"f(x) = 2x+1"), "2x-1", False),
    (_box("3 = x"), "3", True),
    (_box(r"a = 2, b = 3"), "(2, 3)", True),
    (_box(r"a = 2, b = 3"), "(3, 2)", False),
    (_box(r"x"), "x = x", False),
    (_box(r"n = 12"), r"\boxed{12}", True),
    (_inline(r"x = \frac{1}{2}"), "0.5", True),
    (_inline(r"x = \frac{1}{2}"), "2", False),
])

RELATIONS = _rows("relations", [
    (_box(r"x \geq 4"), "x >= 4", True),
    (_box(r"x \geq 4"), "x > 4", False),
    (_box(r"x \ge 4"), r"[4, \infty)", True),
    (_box(r"x > 4"), r"[4, \infty)", False),
    (_box(r"x > 4"), r"(4, \infty)", True),
    (_box(r"4 \leq y"), r"y \geq 4", True),
    (_box(r"4 \leq y"), r"y \leq 4", False),
    (_box(r"-y > -3"), "y < 3", True),
    (_box(r"-y > -3"), "y > 3", False),
    (_box(r"x \lt 2"), "x < 2", True),
    (_box(r"x \gt 2"), "x > 2", True),
    (_box(r"x \gt 2"), "x < 2", False),
    (_box(r"x \neq 3"), "x != 3", True),
    (_box(r"x \ne 3"), r"(-\infty, 3) \cup (3, \infty)", True),
    (_box(r"x \ne 3"), r"(-\infty, 3) \cup (4, \infty)", False),
    (_box(r"-3 \le y \le 4"), r"y \in [-3,4]", True),
    (_box(r"-3 \le y \le 4"), r"[-3,4]", True),
    (_box(r"-3 < y \le 4"), r"[-3,4]", False),
    (_box(r"x < -1 \text{ or } x > 2"), r"(-\infty,-1)\cup(2,\infty)", True),
    (_box(r"x < -1 \text{ or } x > 2"), r"(-\infty,-1]\cup(2,\infty)", False),
    (_box(r"x \le -1 \text{ or } x \ge 2"), r"(-\infty,-1]\cup[2,\infty)", True),
    (_box(r"(-\infty, 1) \cup (3, \infty)"), r"x<1 \text{ or } x>3", True),
    (_box(r"[2, 5)"), r"2 \le x < 5", True),
    (_box(r"[2, 5)"), r"2 \le x \le 5", False),
    (_box(r"x \in (0, 1]"), r"(0,1]", True),
    (_box(r"x \in (0, 1]"), r"[0,1]", False),
    (_box(r"\mathbb{R}"), r"(-\infty, \infty)", True),
    (_box(r"x \leqslant 7"), r"x \le 7", True),
    (_box(r"x <= 7"), r"x \le 7", True),
    (_box(r"x <= 7"), r"x < 7", False),
    (_box(r"t \geq 0"), r"0 \leq t", True),
])

EQUATIONS = _rows("equations", [
    (_box(r"3x+6y-2=0"), r"y=-\frac12x+\frac13", True),
    (_box(r"3x+6y-2=0"), r"y=-\frac12x+\frac23", False),
    (_box(r"\frac{x^2}{9}+\frac{y^2}{4}=1"), r"4x^2+9y^2=36", True),
    (_box(r"x^2/9+y^2/4=1"), r"4x^2+9y^2=36", True),
    (_box(r"x^2/9+y^2/4=1"), r"9x^2+4y^2=36", False),
    (_box(r"y = 2x + 3"), r"2x - y + 3 = 0", True),
    (_box(r"y = 2x + 3"), r"2x - y - 3 = 0", False),
    (_box(r"y = 2x + 3"), r"2x + 3", True),
    (_box(r"y - 1 = 2(x - 1)"), r"y = 2x - 1", True),
    (_box(r"y - 1 = 2(x - 1)"), r"y = 2x + 1", False),
    (_box(r"x^2 + y^2 = 25"), r"2x^2 + 2y^2 - 50 = 0", True),
    (_box(r"x^2 + y^2 = 25"), r"x^2 + y^2 = 5", False),
    (_box("0 = 0"), "0 = 0", False),
    (_box(r"2x + 4y = 8"), r"x + 2y = 4", True),
    (_box(r"z = x + y"), r"x + y - z = 0", True),
])

MATRICES = _rows("matrices", [
    (_box(r"\begin{pmatrix}1 & 2\\3 & 4\end{pmatrix}"), r"\begin{bmatrix}1 & 2\\3 & 4\end{bmatrix}", True),
    (_box(r"\begin{pmatrix}1 & 2\\3 & 4\end{pmatrix}"), r"\begin{bmatrix}1 & 2\\4 & 3\end{bmatrix}", False),
    (_box(r"\left[\begin{array}{cc}1 & 2\\3 & 4\end{array}\right]"), r"\begin{pmatrix}1 & 2\\3 & 4\end{pmatrix}", True),
    (_box(r"\left[\begin{array}{cc}1 & 0\\0 & 1\end{array}\right]"), r"\begin{pmatrix}1 & 2\\3 & 4\end{pmatrix}", False),
    (_box(r"\begin{pmatrix}\frac12 \\ \frac13\end{pmatrix}"), r"\begin{pmatrix}0.5 \\ 0.3333\end{pmatrix}", True),
    (_box(r"\begin{pmatrix}\frac12 \\ \frac23\end{pmatrix}"), r"\begin{pmatrix}0.5 \\ 0.3333\end{pmatrix}", False),
    (_box(r"\begin{pmatrix}1 \\ 2 \\ 3\end{pmatrix}"), "(1, 2, 3)", True),
    (_box(r"\begin{pmatrix}1 \\ 2 \\ 3\end{pmatrix}"), "(1, 3, 2)", False),
    (_box(r"\begin{pmatrix} 2 \\ -1 \end{pmatrix}"), r"\begin{pmatrix} 2 \\ -1 \end{pmatrix}", True),
    (_box(r"\begin{pmatrix} 2 \\ -1 \end{pmatrix}"), r"\begin{pmatrix} -1 \\ 2 \end{pmatrix}", False),
    (_box(r"\begin{pmatrix} 2 & -1 \end{pmatrix}"), r"\begin{pmatrix} 2 \\ -1 \end{pmatrix}", False),
    (_box(r"\begin{pmatrix}2/4 & 1\\0 & 1\end{pmatrix}"), r"\begin{pmatrix}\frac12 & 1\\0 & 1\end{pmatrix}", True),
    (_box(r"\begin{bmatrix}x & 0\\0 & x\end{bmatrix}"), r"\begin{pmatrix}x & 0\\0 & x\end{pmatrix}", True),
    (_box(r"\begin{bmatrix}x & 0\\0 & x\end{bmatrix}"), r"\begin{pmatrix}x & 0\\0 & y\end{pmatrix}", False),
    (_box(r"\langle 1, 2, 3 \rangle"), "(1,2,3)", True),
    (_box(r"\langle 1, 2, 3 \rangle"), "(1,2,4)", False),
    (_box(r"\begin{pmatrix} 0 \\ 0 \end{pmatrix}"), r"\begin{pmatrix} 0 \\ 0 \\ 0 \end{pmatrix}", False),
    (_box(r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"), r"\left[\begin{array}{cc}1&2\\3&4\end{array}\right]", True),
    (_box(r"\begin{pmatrix} -\frac{3}{5} \\ \frac{4}{5} \end{pmatrix}"), r"\begin{pmatrix} -0.6 \\ 0.8 \end{pmatrix}", True),
    (_box(r"\begin{pmatrix} -\frac{3}{5} \\ \frac{4}{5} \end{pmatrix}"), r"\begin{pmatrix} 0.6 \\ 0.8 \end{pmatrix}", False),
])

SEVERAL_ANSWERS = _rows("several_answers", [
    (r"The solutions are $\boxed{3}$ and $\boxed{5}$.", r"\{3,5\}", True),
    (r"The solutions are $\boxed{3}$ and $\boxed{5}$.", "3, 5", True),
    (r"The solutions are $\boxed{3}$ and $\boxed{5}$.", "5, 3", True),
    (r"The solutions are $\boxed{3}$ and $\boxed{5}$.", r"\{3,6\}", False),
    (r"The solutions are $\boxed{3}$ and $\boxed{5}$.", "5", False),
    (r"So $x = \boxed{-2}$, $\boxed{2}$.", r"\pm 2", True),
    (r"First we try \boxed{1}, which fails. Then we find \boxed{2}.", "2", True),
    (r"First we try \boxed{1}, which fails. Then we find \boxed{2}.", "1, 2", False),
    (_box("3, 5"), r"\{3, 5\}", True),
    (_box("5, 3"), "3, 5", True),
    (_box("3, 5"), "3, 5, 7", False),
    (_box("3 \\text{ and } 5"), "3, 5", True),
    (_box("3 and 5"), "5,3", True),
    (_box("3 or 5"), "3, 5", True),
    (_box("3; 5"), "3, 5", True),
    (_box("1, 2, 3"), r"\{1, 2, 3\}", True),
    (_box("1, 2, 3"), r"\{1, 2\}", False),
    (_box("(1, 2)"), "(2, 1)", False),
    (_box("(1, 2, 3)"), "(1, 2, 3)", True),
    (_box("(1, 2, 3)"), "(3, 2, 1)", False),
    (_box(r"\{1, 2\}"), r"\{2, 1\}", True),
    (_box(r"x = 1 \text{ or } x = -3"), "-3, 1", True),
    (_box(r"x = 1 \text{ or } x = -3"), "-3, 2", False),
    (_box(r"x = \pm 3"), "3, -3", True),
    (_box(r"x = \pm 3"), "3", False),
    (_box(r"1 \pm \sqrt{2}"), r"1+\sqrt{2}, 1-\sqrt{2}", True),
    (_box("(1,2), (3,4)"), "(3,4), (1,2)", True),
    (_box("(1,2), (3,4)"), "(2,1), (3,4)", False),
    (_box(r"2, \frac{1}{2}"), r"0.5, 2", True),
    (_box(r"\{-1, 0, 1\}"), "1, -1, 0", True),
])

TEXT_ANSWERS = _rows("text", [
    (_box(r"\text{C}"), "C", True),
    (_box(r"\text{C}"), "D", False),
    (_box(r"\text{(C)}"), "C", True),
    (_box("(B)"), "B", True),
    (_box("(B)"), "C", False),
    (_box(r"\text{yes}"), "Yes", True),
    (_box(r"\text{Yes}"), "no", False),
    (_box(r"\text{No}"), "NO", True),
    (_box(r"\text{Monday}"), "monday", True),
    (_box(r"\text{Monday}"), "Tuesday", False),
    (_answer_is("Tuesday"), "Tuesday", True),
    (_answer_is("Tuesday"), "Wednesday", False),
    (_box(r"\textbf{odd}"), "odd", True),
    (_box(r"\text{even}"), "odd", False),
    (_box(r"\text{infinitely many}"), "infinitely many", True),
    (_minerva(r"\text{(E)}"), r"\text{E}", True),
    (_minerva(r"\text{(E)}"), r"\text{A}", False),
    (_box(r"\text{neither}"), r"\text{Neither}", True),
    (_box("A"), "a", False),
    (_box(r"\text{B, D}"), r"\text{B, D}", True),
])

IDENTITIES = _rows("identities", [
    (_box(r"1-\sin^2(t)"), r"\cos^2(t)", True),
    (_box(r"1-\sin^2(t)"), r"\sin^2(t)", False),
    (_box(r"\frac{x+3}{5}"), r"\frac{x}{5}+\frac{3}{5}", True),
    (_box(r"\frac{x+3}{5}"), r"\frac{x}{5}+3", False),
    (_box(r"\sqrt{3+2\sqrt{2}}"), r"1+\sqrt{2}", True),
    (_box(r"\sqrt{3+2\sqrt{2}}"), r"2+\sqrt{2}", False),
    (_box(r"\sqrt{5+2\sqrt{6}}"), r"\sqrt{2}+\sqrt{3}", True),
    (_box(r"(x+1)^2"), r"x^2+2x+1", True),
    (_box(r"(x+1)^2"), r"x^2+x+1", False),
    (_box(r"\frac{1}{\sqrt{2}}"), r"\frac{\sqrt{2}}{2}", True),
    (_box(r"\frac{1}{\sqrt{3}}"), r"\frac{\sqrt{2}}{2}", False),
    (_box(r"2\sin x\cos x"), r"\sin(2x)", True),
    (_box(r"2\sin x\cos x"), r"\cos(2x)", False),
    (_box(r"\log_2 8"), "3", True),
    (_box(r"e^{i\pi}"), "-1", True),
    (_box(r"\frac{x^2-1}{x-1}"), "x+1", True),
    (_box(r"a^2-b^2"), r"(a-b)(a+b)", True),
    (_box(r"a^2-b^2"), r"(a-b)^2", False),
    (_box(r"\tan(\pi/4)"), "1", True),
    (_box(r"\frac{6}{\sqrt{3}}"), r"2\sqrt{3}", True),
])

THINK = _rows("think", [
    ("<think>Maybe it is 4? No, let me recompute: 2+3=5.</think>\nThe answer is $\\boxed{5}$.", "5", True),
    ("<think>Maybe it is \\boxed{4}? No.</think>\nThe answer is $\\boxed{5}$.", "4", False),
    ("<think>Maybe it is 4? No, 5.</think>\nThe final answer is 5.", "5", True),
    ("<think>The answer is \\boxed{5}, clearly. Wait, let me keep thinking", "5", False),
    ("<think>I think \\boxed{7}.</think>", "7", False),
    ("<think>so \\boxed{3}</think>\nSo the result is $\\frac{1}{2}$.", "0.5", True),
    ("<think>so \\boxed{3}</think>\nSo the result is $\\frac{1}{2}$.", "3", False),
    ("<think>\nx = 2\n</think>\n\n**Answer:** $x = 2$", "2", True),
    ("<think>\nx = 2\n</think>\n\n**Answer:** $x = 2$", "3", False),
    ("<think>a</think><think>b, \\boxed{8}</think> The answer is \\boxed{9}.", "9", True),
    ("<think>a</think><think>b, \\boxed{8}</think> The answer is \\boxed{9}.", "8", False),
    ("<think>long reasoning</think>\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.",
     "0.75", True),
    ("<think>long reasoning</think>\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.",
     "0.25", False),
    ("<think>reasoning with 12 steps</think>\nHence 12 cookies remain.", "12", True),
    ("<think>reasoning ending with 12</think>", "12", False),
])

OLD_TRAPS = _rows("old_traps", [
    (_box(r"\frac{1}{2004!}"), r"\frac{1}{2006!}", False),
    (_box(r"\frac{1}{2004!}"), r"\frac{1}{2004!}", True),
    (_box("1,000"), "(1, 0)", False),
    (_box("(1, 0)"), "1,000", False),
    (_box("1,000"), "1000", True),
    (_box(r"y = 2x + 1"), r"2y = 4x + 2", True),
    (_box(r"y = 2x + 1"), r"y = 4x + 2", False),
    (_box(r"10^{100}+1"), r"10^{100}", False),
    (_box(r"\sqrt{2}"), r"\frac{99}{70}", False),
    (_box(r"\sqrt{\frac{1}{n}}"), r"\frac{1}{\sqrt{n}}", False),
])

CASES: list[Case] = [
    *REFERENCE_FORMS, *UNBOXED, *FALLBACK_TRAPS, *TOLERANCE, *NUMBER_FORMATS, *LATEX_SHORTHAND,
    *ASSIGNMENTS, *RELATIONS, *EQUATIONS, *MATRICES, *SEVERAL_ANSWERS, *TEXT_ANSWERS, *IDENTITIES,
    *THINK, *OLD_TRAPS,
]
