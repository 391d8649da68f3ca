"""The blocked NumPy max-shift kernel: the per-row maximum ``a``, ``s = sum_{j != k} exp(x_j - a)``
and, for softmax / log_softmax, the outputs, for every dtype (the compiled kernels of
:mod:`numdl._engine.compiled` take float32/float64 rows when they built).

Each block of rows (or chunk of a long row) is read once into float64 scratch buffers that stay in
the CPU cache; NumPy's loops release the GIL, so blocks are shared between threads.  float64 input
carries the rounding error of the shift ``x - a`` (TwoSum) into the exponential, and splits the sum
so that its own roundings cost nothing (see :func:`_sum_exp`).
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl._engine import compiled, config
from numdl._engine.eft import SPLITTER, two_prod, two_sum
from numdl._engine.inputs import np_round
from numdl._engine.rows import Stats
from numdl._engine.threads import PARALLEL_MIN, run_parallel

__all__ = ["BLOCK", "LONG_CHUNK", "np_kernel", "special_row"]

# float64 elements per block of the NumPy kernels: the four float64 buffers of a block (2 MiB)
# stay in the L2/L3 caches, and the blocks are long enough that NumPy's per-call overhead is small.
BLOCK = 1 << 16
# Chunk of a row longer than BLOCK (two passes over it): larger, so that the Python overhead of
# the ~25 NumPy calls per chunk stays small; the buffers still fit the L3 cache.
LONG_CHUNK = 1 << 16


@dataclass
class _Job:
    """One call of the kernel: what to compute and where to write it."""

    x2: np.ndarray
    kind: str  # "stats", "softmax" or "log_softmax"
    exact: bool  # float64 input: carry the rounding error of the shift
    out: np.ndarray | None
    weights: np.ndarray | None
    stats: Stats
    split: bool = True  # float64: sums without their own rounding errors (see _sum_exp)


def _needs_staging(job: _Job) -> bool:
    """bfloat16 (and float8) results are rounded from a float64 staging buffer."""
    return job.out is not None and job.out.dtype not in (np.float64, np.float32, np.float16)


_LOCAL = threading.local()


def _buffers(size: int, exact: bool, staging: bool) -> _Buffers:
    """This thread's scratch buffers, reused between calls (allocating and first touching a few
    MiB per call would cost as much as a small input's whole computation)."""
    cache = getattr(_LOCAL, "buffers", None)
    if cache is None:
        cache = _LOCAL.buffers = {}
    key = (exact, staging)
    buf = cache.get(key)
    if buf is None or buf.d.size < size:
        buf = cache[key] = _Buffers(max(size, 1024), exact, staging)
    return buf


class _Buffers:
    """float64 scratch of one thread: ``d = x - a``, its error ``dl``, ``e = exp(d)`` and ``sc``."""

    def __init__(self, size: int, exact: bool, staging: bool) -> None:
        self.d, self.e, self.sc = np.empty(size), np.empty(size), np.empty(size)
        self.dl = np.empty(size) if exact else None
        self.sc2 = np.empty(size) if exact else None
        self.tmp = np.empty(size) if exact else None
        self.staging = np.empty(size) if staging else None

    def view(self, shape: tuple[int, int]) -> _Buffers:
        size = shape[0] * shape[1]
        v = object.__new__(_Buffers)
        for name in ("d", "e", "sc", "sc2", "tmp", "dl", "staging"):
            b = getattr(self, name)
            setattr(v, name, None if b is None else b[:size].reshape(shape))
        return v


def _shift(xb: np.ndarray, a_col: np.ndarray, exact: bool, v: _Buffers) -> None:
    """``v.d = fl(x - a)`` in float64; for float64 input also ``v.dl``, its rounding error.

    float16/bfloat16/float32 inputs have ``x - a`` exact in float64 wherever ``exp(x - a)``
    matters (their significands have at most 24 bits).  For float64 input ``x - a`` rounds, and
    ``exp`` turns the argument's absolute error ``u |x - a|`` into a relative error of the
    result: hundreds of ULP at ``|x - a| ~ 100``.  TwoSum gives the error exactly, and
    ``exp(d + dl) = exp(d) (1 + dl)`` to 2**-106.  (Where ``x = -inf`` TwoSum gives NaN: see
    :func:`_fix_minus_inf`.)
    """
    np.subtract(xb, a_col, out=v.d)
    if not exact:
        return
    np.subtract(v.d, xb, out=v.sc)  # bb = d - x
    np.subtract(v.d, v.sc, out=v.dl)  # d - bb
    np.subtract(xb, v.dl, out=v.dl)  # x - (d - bb)
    np.subtract(-a_col, v.sc, out=v.sc)  # -a - bb
    np.add(v.dl, v.sc, out=v.dl)


def _fix_minus_inf(v: _Buffers) -> None:
    """Replace the NaN that TwoSum makes of ``x = -inf`` (``-inf - -inf``) by a finite number: it
    only ever multiplies ``exp(-inf) = 0`` or adds to ``-inf``.  Called only for blocks whose sum
    came out NaN, so that the usual block pays nothing for the check."""
    np.fmin(v.dl, 1e300, out=v.dl)


# A term in [0, 1] plus this constant rounds to a multiple of 2**-26: the high parts have at most
# 27 significant bits, add up exactly (below 2**27 terms), and times a 26-bit number are exact.
_FIXED_POINT = 1.5 * 2.0**26


def _sum_exp(
    v: _Buffers, ar: Any, kb: Any, exact: bool, split: bool, want_sum: bool = True
) -> np.ndarray | None:
    """``v.e = exp(v.d)`` and the row sums of ``e (1 + dl)``, leaving out the entries ``kb``.

    With `split` (float64 input, where a plain sum's own roundings would cost a few ULP), each term
    is split into a high part on the grid 2**-26 (``v.sc``, summed exactly) and the rest
    ``w = e - hi + e dl`` (``v.sc2``, below 2**-27 a term, so its sum's roundings are that much
    smaller); :func:`_write_outputs` reuses both.
    """
    np.exp(v.d, out=v.e)
    if kb is not None:
        v.e[ar, kb] = 0.0  # the largest term (exactly 1) is kept out of the sum: log1p below
    if not exact:
        return v.e.sum(axis=1) if want_sum else None
    if not split:
        np.multiply(v.e, v.dl, out=v.sc)
        return v.e.sum(axis=1) + v.sc.sum(axis=1)
    np.add(v.e, _FIXED_POINT, out=v.sc)
    np.subtract(v.sc, _FIXED_POINT, out=v.sc)  # hi, exact
    np.subtract(v.e, v.sc, out=v.sc2)  # e - hi, exact
    np.multiply(v.e, v.dl, out=v.tmp)
    np.add(v.sc2, v.tmp, out=v.sc2)  # w = (e - hi) + e dl
    if not want_sum:
        return None
    return v.sc.sum(axis=1) + v.sc2.sum(axis=1)  # the first sum is exact


def _weighted_sums(v: _Buffers, job: _Job, rows: slice, cols: slice, add: bool) -> None:
    """Accumulate ``sum (x - a)`` and ``sum w (x - a)`` (over ``w != 0``) of a block."""
    st = job.stats
    d = v.staging if v.staging is not None else np.empty_like(v.d)
    if job.exact:
        np.add(v.d, v.dl, out=d)  # to 2**-106; -inf stays -inf
    else:
        d[...] = v.d
    if st.dsum is not None:
        total = d.sum(axis=1)
        st.dsum[rows] = st.dsum[rows] + total if add else total
    if job.weights is not None:
        w = job.weights[rows, cols]
        nonzero = w != 0
        np.multiply(w, d, out=d, where=nonzero)
        d[~nonzero] = 0.0  # a class of weight zero contributes 0 even if its logit is -inf
        total = d.sum(axis=1)
        st.wdsum[rows] = st.wdsum[rows] + total if add else total


def _row_reciprocal(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``1 / (1 + s) = r26 + rest``: ``r26`` with 26 significant bits, ``rest`` to 2**-100."""
    th, tl = two_sum(1.0, s)
    rh = 1.0 / th
    p, pe = two_prod(rh, th)
    rl = (((1.0 - p) - pe) - rh * tl) / th  # 1 - rh*th is exact; the tail of 1/(th + tl)
    t = SPLITTER * rh
    r26 = t - (t - rh)
    return r26, (rh - r26) + rl


def _write_outputs(job: _Job, v: _Buffers, s_rows: np.ndarray, out_b: np.ndarray) -> None:
    """softmax ``e (1 + dl) / (1 + s)`` or log_softmax ``d + (dl - log1p(s))`` of a block.

    ``v.e`` holds ``exp(d)`` with 1 at the maximum; for float64 softmax ``v.sc``/``v.sc2`` hold
    the split of :func:`_sum_exp` (``hi``, ``w``), with ``hi = 1, w = 0`` at the maximum.  The
    float64 softmax is ``hi r26 + (w r26 + e rest)``: the first product is exact (27 + 26 bits),
    the bracket is below 2**-26 of the result, so the result is rounded once.
    """
    target = out_b if v.staging is None else v.staging
    if job.kind == "softmax":
        if job.exact:
            r26, rest = (c[:, None] for c in _row_reciprocal(s_rows))
            np.multiply(v.sc2, r26, out=v.sc2)
            np.multiply(v.e, rest, out=v.tmp)
            np.add(v.sc2, v.tmp, out=v.sc2)
            np.multiply(v.sc, r26, out=v.sc)
            np.add(v.sc, v.sc2, out=target)
        else:
            np.multiply(v.e, (1.0 / (1.0 + s_rows))[:, None], out=target, casting="same_kind")
    else:
        lg = np.log1p(s_rows)[:, None]
        if job.exact:
            np.subtract(v.dl, lg, out=v.dl)
            np.add(v.d, v.dl, out=target)
        else:
            np.subtract(v.d, lg, out=target, casting="same_kind")
    if v.staging is not None:
        out_b[...] = np_round(target, out_b.dtype)


def _block_sums(job: _Job, v: _Buffers, ar: Any, kb: Any, finite_a: np.ndarray) -> np.ndarray:
    """:func:`_sum_exp` of a block, redone with :func:`_fix_minus_inf` if a row with a finite
    maximum came out NaN (it has ``-inf`` entries)."""
    split = job.exact and job.split
    sb = _sum_exp(v, ar, kb, job.exact, split)
    if job.exact and np.isnan(sb[finite_a]).any():
        _fix_minus_inf(v)
        sb = _sum_exp(v, ar, kb, job.exact, split)
    return sb


def _block_terms(job: _Job, v: _Buffers) -> None:
    """The terms of :func:`_sum_exp` without their sums (the output pass of a long row)."""
    split = job.exact and job.split
    _sum_exp(v, None, None, job.exact, split, want_sum=False)
    if job.exact and np.isnan(v.sc2 if split else v.dl).any():
        _fix_minus_inf(v)
        _sum_exp(v, None, None, job.exact, split, want_sum=False)


def _short_rows(job: _Job, r0: int, r1: int) -> None:
    """Rows ``r0:r1`` of length ``n <= BLOCK``, a block of whole rows at a time, in one pass."""
    x2, st = job.x2, job.stats
    n = x2.shape[1]
    per = max(1, BLOCK // n)
    staging = _needs_staging(job)
    buffers = _buffers(per * n, job.exact, staging)
    with np.errstate(all="ignore"):
        for b0 in range(r0, r1, per):
            b1 = min(r1, b0 + per)
            xb = x2[b0:b1]
            ar = np.arange(b1 - b0)
            kb = np.argmax(xb, axis=1)
            ab = xb[ar, kb].astype(np.float64)
            a_col = np.where(np.isfinite(ab), ab, 0.0)[:, None]
            v = buffers.view(xb.shape)
            _shift(xb, a_col, job.exact, v)
            sb = _block_sums(job, v, ar, kb, np.isfinite(ab))
            st.a[b0:b1], st.k[b0:b1], st.s[b0:b1] = ab, kb, sb
            if st.dsum is not None or st.wdsum is not None:
                _weighted_sums(v, job, slice(b0, b1), slice(None), add=False)
            if job.out is not None:
                v.e[ar, kb] = 1.0
                if job.exact and job.split:
                    v.sc[ar, kb], v.sc2[ar, kb] = 1.0, 0.0
                _write_outputs(job, v, sb, job.out[b0:b1])


def _argmax_parallel(row: np.ndarray) -> int:
    """``np.argmax`` of a long 1-D row, its pieces on the thread pool: the first maximum, or the
    first NaN, as NumPy's."""
    pieces = min(config.settings.threads, max(1, row.size // BLOCK))
    if pieces == 1:
        return int(np.argmax(row))
    bounds = [row.size * i // pieces for i in range(pieces + 1)]
    found = run_parallel(
        [
            lambda lo=lo, hi=hi: lo + int(np.argmax(row[lo:hi]))
            for lo, hi in itertools.pairwise(bounds)
        ]
    )
    values = [float(row[i]) for i in found]
    for i, v in zip(found, values, strict=True):
        if math.isnan(v):
            return i
    best = max(values)
    return next(i for i, v in zip(found, values, strict=True) if v == best)


def _long_row(job: _Job, r: int) -> None:
    """One row longer than ``BLOCK``: chunks of ``BLOCK``, split between threads, read once for
    the sums and once more for the outputs (recomputing ``exp`` beats storing a float64 copy)."""
    x2, st = job.x2, job.stats
    row = x2[r : r + 1]
    n = row.shape[1]
    kr = _argmax_parallel(row[0])
    ar_ = float(row[0, kr])
    st.a[r], st.k[r] = ar_, kr
    a_col = np.array([[ar_ if math.isfinite(ar_) else 0.0]])
    starts = list(range(0, n, LONG_CHUNK))
    parts_n = max(1, min(config.settings.threads, len(starts)))
    groups = [
        starts[len(starts) * i // parts_n : len(starts) * (i + 1) // parts_n]
        for i in range(parts_n)
    ]
    staging = _needs_staging(job)
    zero = np.zeros(1, dtype=np.intp)
    finite_a = np.array([math.isfinite(ar_)])

    def sums(group: list[int]) -> list[float]:
        buffers = _buffers(LONG_CHUNK, job.exact, staging)
        parts = []
        with np.errstate(all="ignore"):
            for c0 in group:
                cols = slice(c0, min(n, c0 + LONG_CHUNK))
                xb = row[:, cols]
                v = buffers.view(xb.shape)
                _shift(xb, a_col, job.exact, v)
                ks = np.array([kr - c0]) if c0 <= kr < cols.stop else None
                parts.extend(_block_sums(job, v, zero, ks, finite_a).tolist())
                if st.dsum is not None or st.wdsum is not None:
                    _weighted_sums(v, job, slice(r, r + 1), cols, add=True)
        return parts

    def outputs(group: list[int], s_row: np.ndarray) -> None:
        buffers = _buffers(LONG_CHUNK, job.exact, staging)
        with np.errstate(all="ignore"):
            for c0 in group:
                cols = slice(c0, min(n, c0 + LONG_CHUNK))
                xb = row[:, cols]
                v = buffers.view(xb.shape)
                _shift(xb, a_col, job.exact, v)
                _block_terms(job, v)  # exp(d), and hi/w for float64
                _write_outputs(job, v, s_row, job.out[r : r + 1, cols])

    weighted = st.dsum is not None or st.wdsum is not None
    if weighted:  # the weighted sums accumulate into one slot: keep them on one thread
        parts = sums(starts)
    else:
        parts = [p for ps in run_parallel([lambda g=g: sums(g) for g in groups]) for p in ps]
    st.s[r] = math.fsum(parts)
    if job.out is not None:
        s_row = np.array([st.s[r]])
        run_parallel([lambda g=g: outputs(g, s_row) for g in groups])


def np_kernel(
    x2: np.ndarray,
    kind: str,
    out: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    want_dsum: bool = False,
    split: bool = True,
) -> Stats:
    """The max-shift kernel for NumPy rows ``x2`` of shape ``(R, n)``.

    `kind` is ``"stats"`` (only the per-row quantities of :class:`Stats`), ``"softmax"`` or
    ``"log_softmax"`` (which also write `out`, ``(R, n)`` of the output dtype).  Rows of up to
    ``BLOCK`` elements are processed a block of rows at a time, in one pass; longer rows in
    ``BLOCK``-element chunks.  Large inputs are split between threads.
    """
    rows, n = x2.shape
    stats = Stats(
        np.full(rows, -np.inf),
        np.zeros(rows, dtype=np.int64),
        np.zeros(rows),
        np.zeros(rows) if want_dsum else None,
        np.zeros(rows) if weights is not None else None,
    )
    if rows == 0 or n == 0:
        return stats
    job = _Job(x2, kind, x2.dtype == np.float64, out, weights, stats, split)
    if compiled.applies(x2, out, weights, want_dsum):
        compiled.kernel(x2, kind, out, stats)
    elif n <= BLOCK:
        per = max(1, BLOCK // n)
        blocks = -(-rows // per)
        parts = min(config.settings.threads, blocks) if rows * n >= PARALLEL_MIN else 1
        bounds = [min(rows, (blocks * i // parts) * per) for i in range(parts + 1)]
        run_parallel(
            [
                lambda lo=lo, hi=hi: _short_rows(job, lo, hi)
                for lo, hi in itertools.pairwise(bounds)
                if hi > lo
            ]
        )
    else:
        for r in range(rows):
            _long_row(job, r)
    if out is not None:
        for r in np.flatnonzero(~np.isfinite(stats.a)).tolist():
            out[r] = np_round(special_row(x2[r].astype(np.float64), kind), out.dtype)
    return stats




def special_row(x: np.ndarray, kind: str) -> np.ndarray:
    """softmax / log_softmax of a row whose maximum is not finite (float64).

    NaN anywhere, or every entry ``-inf``: NaN everywhere.  ``+inf`` entries: the limit where it
    exists -- one ``+inf`` gets all the mass (1, log 1 = 0) and the others 0 (log: ``-inf``);
    several ``+inf`` have no limit between them (NaN) and the others still get 0 (``-inf``).
    """
    if np.isnan(x).any() or not (x == np.inf).any():
        return np.full(x.shape, np.nan)
    inf = x == np.inf
    top = 1.0 if kind == "softmax" else 0.0
    rest = 0.0 if kind == "softmax" else -np.inf
    return np.where(inf, top if inf.sum() == 1 else np.nan, rest)


