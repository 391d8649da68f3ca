"""Grading: a correct answer passes, a naive one fails with a reason a learner can act on."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.exercises import Case, Exercise, Limits, close_to, grade
from numdl.exercises.chapter01 import PERPLEXITY, SEQUENCE_LOG_PROB

FAST = Limits(seconds=4.0)


def _square_exercise(**kw) -> Exercise:
    def cases():
        x = np.array([1.5, -2.0], dtype=np.float32)
        return [Case("x = [1.5, -2] (float32)", (x,), np.square(x), why="Square each element.")]

    return Exercise(id="t.square", title="square", prompt="", function="square",
                    start_code="", solution="", hints=("h1", "h2"), cases=cases, limits=FAST, **kw)


def test_solutions_pass_every_case():
    for ex in (SEQUENCE_LOG_PROB, PERPLEXITY):
        report = grade(ex, ex.solution)
        assert report.passed, [r.reason for r in report.results if not r.passed]
        assert report.summary.startswith(f"All {len(report.results)} cases passed")


def test_naive_product_fails_exactly_the_underflow_cases_with_the_reason():
    report = grade(SEQUENCE_LOG_PROB, SEQUENCE_LOG_PROB.start_code)
    assert not report.passed and report.problem is None
    failed = {r.label: r.reason for r in report.results if not r.passed}
    reason = failed["p = 0.01 repeated 400 times (float32)"]
    assert reason.startswith("For p = 0.01 repeated 400 times (float32): returned -inf; expected -1842.068")
    assert "underflows to 0" in reason
    # Cases where the product stays representable pass even for the naive code.
    passed = {r.label for r in report.results if r.passed}
    assert "p = [0.5, 0.25, 0.125] (float64)" in passed
    assert "p = [0.5, 0.0, 0.5] (float32)" in passed
    assert report.summary == f"{len(passed)} of {len(report.results)} cases passed."


def test_wrong_dtype_is_named():
    report = grade(_square_exercise(), "def square(x):\n    return np.square(x.astype(np.float64))\n")
    (r,) = report.results
    assert not r.passed and "returned float64 for a float32 problem" in r.reason


def test_missing_return_is_named():
    report = grade(_square_exercise(), "def square(x):\n    x * x\n")
    assert "returned None: did you forget `return`?" in report.results[0].reason


def test_wrong_value_reports_index_got_expected_and_why():
    report = grade(_square_exercise(), "def square(x):\n    return x * 2\n")
    reason = report.results[0].reason
    assert reason == ("For x = [1.5, -2] (float32): returned 3 at index (0,); expected 2.25. "
                      "Square each element.")


def test_exception_in_learner_code_names_type_and_line():
    report = grade(_square_exercise(), "def square(x):\n    return x.nope()\n")
    assert "raised AttributeError" in report.results[0].reason
    assert "(line 2)" in report.results[0].reason


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("def square(x):\n    while True:\n        pass\n", "did not finish within 1 s"),
        ("import sys\nsys.exit(1)\n", "called sys.exit(1)"),
        ("def square(x:\n", "syntax error (line 1)"),
        ("def cube(x):\n    return x\n", "does not define a function named `square`"),
        ("import os\ndef square(x):\n    os._exit(3)\n", "ended abruptly (exit code 3"),
        ("x = bytearray(20 * 2**30)\n", "ran out of memory (line 1)"),
    ],
)
def test_runaway_answers_get_a_clear_problem(code, fragment):
    # the endless loop waits out the whole limit: 1 s (the others end long before it)
    report = grade(_square_exercise(), code, limits=Limits(seconds=1.0))
    assert not report.passed
    assert fragment in report.problem
    assert report.summary.startswith("0 of 1 cases passed")


def test_print_flood_is_noted():
    code = "def square(x):\n    print('a' * 10**6)\n    return np.square(x)\n"
    report = grade(_square_exercise(), code)
    assert report.passed
    assert report.output_note.startswith("Your code printed 1,000,001 bytes; only the first 4,000")


def test_close_to_handles_special_values():
    check = close_to()
    nan_case = Case("nan", (), np.float32(np.nan))
    inf_case = Case("inf", (), np.float32(-np.inf))
    assert check(nan_case, np.float32(np.nan)) is None
    assert check(inf_case, np.float32(-np.inf)) is None
    assert check(inf_case, np.float32(np.inf)) == "returned inf; expected -inf"
    assert check(nan_case, np.float32(1.0)) == "returned 1; expected nan"
    assert check(Case("x", (), np.float32(1.0)), [1.0]) == "returned a list; return a NumPy array or scalar"
    # Tolerance is keyed by dtype: float32 accepts a 1e-6 relative error, float64 does not.
    assert check(Case("x", (), np.float32(1.0)), np.float32(1.000001)) is None
    assert check(Case("x", (), np.float64(1.0)), np.float64(1.000001)) is not None


def test_exercise_without_cases_is_an_error():
    ex = Exercise(id="t.empty", title="", prompt="", function="f", start_code="", solution="",
                  hints=(), cases=list)
    with pytest.raises(ValueError, match="has no cases"):
        grade(ex, "def f():\n    pass\n")
    with pytest.raises(TypeError, match="code must be a str"):
        grade(SEQUENCE_LOG_PROB, None)
