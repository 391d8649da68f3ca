"""The compiled kernels (``numdl._kernels``, built from ``src/numdl/_kernels.c`` by setup.py)
for float32/float64 rows: the same max-shift as :mod:`numdl._engine.numpy_kernel` in one pass
per cache-sized block, with an exp accurate to 2**-58.  Which build runs (or none:
``NUMDL_PURE_NUMPY=1``, or where it did not build) is ``config.settings.kernels``
(:func:`numdl._engine.config.load_kernels`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from numdl._engine import config
from numdl._engine.rows import Stats
from numdl._engine.threads import PARALLEL_MIN, run_parallel

__all__ = ["FAST_DTYPES", "applies", "kernel"]

# The dtypes of the compiled kernels (and of the fast paths for the common small call).
FAST_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
_KIND_CODE = {"stats": 0, "softmax": 1, "log_softmax": 2}
_TINY_SUM = 2.0**-800  # as TINY_SUM in _kernels.c
_MAX_SEGMENTS = 16  # segments of a long row (the thread pool balances them)


def applies(
    x2: np.ndarray, out: np.ndarray | None, weights: np.ndarray | None, want_dsum: bool
) -> bool:
    """The compiled kernel covers float32/float64 rows with outputs of the same dtype; the
    weighted sums of the losses (probability targets, label smoothing) stay in NumPy."""
    return (
        config.settings.kernels is not None
        and x2.dtype in FAST_DTYPES
        and weights is None
        and not want_dsum
        and (out is None or out.dtype == x2.dtype)
    )


def kernel(x2: np.ndarray, kind: str, out: np.ndarray | None, stats: Stats) -> None:
    """:func:`numdl._engine.numpy_kernel.np_kernel` by ``numdl._kernels``: whole rows per call
    (split between threads by rows), or, for rows of at least ``config.settings.segment_min``,
    each row in segments shared by the threads.  Each call releases the GIL.  Neither split
    depends on the number of threads, so neither does any result.  Rows whose maximum is not
    finite get ``a``/``k`` and are left to the caller's special-value rules, as in the NumPy
    kernel."""
    kernels = config.settings.kernels
    xc = np.ascontiguousarray(x2)
    if not xc.flags.aligned:  # a view into a byte buffer at an odd offset
        xc = xc.copy()
    f32 = xc.dtype == np.float32
    rows, n = xc.shape
    code = _KIND_CODE[kind]
    target = None
    if out is not None:
        usable = out.flags.c_contiguous and out.flags.aligned
        target = out if usable else np.empty(xc.shape, dtype=xc.dtype)
    a, k, s = stats.a, stats.k, stats.s  # float64, int64, float64: written by the kernel
    if n >= config.settings.segment_min:  # by length alone: the thread count changes no result
        for r in range(rows):
            row_out = None if target is None else target[r]
            a[r], k[r], s[r] = _long_row(kernels, xc[r], code, row_out)
    else:
        parts = min(config.settings.threads, rows) if rows * n >= PARALLEL_MIN else 1
        bounds = [rows * i // parts for i in range(parts + 1)]
        run_parallel(
            [
                lambda lo=lo, hi=hi: kernels.rows(xc, target, a, k, s, n, lo, hi, code, f32)
                for lo, hi in itertools.pairwise(bounds)
                if hi > lo
            ]
        )
    if target is not None and target is not out:
        out[...] = target


def _long_row(kernels: Any, row: np.ndarray, code: int, out: np.ndarray | None) -> tuple:
    """``(a, k, s)`` of one long contiguous row, its segments on the thread pool.  Each segment
    is read once for its maximum and its sum (in cache-sized chunks, rescaled as the maximum
    grows); the segments' sums are brought to the row's maximum and added exactly (``fsum``);
    then the outputs are written in a second pass."""
    f32 = row.dtype == np.float32
    n = row.size
    # the segments depend on n only (results must not depend on the thread count); enough of
    # them that a core busy with another process holds back a small share only
    pieces = max(1, min(_MAX_SEGMENTS, n // (config.settings.segment_min // 2)))
    bounds = [n * i // pieces for i in range(pieces + 1)]
    segments = [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]
    found = run_parallel(
        [lambda lo=lo, hi=hi: kernels.seg_stats(row, lo, hi, f32) for lo, hi in segments]
    )
    nans = [(m, k) for m, k, _, _ in found if math.isnan(m)]
    if nans:
        return math.nan, nans[0][1], math.nan
    ar = max(m for m, _, _, _ in found)
    kr = next(k for m, k, _, _ in found if m == ar)
    if not math.isfinite(ar):
        return ar, kr, math.nan
    terms = []
    for m, _, s_hi, s_lo in found:
        if m != -math.inf:
            terms.extend(kernels.rescale(s_hi, s_lo, m, ar))
    s = math.fsum([*terms, -1.0])  # the maximum's term is exactly 1
    if s < _TINY_SUM:  # the first pass leaves out terms below 2**-937: sum them, scaled by 2**200
        scaled = run_parallel(
            [
                lambda lo=lo, hi=hi: kernels.seg_sums(row, lo, hi, ar, f32, True)
                for lo, hi in segments
            ]
        )
        s = math.ldexp(math.fsum([*(t for p in scaled for t in p), -(2.0**200)]), -200)
    if out is not None:
        s_hi = math.fsum(terms)
        s_lo = math.fsum([*terms, -s_hi])
        run_parallel(
            [
                lambda lo=lo, hi=hi: kernels.seg_outputs(
                    row, out, lo, hi, ar, s_hi, s_lo, s, code, f32
                )
                for lo, hi in segments
            ]
        )
    return ar, kr, s
