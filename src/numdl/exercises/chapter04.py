"""Exercises of chapter 4: stable softmax, logsumexp and log_softmax, graded on hostile rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl import reference
from numdl.exercises.grading import RTOL, Case, Exercise, close_to, ulp_close
from numdl.floats import format_info

__all__ = ["EXERCISES", "STABLE_LOGSUMEXP", "STABLE_LOG_SOFTMAX", "STABLE_SOFTMAX"]

F16, F32, F64 = np.float16, np.float32, np.float64
_OVERFLOW = ("exp({x}) overflows {dtype}, and inf / inf = nan. Subtract the maximum first: "
             "softmax(x) = softmax(x - max x).")


def _row(values, dtype) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(dtype)


def _softmax_cases() -> list[Case]:
    def case(label, x, why, hostile=True):
        return Case(f"{label} ({x.dtype.name})", (x,), reference.softmax(x), why, hostile=hostile)

    rng = np.random.default_rng(4)
    return [
        case("x = [1, 2, 3]", _row([1, 2, 3], F64), "", hostile=False),
        case("x = [1000, 1000, 1000]", _row([1000] * 3, F64), _OVERFLOW.format(x=1000, dtype="float64")),
        case("x = [-1000, -1000, -1000]", _row([-1000] * 3, F64),
             "exp(-1000) underflows to 0 and 0 / 0 = nan; after subtracting the maximum the "
             "largest term is exp(0) = 1, so the sum is at least 1."),
        case("x = [500, 460, 420]", _row([500, 460, 420], F64), _OVERFLOW.format(x=500, dtype="float64")),
        case("x = [12, 12, 12]", _row([12] * 3, F16), _OVERFLOW.format(x=12, dtype="float16")),
        case("x = [100, 90, 80]", _row([100, 90, 80], F32), _OVERFLOW.format(x=100, dtype="float32")),
        case("x = [2, -inf, 1] (a masked entry)", _row([2, -np.inf, 1], F64),
             "A -inf score is a mask: its probability is exactly 0 and the others are unaffected.",
             hostile=True),
        case("1000 scores of scale 300", (300 * rng.standard_normal(1000)).astype(F32),
             "Large scores of mixed sign: the unshifted exponentials overflow."),
    ]


STABLE_SOFTMAX = Exercise(
    id="04_stable_softmax.softmax",
    title="A softmax that never returns nan",
    prompt=(
        "Write `softmax(x)` for a 1-D float array `x`, returning $e^{x_i} / \\sum_j e^{x_j}$ in "
        "`x`'s dtype. The cases include scores of ±1000, float16 and float32 rows near their "
        "overflow thresholds, and a masked (-inf) entry."
    ),
    function="softmax",
    start_code="def softmax(x):\n    e = np.exp(x)\n    return e / np.sum(e)\n",
    solution=(
        "def softmax(x):\n"
        "    # softmax(x) = softmax(x - c) for any c; with c = max x every exponent is <= 0,\n"
        "    # so exp cannot overflow, and the largest term is exp(0) = 1, so the sum is >= 1.\n"
        "    e = np.exp(x - np.max(x))\n"
        "    return e / np.sum(e)\n"
    ),
    hints=(
        "Multiply the numerator and the denominator by the same factor e^(-c). What does that do "
        "to the result, and to the size of the exponentials?",
        "Choose c = max(x): every exponent x_i - c is <= 0 and one of them is exactly 0.",
    ),
    cases=_softmax_cases,
    check=close_to(),
)


def _check_logsumexp(case: Case, got: Any) -> str | None:
    """Absolute error u * (|max x| + log n) scaled: the accuracy a max-shift can deliver."""
    x = case.args[0]
    dtype = np.asarray(case.expected).dtype
    finite = x[np.isfinite(x)]
    scale = (np.max(np.abs(finite)) if finite.size else 0.0) + np.log(max(x.size, 1)) + 1.0
    eps = format_info(dtype).eps
    return close_to(rtol={k: 0.0 for k in RTOL}, atol=8 * eps * scale)(case, got)


def _lse_cases() -> list[Case]:
    def case(label, x, why, hostile=True):
        return Case(f"{label} ({x.dtype.name})", (x,), reference.logsumexp(x), why, hostile=hostile)

    rng = np.random.default_rng(5)
    return [
        case("x = [0, 1, 2]", _row([0, 1, 2], F64), "", hostile=False),
        case("x = [1000, 1000]", _row([1000, 1000], F64),
             "The answer is 1000 + log 2, but exp(1000) overflows: factor out e^a with a = max x."),
        case("x = [-1000, -1001]", _row([-1000, -1001], F64),
             "Every exp underflows to 0 and log(0) = -inf, although the answer is about -999.7."),
        case("x = [11, 11, 11]", _row([11] * 3, F16),
             "In float16 exp(11) fits but the sum of three overflows."),
        case("x = [89, 89]", _row([89, 89], F32), "exp(89) overflows float32."),
        case("x = [0, -inf]", _row([0, -np.inf], F64),
             "A -inf term contributes exp(-inf) = 0: the answer is 0."),
        case("x = [-inf, -inf]", _row([-np.inf, -np.inf], F64),
             "All terms are 0, so the answer is log 0 = -inf. With a = max x = -inf, x - a is "
             "-inf - (-inf) = nan: treat an infinite maximum separately."),
        case("10^5 scores of scale 10", (10 * rng.standard_normal(100_000)).astype(F32),
             "A long row: the shifted sum is large but finite.", hostile=True),
    ]


STABLE_LOGSUMEXP = Exercise(
    id="04_stable_softmax.logsumexp",
    title="log-sum-exp with the max-shift",
    prompt=(
        "Write `logsumexp(x)` for a 1-D float array `x`, returning $\\log \\sum_i e^{x_i}$ as a "
        "scalar in `x`'s dtype, including rows with ±1000, -inf entries and a row of only -inf."
    ),
    function="logsumexp",
    start_code="def logsumexp(x):\n    return np.log(np.sum(np.exp(x)))\n",
    solution=(
        "def logsumexp(x):\n"
        "    a = np.max(x)\n"
        "    if not np.isfinite(a):\n"
        "        # all -inf -> -inf; any +inf -> +inf; nan -> nan: no shift needed\n"
        "        return np.log(np.sum(np.exp(x)))\n"
        "    # log sum e^x = a + log sum e^(x - a): every term <= 1, one term == 1\n"
        "    return a + np.log(np.sum(np.exp(x - a)))\n"
    ),
    hints=(
        "Derive it: sum_i e^{x_i} = e^a * sum_i e^{x_i - a}. Take the log of both sides.",
        "With a = max x the sum is between 1 and n, so its log is safe.",
        "When max x is -inf (every entry -inf), x - a is nan. Handle a non-finite maximum first.",
    ),
    cases=_lse_cases,
    check=_check_logsumexp,
)


def _log_softmax_cases() -> list[Case]:
    def case(label, x, why, hostile=True):
        return Case(f"{label} ({x.dtype.name})", (x,), reference.log_softmax(x), why, hostile=hostile)

    return [
        case("x = [1, 2, 3]", _row([1, 2, 3], F64), "", hostile=False),
        case("x = [1000, 1000]", _row([1000, 1000], F64),
             "log(softmax(x)) overflows in exp; log_softmax(x) = x - logsumexp(x) never "
             "exponentiates a large number."),
        case("x = [0, -1000, -2000]", _row([0, -1000, -2000], F64),
             "softmax gives 0 for the last two classes and log(0) = -inf, but their "
             "log-probabilities are simply -1000 and -2000."),
        case("x = [40, 0, 0] (a confident class)", _row([40, 0, 0], F64),
             "The top class's log-probability is -log(1 + 2e^-40) ≈ -8.5e-18: tiny but not 0. "
             "x - a - log(sum) computes log(1 + 8.5e-18) = log(1.0) = 0. Write the sum as "
             "1 + (the other terms) and use log1p on the other terms."),
        case("x = [20, 0, -5]", _row([20, 0, -5], F32),
             "In float32 the top class's log-probability (about -2e-9) is below float32's epsilon "
             "relative to 1: log1p keeps it."),
        case("x = [3, -inf, 1] (a masked entry)", _row([3, -np.inf, 1], F64),
             "A masked (-inf) class has log-probability -inf; the others are unaffected."),
    ]


STABLE_LOG_SOFTMAX = Exercise(
    id="04_stable_softmax.log_softmax",
    title="log_softmax that keeps the confident class",
    prompt=(
        "Write `log_softmax(x)` for a 1-D float array `x`, returning "
        "$x_i - \\log \\sum_j e^{x_j}$ in `x`'s dtype, **within 4 ULP** of the exact value for every "
        "entry, including the top class of a confident prediction, whose log-probability is tiny "
        "but not 0."
    ),
    function="log_softmax",
    start_code="def log_softmax(x):\n    e = np.exp(x)\n    return np.log(e / np.sum(e))\n",
    solution=(
        "def log_softmax(x):\n"
        "    k = np.argmax(x)\n"
        "    a = x[k]\n"
        "    if not np.isfinite(a):\n"
        "        return x - np.log(np.sum(np.exp(x)))\n"
        "    z = x - a                      # z[k] == 0, all others <= 0\n"
        "    others = np.exp(z)\n"
        "    others[k] = 0                  # sum_j e^{z_j} = 1 + s\n"
        "    s = np.sum(others)\n"
        "    # log(1 + s) via log1p: for a confident prediction s is tiny and\n"
        "    # log(1 + s) would round to log(1) = 0.\n"
        "    return z - np.log1p(s)\n"
    ),
    hints=(
        "log softmax(x)_i = x_i - logsumexp(x): never take the log of a probability that may "
        "have underflowed.",
        "With a = max x: log_softmax(x)_i = (x_i - a) - log(sum_j e^{x_j - a}). Which case still "
        "fails, and what is the sum there?",
        "The sum is 1 + s with s = sum over the non-maximal entries. log(1 + s) loses s when it is "
        "tiny: np.log1p(s) does not.",
    ),
    cases=_log_softmax_cases,
    check=ulp_close(4.0),
)

EXERCISES = (STABLE_SOFTMAX, STABLE_LOGSUMEXP, STABLE_LOG_SOFTMAX)
