"""Chapter 2b (rounding errors): cancellation in ULPs and the error of summation methods.

:func:`cancellation_errors` measures the naive and the stable ``(1 - cos x) / x^2`` against the
exact value; :func:`accumulation_errors` runs each summation method of
:func:`numdl.floats.summation` on the sequences of :func:`make_sequence`, and
:func:`harmonic_orders` sums 1/k largest-first and smallest-first.
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from numdl import naive, stable
from numdl.floats import as_dtype, summation
from numdl.reference import evaluate, exact_sum, ulp_error
from numdl.tutorial.simulations._common import check_rng

__all__ = [
    "SEQUENCES",
    "accumulation_errors",
    "cancellation_errors",
    "harmonic_orders",
    "make_sequence",
]


def cancellation_errors(x: ArrayLike, dtype: DTypeLike = "float64") -> dict[str, np.ndarray]:
    """ULP errors of the naive and the stable (1 - cos x) / x^2 at each x, in ``dtype``.

    The exact value comes from :mod:`numdl.reference` (mpmath on the exact binary
    inputs), so the plot shows real errors, not differences between two
    floating-point answers.  Returns ``{"x", "naive", "stable"}``, float64 arrays.
    """
    dt = as_dtype(dtype)
    xs = np.asarray(x, dtype=np.float64).astype(dt)

    def ratio(t):
        # The half-angle identity, evaluated in mpmath: written as 1 - cos t it
        # would cancel even at 146 bits once t is below about 1e-22.
        if t == 0:
            return mpmath.mpf(0.5)  # the limit
        return 2 * mpmath.sin(t / 2) ** 2 / (t * t)

    exact = evaluate(ratio, xs, rounded=False)
    return {
        "x": xs.astype(np.float64),
        "naive": np.asarray(ulp_error(naive.one_minus_cos_ratio(xs), exact), dtype=np.float64),
        "stable": np.asarray(ulp_error(stable.one_minus_cos_ratio(xs), exact), dtype=np.float64),
    }


SEQUENCES = ("0.1 repeated", "uniform [0, 1)", "±100 plus uniform [0, 1)")


def make_sequence(kind: str, n: int, dtype: DTypeLike = "float32", *,
                  rng: np.random.Generator) -> np.ndarray:
    """Test sequences for summation (:data:`SEQUENCES`): constant, random positive, and cancelling.

    ``rng`` draws the random terms (the constant sequence draws nothing).
    """
    dt = as_dtype(dtype)
    check_rng(rng)
    if kind == "0.1 repeated":
        x = np.full(n, 0.1)
    elif kind == "uniform [0, 1)":
        x = rng.random(n)
    elif kind == "±100 plus uniform [0, 1)":
        # Large terms that cancel in pairs hide a small positive drift: every
        # addition rounds at the scale of 100, the sum itself grows like n / 2.
        k = np.arange(n)
        x = np.where(k % 2 == 0, 100.0, -100.0) + rng.random(n)
    else:
        raise ValueError(f"kind={kind!r}; choose one of {', '.join(SEQUENCES)}")
    return x.astype(dt)


def accumulation_errors(kind: str, dtype: DTypeLike, ns: ArrayLike,
                        methods: Sequence[str] = ("naive", "pairwise", "kahan", "neumaier"), *,
                        rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Relative error of each summation method on the first n terms, for each n in ``ns``.

    One sequence of ``max(ns)`` terms is drawn from ``rng`` and every n sums a prefix of it.
    The error is measured against the correctly rounded exact sum of the same
    (already rounded) terms, so it is the error of the summation alone.
    Returns ``{method: array of len(ns)}``.
    """
    ns = [int(n) for n in np.atleast_1d(np.asarray(ns))]
    if not ns or min(ns) < 1:
        raise ValueError(f"ns={ns!r} must be a non-empty list of positive lengths")
    x = make_sequence(kind, max(ns), dtype, rng=rng)
    out: dict[str, np.ndarray] = {}
    exacts = [float(exact_sum(x[:n])) for n in ns]
    for method in methods:
        errs = []
        for n, ex in zip(ns, exacts):
            got = float(summation(x[:n], method))
            errs.append(abs(got - ex) / abs(ex) if ex != 0 else abs(got))
        out[method] = np.array(errs)
    return out


def harmonic_orders(n: int, dtype: DTypeLike = "float32") -> dict[str, float]:
    """Sum 1/k for k = 1..n in ``dtype`` naively, largest terms first and smallest first.

    Returns each order's relative error against the exact sum of the same rounded
    terms: adding small terms first lets them accumulate before they meet the
    large running total, so it is more accurate.  Keys: ``"exact"``, ``"largest first"``,
    ``"smallest first"`` and each order's ``" error"``.
    """
    dt = as_dtype(dtype)
    if n < 1:
        raise ValueError(f"n={n!r} must be positive")
    terms = (1.0 / np.arange(1, n + 1)).astype(dt)
    exact = float(exact_sum(terms))
    result = {"exact": exact}
    for name, seq in (("largest first", terms), ("smallest first", terms[::-1].copy())):
        got = float(summation(seq, "naive"))
        result[name] = got
        result[name + " error"] = abs(got - exact) / exact
    return result
