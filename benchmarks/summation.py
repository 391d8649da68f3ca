"""Accuracy and speed of numdl's summation methods, with numpy.sum and math.fsum beside them.

Usage::

    python benchmarks/summation.py            # 10**6 and 10**7 terms
    python benchmarks/summation.py --quick    # 10**5 and 10**6 terms

For float32 and float64, and two kinds of input -- uniform [0, 1), where every method does well, and
a cancelling sum whose terms are ~3e6 times larger than their total -- it prints each method's error
against the exact sum (in ULPs of the result's format and relative) and its time per element (median
of several runs).  ``math.fsum`` is timed on ``x.tolist()`` (the conversion included) and its float64
result is cast to the input's dtype, which rounds twice for float32.

This is a benchmark, not a test: no number here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from numdl.floats import SUMMATION_METHODS, summation
from numdl.reference import exact_sum, ulp_error


def uniform(rng: np.random.Generator, n: int, dtype: np.dtype) -> np.ndarray:
    return rng.random(n).astype(dtype)


def cancelling(rng: np.random.Generator, n: int, dtype: np.dtype) -> np.ndarray:
    """Pairs +a, -a of size ~1e4 that cancel exactly, plus n/100 terms in [0, 1): sum|x| / |sum x|
    is about 3e6, so every rounding of a partial sum near 1e4 * sqrt(n) shows up in the total."""
    small = n // 100
    half = (n - small) // 2
    a = (rng.uniform(1, 2, half) * 1e4).astype(dtype)
    rest = rng.random(n - 2 * half).astype(dtype)
    return rng.permutation(np.concatenate([a, -a, rest]))


INPUTS: dict[str, Callable[[np.random.Generator, int, np.dtype], np.ndarray]] = {
    "uniform": uniform,
    "cancelling": cancelling,
}


def methods(dtype: np.dtype) -> dict[str, Callable[[np.ndarray], object]]:
    table: dict[str, Callable[[np.ndarray], object]] = {
        m: (lambda x, m=m: summation(x, m)) for m in SUMMATION_METHODS
    }
    table["numpy.sum"] = lambda x: np.sum(x, dtype=dtype)
    table["math.fsum"] = lambda x: dtype.type(math.fsum(x.tolist()))
    return table


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def as_fraction(mpf_value) -> Fraction:
    sign, man, exp, _ = mpf_value._mpf_
    q = Fraction(man) * Fraction(2) ** exp
    return -q if sign else q


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10**5 and 10**6 terms instead")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    sizes = (10**5, 10**6) if args.quick else (10**6, 10**7)
    rng = np.random.default_rng(args.seed)

    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}, median of {args.repeats} runs")
    header = f"{'dtype':8} {'n':>9} {'input':11} {'method':10} {'ulp error':>12} {'rel error':>10} {'ns/elem':>8}"
    print(header)
    print("-" * len(header))
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        for n in sizes:
            for kind, make in INPUTS.items():
                x = make(rng, n, dtype)
                exact = exact_sum(x)
                exact_q = as_fraction(exact)
                for name, fn in methods(dtype).items():
                    seconds, result = median_seconds(lambda fn=fn, x=x: fn(x), args.repeats)
                    ulps = ulp_error(np.asarray(result, dtype=dtype)[()], exact)
                    rel = float(abs(Fraction(float(result)) - exact_q) / abs(exact_q))
                    print(
                        f"{dtype.name:8} {n:>9} {kind:11} {name:10} {ulps:>12.4g} {rel:>10.2e} "
                        f"{1e9 * seconds / n:>8.2f}"
                    )
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
