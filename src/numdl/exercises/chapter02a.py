"""Exercises of chapter 2a: where exp overflows, and keeping ratios of exponentials in range."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from numdl.exercises.grading import Case, Exercise, close_to
from numdl.floats import as_dtype, format_info, next_after
from numdl.reference import evaluate

__all__ = ["EXERCISES", "EXP_OVERFLOW", "EXP_RATIO"]


def _threshold_cases() -> list[Case]:
    cases = []
    for name in ("float16", "bfloat16", "float32", "float64"):
        info = format_info(name)
        cases.append(Case(
            f"dtype = {name!r}", (name,), np.asarray(info.exp_overflow, dtype=info.dtype)[()],
            why=(f"The answer is a {name} number x with exp(x) finite in {name} while exp of the "
                 f"next {name} number above x overflows to inf."),
            hostile=name in ("float16", "bfloat16"),
        ))
    return cases


def _exp_is_finite(x: Any, dtype) -> bool:
    return bool(np.isfinite(evaluate(mpmath.exp, np.asarray(x, dtype=dtype))))


def _check_threshold(case: Case, got: Any) -> str | None:
    """Exact answer required; the reason says which way the learner is off, and why."""
    dtype = np.asarray(case.expected).dtype
    if not isinstance(got, np.ndarray | np.generic | float | int) or np.ndim(got) != 0:
        return f"returned {type(got).__name__}; return one number (a NumPy scalar of the dtype)"
    if isinstance(got, np.ndarray | np.generic) and np.asarray(got).dtype != dtype:
        return (f"returned a {np.asarray(got).dtype.name} number; return a {dtype.name} number "
                f"(e.g. np.asarray(x, dtype=...)[()])")
    value = np.asarray(got, dtype=np.float64).astype(dtype)
    if float(value) != float(got) and not np.isnan(float(got)):
        return f"returned {got!r}, which is not a {dtype.name} number"
    if value == case.expected:
        return None
    if not np.isfinite(value):
        return f"returned {value}; the threshold is a finite number"
    if not _exp_is_finite(value, dtype):
        return (f"returned {float(value)!r}, but exp({float(value)!r}) already overflows {dtype.name}: "
                "step down")
    above = next_after(value, dtype)
    return (f"returned {float(value)!r}, but the next {dtype.name} number {float(above)!r} still has "
            f"a finite exp: there are larger answers")


EXP_OVERFLOW = Exercise(
    id="02a_overflow_underflow.exp_overflow",
    title="The largest x with a finite exp(x)",
    prompt=(
        "Write `exp_overflow_threshold(name)` returning, for the format named `name` "
        "(`'float16'`, `'bfloat16'`, `'float32'` or `'float64'`), the **largest number x of that "
        "format** such that `exp(x)` computed in that format is finite. Return it as a scalar of "
        "that format. `np` is NumPy; `import ml_dtypes` gives `ml_dtypes.bfloat16` and "
        "`ml_dtypes.finfo`."
    ),
    function="exp_overflow_threshold",
    start_code=(
        "import ml_dtypes\n\n"
        "def exp_overflow_threshold(name):\n"
        "    dtype = np.dtype(ml_dtypes.bfloat16) if name == 'bfloat16' else np.dtype(name)\n"
        "    # exp(x) overflows when x > log(largest finite number)\n"
        "    return np.log(ml_dtypes.finfo(dtype).max).astype(dtype)\n"
    ),
    solution=(
        "import ml_dtypes\n\n"
        "def exp_overflow_threshold(name):\n"
        "    dtype = np.dtype(ml_dtypes.bfloat16) if name == 'bfloat16' else np.dtype(name)\n"
        "    # log(max) rounded to the format lands near the threshold, on either side.\n"
        "    x = np.asarray(np.log(float(ml_dtypes.finfo(dtype).max)), dtype=dtype)\n"
        "    with np.errstate(over='ignore'):\n"
        "        while not np.isfinite(np.exp(x)):  # above it: step down\n"
        "            x = step(x, -1)\n"
        "        while np.isfinite(np.exp(step(x, +1))):  # room above: step up\n"
        "            x = step(x, +1)\n"
        "    return x[()]\n\n"
        "def step(x, k):\n"
        "    # Neighbouring positive floats have neighbouring bit patterns.\n"
        "    bits = x.view(f'u{x.dtype.itemsize}').astype(np.int64) + k\n"
        "    return bits.astype(f'u{x.dtype.itemsize}').view(x.dtype)\n"
    ),
    hints=(
        "exp(x) overflows when the true value exceeds the largest finite number, so start near "
        "log(max). Why is that not exactly the answer?",
        "log(max) rounded to the format can land just above or just below the true threshold. "
        "Check exp at your candidate and at the next representable number.",
        "The next float of a positive number is the next integer bit pattern: view the value as an "
        "unsigned integer of the same width, add 1, view it back.",
    ),
    cases=_threshold_cases,
    check=_check_threshold,
)


def _ratio_cases() -> list[Case]:
    def case(label, a, b, why, hostile=True):
        dtype = as_dtype(a.dtype)
        expected = evaluate(lambda u, v: mpmath.exp(u - v), a, b, dtype=dtype)
        return Case(label, (a, b), expected, why, hostile=hostile)

    f16, f32, f64 = np.float16, np.float32, np.float64
    return [
        case("a = [1, 2], b = [0, 1] (float64)", np.array([1.0, 2.0], f64), np.array([0.0, 1.0], f64),
             "", hostile=False),
        case("a = [1000, 710], b = [999, 709] (float64)", np.array([1000.0, 710.0], f64),
             np.array([999.0, 709.0], f64),
             "exp(1000) overflows float64 to inf, and inf / inf = nan; but exp(a) / exp(b) = "
             "exp(a - b) and a - b = 1."),
        case("a = [-1000, -800], b = [-1001, -801] (float64)", np.array([-1000.0, -800.0], f64),
             np.array([-1001.0, -801.0], f64),
             "exp(-1000) underflows to 0, and 0 / 0 = nan; the ratio is exp(1)."),
        case("a = [800], b = [0] (float64)", np.array([800.0], f64), np.array([0.0], f64),
             "Here the ratio itself, e^800, is beyond float64's range: inf is the right answer."),
        case("a = [12, -20], b = [11, -21] (float16)", np.array([12.0, -20.0], f16),
             np.array([11.0, -21.0], f16),
             "In float16 exp overflows above 11.09 and underflows below -17.3."),
        case("a = [100, -110.5], b = [99.5, -111] (float32)", np.array([100.0, -110.5], f32),
             np.array([99.5, -111.0], f32),
             "In float32 exp overflows above 88.7 and underflows below -104."),
    ]


EXP_RATIO = Exercise(
    id="02a_overflow_underflow.exp_ratio",
    title="A ratio of exponentials that never overflows",
    prompt=(
        "Write `exp_ratio(a, b)` returning $e^{a} / e^{b}$ elementwise for arrays `a`, `b` of "
        "the same shape and dtype, in that dtype. The result must be right whenever it is "
        "representable, even when $e^a$ or $e^b$ alone is not."
    ),
    function="exp_ratio",
    start_code="def exp_ratio(a, b):\n    return np.exp(a) / np.exp(b)\n",
    solution=(
        "def exp_ratio(a, b):\n"
        "    # e^a / e^b = e^(a - b): the difference is small even when a and b are\n"
        "    # huge, so nothing overflows unless the ratio itself does.\n"
        "    with np.errstate(over='ignore'):\n"
        "        return np.exp(a - b)\n"
    ),
    hints=(
        "Which cases fail, and what do exp(a) and exp(b) evaluate to there?",
        "Use a law of exponents to combine the two exponentials into one.",
    ),
    cases=_ratio_cases,
    check=close_to(),
)

EXERCISES = (EXP_OVERFLOW, EXP_RATIO)
