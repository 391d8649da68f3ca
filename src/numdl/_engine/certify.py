"""Certified rounding of the narrow formats' logsumexp (and logaddexp) near a result of 0.

float16, bfloat16 and float32 results are computed in float64 and rounded once.  That is within
1 ULP, but near a result of 0 the float64 sum ``a + log1p(s)`` cancels, and its absolute error
(a few ``2**-53 |a|``) may then be a sizeable part of the narrow format's ULP.  :func:`lse_bound`
bounds that error; a row whose bound exceeds a quarter ULP (:func:`uncertain_lse`,
:func:`uncertain_logaddexp`) is *certified* by :func:`lse_rows`: its correctly rounded value,
computed without mpmath in two stages.

Double-double (every row)
    ``logsumexp(x) = a + log1p(s)``, ``s = sum_{j != k} exp(x_j - a)``, vectorised over the rows
    in double-double arithmetic (:mod:`numdl._engine.eft`), with a rigorous bound on the error:

    * ``x_j - a = dh + dl`` exactly (TwoSum);
    * ``exp(dh + dl) = 2**q 2**(i/4096) exp(r)``: ``r`` from a Cody-Waite reduction by
      ``ln(2)/4096`` in three pieces (``|r| <= 2**-13.5``), ``2**(i/4096)`` from a double-double
      table, ``exp(r) - 1`` from its Taylor series through ``r**7`` (truncation below
      ``2**-110``); relative error at most ``2**-101 + 2**-111 max|dh| + 2**-51 max|dl|``;
    * the sum by pairwise TwoSum (the high parts' rounding errors carried into the low parts):
      error at most ``(L**2 + 3 L) u**2 s``, ``L = ceil(log2 n)``, ``u = 2**-53``;
    * ``log1p(s)``: one Newton step on ``exp`` from NumPy's ``y0 = log1p(s_hi)``:
      ``log1p(s) = y0 + log1p(w)``, ``w = (1 + s) exp(-y0) - 1`` in double-double (for
      ``y0 <= 2**-14`` as ``s exp(-y0) + expm1(-y0)``, so that a tiny ``s`` keeps its relative
      accuracy), ``log1p(w) = w - w**2/2`` up to ``|w|**3``.  Nothing is assumed of ``y0``: the
      defect ``w`` measures it;
    * ``y = a + log1p(s)``: TwoSum.

    The bound on ``y`` comes out near ``2**-98 log1p(s)`` (measured: ``2**-98`` for rows of 1000
    log-probabilities, ``2**-96.7`` for a row of 10**6; ``2**-100`` relative where ``log1p(s) <
    2**-14``), some ``2**-40`` of the float32 result's ULP on such rows.  The row is decided when
    the interval ``y +- bound`` holds no rounding boundary (midpoint) of the format.

decimal (the rows the double-double interval leaves undecided: essentially never)
    The same formula in the standard library's :mod:`decimal` (``exp`` and ``ln`` are correctly
    rounded at the context's precision), with an error bound in exact rational arithmetic
    (:class:`fractions.Fraction`), at 40 + digits of ``n`` significant digits, doubled until the
    interval's two ends round alike (Ziv's strategy).

:func:`counts` says how many rows took each stage since the last :func:`reset_counts`.
"""

from __future__ import annotations

import decimal
import math
import threading
from fractions import Fraction
from typing import Any

import numpy as np

from numdl._dtypes import Format, format_of, round_scaled
from numdl._engine import config
from numdl._engine.eft import dd_add, dd_mul, fast_two_sum, split, two_prod, two_sum

__all__ = [
    "counts",
    "dd_exp",
    "dd_expm1_small",
    "dd_log1p",
    "lse_bound",
    "lse_rows",
    "reset_counts",
    "ulp_in",
    "uncertain_logaddexp",
    "uncertain_lse",
]

_U = 2.0**-53

# ---------------------------------------------------------------------------------------------
# Which rows need certifying
# ---------------------------------------------------------------------------------------------


def lse_bound(
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


def ulp_in(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """ULP of ``|y|`` (float64 values) in the format `dtype`."""
    fmt = format_of(dtype)
    _, ex = np.frexp(np.where(np.isfinite(y) & (y != 0), y, 1.0))
    e = np.maximum(ex.astype(np.int64) - 1, fmt.emin)
    return np.ldexp(1.0, (e - fmt.precision + 1).astype(np.int32))


def uncertain_lse(
    a: np.ndarray, s: np.ndarray, y: np.ndarray, n: int, dtype: np.dtype, u: float = 2.0**-53
) -> np.ndarray:
    """Indices of the rows whose float64 ``y = a + log1p(s)`` might round to the wrong
    neighbour in `dtype` (its :func:`lse_bound` exceeds a quarter ULP)."""
    with np.errstate(all="ignore"):
        bound = lse_bound(a, s, y, n, dtype, u)
        return np.flatnonzero(np.isfinite(y) & (bound > 0.25 * ulp_in(y, dtype)))


def uncertain_logaddexp(y64: np.ndarray, m: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Where the float64 ``y64 = m + log1p(exp(-|x1 - x2|))`` (``m = max(x1, x2)``) might round
    to the wrong neighbour in `dtype`: ``y - m`` has relative error below ``2**-52`` (the
    difference is exact in float64 wherever the exponential matters), the addition adds half an
    ULP."""
    with np.errstate(all="ignore"):
        bound = 2.0**-51 * np.abs(y64 - m) + 2.0**-52 * np.abs(y64)
        return np.isfinite(y64) & (bound > 0.25 * ulp_in(y64, dtype))


# ---------------------------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------------------------

_COUNTS = {"rows": 0, "double_double": 0, "decimal": 0}
_COUNTS_LOCK = threading.Lock()


def counts() -> dict[str, int]:
    """Rows certified since the last :func:`reset_counts`: ``{"rows": all, "double_double":
    decided by the double-double interval, "decimal": by the decimal fallback}`` ("rows" also
    counts rows without a finite maximum, whose value needs neither)."""
    with _COUNTS_LOCK:
        return dict(_COUNTS)


def reset_counts() -> None:
    """Set the counters of :func:`counts` to 0."""
    with _COUNTS_LOCK:
        for key in _COUNTS:
            _COUNTS[key] = 0


def _count(rows: int, dd: int, dec: int) -> None:
    with _COUNTS_LOCK:
        _COUNTS["rows"] += rows
        _COUNTS["double_double"] += dd
        _COUNTS["decimal"] += dec


# ---------------------------------------------------------------------------------------------
# Double-double exp and log1p
# ---------------------------------------------------------------------------------------------

_TABLE_BITS = 12
_N = 1 << _TABLE_BITS
_MASK = _N - 1


def _round_bits(q: Fraction, bits: int) -> float:
    """`q` rounded to `bits` significant bits (exact arithmetic)."""
    e = math.floor(math.log2(abs(q)))
    scale = Fraction(2) ** (bits - 1 - e)
    return float(round(q * scale) / scale)


def _dd_of(q: Fraction) -> tuple[float, float]:
    hi = float(q)
    return hi, float(q - Fraction(hi))


def _constants() -> tuple:
    # ln 2 to 120 digits (decimal's ln is correctly rounded), as an exact fraction.
    ln2 = Fraction(decimal.Context(prec=120).ln(decimal.Decimal(2)))
    c = ln2 / _N
    # ln(2)/N in three pieces: the first two of 31 bits, so that k * c1 and k * c2 are exact for
    # |k| < 2**22 (Cody & Waite); the third's rounding is 2**-127 of ln(2)/N.
    c1 = _round_bits(c, 31)
    c2 = _round_bits(c - Fraction(c1), 31)
    c3 = float(c - Fraction(c1) - Fraction(c2))
    return float(_N / ln2), c1, c2, c3


_INV_C, _C1, _C2, _C3 = _constants()
_SIXTH_HI, _SIXTH_LO = _dd_of(Fraction(1, 6))
_SIXTH_SPLIT = split(_SIXTH_HI)
_TABLE: tuple[np.ndarray, np.ndarray] | None = None
_TABLE_LOCK = threading.Lock()


def _table() -> tuple[np.ndarray, np.ndarray]:
    """``2**(i/4096)`` as double-doubles ``(hi, lo)``, relative error below ``2**-103``: products
    of two 64-entry tables from :mod:`decimal` (built on first use, in a millisecond)."""
    global _TABLE
    with _TABLE_LOCK:
        if _TABLE is None:
            ctx = decimal.Context(prec=50)
            ln2 = ctx.ln(decimal.Decimal(2))

            def powers(step: int) -> tuple[np.ndarray, np.ndarray]:
                parts = [
                    _dd_of(Fraction(ctx.exp(ctx.multiply(ln2, decimal.Decimal(i * step) / _N))))
                    for i in range(64)
                ]
                return np.array([p[0] for p in parts]), np.array([p[1] for p in parts])

            fine_h, fine_l = powers(1)
            coarse_h, coarse_l = powers(64)
            i = np.arange(_N)
            _TABLE = dd_mul(coarse_h[i >> 6], coarse_l[i >> 6], fine_h[i & 63], fine_l[i & 63])
        return _TABLE


def dd_expm1_small(rh: Any, rl: Any) -> tuple[Any, Any]:
    """``exp(rh + rl) - 1`` as a double-double, for ``|rh| <= 2**-13.5``, ``|rl| <= 2**-52 |rh|``.

    Taylor through ``r**7``: ``r + r**2/2 + r**3 g``, ``g = 1/6 + r/24 + ... + r**4/5040`` (its
    tail in float64), ``r**2`` and ``r**3`` by Dekker's products.  The truncation is below
    ``2**-110 |r|``; the roundings of the float64 parts (``g``'s tail, the low parts, some
    ``r**4/24`` in all) below ``0.7 u |r|**4``: a relative error at most
    ``2**-100 + 2**-52 |r|**3`` (``2**-94`` at ``|r| = 2**-14``), an absolute one below 2**-108.
    """
    # Dekker's products with rh split once (and 1/6 split at import): the same exact results
    # as two_prod, some 20 NumPy calls fewer
    ah, al = split(rh)
    sq = rh * rh
    sqe = ((ah * ah - sq) + 2.0 * (ah * al)) + al * al
    sq_lo = sqe + 2.0 * rh * rl
    g_lo = _SIXTH_LO + rh * (1 / 24 + rh * (1 / 120 + rh * (1 / 720 + rh * (1 / 5040))))
    bh, bl = split(sq)
    c = rh * sq
    ce = ((ah * bh - c) + ah * bl + al * bh) + al * bl
    c_lo = ce + (rh * sq_lo + rl * sq)
    ch, cl = split(c)
    m = c * _SIXTH_HI
    sh, sl = _SIXTH_SPLIT
    me = ((ch * sh - m) + ch * sl + cl * sh) + cl * sl
    m_lo = me + (c * g_lo + c_lo * _SIXTH_HI)
    s1, e1 = fast_two_sum(rh, 0.5 * sq)
    s2, e2 = fast_two_sum(s1, m)
    low = ((e1 + e2) + rl) + (0.5 * sq_lo + m_lo)
    return fast_two_sum(s2, low)


def dd_exp(dh: Any, dl: Any) -> tuple[Any, Any]:
    """``exp(dh + dl)`` as a double-double, for ``-700 <= dh <= 0`` and ``|dl| <= 2**-53 |dh|``.

    Relative error at most ``2**-101 + 2**-111 |dh| + 2**-51 |dl|`` (the reduced argument's
    error, ``2**-112 |dh|`` from the pieces of ``ln(2)/4096`` and the roundings around ``dl``;
    ``2**-103`` from the table; ``2**-106`` from the series; ``2**-102`` from the last products).
    The low part may be subnormal (absolute error ``2**-1075``) where the value is below 2**-969.
    """
    th_tab, tl_tab = _table()
    k = np.rint(dh * _INV_C)
    r1 = dh - k * _C1  # exact (Sterbenz)
    s1, e1 = two_sum(r1, -(k * _C2))  # k * _C2 exact
    rl = (e1 + dl) - k * _C3
    rh, rl = two_sum(s1, rl)
    ki = k.astype(np.int64)
    j = ki & _MASK
    th, tl = th_tab[j], tl_tab[j]
    eh, el = dd_expm1_small(rh, rl)
    # 2**(j/N) (1 + e): th + (th eh + (tl + th el + tl eh)), the head exactly
    p, pe = two_prod(th, eh)
    s, e = fast_two_sum(th, p)
    low = ((e + tl) + pe) + (th * el + tl * eh)
    hi, lo = fast_two_sum(s, low)
    scale = np.ldexp(1.0, (ki >> _TABLE_BITS).astype(np.int32))
    return hi * scale, lo * scale


def dd_log1p(sh: np.ndarray, sl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log1p(sh + sl)`` for ``0 <= sh <= 2**60``: ``(hi, lo, err)``, ``err`` a bound on the
    error of ``hi + lo`` as a double-double evaluation (the error of ``s`` itself is the
    caller's: it passes on as ``ds / (1 + s)``).

    One Newton step on ``exp`` from ``y0 = log1p(sh)`` (NumPy's, trusted for nothing):
    ``log1p(s) = y0 + log1p(w)``, ``w = (1 + s) exp(-y0) - 1``, computed as ``s exp(-y0) +
    expm1(-y0)`` where ``y0 <= 2**-14`` (a tiny ``s`` keeps its relative accuracy), else as
    ``(1 + s) exp(-y0) - 1`` (no cancellation left to fear: ``exp(-y0) <= 1 - 2**-14``).
    """
    y0 = np.log1p(sh)
    small = y0 <= 2.0**-14
    y0s = np.where(small, y0, 0.0)
    y0l = np.where(small, 0.0, y0)
    # y0 <= 2**-14: w = s + expm1(-y0) + s expm1(-y0)
    e1h, e1l = dd_expm1_small(-y0s, np.zeros_like(y0s))
    ph, pl = dd_mul(sh, sl, e1h, e1l)
    wh_s, wl_s = dd_add(*dd_add(sh, sl, e1h, e1l), ph, pl)
    rel_e1 = 2.0**-100 + 2.0**-52 * y0s**3  # dd_expm1_small's relative error at -y0
    err_small = rel_e1 * y0s * (1 + sh) + 2.0**-101 * (np.abs(ph) + 2 * sh + np.abs(wh_s))
    # y0 > 2**-14: w = (1 + s) exp(-y0) - 1
    eh, el = dd_exp(-y0l, np.zeros_like(y0l))
    oh, ol = two_sum(1.0, sh)
    ph, pl = dd_mul(oh, ol + sl, eh, el)
    wh_l, wl_l = dd_add(ph, pl, -1.0, 0.0)
    err_large = (2.0**-101 + 2.0**-111 * y0l + 2.0**-102) * np.abs(ph) + 2.0**-104 * np.abs(wh_l)
    wh = np.where(small, wh_s, wh_l)
    wl = np.where(small, wl_s, wl_l)
    err_w = np.where(small, err_small, err_large)
    hi, lo = two_sum(y0, wh)
    lo = lo + (wl - 0.5 * wh * wh)
    hi, lo = fast_two_sum(hi, lo)
    aw = np.abs(wh)
    err = (err_w * (1 + 2 * aw) + aw**3 + 2.0**-104 * np.abs(hi)) * (1 + 2.0**-40)
    # |w| is some 2**-52 y0; past 2**-20 y0 was no approximation and the series bound fails
    return hi, lo, np.where(aw <= 2.0**-20, err, np.inf)


# ---------------------------------------------------------------------------------------------
# Certified logsumexp of rows
# ---------------------------------------------------------------------------------------------

# Terms exp(x - a) below exp(-700) are left out of the double-double sum (at most 2**-1009 each).
_DROP = -700.0
_DROPPED_TERM = 2.0**-1009
# float64 elements per block of the double-double pass: its temporaries (64 KiB each) stay in the
# cache and below the allocator's mmap threshold; larger blocks were measured slower.
_CHUNK = 1 << 13


def _dd_sum_rows(h: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row sums of a double-double matrix ``(R, m)`` of non-negative values, pairwise: each level
    adds column halves with TwoSum, the rounding errors going into the low parts (an odd column
    waits for the next level).  With ``|lo| <= c u h`` the error is at most
    ``(L**2 + (2c + 1) L) u**2`` times the sum, ``L = ceil(log2 m)``: each level's low parts
    hold at most ``(c + level) u`` of their sums, and two roundings each."""
    while h.shape[1] > 1:
        m = h.shape[1]
        half = m // 2
        s, e = two_sum(h[:, :half], h[:, half : 2 * half])
        low = (lo[:, :half] + lo[:, half : 2 * half]) + e
        if m % 2:
            s = np.concatenate([s, h[:, m - 1 :]], axis=1)
            low = np.concatenate([low, lo[:, m - 1 :]], axis=1)
        h, lo = s, low
    return h[:, 0], lo[:, 0]


def _levels(m: int) -> int:
    return max(1, math.ceil(math.log2(max(m, 2))))


def _chunk_sums(x: np.ndarray, a: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, ...]:
    """For a block of rows ``x`` ``(p, m)`` with finite maxima ``a``: the double-double sums of
    ``exp(x - a)`` over the entries other than column ``k`` (-1: none), the largest ``|dh|`` and
    ``|dl|`` of the terms, and how many terms were dropped (below exp(-700))."""
    dh, dl = two_sum(x, -a[:, None])
    cols = np.arange(x.shape[1])
    live = (cols[None, :] != k[:, None]) & (dh >= _DROP)  # False for -inf (and NaN) entries
    dropped = ((dh < _DROP) & (cols[None, :] != k[:, None])).sum(axis=1)
    dh = np.where(live, dh, 0.0)
    dl = np.where(live, dl, 0.0)
    th, tl = dd_exp(dh, dl)
    th = np.where(live, th, 0.0)
    tl = np.where(live, tl, 0.0)
    sh, sl = _dd_sum_rows(th, tl)
    return sh, sl, np.abs(dh).max(axis=1), np.abs(dl).max(axis=1), dropped


def _dd_lse(x: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Double-double logsumexp of rows ``(R, n)`` with finite maxima: the correctly rounded
    values (float64) and which rows the error bound decides."""
    rows, n = x.shape
    k = np.argmax(x, axis=1)
    a = x[np.arange(rows), k]
    if n <= _CHUNK:
        per = max(1, _CHUNK // n)
        spans = [(r0, min(rows, r0 + per), 0, n) for r0 in range(0, rows, per)]
    else:
        spans = [
            (r, r + 1, c0, min(n, c0 + _CHUNK)) for r in range(rows) for c0 in range(0, n, _CHUNK)
        ]

    def unit(span: tuple[int, int, int, int]) -> tuple[np.ndarray, ...]:
        r0, r1, c0, c1 = span
        kk = k[r0:r1] - c0
        kk = np.where((kk >= 0) & (kk < c1 - c0), kk, -1)
        with np.errstate(all="ignore"):
            return _chunk_sums(x[r0:r1, c0:c1], a[r0:r1], kk)

    # No threads: NumPy calls on cache-sized blocks spend as long holding the GIL (dispatch) as
    # computing, so two threads were measured slower than one.
    results = [unit(sp) for sp in spans]
    if n <= _CHUNK:
        sh, sl, mdh, mdl, dropped = (np.concatenate(parts) for parts in zip(*results, strict=True))
        levels = _levels(n)
        sum_err = levels**2 + 3 * levels  # the terms' low parts: |tl| <= u th
    else:
        chunks = -(-n // _CHUNK)
        sh, sl, mdh, mdl, dropped = (
            np.stack(parts).reshape(rows, chunks) for parts in zip(*results, strict=True)
        )
        sh, sl = _dd_sum_rows(sh, sl)
        mdh, mdl, dropped = mdh.max(axis=1), mdl.max(axis=1), dropped.sum(axis=1)
        # the chunks' sums carry at most (levels + 1) u of their sums in their low parts
        levels, top = _levels(_CHUNK), _levels(chunks)
        sum_err = levels**2 + 3 * levels + top**2 + (2 * levels + 3) * top
    sh, sl = fast_two_sum(sh, sl)
    with np.errstate(all="ignore"):
        term_err = 2.0**-101 + 2.0**-111 * mdh + 2.0**-51 * mdl
        s_err = (term_err + sum_err * _U**2) * sh * (1 + 2.0**-40) + dropped * _DROPPED_TERM
        s_err = s_err + n * 2.0**-1074  # subnormal low parts
        lh, ll, l_err = dd_log1p(sh, sl)
        l_err = l_err + s_err / np.maximum(1 + sh - s_err, 0.5) * (1 + 2.0**-40)
        yh, yl = two_sum(a, lh)
        yh, yl = two_sum(yh, yl + ll)
        err = (l_err + 4 * _U**2 * (np.abs(a) + np.abs(lh))) * (1 + 2.0**-40)
        return _round_interval(yh, yl, err, fmt)


def _round_interval(
    yh: np.ndarray, yl: np.ndarray, err: np.ndarray, fmt: Format
) -> tuple[np.ndarray, np.ndarray]:
    """Round ``yh + yl`` (finite double-doubles) to `fmt`: the values (float64) and whether every
    value within ``err`` of it rounds the same (no midpoint of the format in the interval)."""
    nonzero = yh != 0
    h = np.where(nonzero, yh, 1.0)
    lo = np.where(nonzero, yl, 0.0)
    mant, ex = np.frexp(h)
    e = ex.astype(np.int64) - 1
    e = e - ((np.abs(mant) == 0.5) & (lo * h < 0))  # hi a power of two, the value just below it
    e = np.where(nonzero, e, fmt.emin)
    q = (np.maximum(e, fmt.emin) - (fmt.precision - 1)).astype(np.int32)
    mh = np.ldexp(np.where(nonzero, yh, 0.0), -q)
    ml = np.ldexp(lo, -q)
    n_int = np.rint(mh)
    frac = (mh - n_int) + ml  # mh - n_int is exact
    tol = np.ldexp(err, -q) * (1 + 2.0**-40) + 2.0**-50  # and frac's own rounding
    decided = np.abs(np.abs(frac) - 0.5) > tol
    # a result that rounds to 0 must also know its sign (-0.0 below 0)
    decided &= (n_int != 0) | (np.abs(mh + ml) > tol)
    n_int = np.where(frac > 0.5, n_int + 1, np.where(frac < -0.5, n_int - 1, n_int))
    with np.errstate(over="ignore"):
        value = np.ldexp(n_int, q)
    # Past the largest finite value the format's own cast gives its overflow (inf, or NaN).
    return value, decided


def _decimal_lse(row: np.ndarray, fmt: Format) -> float:
    """Correctly rounded logsumexp of one row (finite maximum) with :mod:`decimal`."""
    values = row[row > -math.inf]
    k = int(np.argmax(values))
    a = float(values[k])
    rest = np.delete(values, k)
    n = values.size
    prec = 40 + len(str(n))
    while True:
        value = _decimal_attempt(a, rest, prec, fmt)
        if value is not None:
            return value
        prec *= 2
        if prec > 20_000:
            raise ArithmeticError("certified logsumexp did not settle below 20000 digits")


def _decimal_attempt(a: float, rest: np.ndarray, prec: int, fmt: Format) -> float | None:
    """The row's value at `prec` digits with a rigorous bound, rounded to `fmt`, or None if the
    bound's interval holds a rounding boundary."""
    D = decimal.Decimal
    ctx = decimal.Context(prec=prec, Emin=-(10**9), Emax=10**9, rounding=decimal.ROUND_HALF_EVEN)
    eta = Fraction(1, 2) * Fraction(10) ** (1 - prec)  # the unit roundoff at prec digits
    da = D(a)
    s = D(0)
    terms, dmax, tiny = 0, 0.0, 0
    for v in rest.tolist():
        d = v - a  # only for the cut below; the term uses the exact difference
        if d < -1e5:
            tiny += 1  # below exp(-10**5): bounded below
            continue
        dmax = max(dmax, -d)
        s = ctx.add(s, ctx.exp(ctx.subtract(D(v), da)))
        terms += 1
    # each term: the difference and exp round once (eta |d| + eta), the sum once per term
    s_q = Fraction(s)
    s_err = s_q * eta * (terms + 2 + Fraction(dmax)) * Fraction(11, 10)
    if tiny:
        s_err += tiny * Fraction(1, 10**43000)
    if s_q == 0:
        log_q, log_err = Fraction(0), s_err
    elif s_q < Fraction(1, 10**5):
        # log1p(s) = s - s**2/2 + s**3/3 - ...: terms until below eta s
        total, power, i = D(0), s, 1
        while True:
            term = ctx.divide(power, i)
            total = ctx.add(total, term if i % 2 else -term)
            if Fraction(power) < s_q * eta:
                break
            i += 1
            power = ctx.multiply(power, s)
        log_q = Fraction(total)
        log_err = s_q * eta * 4 * i + s_err * 2
    else:
        one_plus = decimal.Context(prec=prec + 10 + max(0, -s.adjusted())).add(1, s)  # exact
        log_d = ctx.ln(one_plus)
        log_q = Fraction(log_d)
        log_err = abs(log_q) * eta + s_err / (1 + s_q - s_err)
    y = Fraction(a) + log_q
    low, high = _round_fraction(y - log_err, fmt), _round_fraction(y + log_err, fmt)
    if low != high or math.copysign(1.0, low) != math.copysign(1.0, high):
        return None
    return high


def _round_fraction(q: Fraction, fmt: Format) -> float:
    return round_scaled(q < 0, abs(q.numerator), q.denominator, 0, fmt)


def lse_rows(rows: np.ndarray, dtype: Any) -> np.ndarray:
    """Correctly rounded logsumexp of each row of `rows` ``(R, n)`` (float64 values, typically
    those of a narrow format), as float64 values of `dtype`; counted in :func:`counts`.

    Rows with NaN give NaN, with ``+inf`` give ``+inf``, of all ``-inf`` (or empty) ``-inf``.
    """
    x = np.asarray(rows, dtype=np.float64)
    fmt = format_of(dtype)
    count, n = x.shape
    with np.errstate(invalid="ignore"):
        a = x.max(axis=1) if n else np.full(count, -np.inf)
    out = np.asarray(a, dtype=np.float64).copy()  # the special rows' values
    regular = np.flatnonzero(np.isfinite(a))
    if regular.size == 0:
        _count(count, 0, 0)
        return out
    xr = x[regular]
    if config.settings.certify == "double_double":
        value, decided = _dd_lse(xr, fmt)
    else:
        value, decided = np.zeros(regular.size), np.zeros(regular.size, dtype=bool)
    out[regular[decided]] = value[decided]
    todo = np.flatnonzero(~decided)
    for i in todo.tolist():
        out[regular[i]] = _decimal_lse(xr[i], fmt)
    _count(count, regular.size - todo.size, todo.size)
    return out
