"""Exercises of chapter 1: keeping the probability of a long sequence in range."""

from __future__ import annotations

import ml_dtypes
import mpmath
import numpy as np

from numdl.exercises.grading import Case, Exercise

__all__ = ["EXERCISES", "PERPLEXITY", "SEQUENCE_LOG_PROB"]

_UNDERFLOW_WHY = (
    "The product of these probabilities is below the smallest positive {dtype} number, so "
    "multiplying them first underflows to 0 and log(0) = -inf. Add logs instead of "
    "multiplying probabilities."
)


def _exact_log_sum(p: np.ndarray) -> mpmath.mpf:
    # The exact inputs (every float is an exact binary fraction) through mpmath at
    # 60 digits: far more than any format here needs, so rounding the result once
    # to the input's dtype gives the reference answer.
    with mpmath.workdps(60):
        total = mpmath.mpf(0)
        for v in np.asarray(p, dtype=np.float64).ravel():
            if v == 0:
                return mpmath.mpf("-inf")
            total += mpmath.log(mpmath.mpf(float(v)))
        return total


def _as(dtype, value) -> np.generic:
    return np.asarray(float(value), dtype=np.float64).astype(dtype)[()]


def _log_prob_cases() -> list[Case]:
    f16, f32, f64, bf16 = np.float16, np.float32, np.float64, ml_dtypes.bfloat16

    def case(label, p, why="", hostile=False):
        p = np.asarray(p)
        return Case(f"{label} ({p.dtype.name})", (p,), _as(p.dtype, _exact_log_sum(p)), why, hostile=hostile)

    rng = np.random.default_rng(20261123)
    return [
        case("p = [0.5, 0.25, 0.125]", np.array([0.5, 0.25, 0.125], f64)),
        case("p = 0.01 repeated 400 times", np.full(400, 0.01, f32),
             _UNDERFLOW_WHY.format(dtype="float32"), hostile=True),
        case("p = 0.5 repeated 2000 times", np.full(2000, 0.5, f64),
             _UNDERFLOW_WHY.format(dtype="float64"), hostile=True),
        case("p = 0.1 repeated 50 times", np.full(50, 0.1, f16),
             _UNDERFLOW_WHY.format(dtype="float16"), hostile=True),
        case("p = 0.1 repeated 60 times", np.full(60, 0.1, bf16),
             "bfloat16 has float32's range but only 8 significant bits; the sum of logs "
             "must still be computed without multiplying probabilities.", hostile=True),
        case("p = [1e-310, 1e-310] (subnormal)", np.array([1e-310, 1e-310], f64),
             "Each probability is subnormal and their product (1e-620) is 0 in float64.", hostile=True),
        case("p = [0.5, 0.0, 0.5]", np.array([0.5, 0.0, 0.5], f32),
             "A zero probability makes the sequence impossible: the right answer is -inf "
             "(not nan, not an error).", hostile=True),
        case("p = 1.0 repeated 1000 times", np.ones(1000, f32),
             "Certain events add log(1) = 0 each."),
        case("an empty sequence", np.array([], f32),
             "The product of no probabilities is 1, so its log is 0.", hostile=True),
        case("10^5 random probabilities in (0.001, 1)", rng.uniform(1e-3, 1.0, 100_000).astype(f32),
             "A long sequence: the answer is about -10^5 and must keep float32 accuracy.", hostile=True),
    ]


SEQUENCE_LOG_PROB = Exercise(
    id="01_why_numerics.sequence_log_prob",
    title="The log-probability of a long sequence",
    prompt=(
        "A language model assigns probability `p[i]` to each token of a sequence. Write "
        "`sequence_log_prob(p)` returning $\\log \\prod_i p_i$ as a scalar **in `p`'s dtype**, "
        "for sequences of any length. The cases include thousands of tokens, float16, bfloat16, "
        "subnormal probabilities, a zero probability and an empty sequence. `np` is NumPy."
    ),
    function="sequence_log_prob",
    start_code=(
        "def sequence_log_prob(p):\n"
        "    # p: 1-D array of probabilities in [0, 1]\n"
        "    return np.log(np.prod(p))\n"
    ),
    solution=(
        "def sequence_log_prob(p):\n"
        "    # log(a * b) = log(a) + log(b): sum logs, never form the product.\n"
        "    # log(0) = -inf is the right answer for an impossible token, so only\n"
        "    # silence the divide-by-zero warning.\n"
        "    with np.errstate(divide='ignore'):\n"
        "        logs = np.log(p)\n"
        "    return np.sum(logs, dtype=p.dtype)\n"
    ),
    hints=(
        "Which cases fail? They all involve a product smaller than the smallest positive number "
        "of the dtype. What does np.prod return for them?",
        "log(a·b) = log(a) + log(b). Can you avoid forming the product at all?",
        "Keep the dtype: np.sum(np.log(p)) keeps float32/float16/bfloat16. What is the sum of an "
        "empty array?",
    ),
    cases=_log_prob_cases,
)


def _perplexity_cases() -> list[Case]:
    f16, f32, f64 = np.float16, np.float32, np.float64

    def expected(p):
        n = len(p)
        with mpmath.workdps(60):
            s = _exact_log_sum(p)
            return _as(p.dtype, mpmath.exp(-s / n))

    def case(label, p, why="", hostile=False):
        p = np.asarray(p)
        return Case(f"{label} ({p.dtype.name})", (p,), expected(p), why, hostile=hostile)

    rng = np.random.default_rng(7)
    return [
        case("p = [0.5, 0.5, 0.5, 0.5]", np.full(4, 0.5, f64)),
        case("p = 0.01 repeated 400 times", np.full(400, 0.01, f32),
             "The product underflows to 0 and 0 ** (-1/n) = inf, but the true perplexity is 100: "
             "average the logs, then exponentiate.", hostile=True),
        case("p = 0.2 repeated 3000 times", np.full(3000, 0.2, f64),
             "0.2^3000 = 1e-2097 underflows even in float64.", hostile=True),
        case("p = 0.05 repeated 30 times", np.full(30, 0.05, f16),
             "In float16 the product underflows after only a few tokens.", hostile=True),
        case("p = [0.9, 0.0, 0.9]", np.array([0.9, 0.0, 0.9], f32),
             "An impossible token gives infinite perplexity.", hostile=True),
        case("2000 random probabilities", rng.uniform(0.01, 1.0, 2000).astype(f32),
             "A realistic sequence: its product underflows, its perplexity is modest.", hostile=True),
    ]


PERPLEXITY = Exercise(
    id="01_why_numerics.perplexity",
    title="Perplexity without underflow",
    prompt=(
        "Perplexity is the geometric mean of the inverse token probabilities, "
        "$\\mathrm{PPL} = \\left(\\prod_{i=1}^n p_i\\right)^{-1/n}$. Write `perplexity(p)` "
        "for a non-empty 1-D array `p`, returning a scalar in `p`'s dtype."
    ),
    function="perplexity",
    start_code=(
        "def perplexity(p):\n"
        "    n = p.size\n"
        "    return np.prod(p) ** (-1.0 / n)\n"
    ),
    solution=(
        "def perplexity(p):\n"
        "    # PPL = exp(-mean(log p)): the mean of logs stays in range where\n"
        "    # the product underflows to 0 and 0 ** (-1/n) = inf.\n"
        "    with np.errstate(divide='ignore'):\n"
        "        mean_log = np.mean(np.log(p), dtype=p.dtype)\n"
        "    return np.exp(-mean_log)\n"
    ),
    hints=(
        "Take the log of the formula: log PPL = -(1/n) Σ log p_i.",
        "np.exp(-np.mean(np.log(p))) never forms the product. Keep p's dtype.",
    ),
    cases=_perplexity_cases,
)

EXERCISES = (SEQUENCE_LOG_PROB, PERPLEXITY)
