"""Numerically stable formulations of expressions that naive code gets wrong.

Each function states the identity it uses, the failure it avoids and its special values;
:mod:`numdl.naive` holds the textbook versions for comparison and :mod:`numdl.reference` the exact
values they are tested against.

How they are computed
---------------------
* **One rounding.**  float16, bfloat16 and float32 inputs are computed in float64 and rounded once
  to the input's format, so that the result is within 1 ULP of the exact value (the float64 error
  is some 2**-50 relative, far below the format's half ULP).  Where the float64 value still loses
  digits to cancellation -- :func:`logsumexp` and :func:`logaddexp` near a result of 0 -- an error
  bound is checked and the few uncertain results are recomputed exactly (:mod:`numdl.reference`).
* **float64 inputs** are computed in float64 with the max-shift written so that it loses nothing
  of its own: the shift ``x_i - a`` carries its rounding error (TwoSum) into the exponential, and
  the largest term of a sum is kept out of it (``log1p``), so that the error is a few ULP times
  the problem's condition number.
* **Arrays.**  NumPy float32/float64 input runs through the compiled kernels of
  ``numdl._kernels`` (the same method in C: one pass over a cache-sized block where NumPy needs
  twenty, and an exp accurate to 2**-58; see docs/ARCHITECTURE.md), split between up to
  ``os.cpu_count()`` threads (at most 8; ``NUMDL_NUM_THREADS`` sets the number) for large
  inputs.  Where that extension did not build, or ``NUMDL_PURE_NUMPY=1`` is set, and for
  float16/bfloat16 and the losses' weighted sums, blocked NumPy kernels keep their float64
  temporaries in the CPU cache (NumPy releases the GIL in its loops, so they are threaded too).
  Inputs of at most 512 elements take a short path in x86 long double (64-bit significand),
  where one NumPy call per step costs a few microseconds.  PyTorch tensors (and JAX
  arrays, when JAX is installed; enable ``jax_enable_x64`` for the float64 working precision) run
  the same formulas with their own library's operations (``xp = array_namespace(x)``), so results
  stay on the input's device and autograd differentiates through them.  The result has the
  input's dtype; integer input is computed as float64, as in SciPy.

References
----------
.. [1] P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the log-sum-exp and
       softmax functions", *IMA J. Numer. Anal.* 41(4), 2021, doi:10.1093/imanum/draa038.
.. [2] M. Maechler, "Accurately computing log(1 - exp(-|a|)), assessed by the Rmpfr package",
       CRAN vignette, 2012.
.. [3] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl._array_api import (
    is_numpy_input,
    namespace,
    normalize_axes,
    np_float_input,
    np_round,
    rows_shape,
    stop_gradient,
    xp_float_input,
)
from numdl._dtypes import format_of

__all__ = [
    "log1mexp",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "one_minus_cos_ratio",
    "sigmoid",
    "softmax",
    "softplus",
]


def one_minus_cos_ratio(x):
    """(1 - cos x) / x^2 without cancellation, via 1 - cos x = 2 sin^2(x / 2).

    The naive numerator subtracts two nearly equal numbers when |x| is small and
    loses every digit below |x| ~ sqrt(eps); the half-angle form has no
    subtraction, so it keeps full relative accuracy: within a few ULP of the
    exact value for every finite x (checked against :mod:`numdl.reference`).

    Special values: x = 0 gives the limit 1/2; x = +-inf and NaN give NaN (cos
    has no limit at infinity).  The result has x's floating dtype.

    References
    ----------
    N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
    SIAM 2002, section 1.7 (cancellation), problem 1.1.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) and x.dtype.kind != "V":
        x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        half = x / 2
        # sin(h)/h -> 1 as h -> 0: never square a tiny x (x*x underflows to 0 long
        # before the ratio does).  h is 0 for x = 0 and for the smallest subnormal,
        # whose half rounds to 0; the limit 1 is exact there.
        s = np.where(half == 0, np.asarray(1, dtype=x.dtype), np.sin(half) / half)
        out = np.asarray(s * s / 2, dtype=x.dtype)
    return out[()] if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

# float64 elements per block of the NumPy kernels: the four float64 buffers of a block (2 MiB)
# stay in the L2/L3 caches, and the blocks are long enough that NumPy's per-call overhead is small.
_BLOCK = 1 << 16
# Chunk of a row longer than _BLOCK (two passes over it): larger, so that the Python overhead of
# the ~25 NumPy calls per chunk stays small; the buffers still fit the L3 cache.
_LONG_CHUNK = 1 << 16
# Inputs of at least this many elements are split between threads (NumPy's loops release the GIL).
_PARALLEL_MIN = 1 << 18


def _thread_count() -> int:
    """Threads for large inputs: ``NUMDL_NUM_THREADS`` if set (1 turns threading off, e.g. in
    data-loader worker processes), else the CPU count, at most 8."""
    value = os.environ.get("NUMDL_NUM_THREADS", "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(f"NUMDL_NUM_THREADS must be a positive integer, got {value!r}")
        return count
    return max(1, min(os.cpu_count() or 1, 8))


_THREADS = _thread_count()
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_FMAX = float(np.finfo(np.float64).max)
_LN2 = math.log(2.0)
_SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a double into 26 + 27 bits


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="numdl")
        return _POOL


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it starts its own pool when it needs one."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _run_parallel(tasks: list) -> list:
    """Run zero-argument callables, on the thread pool when there are several (and threads)."""
    if len(tasks) <= 1 or _THREADS == 1:
        return [t() for t in tasks]
    return [f.result() for f in [_pool().submit(t) for t in tasks]]


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``s + e == a + b`` exactly, ``s = fl(a + b)`` (Knuth's TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a: Any, b: Any) -> tuple[Any, Any]:
    """``p + e == a * b`` exactly (Dekker's product)."""
    p = a * b
    t = _SPLITTER * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLITTER * b
    bh = t - (t - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _np_rows(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...], list[int]]:
    """Move `axes` last and flatten them: ``(R, n)`` rows (a view when possible)."""
    if x.ndim == 0:
        return x.reshape(1, 1), (), [0]
    perm, batch, n = rows_shape(x.shape, axes)
    moved = x if perm == list(range(x.ndim)) else np.transpose(x, perm)
    return moved.reshape(math.prod(batch), n), batch, perm


def _np_unrows(y2: np.ndarray, shape: tuple[int, ...], perm: list[int]) -> np.ndarray:
    if len(shape) == 0:
        return y2.reshape(())
    moved = y2.reshape(tuple(shape[i] for i in perm))
    return moved if perm == list(range(len(shape))) else np.transpose(moved, np.argsort(perm))


def _scalar_or_array(y: np.ndarray) -> Any:
    return y[()] if y.ndim == 0 else y


@dataclass
class _Stats:
    """Per-row results of the NumPy kernel: the maximum ``a`` (NaN in a row with NaN), its first
    index ``k``, and ``s = sum_{j != k} exp(x_j - a)``.  Optional: ``dsum = sum_j (x_j - a)`` and
    ``wdsum = sum_j w_j (x_j - a)`` over ``w_j != 0`` (for the losses)."""

    a: np.ndarray
    k: np.ndarray
    s: np.ndarray
    dsum: np.ndarray | None = None
    wdsum: np.ndarray | None = None


@dataclass
class _Job:
    """One call of the kernel: what to compute and where to write it."""

    x2: np.ndarray
    kind: str  # "stats", "softmax" or "log_softmax"
    exact: bool  # float64 input: carry the rounding error of the shift
    out: np.ndarray | None
    weights: np.ndarray | None
    stats: _Stats
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
    th, tl = _two_sum(1.0, s)
    rh = 1.0 / th
    p, pe = _two_prod(rh, th)
    rl = (((1.0 - p) - pe) - rh * tl) / th  # 1 - rh*th is exact; the tail of 1/(th + tl)
    t = _SPLITTER * rh
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
    """Rows ``r0:r1`` of length ``n <= _BLOCK``, a block of whole rows at a time, in one pass."""
    x2, st = job.x2, job.stats
    n = x2.shape[1]
    per = max(1, _BLOCK // n)
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
    pieces = min(_THREADS, max(1, row.size // _BLOCK))
    if pieces == 1:
        return int(np.argmax(row))
    bounds = [row.size * i // pieces for i in range(pieces + 1)]
    found = _run_parallel(
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
    """One row longer than ``_BLOCK``: chunks of ``_BLOCK``, split between threads, read once for
    the sums and once more for the outputs (recomputing ``exp`` beats storing a float64 copy)."""
    x2, st = job.x2, job.stats
    row = x2[r : r + 1]
    n = row.shape[1]
    kr = _argmax_parallel(row[0])
    ar_ = float(row[0, kr])
    st.a[r], st.k[r] = ar_, kr
    a_col = np.array([[ar_ if math.isfinite(ar_) else 0.0]])
    starts = list(range(0, n, _LONG_CHUNK))
    parts_n = max(1, min(_THREADS, len(starts)))
    groups = [
        starts[len(starts) * i // parts_n : len(starts) * (i + 1) // parts_n]
        for i in range(parts_n)
    ]
    staging = _needs_staging(job)
    zero = np.zeros(1, dtype=np.intp)
    finite_a = np.array([math.isfinite(ar_)])

    def sums(group: list[int]) -> list[float]:
        buffers = _buffers(_LONG_CHUNK, job.exact, staging)
        parts = []
        with np.errstate(all="ignore"):
            for c0 in group:
                cols = slice(c0, min(n, c0 + _LONG_CHUNK))
                xb = row[:, cols]
                v = buffers.view(xb.shape)
                _shift(xb, a_col, job.exact, v)
                ks = np.array([kr - c0]) if c0 <= kr < cols.stop else None
                parts.extend(_block_sums(job, v, zero, ks, finite_a).tolist())
                if st.dsum is not None or st.wdsum is not None:
                    _weighted_sums(v, job, slice(r, r + 1), cols, add=True)
        return parts

    def outputs(group: list[int], s_row: np.ndarray) -> None:
        buffers = _buffers(_LONG_CHUNK, job.exact, staging)
        with np.errstate(all="ignore"):
            for c0 in group:
                cols = slice(c0, min(n, c0 + _LONG_CHUNK))
                xb = row[:, cols]
                v = buffers.view(xb.shape)
                _shift(xb, a_col, job.exact, v)
                _block_terms(job, v)  # exp(d), and hi/w for float64
                _write_outputs(job, v, s_row, job.out[r : r + 1, cols])

    weighted = st.dsum is not None or st.wdsum is not None
    if weighted:  # the weighted sums accumulate into one slot: keep them on one thread
        parts = sums(starts)
    else:
        parts = [p for ps in _run_parallel([lambda g=g: sums(g) for g in groups]) for p in ps]
    st.s[r] = math.fsum(parts)
    if job.out is not None:
        s_row = np.array([st.s[r]])
        _run_parallel([lambda g=g: outputs(g, s_row) for g in groups])


def _np_kernel(
    x2: np.ndarray,
    kind: str,
    out: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    want_dsum: bool = False,
    split: bool = True,
) -> _Stats:
    """The max-shift kernel for NumPy rows ``x2`` of shape ``(R, n)``.

    `kind` is ``"stats"`` (only the per-row quantities of :class:`_Stats`), ``"softmax"`` or
    ``"log_softmax"`` (which also write `out`, ``(R, n)`` of the output dtype).  Rows of up to
    ``_BLOCK`` elements are processed a block of rows at a time, in one pass; longer rows in
    ``_BLOCK``-element chunks.  Large inputs are split between threads.
    """
    rows, n = x2.shape
    stats = _Stats(
        np.full(rows, -np.inf),
        np.zeros(rows, dtype=np.int64),
        np.zeros(rows),
        np.zeros(rows) if want_dsum else None,
        np.zeros(rows) if weights is not None else None,
    )
    if rows == 0 or n == 0:
        return stats
    job = _Job(x2, kind, x2.dtype == np.float64, out, weights, stats, split)
    if _compiled_applies(x2, out, weights, want_dsum):
        _compiled_kernel(x2, kind, out, stats)
    elif n <= _BLOCK:
        per = max(1, _BLOCK // n)
        blocks = -(-rows // per)
        parts = min(_THREADS, blocks) if rows * n >= _PARALLEL_MIN else 1
        bounds = [min(rows, (blocks * i // parts) * per) for i in range(parts + 1)]
        _run_parallel(
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
            out[r] = np_round(_special_row(x2[r].astype(np.float64), kind), out.dtype)
    return stats


# ---------------------------------------------------------------------------------------------
# The compiled kernel (numdl._kernels), for float32/float64 rows
# ---------------------------------------------------------------------------------------------


def _load_kernels() -> Any:
    """numdl._kernels, or None where it did not build (the NumPy kernel serves everything) or
    ``NUMDL_PURE_NUMPY=1`` asks for the NumPy kernel.

    ``NUMDL_KERNEL_VARIANT`` (``generic``, ``avx2`` or ``avx512``) picks an instruction-set build
    other than the best the CPU runs: the test suite runs once per variant, and it shows what an
    older CPU computes.  A variant the CPU or the build lacks is a ValueError naming the variable.
    """
    if os.environ.get("NUMDL_PURE_NUMPY", "") not in ("", "0"):
        return None
    try:
        from numdl import _kernels
    except ImportError:
        return None
    variant = os.environ.get("NUMDL_KERNEL_VARIANT", "").strip()
    if variant:
        try:
            _kernels.set_variant(variant)
        except ValueError:
            raise ValueError(
                f"NUMDL_KERNEL_VARIANT={variant!r} is not one of the variants this CPU and build "
                f"run: {', '.join(_kernels.variants())}"
            ) from None
    return _kernels


_KERNELS = _load_kernels()
_KIND_CODE = {"stats": 0, "softmax": 1, "log_softmax": 2}
# A row at least this long is computed in segments, which the threads share.
_SEGMENT_MIN = 1 << 18
_TINY_SUM = 2.0**-800  # as TINY_SUM in _kernels.c
_MAX_SEGMENTS = 16  # segments of a long row (the thread pool balances them)


def _compiled_applies(
    x2: np.ndarray, out: np.ndarray | None, weights: np.ndarray | None, want_dsum: bool
) -> bool:
    """The compiled kernel covers float32/float64 rows with outputs of the same dtype; the
    weighted sums of the losses (probability targets, label smoothing) stay in NumPy."""
    return (
        _KERNELS is not None
        and x2.dtype in _FAST_DTYPES
        and weights is None
        and not want_dsum
        and (out is None or out.dtype == x2.dtype)
    )


def _compiled_kernel(x2: np.ndarray, kind: str, out: np.ndarray | None, stats: _Stats) -> None:
    """:func:`_np_kernel` by ``numdl._kernels``: whole rows per call (split between threads by
    rows), or, for rows of at least ``_SEGMENT_MIN``, each row in segments shared by the threads.
    Each call releases the GIL.  Neither split depends on the number of threads, so neither does
    any result.  Rows whose maximum is not finite get ``a``/``k`` and are left to the
    caller's special-value rules, as in the NumPy kernel."""
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
    if n >= _SEGMENT_MIN:  # by length alone, so that the thread count never changes a result
        for r in range(rows):
            a[r], k[r], s[r] = _compiled_long_row(
                xc[r], code, None if target is None else target[r]
            )
    else:
        parts = min(_THREADS, rows) if rows * n >= _PARALLEL_MIN else 1
        bounds = [rows * i // parts for i in range(parts + 1)]
        _run_parallel(
            [
                lambda lo=lo, hi=hi: _KERNELS.rows(xc, target, a, k, s, n, lo, hi, code, f32)
                for lo, hi in itertools.pairwise(bounds)
                if hi > lo
            ]
        )
    if target is not None and target is not out:
        out[...] = target


def _compiled_long_row(row: np.ndarray, code: int, out: np.ndarray | None) -> tuple:
    """``(a, k, s)`` of one long contiguous row, its segments on the thread pool.  Each segment
    is read once for its maximum and its sum (in cache-sized chunks, rescaled as the maximum
    grows); the segments' sums are brought to the row's maximum and added exactly (``fsum``);
    then the outputs are written in a second pass."""
    f32 = row.dtype == np.float32
    n = row.size
    # the segments depend on n only (results must not depend on the thread count); enough of
    # them that a core busy with another process holds back a small share only
    pieces = max(1, min(_MAX_SEGMENTS, n // (_SEGMENT_MIN // 2)))
    bounds = [n * i // pieces for i in range(pieces + 1)]
    segments = [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]
    found = _run_parallel(
        [lambda lo=lo, hi=hi: _KERNELS.seg_stats(row, lo, hi, f32) for lo, hi in segments]
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
            terms.extend(_KERNELS.rescale(s_hi, s_lo, m, ar))
    s = math.fsum([*terms, -1.0])  # the maximum's term is exactly 1
    if s < _TINY_SUM:  # the first pass leaves out terms below 2**-937: sum them, scaled by 2**200
        scaled = _run_parallel(
            [
                lambda lo=lo, hi=hi: _KERNELS.seg_sums(row, lo, hi, ar, f32, True)
                for lo, hi in segments
            ]
        )
        s = math.ldexp(math.fsum([*(t for p in scaled for t in p), -(2.0**200)]), -200)
    if out is not None:
        s_hi = math.fsum(terms)
        s_lo = math.fsum([*terms, -s_hi])
        _run_parallel(
            [
                lambda lo=lo, hi=hi: _KERNELS.seg_outputs(
                    row, out, lo, hi, ar, s_hi, s_lo, s, code, f32
                )
                for lo, hi in segments
            ]
        )
    return ar, kr, s


def _special_row(x: np.ndarray, kind: str) -> np.ndarray:
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


# Inputs of at most this many elements take the small-input path: x86 long double (64-bit
# significand) for every step, one NumPy call per step, no blocks and no threads.  Where long double
# is only float64 (Windows, macOS on ARM) the blocked kernel serves every size.
_SMALL = 512
_LONG = np.longdouble if np.finfo(np.longdouble).nmant >= 63 else None


def _np_small(x2: np.ndarray, kind: str) -> Any:
    """logsumexp (per row), softmax or log_softmax of a small ``(R, n)`` input in long double.

    The same identities as the kernel; with 11 more bits than float64 the shift, the sum and the
    division round far below float64's half ULP, so no error-free transformations are needed.
    Returns long double results, or None if some row has no finite maximum (NaN, ``+inf``, all
    ``-inf``), which the kernel's special-value rules handle.
    """
    shifted = _long_shift(x2)
    if shifted is None:
        return None
    ar, k, a, d, e = shifted
    if kind == "softmax":
        return e / e.sum(axis=1, keepdims=True)
    e[ar, k] = 0  # kept out of the sum: log1p
    s = e.sum(axis=1)
    if kind == "log_softmax":
        return d - np.log1p(s)[:, None]
    return a, s, a + np.log1p(s)


def _long_shift(x2: np.ndarray) -> tuple | None:
    """The max-shift of small rows ``(R, n)`` in long double: ``(ar, k, a, d, e)`` with ``ar =
    arange(R)``, ``k`` and ``a`` each row's (first) maximum and its value, ``d = x - a`` and
    ``e = exp(d)``; None if some row has no finite maximum."""
    xl = x2.astype(_LONG)
    ar = np.arange(x2.shape[0])
    k = xl.argmax(axis=1)
    a = xl[ar, k]
    if not np.isfinite(a).all():
        return None
    d = xl - a[:, None]
    return ar, k, a, d, np.exp(d)


_FAST_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _fast_small(x: Any, axis: Any, kind: str) -> Any:
    """The small-input path for the common call -- a float32/float64 ndarray of 1 or 2 dimensions
    reduced along its last axis -- with nothing else around it (a 10-element call costs a few
    microseconds, like SciPy's).  Returns None for anything else, including rows whose maximum is
    not finite; the general path then handles them.
    """
    if (
        _LONG is None
        or type(x) is not np.ndarray
        or x.dtype not in _FAST_DTYPES
        or not 0 < x.size <= _SMALL
        or x.shape[-1] == 0
        or (axis is not None and type(axis) is not int)
    ):
        return None
    ndim = x.ndim
    if ndim == 1:
        if axis not in (-1, 0, None):
            return None
        xl = x.astype(_LONG)
        k = int(xl.argmax())
        a = xl[k]
        if not math.isfinite(a):
            return None
        d = xl - a
        e = np.exp(d)
        if kind == "softmax":
            y = e / e.sum()
        else:
            e[k] = 0  # kept out of the sum: log1p
            lg = np.log1p(e.sum())
            y = d - lg if kind == "log_softmax" else a + lg
    elif ndim == 2 and axis in (-1, 1) and kind != "lse":
        shifted = _long_shift(x)
        if shifted is None:
            return None
        ar, k, _, d, e = shifted
        if kind == "softmax":
            y = e / e.sum(axis=1, keepdims=True)
        else:
            e[ar, k] = 0
            y = d - np.log1p(e.sum(axis=1, keepdims=True))
    else:
        return None
    return y.astype(x.dtype)[()]


def _round_long(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype in (np.float64, np.float32):
        return y.astype(dtype)
    return np_round(y.astype(np.float64), dtype)  # the float64 step adds at most 2**-42 ULP


def _ulp_in(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """ULP of ``|y|`` (float64 values) in the format `dtype`."""
    fmt = format_of(dtype)
    _, ex = np.frexp(np.where(np.isfinite(y) & (y != 0), y, 1.0))
    e = np.maximum(ex.astype(np.int64) - 1, fmt.emin)
    return np.ldexp(1.0, (e - fmt.precision + 1).astype(np.int32))


# ---------------------------------------------------------------------------------------------
# The array-API (PyTorch, JAX) row kernel
# ---------------------------------------------------------------------------------------------


def _xp_rows(xp: Any, x: Any, axes: tuple[int, ...]) -> tuple[Any, tuple[int, ...], list[int]]:
    if x.ndim == 0:
        return xp.reshape(x, (1, 1)), (), [0]
    perm, batch, n = rows_shape(tuple(x.shape), axes)
    moved = x if perm == list(range(x.ndim)) else xp.permute_dims(x, tuple(perm))
    return xp.reshape(moved, (math.prod(batch), n)), batch, perm


def _xp_unrows(xp: Any, y2: Any, shape: tuple[int, ...], perm: list[int]) -> Any:
    if len(shape) == 0:
        return xp.reshape(y2, ())
    moved = xp.reshape(y2, tuple(shape[i] for i in perm))
    if perm == list(range(len(shape))):
        return moved
    return xp.permute_dims(moved, tuple(int(i) for i in np.argsort(perm)))


@dataclass
class _XpCore:
    """float64 row quantities for the array-API path (see :func:`_xp_core`)."""

    x: Any  # (R, n) float64
    a: Any  # (R, 1) row maximum, with its autograd history
    finite: Any  # (R, 1) bool
    d: Any  # (R, n) fl(x - a), the finite rows' shift (0 elsewhere)
    dl: Any  # (R, n) its rounding error (no gradient)
    e: Any  # (R, n) exp(d) * (1 + dl)
    is_top: Any  # (R, n) the first maximum of each row
    s: Any  # (R, 1) sum of e over the other entries


def _xp_core(xp: Any, x64: Any, exact: bool) -> _XpCore:
    """The max-shift with the largest term kept out of the sum, in array-API operations.

    Every ``where`` evaluates both branches, so each branch is given safe inputs (``a`` is
    replaced by 0 where it is not finite, arguments of ``exp`` are finite or ``-inf``): a
    masked-out ``inf`` or ``nan`` would otherwise poison the gradient.
    """
    n = x64.shape[1]
    k = xp.argmax(x64, axis=-1, keepdims=True)
    a = xp.take_along_axis(x64, k, axis=-1)
    finite = xp.isfinite(a)
    zero = xp.zeros_like(a)
    a_safe = xp.where(finite, a, zero)
    low = xp.where(finite, a_safe - 2.0**1000, zero - _FMAX)
    xc = xp.where(x64 >= low, x64, xp.zeros_like(x64) + low)  # also maps NaN to low
    d = xc - a_safe
    if exact:
        dl = stop_gradient(xp, _two_sum(xc, -a_safe)[1])
    else:
        dl = xp.zeros_like(d)
    cols = xp.reshape(xp.arange(n, device=array_device(x64)), (1, n))
    is_top = cols == k
    e = xp.exp(d)
    if exact:
        e = e + e * dl
    s = xp.sum(xp.where(is_top, xp.zeros_like(e), e), axis=-1, keepdims=True)
    return _XpCore(x64, a, finite, d, dl, e, is_top, s)


def array_device(x: Any) -> Any:
    return getattr(x, "device", None)


def _xp_special(xp: Any, x64: Any, kind: str) -> Any:
    """:func:`_special_row` in array-API operations, for every row (used where a is not finite)."""
    nan_row = xp.any(xp.isnan(x64), axis=-1, keepdims=True)
    inf = x64 == xp.inf
    n_inf = xp.sum(xp.astype(inf, x64.dtype), axis=-1, keepdims=True)
    top = 1.0 if kind == "softmax" else 0.0
    rest = 0.0 if kind == "softmax" else -math.inf
    full = xp.zeros_like(x64)
    value = xp.where(inf, xp.where(n_inf == 1, full + top, full + math.nan), full + rest)
    return xp.where(nan_row | (n_inf == 0), full + math.nan, value)


def _xp_finish(xp: Any, y64: Any, dtype: Any) -> Any:
    return y64 if y64.dtype == dtype else xp.astype(y64, dtype)


# ---------------------------------------------------------------------------------------------
# logsumexp
# ---------------------------------------------------------------------------------------------


def _lse_bound(
    a: np.ndarray, s: np.ndarray, y: np.ndarray, n: int, dtype: np.dtype, u: float = 2.0**-53
) -> np.ndarray:
    """Bound on the error of ``y = a + log1p(s)`` computed in float64 from narrow inputs.

    ``s`` has relative error below ``2**-52`` per term (NumPy's float64 ``exp`` is within 0.63
    ULP, measured; the compiled kernels' float32 exp within ``2**-52``) plus ``(log2 n + 16) u``
    from the sums (NumPy's pairwise sums; the compiled kernels' 16 lanes per 256-element block,
    combined pairwise, with TwoSum between blocks: at most ``(n/16 + 6) u`` below 256 elements,
    ``22 u`` above); ``log1p`` passes on
    ``ds / (1 + s)`` and adds half an ULP; the final addition adds another.  float32 and bfloat16
    differences ``x - a`` round only where ``|x| < 2**-28 |a|``, i.e. ``exp(x - a) ~ exp(-a)`` with
    ``a > 0``: at most ``n u a exp(-a)`` in all.  `u` is the unit roundoff of the working
    precision (2**-53 for float64, 2**-64 for long double).
    """
    log_s = np.log1p(s)
    rel_s = 2 * u + (math.log2(max(n, 2)) + 16) * u
    shift = 0.0 if dtype == np.float16 else n * u * np.where(a > 0, a * np.exp(-np.abs(a)), 0.0)
    return (rel_s * s + shift) / (1 + s) + u * (np.abs(y) + log_s) * 1.01


def _exact_lse_rows(rows: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Correctly rounded logsumexp of some rows (float64 values exactly representing `dtype`)."""
    from numdl import reference  # imported here: mpmath is only needed for these rare rows

    return reference.logsumexp(rows.astype(dtype), axis=1).astype(np.float64)


def _np_logsumexp(x: np.ndarray, axes: tuple[int, ...], keepdims: bool, return_sign: bool) -> Any:
    x2, batch, _ = _np_rows(x, axes)
    small = None
    if _LONG is not None and 0 < x2.size <= _SMALL and x2.shape[1]:
        small = _np_small(x2, "lse")
    if small is not None:
        a, s, y_long = small
        y = y_long.astype(np.float64)
        u = 2.0**-64
    else:
        # A plain float64 sum is enough here: its relative error moves a + log1p(s) by a few
        # u s/(1+s), within the bound unless |result| < 1, where rows are short (few roundings).
        stats = _np_kernel(x2, "stats", split=False)
        a, s, u = stats.a, stats.s, 2.0**-53
        with np.errstate(all="ignore"):
            # a row without a finite maximum is its maximum: NaN, +inf, or -inf (all -inf, empty)
            y = np.where(np.isfinite(a), a + np.log1p(s), a)
    if x.dtype != np.float64:
        # Near a result of 0 the float64 sum a + log1p(s) cancels; where its error bound does not
        # keep the result within 1 ULP, the row is computed exactly.
        with np.errstate(all="ignore"):
            a64, s64 = np.asarray(a, dtype=np.float64), np.asarray(s, dtype=np.float64)
            bound = _lse_bound(a64, s64, y, x2.shape[1], x.dtype, u)
            redo = np.flatnonzero(np.isfinite(y) & (bound > 0.25 * _ulp_in(y, x.dtype)))
        if redo.size:
            y[redo] = _exact_lse_rows(x2[redo].astype(np.float64), x.dtype)
            if small is not None:
                y_long = y_long.copy()
                y_long[redo] = y[redo]
    sign = np.where(np.isnan(y), np.nan, np.where(y == -np.inf, 0.0, 1.0))
    out = _round_long(y_long, x.dtype) if small is not None else np_round(y, x.dtype)
    out = out.reshape(batch)
    sign = sign.astype(x.dtype).reshape(batch)
    if keepdims:
        for ax in axes:
            out, sign = np.expand_dims(out, ax), np.expand_dims(sign, ax)
    out, sign = _scalar_or_array(out), _scalar_or_array(sign)
    return (out, sign) if return_sign else out


def _np_logsumexp_weighted(
    x: np.ndarray, b: np.ndarray, axes: tuple[int, ...], keepdims: bool, return_sign: bool
) -> Any:
    """SciPy's weighted logsumexp, computed in float64 (rows short enough for plain NumPy).

    ``sum b exp(x) = B (1 + r)``: ``B`` the weight of the row's largest entries, ``r`` the rest
    relative to it, so the result is ``a + log|B| + log|1 + r|`` with ``log1p`` for small ``r``
    and ``log|1 + r|`` past ``r < -1`` (the sign changes).  A row whose largest entries cancel
    (``B = 0``) is recomputed without them.
    """
    dtype = np.result_type(x.dtype, b.dtype)
    shape = np.broadcast_shapes(x.shape, b.shape)
    x64 = np.broadcast_to(x, shape).astype(np.float64)
    b64 = np.broadcast_to(b, shape).astype(np.float64)
    x2, batch, _ = _np_rows(x64, axes)
    b2, _, _ = _np_rows(b64, axes)
    x2, b2 = x2.copy(), b2.copy()
    with np.errstate(all="ignore"):
        x2[b2 == 0] = -np.inf  # SciPy: a term of weight 0 adds nothing, even if x is inf or NaN
        direct = np.log(np.abs(np.sum(b2 * np.exp(x2), axis=1)))  # for the non-finite results
        direct_sign = np.sign(np.sum(b2 * np.exp(x2), axis=1))
        out = np.empty(x2.shape[0])
        sign = np.empty(x2.shape[0])
        for r in range(x2.shape[0]):
            xr, br = x2[r], b2[r]
            value, sgn = -np.inf, 0.0
            while True:
                a = xr.max(initial=-np.inf)
                if not math.isfinite(a):
                    value, sgn = direct[r], direct_sign[r]
                    break
                top = xr == a
                big = float(np.sum(br[top]))
                rest = np.where(top, 0.0, br * np.exp(xr - a))
                if big == 0:
                    xr = np.where(top, -np.inf, xr)
                    continue
                ratio = float(np.sum(rest)) / big
                one_plus = 1.0 + ratio
                sgn = (
                    math.copysign(1.0, one_plus) * math.copysign(1.0, big) if one_plus != 0 else 0.0
                )
                body = math.log1p(ratio) if ratio >= -1 else math.log(-one_plus)
                value = a + math.log(abs(big)) + body if one_plus != 0 else -math.inf
                break
            out[r], sign[r] = value, sgn
        if not return_sign:
            out = np.where(sign < 0, np.nan, out)
    out = np_round(out, dtype).reshape(batch)
    sign = sign.astype(dtype).reshape(batch)
    if keepdims:
        for ax in axes:
            out, sign = np.expand_dims(out, ax), np.expand_dims(sign, ax)
    out, sign = _scalar_or_array(out), _scalar_or_array(sign)
    return (out, sign) if return_sign else out


def _xp_logsumexp(
    xp: Any, x: Any, axes: tuple[int, ...], keepdims: bool, return_sign: bool, b: Any
) -> Any:
    x = xp_float_input(xp, x, "x")
    dtype = x.dtype
    if b is not None:
        b = xp.asarray(b)
        b = xp_float_input(xp, b, "b")
        dtype = xp.result_type(x.dtype, b.dtype)
        shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(b.shape)))
        x, b = xp.broadcast_to(x, shape), xp.broadcast_to(b, shape)
    x64 = xp.astype(x, xp.float64)
    x2, batch, _ = _xp_rows(xp, x64, axes)
    if b is None:
        core = _xp_core(xp, x2, exact=x.dtype == xp.float64)
        y = core.a + xp.log1p(core.s)
        y = xp.where(core.finite, y, core.a)
        nan_row = xp.any(xp.isnan(x2), axis=-1, keepdims=True)
        y = xp.where(nan_row, xp.zeros_like(y) + math.nan, y)
        if x.dtype != xp.float64:
            y = _xp_certify(xp, y, core, x2, x.dtype)
        sign = xp.where(xp.isnan(y), y, xp.where(y == -xp.inf, xp.zeros_like(y), xp.ones_like(y)))
    else:
        b2, _, _ = _xp_rows(xp, xp.astype(b, xp.float64), axes)
        x2 = xp.where(b2 == 0, xp.zeros_like(x2) - xp.inf, x2)
        k = xp.argmax(x2, axis=-1, keepdims=True)
        a = xp.take_along_axis(x2, k, axis=-1)
        finite = xp.isfinite(a)
        a_safe = xp.where(finite, a, xp.zeros_like(a))
        top = x2 == a
        big = xp.sum(xp.where(top, b2, xp.zeros_like(b2)), axis=-1, keepdims=True)
        rest = xp.sum(
            xp.where(top, xp.zeros_like(b2), b2 * xp.exp(x2 - a_safe)), axis=-1, keepdims=True
        )
        safe_big = xp.where(big == 0, xp.ones_like(big), big)
        ratio = rest / safe_big
        one_plus = 1.0 + ratio
        above = ratio >= -1
        body = xp.where(
            above,
            xp.log1p(xp.where(above, ratio, xp.zeros_like(ratio))),
            xp.log(xp.abs(xp.where(above, xp.ones_like(ratio), one_plus))),
        )
        y = a_safe + xp.log(xp.abs(safe_big)) + body
        sign = xp.sign(one_plus) * xp.sign(big)
        total = xp.sum(b2 * xp.exp(x2), axis=-1, keepdims=True)
        direct = xp.log(xp.abs(total))
        ok = finite & (big != 0) & xp.isfinite(y)
        y = xp.where(ok, y, direct)
        sign = xp.where(ok, sign, xp.sign(total))
        if not return_sign:
            y = xp.where(sign < 0, xp.zeros_like(y) + math.nan, y)
    y = xp.reshape(y, batch)
    sign = xp.reshape(sign, batch)
    if keepdims:
        for ax in axes:
            y, sign = xp.expand_dims(y, axis=ax), xp.expand_dims(sign, axis=ax)
    y, sign = _xp_finish(xp, y, dtype), _xp_finish(xp, sign, dtype)
    return (y, sign) if return_sign else y


def _xp_certify(xp: Any, y: Any, core: _XpCore, x2: Any, dtype: Any) -> Any:
    """:func:`_lse_bound` for tensors: rows whose float64 value may be more than 1 ULP off after
    rounding get the exact value (their gradient is unchanged: ``y + stop_gradient(exact - y)``)."""
    from numdl._dtypes import to_numpy

    y_np = to_numpy(y).reshape(-1).astype(np.float64)
    a_np = to_numpy(core.a).reshape(-1).astype(np.float64)
    s_np = to_numpy(core.s).reshape(-1).astype(np.float64)
    np_dtype = to_numpy(xp.zeros((1,), dtype=dtype)).dtype
    with np.errstate(all="ignore"):
        bound = _lse_bound(a_np, s_np, y_np, int(x2.shape[1]), np_dtype)
        redo = np.flatnonzero(np.isfinite(y_np) & (bound > 0.25 * _ulp_in(y_np, np_dtype)))
    if redo.size == 0:
        return y
    rows = to_numpy(x2).reshape(x2.shape)[redo]
    fixed = y_np.copy()
    fixed[redo] = _exact_lse_rows(rows, np_dtype)
    target = xp.reshape(xp.asarray(fixed, dtype=y.dtype, device=array_device(y)), y.shape)
    return y + stop_gradient(xp, target - y)


def logsumexp(x, axis=None, *, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(x)))`` over `axis`, without overflow and without losing the small terms.

    The identity: with ``a = max x`` attained at index ``k``,
    ``logsumexp(x) = a + log1p(sum_{j != k} exp(x_j - a))``.

    The naive ``log(sum(exp(x)))`` overflows to ``inf`` once any ``x`` exceeds the format's exp
    threshold (709.78 in float64, 88.72 in float32, 11.09 in float16) and gives ``-inf`` when every
    ``exp`` underflows.  The shift by ``a`` removes both; keeping the largest term, which is exactly
    1, out of the sum and using ``log1p`` keeps the small terms: ``logsumexp([0, -40])`` is
    ``4.2e-18``, not the ``0`` of ``log(1 + 4.2e-18)``.  float16/bfloat16/float32 are summed in
    float64 (a float16 sum of 10**5 terms of 1 would overflow at 65504) and rounded once; float64
    shifts carry their rounding error (see the module notes).

    Parameters
    ----------
    x : array_like, torch.Tensor or jax.Array
        Input; integer arrays are computed as float64.
    axis : None, int or tuple of ints
        Axes to reduce (default: all).
    b : array_like, optional
        Weights broadcastable to `x` (SciPy's semantics): ``log(sum(b * exp(x)))``; terms with
        ``b = 0`` are dropped even where ``x`` is ``inf`` or NaN; negative weights subtract.
        Weighted rows are computed in float64 without the blocked kernel.
    keepdims : bool
        Keep the reduced axes with length 1.
    return_sign : bool
        Also return the sign of the sum (1, 0 or -1); without it a negative sum gives NaN.

    Returns
    -------
    The input's dtype (``result_type(x, b)`` when `b` is floating), and kind: NumPy scalar or
    array, tensor.  With `return_sign`, a pair ``(log|sum|, sign)``.

    Notes
    -----
    Special values, per reduced slice: NaN anywhere gives NaN; otherwise ``+inf`` anywhere gives
    ``+inf``; all entries ``-inf`` gives ``-inf`` (``log 0``), as does an empty slice; ``-inf``
    entries among finite ones contribute ``exp(-inf) = 0``.

    Accuracy (measured against :mod:`numdl.reference` by ``benchmarks/accuracy.py``):
    float16/bfloat16/float32 within 1 ULP (a float64 error bound is checked, and the rare rows
    where cancellation near a result of 0 leaves it too large are computed exactly); float64
    within ``2 max(1, kappa)`` ULP, ``kappa = sum_i |x_i| softmax(x)_i / |logsumexp(x)|``.

    References
    ----------
    Blanchard, Higham & Higham (2021), algorithm 2 ("shift and log1p").

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([1000.0, 1000.0])
    >>> naive.logsumexp(x), stable.logsumexp(x)  # exp(1000) overflows; the exact value is 1000 + log 2
    (np.float64(inf), np.float64(1000.6931471805599))
    >>> y = np.array([0.0, -40.0])
    >>> naive.logsumexp(y - y.max()) + y.max(), stable.logsumexp(y)  # log(1 + 4e-18) rounds to 0
    (np.float64(0.0), np.float64(4.248354255291589e-18))
    """
    if b is None and not keepdims and not return_sign and x is not None:
        fast = _fast_small(x, axis, "lse") if getattr(x, "dtype", None) == np.float64 else None
        if fast is not None:
            return fast
    if not is_numpy_input(x, b):
        xp = namespace(x, b)
        axes = normalize_axes(axis, x.ndim)
        return _xp_logsumexp(xp, x, axes, keepdims, return_sign, b)
    x = np_float_input(x, "x")
    axes = normalize_axes(axis, x.ndim)
    if b is not None:
        b_kind = np.asarray(b).dtype
        b = np_float_input(b, "b")
        if b_kind.kind in "iu":
            b = b.astype(x.dtype)  # integer weights do not promote the result; float64 ones do
        try:
            np.broadcast_shapes(x.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"b (shape {b.shape}) does not broadcast against x (shape {x.shape})"
            ) from None
        return _np_logsumexp_weighted(x, b, axes, keepdims, return_sign)
    return _np_logsumexp(x, axes, keepdims, return_sign)


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax
# ---------------------------------------------------------------------------------------------


def _np_softmax_family(x: Any, axis: Any, kind: str) -> Any:
    x = np_float_input(x, "x")
    axes = normalize_axes(axis, x.ndim)
    x2, _, perm = _np_rows(x, axes)
    small = _np_small(x2, kind) if _LONG is not None and 0 < x2.size <= _SMALL else None
    if small is not None:
        out = _round_long(small, x.dtype)
    else:
        out = np.empty(x2.shape, dtype=x.dtype)
        _np_kernel(x2, kind, out=out)
    return _scalar_or_array(_np_unrows(out, x.shape, perm))


def _xp_softmax_family(x: Any, axis: Any, kind: str) -> Any:
    xp = namespace(x)
    x = xp_float_input(xp, x, "x")
    axes = normalize_axes(axis, x.ndim)
    exact = x.dtype == xp.float64
    x2, _, perm = _xp_rows(xp, xp.astype(x, xp.float64), axes)
    if x2.shape[1] == 0:
        return xp.reshape(xp.astype(x2, x.dtype), x.shape)
    core = _xp_core(xp, x2, exact)
    if kind == "softmax":
        e = xp.where(core.is_top, xp.ones_like(core.e), core.e)
        if exact:
            th, tl = _two_sum(1.0 + xp.zeros_like(core.s), core.s)
            q = e / th
            y = q - q * stop_gradient(xp, tl / th)
        else:
            y = e / (1.0 + core.s)
    else:
        a_safe = xp.where(core.finite, core.a, xp.zeros_like(core.a))
        y = ((x2 - a_safe) - xp.log1p(core.s)) + core.dl  # unclamped: -inf stays -inf
    y = xp.where(core.finite, y, _xp_special(xp, x2, kind))
    return _xp_finish(xp, _xp_unrows(xp, y, tuple(x.shape), perm), x.dtype)


def softmax(x, axis=-1):
    """``exp(x_i) / sum_j exp(x_j)`` along `axis`, without overflow, underflow or lost digits.

    The identity: ``softmax(x)_i = exp(x_i - a) / (1 + s)``, ``a = max x``,
    ``s = sum_{j != argmax} exp(x_j - a)``.

    The naive quotient overflows to ``inf / inf = nan`` once ``x`` exceeds the exp threshold and
    gives ``0 / 0 = nan`` when every ``exp`` underflows; the shift by ``a`` removes both.  For
    float64 input the shift itself rounds (``u |x_i - a|``, hundreds of ULP at scale 100) unless
    its error is carried into the exponential, as here.

    Parameters
    ----------
    x : array_like, torch.Tensor or jax.Array
    axis : int or tuple of ints
        Axes that sum to 1 (default: the last).

    Returns
    -------
    Same shape, dtype and kind as `x` (float64 for integer input).

    Notes
    -----
    Special values, per slice along `axis`: NaN anywhere gives NaN everywhere; all ``-inf``
    (no finite maximum) gives NaN (the limit depends on how the entries go to ``-inf``); ``-inf``
    entries among finite ones give 0; one ``+inf`` gives 1 there and 0 elsewhere (the limit);
    several ``+inf`` give NaN at those and 0 elsewhere.  An empty slice gives an empty result.
    Subnormal results are computed in float64 and rounded once, so float32's ``exp(-100) ~
    3.8e-44`` is not flushed to 0.

    Accuracy: float16/bfloat16/float32 within 1 ULP; float64 within ``2 max(1, kappa)`` ULP with
    ``kappa_i = |x_i| (1 - p_i) + sum_{j != i} |x_j| p_j`` (``p = softmax(x)``).

    References
    ----------
    Blanchard, Higham & Higham (2021), algorithm 3.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([1000.0, 0.0])
    >>> naive.softmax(x), stable.softmax(x)
    (array([nan,  0.]), array([1., 0.]))
    """
    fast = _fast_small(x, axis, "softmax")
    if fast is not None:
        return fast
    if not is_numpy_input(x):
        return _xp_softmax_family(x, axis, "softmax")
    return _np_softmax_family(x, axis, "softmax")


def log_softmax(x, axis=-1):
    """``x_i - logsumexp(x)`` along `axis`, keeping the confident class's tiny log-probability.

    The identity: ``log_softmax(x)_i = (x_i - a) - log1p(sum_{j != argmax} exp(x_j - a))``,
    ``a = max x``.

    ``log(softmax(x))`` gives ``-inf`` where softmax underflows (``x = [0, -1000]``), and
    ``x - logsumexp(x)`` rounds ``logsumexp`` to ``a`` before subtracting, so the largest entry's
    log-probability ``-log1p(s)`` -- about ``-1.9e-22`` for ``[50, 0]`` -- becomes exactly 0 (the
    ``0 - 0`` of every framework).  Subtracting ``a`` first and ``log1p(s)`` second keeps it.

    Parameters
    ----------
    x : array_like, torch.Tensor or jax.Array
    axis : int or tuple of ints
        Default: the last.

    Returns
    -------
    Same shape, dtype and kind as `x` (float64 for integer input).

    Notes
    -----
    Special values, per slice: NaN anywhere, or all entries ``-inf``, give NaN everywhere;
    ``-inf`` entries among finite ones give ``-inf``; one ``+inf`` gives 0 there and ``-inf``
    elsewhere; several ``+inf`` give NaN at those and ``-inf`` elsewhere.  Empty gives empty.

    Accuracy: float16/bfloat16/float32 within 1 ULP; float64 within ``2 max(1, kappa)`` ULP,
    ``kappa_i = (|x_i| (1 - p_i) + sum_{j != i} |x_j| p_j) / |log_softmax(x)_i|``.

    References
    ----------
    Blanchard, Higham & Higham (2021), section 5.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([50.0, 0.0])
    >>> naive.log_softmax(x), stable.log_softmax(x)  # the true first entry is -exp(-50) = -1.9e-22
    (array([  0., -50.]), array([-1.92874985e-22, -5.00000000e+01]))
    """
    fast = _fast_small(x, axis, "log_softmax")
    if fast is not None:
        return fast
    if not is_numpy_input(x):
        return _xp_softmax_family(x, axis, "log_softmax")
    return _np_softmax_family(x, axis, "log_softmax")


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------


def _np_elementwise(fn: Any, *args: tuple[Any, str]) -> Any:
    arrays = [np_float_input(v, name) for v, name in args]
    dtype = np.result_type(*(a.dtype for a in arrays))
    with np.errstate(all="ignore"):
        y = fn(np, *(a.astype(np.float64) for a in arrays))
    return _scalar_or_array(np_round(np.asarray(y, dtype=np.float64), dtype)), arrays, dtype


def _xp_elementwise(fn: Any, *args: tuple[Any, str]) -> Any:
    xp = namespace(*(v for v, _ in args))
    tensors = [
        xp_float_input(
            xp, v if hasattr(v, "dtype") and not isinstance(v, np.ndarray) else xp.asarray(v), name
        )
        for v, name in args
    ]
    dtype = xp.result_type(*(t.dtype for t in tensors))
    y = fn(xp, *(xp.astype(t, xp.float64) for t in tensors))
    return _xp_finish(xp, y, dtype)


def _minus_abs(xp: Any, x: Any) -> Any:
    """``-|x|``, written as ``where(x >= 0, -x, x)`` so that autograd takes the ``x >= 0`` branch at
    0 (``abs`` would give the derivative 0 there, and sigmoid'(0) would come out 0, not 1/4)."""
    return xp.where(x >= 0, -x, x)


def _softplus64(xp: Any, x: Any) -> Any:
    """``max(x, 0) + log1p(exp(-|x|))``: the exponent is never positive, and the two terms have
    the same sign, so nothing overflows or cancels.  ``exp(-|x|)`` at ``x = ±inf`` is 0."""
    t = xp.log1p(xp.exp(_minus_abs(xp, x)))
    pos = xp.where(x >= 0, x, xp.zeros_like(x))
    return pos + t


def _sigmoid64(xp: Any, x: Any) -> Any:
    """``1 / (1 + z)`` for ``x >= 0`` and ``z / (1 + z)`` for ``x < 0``, ``z = exp(-|x|) <= 1``."""
    z = xp.exp(_minus_abs(xp, x))
    one_plus = 1.0 + z
    return xp.where(x >= 0, 1.0 / one_plus, z / one_plus)


def _log_sigmoid64(xp: Any, x: Any) -> Any:
    """``min(x, 0) - log1p(exp(-|x|))``: two terms of the same sign."""
    t = xp.log1p(xp.exp(_minus_abs(xp, x)))
    neg = xp.where(x >= 0, xp.zeros_like(x), x)
    return neg - t


def _log1mexp64(xp: Any, x: Any) -> Any:
    """Maechler's switch at ``log 2``; each branch gets an argument that is safe for it."""
    a = xp.abs(x)
    near = a <= _LN2
    a_near = xp.where(near, a, xp.zeros_like(a) + _LN2)
    a_far = xp.where(near, xp.zeros_like(a) + 2 * _LN2, a)
    return xp.where(near, xp.log(-xp.expm1(-a_near)), xp.log1p(-xp.exp(-a_far)))


def _logaddexp64(xp: Any, x1: Any, x2: Any) -> Any:
    """``max + log1p(exp(-|x1 - x2|))``, with ``x1 == x2`` (both infinite too) giving
    ``x1 + log 2`` and NaN propagated."""
    m = xp.maximum(x1, x2)
    same = x1 == x2
    diff = xp.where(same, xp.zeros_like(m), x1 - x2)
    diff = xp.where(xp.isnan(diff) & ~xp.isnan(m), xp.zeros_like(m), diff)
    y = m + xp.log1p(xp.exp(-xp.abs(diff)))
    return xp.where(same & xp.isinf(m), m, y)


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``, without overflow.

    The identity: ``sigmoid(x) = 1 / (1 + exp(-x))`` for ``x >= 0`` and ``exp(x) / (1 + exp(x))``
    for ``x < 0``, so ``exp`` only ever sees ``-|x|``.

    The naive form overflows ``exp(-x)`` for ``x < -709.78`` in float64 (``-88.72`` in float32),
    which is harmless (``1/inf = 0``), but in ``exp(x) / (1 + exp(x))`` the same overflow gives
    ``inf / inf = nan``; and ``1 - sigmoid(x)`` for large ``x`` is 0 although the value is
    ``exp(-x)``: use ``sigmoid(-x)`` instead.

    Notes
    -----
    Special values: ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``, NaN gives NaN.  Subnormal
    results are not flushed: float32 ``sigmoid(-100)`` is ``3.8e-44``.  Accuracy: 1 ULP for
    float16/bfloat16/float32, ``2 max(1, kappa)`` ULP for float64, ``kappa = |x| (1 - sigmoid(x))``.

    References
    ----------
    Blanchard, Higham & Higham (2021), section 6 (softmax of two entries).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([-800.0, 0.0, 800.0])
    >>> naive.sigmoid_ratio(x), stable.sigmoid(x)
    (array([0. , 0.5, nan]), array([0. , 0.5, 1. ]))
    >>> naive.sigmoid(np.float16(-12.0)), stable.sigmoid(np.float16(-12.0))  # exp(12) overflows float16
    (np.float16(0.0), np.float16(6.14e-06))
    """
    if not is_numpy_input(x):
        return _xp_elementwise(_sigmoid64, (x, "x"))
    return _np_elementwise(_sigmoid64, (x, "x"))[0]


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, without ``log(0)``.

    The identity: ``log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|))``.

    ``log(sigmoid(x))`` is ``log(0) = -inf`` once ``sigmoid`` underflows (``x < -745`` in float64,
    ``x < -103`` in float32), although the value is about ``x``; and for large ``x`` it is
    ``log(1) = 0`` although the value is ``-exp(-x)``.

    Notes
    -----
    Special values: ``log_sigmoid(+inf) = 0``, ``log_sigmoid(-inf) = -inf``, NaN gives NaN.
    Accuracy: 1 ULP for narrow formats, ``2 max(1, kappa)`` ULP for float64,
    ``kappa = |x| sigmoid(-x) / |log_sigmoid(x)|``.

    References
    ----------
    Maechler (2012), section 3 (``log1pexp``).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([-1000.0, 40.0])
    >>> naive.log_sigmoid(x), stable.log_sigmoid(x)
    (array([-inf,   0.]), array([-1.00000000e+03, -4.24835426e-18]))
    """
    if not is_numpy_input(x):
        return _xp_elementwise(_log_sigmoid64, (x, "x"))
    return _np_elementwise(_log_sigmoid64, (x, "x"))[0]


def softplus(x):
    """``log(1 + exp(x))``, without overflow and without losing ``exp(x)`` for very negative x.

    The identity: ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``.

    ``log(1 + exp(x))`` overflows to ``inf`` for ``x > 709.78`` (float64) and rounds
    ``1 + exp(x)`` to 1 for ``x < -37``, giving 0 instead of ``exp(x)``; ``log1p`` fixes the
    second, the max-shift the first.  (PyTorch switches to ``x`` above a threshold of 20, which
    loses up to ``exp(-20) / 2**-48`` ULP in float64: the two terms here are added instead.)

    Notes
    -----
    Special values: ``softplus(+inf) = +inf``, ``softplus(-inf) = 0``, NaN gives NaN.
    Accuracy: 1 ULP for narrow formats, ``2 max(1, kappa)`` ULP for float64,
    ``kappa = |x| sigmoid(x) / softplus(x)``.

    References
    ----------
    Maechler (2012), section 3.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([-40.0, 1000.0])
    >>> naive.softplus(x), stable.softplus(x)
    (array([ 0., inf]), array([4.24835426e-18, 1.00000000e+03]))
    """
    if not is_numpy_input(x):
        return _xp_elementwise(_softplus64, (x, "x"))
    return _np_elementwise(_softplus64, (x, "x"))[0]


def log1mexp(x):
    """``log(1 - exp(-|x|))``, accurate for every ``x`` (Maechler's method).

    The identity: ``log(-expm1(-a))`` for ``a = |x| <= log 2`` and ``log1p(-exp(-a))`` for
    ``a > log 2``.

    ``log(1 - exp(-a))`` cancels in ``1 - exp(-a)`` for small ``a`` (``a = 1e-20`` gives
    ``log(0) = -inf``, not ``-46.05``) and rounds ``1 - exp(-a)`` to 1 for large ``a`` (``a = 40``
    gives 0, not ``-4.2e-18``).  Each branch is accurate where it is used, and the switch at
    ``log 2`` is where both are.

    Notes
    -----
    Special values: ``log1mexp(0) = -inf``, ``log1mexp(±inf) = 0``, NaN gives NaN; the function is
    even (it uses ``|x|``).  Accuracy: 1 ULP for narrow formats, ``2 max(1, kappa)`` ULP for
    float64, ``kappa = |x| / ((exp(|x|) - 1) |log1mexp(x)|)``.

    References
    ----------
    Maechler (2012), "Accurately computing log(1 - exp(-|a|))".

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> x = np.array([1e-20, 40.0])
    >>> naive.log1mexp(x), stable.log1mexp(x)
    (array([-inf,   0.]), array([-4.60517019e+01, -4.24835426e-18]))
    """
    if not is_numpy_input(x):
        return _xp_elementwise(_log1mexp64, (x, "x"))
    return _np_elementwise(_log1mexp64, (x, "x"))[0]


def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))``, elementwise with broadcasting.

    The identity: ``max(x1, x2) + log1p(exp(-|x1 - x2|))``.

    The naive form overflows for large arguments and gives ``-inf`` when both exponentials
    underflow; ``numpy.logaddexp`` is already stable in float64 but computes float16 in float16.
    Here narrow formats are computed in float64 and rounded once; near a result of 0 (where
    ``max`` and the ``log1p`` term cancel) an error bound is checked and the uncertain elements are
    computed exactly, so they stay within 1 ULP.

    Notes
    -----
    Special values: NaN in either gives NaN; ``+inf`` with anything else gives ``+inf``;
    ``-inf`` with ``y`` gives ``y`` (``-inf`` with ``-inf`` gives ``-inf``).  Accuracy: 1 ULP for
    narrow formats, ``2 max(1, kappa)`` ULP for float64,
    ``kappa = (|x1| p1 + |x2| p2) / |logaddexp(x1, x2)|``, ``p = softmax([x1, x2])``.

    References
    ----------
    Blanchard, Higham & Higham (2021).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive, stable
    >>> naive.logaddexp(np.float32(100.0), np.float32(100.0)), stable.logaddexp(np.float32(100.0), np.float32(100.0))
    (np.float32(inf), np.float32(100.693146))
    """
    if not is_numpy_input(x1, x2):
        return _xp_elementwise(_logaddexp64, (x1, "x1"), (x2, "x2"))
    y, arrays, dtype = _np_elementwise(_logaddexp64, (x1, "x1"), (x2, "x2"))
    if dtype != np.float64:
        a1, a2 = np.broadcast_arrays(*(a.astype(np.float64) for a in arrays))
        with np.errstate(all="ignore"):
            y64 = _logaddexp64(np, a1, a2)
            m = np.maximum(a1, a2)
            # log1p(exp(-|x1 - x2|)) = y - m has relative error < 2**-52 (the difference is exact
            # in float64 wherever the exponential matters); the addition adds half an ULP.
            bound = 2.0**-51 * np.abs(y64 - m) + 2.0**-52 * np.abs(y64)
            redo = np.isfinite(y64) & (bound > 0.25 * _ulp_in(y64, dtype))
        if redo.any():
            from numdl import reference

            y = np.array(y, copy=True).reshape(y64.shape)
            y[redo] = reference.logaddexp(a1[redo].astype(dtype), a2[redo].astype(dtype))
            y = _scalar_or_array(y)
    return y
