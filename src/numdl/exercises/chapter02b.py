"""Exercises of chapter 2b: a compensated sum, and a formula rewritten to avoid cancellation."""

from __future__ import annotations

import mpmath
import numpy as np

from numdl.exercises.grading import Case, Exercise, ulp_close
from numdl.floats import summation
from numdl.reference import evaluate

__all__ = ["COMPENSATED_SUM", "EXERCISES", "STABLE_COS_RATIO"]


def _sum_cases() -> list[Case]:
    f16, f32, f64 = np.float16, np.float32, np.float64
    rng = np.random.default_rng(2)

    def case(label, x, why, hostile=True):
        x = np.asarray(x)
        return Case(f"{label} ({x.dtype.name})", (x,), summation(x, "exact"), why, hostile=hostile)

    big = np.where(np.arange(20_000) % 2 == 0, 100.0, -100.0) + rng.random(20_000)
    return [
        case("x = [1, 2, 3]", np.array([1.0, 2.0, 3.0], f64), "", hostile=False),
        case("0.1 repeated 20,000 times", np.full(20_000, 0.1, f32),
             "Each addition to a growing total rounds away part of 0.1: the errors pile up "
             "and a plain loop drifts far from the exact sum. Carry the lost low-order part along."),
        case("x = [1, 1e100, 1, -1e100]", np.array([1.0, 1e100, 1.0, -1e100], f64),
             "The exact sum is 2. Kahan's compensation loses the first 1 when 1e100 arrives, because "
             "it assumes the running sum is larger than the new term; Neumaier's variant compares "
             "magnitudes first."),
        case("1.0 repeated 3000 times", np.ones(3000, f16),
             "In float16 the spacing of numbers at 2048 is 2, so 2048 + 1 rounds back to 2048: a plain "
             "sum stops growing there."),
        case("±100 plus uniform [0, 1), 20,000 terms", big.astype(f32),
             "Large terms cancel in pairs while a small drift accumulates: every addition rounds at "
             "the scale of 100."),
        case("an empty array", np.array([], f32), "The sum of nothing is 0.", hostile=True),
        case("x = [1, inf, 2]", np.array([1.0, np.inf, 2.0], f64),
             "An infinite term makes the sum inf; make sure the compensation (inf - inf = nan) does "
             "not turn it into nan."),
    ]


COMPENSATED_SUM = Exercise(
    id="02b_rounding.compensated_sum",
    title="A compensated sum",
    prompt=(
        "Write `compensated_sum(x)` returning the sum of a 1-D float array `x` **in `x`'s dtype**, "
        "within 1 ULP of the exactly rounded sum on every case (up to 20,000 terms; a plain Python "
        "loop is fast enough). Use only arithmetic in `x`'s dtype: no `math.fsum`, no float64 "
        "accumulator for float32 data."
    ),
    function="compensated_sum",
    start_code=(
        "def compensated_sum(x):\n"
        "    total = x.dtype.type(0)\n"
        "    for v in x:\n"
        "        total = total + v\n"
        "    return total\n"
    ),
    solution=(
        "def compensated_sum(x):\n"
        "    # Neumaier's variant of Kahan summation: c collects the low-order bits\n"
        "    # that each addition rounds away, whichever operand was larger.\n"
        "    zero = x.dtype.type(0)\n"
        "    if not np.all(np.isfinite(x)):\n"
        "        return x.dtype.type(np.sum(x))  # inf/nan: IEEE rules, no compensation\n"
        "    s, c = zero, zero\n"
        "    for v in x:\n"
        "        t = s + v\n"
        "        if abs(s) >= abs(v):\n"
        "            c += (s - t) + v  # v's low bits were lost\n"
        "        else:\n"
        "            c += (v - t) + s  # s's low bits were lost\n"
        "        s = t\n"
        "    return s + c\n"
    ),
    hints=(
        "After t = s + v, the quantity (s - t) + v is exactly what the addition rounded away "
        "(when |s| >= |v|). Keep a running total of those pieces and add it at the end.",
        "That is Kahan's idea. The case [1, 1e100, 1, -1e100] defeats it when the new term is the "
        "larger one: then (v - t) + s is the lost part. Branch on which magnitude is larger "
        "(Neumaier, 1974).",
        "Loop over the elements with scalars of x's dtype (x.dtype.type(0) is a zero of that type), "
        "and handle inf/nan separately.",
    ),
    cases=_sum_cases,
    check=ulp_close(1.0),
)


def _ratio_exact(t):
    if t == 0:
        return mpmath.mpf(0.5)
    return 2 * mpmath.sin(t / 2) ** 2 / (t * t)


def _ratio_cases() -> list[Case]:
    def case(label, x, why, hostile=True):
        x = np.asarray(x)
        return Case(f"{label} ({x.dtype.name})", (x,), evaluate(_ratio_exact, x), why, hostile=hostile)

    f32, f64 = np.float32, np.float64
    return [
        case("x = [0.5, 1, 3]", np.array([0.5, 1.0, 3.0], f64), "", hostile=False),
        case("x = [1e-4, 1e-6, 1e-8]", np.array([1e-4, 1e-6, 1e-8], f64),
             "cos x is within 1e-8 of 1 here: 1 - cos x keeps only the rounding error of cos x. "
             "Rewrite the numerator without a subtraction."),
        case("x = [1e-3, 1e-4]", np.array([1e-3, 1e-4], f32),
             "In float32, cos(1e-4) rounds to exactly 1, so 1 - cos x is 0."),
        case("x = [0]", np.array([0.0], f64),
             "At x = 0 the formula is 0/0; its limit is 1/2.", hostile=True),
        case("x = [1e-200]", np.array([1e-200], f64),
             "x * x underflows to 0 here, although the ratio is a perfectly normal 1/2: do not square "
             "a tiny x on its own."),
        case("x = [20, 100, 1000]", np.array([20.0, 100.0, 1000.0], f64),
             "Large x: the rewrite must stay accurate where there is no cancellation too.",
             hostile=False),
    ]


STABLE_COS_RATIO = Exercise(
    id="02b_rounding.stable_cos_ratio",
    title="(1 - cos x) / x² without cancellation",
    prompt=(
        "The function $f(x) = (1 - \\cos x)/x^2$ tends to $1/2$ as $x \\to 0$, but computed as "
        "written it returns 0 for small $x$. Write `cos_ratio(x)` for a float array `x` returning "
        "$f(x)$ elementwise in `x`'s dtype, within 8 ULP of the exact value everywhere, "
        "including $x = 0$ (the limit) and tiny $x$."
    ),
    function="cos_ratio",
    start_code="def cos_ratio(x):\n    return (1 - np.cos(x)) / x**2\n",
    solution=(
        "def cos_ratio(x):\n"
        "    # 1 - cos x = 2 sin^2(x/2): no subtraction, so no cancellation.\n"
        "    # (sin h / h)^2 / 2 avoids squaring a tiny x, and h = 0 gets the limit 1.\n"
        "    h = x / 2\n"
        "    with np.errstate(invalid='ignore', divide='ignore'):\n"
        "        s = np.where(h == 0, x.dtype.type(1), np.sin(h) / h)\n"
        "    return s * s / 2\n"
    ),
    hints=(
        "A half-angle identity turns 1 - cos x into a product with no subtraction.",
        "1 - cos x = 2 sin²(x/2). Now the tiny cases: what is x**2 for x = 1e-200?",
        "Write the result as (sin(h)/h)² / 2 with h = x/2, and give h = 0 its limit.",
    ),
    cases=_ratio_cases,
    # 8 ULP, derived for the solution (sin(h) / h)**2 / 2 with a faithful sin (< 1 ULP, which is
    # at most eps relative; NumPy's last bit of sin differs between CPUs): s = sin(h) / h is
    # within (1 + 1/2) eps, s * s within 2 (3/2) eps + eps/2 = 3.5 eps, and / 2 is exact.  One
    # ULP of the result is at least eps/2 relative, so that is 7 ULP, plus 0.5 for measuring
    # against the correctly rounded value: 7.5 <= 8.  (4 ULP is not assured even for a correctly
    # rounded sin, 4 * 0.5 + 3 + 0.5 = 5.5; a sin one float off gives 5 ULP on these cases.)
    # The textbook formula is off by 7e5 ULP or more, or NaN, on every hostile case.
    check=ulp_close(8.0),
)

EXERCISES = (COMPENSATED_SUM, STABLE_COS_RATIO)
