"""The exact oracle: binary inputs as exact numbers, correct rounding, errors in ULPs.

Every accuracy claim in numdl is checked against this module.  Its three steps are

1. :func:`exact` -- a float's exact value (every binary float is a dyadic rational ``m * 2**e``) as an
   :class:`mpmath.mpf` that carries all of its bits;
2. a function evaluated on those exact inputs with mpmath at a working precision well above the
   target format's (:func:`evaluate`), or an exact sum (:func:`exact_sum`);
3. :func:`round_to` -- correct rounding (to nearest, ties to even) into any of the six formats, or
   :func:`ulp_error` -- the distance of a computed result from the exact value in units in the last
   place.

mpmath has no signed zero: ``exact(-0.0)`` is ``mpf(0)``.  Python floats, ints, fractions and decimal
strings round without passing through mpmath, so ``round_to(-0.0, "bfloat16")`` keeps its sign.

References
----------
.. [1] J.-M. Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd ed., Birkhäuser, 2018,
       sections 2.1 (ULP definitions) and 2.2 (rounding).
.. [2] IEEE Std 754-2019, *IEEE Standard for Floating-Point Arithmetic*, clauses 4.3 and 7.4.
.. [3] F. Johansson et al., *mpmath: a Python library for arbitrary-precision floating-point
       arithmetic*, https://mpmath.org.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from mpmath import libmp

from numdl import _exact
from numdl._dtypes import (
    Format,
    format_of,
    from_float64,
    is_format_dtype,
)
from numdl._engine import eft
from numdl._exact import round_to

__all__ = ["evaluate", "exact", "exact_sum", "round_to", "ulp_error"]

def _mpf_from_parts(p: tuple) -> mpmath.mpf:
    if p[0] == "nan":
        return mpmath.mpf("nan")
    if p[0] == "inf":
        return mpmath.mpf("-inf") if p[1] else mpmath.mpf("inf")
    _, negative, num, den, exp = p
    if den != 1:
        raise ValueError(f"{num}/{den} is not a binary fraction, so no mpf holds it exactly")
    return mpmath.mp.make_mpf(libmp.from_man_exp(-num if negative else num, exp))


def exact(x: Any) -> Any:
    """Exact value of a binary floating-point input, as mpmath numbers.

    Parameters
    ----------
    x : float, int, NumPy/ml_dtypes scalar, mpmath.mpf, binary Fraction, array_like or torch.Tensor
        Values whose exact binary value is wanted.  A float is the dyadic rational its bits stand for
        (``0.1`` is ``3602879701896397 / 2**55``), not the decimal literal that produced it.

    Returns
    -------
    mpmath.mpf or numpy.ndarray of object
        A scalar input gives an ``mpf``; an array-like gives an object array of ``mpf`` with the same
        shape.  Each ``mpf`` carries every bit of its input whatever ``mpmath.mp.prec`` is;
        arithmetic on it rounds to the working precision as usual, so wrap computations in
        ``mpmath.workprec`` (or use :func:`evaluate`).  ``inf``/``nan`` map to ``mpmath.inf``/
        ``mpmath.nan``.

    Raises
    ------
    TypeError
        For non-numeric input (strings, bools, complex).
    ValueError
        For a Fraction whose denominator is not a power of two: no binary float holds it.

    Notes
    -----
    mpmath has no signed zero, so ``exact(-0.0) == exact(0.0) == mpf(0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.reference import exact
    >>> exact(np.float32(0.1)) - exact(0.1)  # the two roundings of 0.1 differ by ~1.5e-9
    mpf('1.4901161138336505e-9')
    """
    if _exact.is_scalar(x):
        if isinstance(x, str):
            raise TypeError("x must be a number or an array of numbers, not a string")
        return _mpf_from_parts(_exact.parts(x, "x"))
    arr = _exact.as_array(x)
    if arr.dtype == object and any(isinstance(v, str) for v in arr.ravel()):
        raise TypeError("x must be a number or an array of numbers, not strings")
    out = np.empty(arr.shape, dtype=object)
    out.ravel()[:] = [_mpf_from_parts(_exact.parts(v, "x")) for v in _exact.elements(arr)]
    return out


def _log2_floor(p: tuple) -> int:
    _, _, num, den, exp = p
    e = num.bit_length() - den.bit_length()
    if (num < (den << e)) if e >= 0 else ((num << -e) < den):
        e -= 1
    return e + exp


def _scaled_float(n: int, k: int) -> float:
    """``n * 2**k`` correctly rounded to float64 (int true division rounds correctly); inf if huge."""
    try:
        return float(n << k) if k >= 0 else n / (1 << -k)
    except OverflowError:
        return math.inf


def _ulp_error_one(c: tuple, e: tuple, fmt: Format) -> float:
    if c[0] != "finite":
        r = _exact.round_parts(e, fmt)
        if c[0] == "nan":
            return 0.0 if math.isnan(r) else math.inf
        return 0.0 if math.isinf(r) and (r < 0) == c[1] else math.inf
    if e[0] != "finite":
        return math.inf
    if e[2] == 0:
        ulp_exp = fmt.qmin
    else:
        ulp_exp = min(max(_log2_floor(e), fmt.emin), fmt.emax) - fmt.precision + 1
    _, c_neg, c_num, _, c_exp = c
    _, e_neg, e_num, e_den, e_exp = e
    if e_den == 1:
        # Both dyadic: align to the smaller exponent and stay in integers.
        low = min(c_exp, e_exp)
        cn = (c_num << (c_exp - low)) * (-1 if c_neg else 1)
        en = (e_num << (e_exp - low)) * (-1 if e_neg else 1)
        return _scaled_float(abs(cn - en), low - ulp_exp)
    diff = abs(_exact.parts_to_fraction(c) - _exact.parts_to_fraction(e)) / Fraction(2) ** ulp_exp
    try:
        return float(diff)
    except OverflowError:
        return math.inf


def ulp_error(computed: Any, exact: Any) -> Any:
    """Elementwise error of `computed` in units in the last place of its own format.

    Parameters
    ----------
    computed : float array_like, NumPy/ml_dtypes scalar or torch.Tensor
        Results of the computation under test; their dtype (float64 for Python floats) sets the
        format whose ULP is the unit.
    exact : array_like of mpmath.mpf, floats, ints, Fractions or decimal strings
        The exact values, broadcastable against `computed`.  Pass the *unrounded* high-precision
        values (``evaluate(..., rounded=False)``): against an already rounded reference the error is
        off by up to half an ULP.

    Returns
    -------
    float or numpy.ndarray of float64
        ``|computed - exact| / ulp(exact)`` computed exactly and rounded once to float64; a float
        when the broadcast shape is ``()``.

    Notes
    -----
    ``ulp(exact) = 2**(min(max(floor(log2|exact|), emin), emax) - p + 1)``: the spacing of the
    format's floats in the binade of the exact value (Goldberg's definition, see [1]_), never
    smaller than the smallest subnormal (the floor at ``emin``) and never larger than the spacing of
    the top binade (the cap at ``emax``), so that a result of ``max`` for an exact ``1e300`` counts
    as a huge error, not a small one.  ``ulp(0)`` is the smallest subnormal.  With this unit a
    correctly rounded finite result has error at most 0.5.

    Special values (``R`` = the exact value correctly rounded to the format, :func:`round_to`):

    ====================================  =====================================
    computed                              error
    ====================================  =====================================
    NaN                                   0 if ``R`` is NaN, else inf
    ±inf                                  0 if ``R`` is the same infinity, else inf
    finite, exact NaN or ±inf             inf
    finite, exact finite                  the formula above (may be large, finite)
    ====================================  =====================================

    So both NaN gives 0, equal infinities give 0, NaN for a finite exact value gives inf, and a
    result that overflowed exactly where the exact value does (``float32(inf)`` for ``exact =
    1e39``, or NaN for an exact ``500`` in ``float8_e4m3fn``) counts as correctly rounded, 0.
    The sign of zero is ignored.

    References
    ----------
    .. [1] J.-M. Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd ed., 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.reference import ulp_error
    >>> ulp_error(np.float32(0.1), "0.1")  # float32(0.1) is correctly rounded: <= 0.5
    0.2
    >>> ulp_error(np.float32([0.1, np.inf]), ["0.1", 10**39])  # 10**39 overflows float32 too
    array([0.2, 0. ])
    """
    c_arr = _exact.as_array(computed)
    if not is_format_dtype(c_arr.dtype):
        raise TypeError(
            f"computed must be floats of a supported format (its dtype sets the ULP), got dtype "
            f"{c_arr.dtype}"
        )
    fmt = format_of(c_arr.dtype, argname="computed.dtype")
    e_arr = _exact.as_array(exact)
    try:
        shape = np.broadcast_shapes(c_arr.shape, e_arr.shape)
    except ValueError:
        raise ValueError(
            f"computed (shape {c_arr.shape}) and exact (shape {e_arr.shape}) do not broadcast"
        ) from None
    c_list = _exact.elements(np.broadcast_to(c_arr, shape))
    e_list = _exact.elements(np.broadcast_to(e_arr, shape))
    errors = [
        _ulp_error_one(_exact.parts(c, "computed"), _exact.parts(e, "exact"), fmt)
        for c, e in zip(c_list, e_list, strict=True)
    ]
    out = np.array(errors, dtype=np.float64).reshape(shape)
    return float(out) if out.ndim == 0 else out


def exact_sum(x: Any) -> mpmath.mpf:
    """Exact sum of a float array, as an mpmath number holding every bit.

    Parameters
    ----------
    x : array_like or torch.Tensor of one of the supported float dtypes
        Summed over all elements.

    Returns
    -------
    mpmath.mpf
        The exact sum (no rounding at all).  Empty input gives 0.  If `x` contains NaN, or both
        ``+inf`` and ``-inf``, the result is NaN; otherwise an infinity in `x` gives that infinity.

    Notes
    -----
    Integer arithmetic on the significands, grouped by exponent; linear time (15 to 30 ns per
    element), exact for any length.  Round the result with :func:`round_to` for the correctly
    rounded sum; :func:`numdl.floats.summation` with ``method="exact"`` does so and keeps the sign
    of an all ``-0`` sum.
    """
    arr = _exact.as_array(x)
    if not is_format_dtype(arr.dtype):
        raise TypeError(f"x must be an array of a supported float dtype, got dtype {arr.dtype}")
    return _mpf_from_parts(_exact.exact_sum_parts(arr))


def _prec_bits(fmt: Format, dps: int | None) -> int:
    if dps is None:
        # Twice the target precision plus a margin: the default leaves room for moderate
        # cancellation inside `fn`; the second evaluation below catches what it misses.
        return 2 * fmt.precision + 40
    if isinstance(dps, bool) or not isinstance(dps, int | np.integer) or dps < 1:
        raise ValueError(f"dps must be a positive integer number of decimal digits, got {dps!r}")
    return math.ceil(int(dps) * math.log2(10)) + 8


def _real_or_nan(y: Any) -> Any:
    if isinstance(y, mpmath.mpc):
        return y.real if y.imag == 0 else mpmath.mpf("nan")
    return y


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def evaluate(
    fn: Callable[..., Any],
    *args: Any,
    dtype: Any = None,
    dps: int | None = None,
    rounded: bool = True,
    max_prec: int = 20_000,
) -> Any:
    """Evaluate an mpmath function exactly on binary inputs and round the result to a format.

    Parameters
    ----------
    fn : callable
        Takes as many mpmath numbers as there are `args` and returns one mpmath number, e.g.
        ``mpmath.exp`` or ``lambda a, b: mpmath.log(mpmath.exp(a) + mpmath.exp(b))``.  It runs
        inside ``mpmath.workprec``, so its intermediate arithmetic uses the working precision.
    *args : array_like, scalars or torch.Tensor
        Inputs, broadcast against each other and converted exactly with :func:`exact`.
    dtype : dtype-like, optional
        Format of the result.  Default: the common dtype of the floating-point inputs
        (``np.result_type``); required when no input has one.
    dps : int, optional
        Starting working precision in decimal digits.  Default: ``2p + 40`` bits for a format with
        ``p`` significand bits (146 bits for float64).
    rounded : bool
        If False, return the high-precision mpmath values (object array) instead of rounding them:
        the right `exact` argument for :func:`ulp_error`.
    max_prec : int
        Give up (``ArithmeticError``) if two successive precisions still disagree at this many bits.

    Returns
    -------
    numpy scalar, numpy.ndarray or object ndarray
        The correctly rounded results (a scalar of `dtype` when every input is a scalar), or the
        mpmath values when ``rounded=False``.

    Notes
    -----
    Each element is evaluated at working precision ``P`` and again at ``2P``; while the two results
    round to different values of the format, ``P`` doubles.  This is Ziv's strategy with the
    agreement of two evaluations standing in for an error bound: it guards against the
    table-maker's dilemma (a true value very close to a rounding boundary) and against cancellation
    inside `fn`, but it is a heuristic, not a proof -- a function whose error does not shrink with
    the working precision can fool it.  A complex result (mpmath continues ``log`` and ``sqrt`` to
    negative arguments) is mapped to NaN, the real-valued convention; mpmath has no signed zero,
    so a zero result is +0.

    Examples
    --------
    >>> import mpmath, numpy as np
    >>> from numdl.reference import evaluate
    >>> x = np.array([88.0, 89.0, -104.0], dtype=np.float32)
    >>> evaluate(mpmath.exp, x).tolist()  # float32 overflows above 88.72, underflows below -103.97
    [1.6516362661361307e+38, inf, 0.0]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    arrays = [_exact.as_array(a) for a in args]
    if dtype is None:
        float_dtypes = [a.dtype for a in arrays if is_format_dtype(a.dtype)]
        if not float_dtypes:
            raise TypeError("dtype is required when no argument has a floating-point dtype")
        try:
            dtype = np.result_type(*float_dtypes)
        except TypeError:
            raise TypeError(
                f"the inputs' dtypes {sorted({d.name for d in float_dtypes})} have no common type; "
                "pass dtype"
            ) from None
    fmt = format_of(dtype)
    prec0 = _prec_bits(fmt, dps)
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    columns = [
        [_mpf_from_parts(_exact.parts(v, "args")) for v in _exact.elements(np.broadcast_to(a, shape))]
        for a in arrays
    ]
    results, values = [], []
    for inputs in zip(*columns, strict=True) if columns else [()]:
        prec = prec0
        with mpmath.workprec(prec):
            y = _real_or_nan(fn(*inputs))
        r = _exact.round_parts(_exact.parts(y, "fn(...)"), fmt)
        while True:
            with mpmath.workprec(2 * prec):
                y2 = _real_or_nan(fn(*inputs))
            r2 = _exact.round_parts(_exact.parts(y2, "fn(...)"), fmt)
            if _same_float(r, r2):
                break
            prec *= 2
            if prec > max_prec:
                raise ArithmeticError(
                    f"fn{tuple(inputs)} did not settle to one {fmt.name} value below {max_prec} bits"
                )
            y, r = y2, r2
        results.append(r2)
        values.append(y2)
    if not rounded:
        out = np.empty(shape, dtype=object)
        out.ravel()[:] = values
        return out[()] if not args or all(_exact.is_scalar(a) for a in args) else out
    out = from_float64(np.reshape(results, shape), fmt)
    return out[()] if not args or all(_exact.is_scalar(a) for a in args) else out


# =============================================================================================
# Exact values of numdl's stable functions
# =============================================================================================
#
# The functions below give the exact value of each function in :mod:`numdl.stable` and
# :mod:`numdl.losses`, correctly rounded.  Elementwise functions go through :func:`evaluate`
# (mpmath, element by element).  Row reductions (logsumexp, softmax, log_softmax, cross-entropy)
# must handle rows of 10**6 elements, which mpmath cannot do element by element in reasonable time,
# so they run vectorised in double-double arithmetic (about 106 bits) with a rigorous error bound
# per output, and round with Ziv's test: an output whose error interval contains a rounding
# boundary of the target format is recomputed with mpmath at increasing precision.  The kernels are
# the classical error-free transformations (Knuth's TwoSum, Dekker's TwoProduct), see Muller et al.,
# *Handbook of Floating-Point Arithmetic*, 2018, ch. 4 and 14.

__all__ += [
    "ExactArray",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "log1mexp",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "sigmoid",
    "softmax",
    "softplus",
]

def _dd_of(value: Any) -> tuple[float, float]:
    """An exact number (Fraction, mpf) as the double-double nearest to it."""
    q = value if isinstance(value, Fraction) else _exact.parts_to_fraction(_exact.parts(value))
    hi = float(q)
    return hi, float(q - Fraction(hi))


with mpmath.workprec(256):
    _LN2_MP = mpmath.ln2
    # ln 2 in three pieces: the first with 32 significant bits, so that k * _LN2_A is exact for
    # |k| < 2**21 (Cody & Waite argument reduction).
    _LN2_A = math.ldexp(math.floor(math.ldexp(float(_LN2_MP), 32)), -32)
    _LN2_B = float(_LN2_MP - _LN2_A)
    _LN2_C = float(_LN2_MP - _LN2_A - _LN2_B)
_INV_LN2 = 1 / math.log(2)
# Taylor coefficients 1/i! of expm1(r) = r * sum_i r**(i-1) / i!, as double-doubles.
_EXP_TERMS = 10
_INV_FACTORIAL = [_dd_of(Fraction(1, math.factorial(i))) for i in range(_EXP_TERMS + 1)]
_EXP_SQUARINGS = 8  # the reduced argument is divided by 2**8 before the series
# Bound on the relative error of _exp_dd and of the double-double logarithms below.  The analysis
# gives about 2**-100 (the squarings multiply the series' 2**-105 by 2**8); the tests measure the
# kernels against mpmath at 300 bits.
_DD_EXP_ERR = 2.0**-96
_DD_OP_ERR = 2.0**-102  # one double-double operation


def _expm1_reduced(h: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``exp(h + lo) = (1 + m) * 2**k`` with ``m`` a double-double, ``|m| < 0.42``; ``k`` int64.

    ``|h| <= 2**20``.  Cody & Waite reduction ``r = h + lo - k ln 2``, ``|r| <= ln(2)/2``, in
    double-double; then ``expm1(r / 2**8)`` from a 10-term Taylor series and eight squarings in
    the form ``expm1(2t) = expm1(t) * (2 + expm1(t))``, which keeps the relative accuracy of
    ``m`` when ``r`` is tiny.
    """
    k = np.rint(h * _INV_LN2)
    r0 = h - k * _LN2_A  # exact: k * _LN2_A has at most 53 bits and Sterbenz applies
    p2, e2 = eft.two_prod(k, _LN2_B)
    rh, rl = eft.two_sum(r0, lo)
    rh2, rl2 = eft.two_sum(rh, -p2)
    rl = rl + rl2 - e2 - k * _LN2_C
    rh, rl = eft.fast_two_sum(rh2, rl)
    scale = 2.0**-_EXP_SQUARINGS
    th, tl = rh * scale, rl * scale
    ph, pl = _INV_FACTORIAL[_EXP_TERMS]
    ph = np.full_like(th, ph)
    pl = np.full_like(th, pl)
    for i in range(_EXP_TERMS - 1, 0, -1):
        ph, pl = eft.dd_mul(ph, pl, th, tl)
        ph, pl = eft.dd_add(ph, pl, *_INV_FACTORIAL[i])
    mh, ml = eft.dd_mul(ph, pl, th, tl)
    for _ in range(_EXP_SQUARINGS):
        ah, al = eft.dd_add(mh, ml, 2.0, 0.0)
        mh, ml = eft.dd_mul(mh, ml, ah, al)
    return mh, ml, k.astype(np.int64)


def _exp_dd(h: Any, lo: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``exp(h + lo) = (eh + el) * 2**k`` with ``eh + el`` in ``[0.7, 1.42]``, relative error at
    most ``_DD_EXP_ERR``.  Arguments are clipped to ``[-2**20, 2**20]``; ``-inf`` gives ``eh = 0``."""
    h = np.asarray(h, dtype=np.float64)
    lo = np.zeros_like(h) if lo is None else np.asarray(lo, dtype=np.float64)
    minus_inf = h == -np.inf
    hc = np.clip(np.where(minus_inf, 0.0, h), -(2.0**20), 2.0**20)
    lc = np.where(minus_inf | (np.abs(h) > 2.0**20), 0.0, lo)
    mh, ml, k = _expm1_reduced(hc, lc)
    eh, el = eft.dd_add(mh, ml, 1.0, 0.0)
    eh = np.where(minus_inf, 0.0, eh)
    el = np.where(minus_inf, 0.0, el)
    return eh, el, k


def _expm1_dd(h: Any, lo: Any) -> tuple[np.ndarray, np.ndarray]:
    """``expm1(h + lo)`` as a double-double for ``|h| <= 700``, relative error ``_DD_EXP_ERR``."""
    mh, ml, k = _expm1_reduced(np.asarray(h, dtype=np.float64), np.asarray(lo, dtype=np.float64))
    scale = np.ldexp(1.0, k.astype(np.int32))
    # (1 + m) * 2**k - 1 = m * 2**k + (2**k - 1), with 2**k - 1 as an exact double-double.
    eh, el = eft.dd_add(mh * scale, ml * scale, *eft.two_sum(scale, -1.0))
    return np.where(k == 0, mh, eh), np.where(k == 0, ml, el)


def _log1p_dd(sh: np.ndarray, sl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log1p(sh + sl)`` for finite ``0 <= sh + sl < 2**1000``, as a double-double (relative error
    about ``2 * _DD_EXP_ERR``).

    One Newton step ``y = y0 + (1 + s) exp(-y0) - 1`` from NumPy's ``y0 = log1p(sh)``, whose error
    is about ``2**-53 y``, so the step leaves ``2**-106 y``.  The correction is evaluated as
    ``s exp(-y0) + expm1(-y0)``: for small ``y0`` the double-double ``expm1`` keeps its relative
    accuracy, for large ``y0`` ``exp(-y0) - 1 < -0.29`` has no cancellation, and ``s`` is scaled by
    ``2**k`` (from ``exp(-y0) = E * 2**k``) so that nothing underflows.
    """
    y0 = np.log1p(sh)
    eh, el, k = _exp_dd(-y0)
    ki = k.astype(np.int32)
    ssh, ssl = np.ldexp(sh, ki), np.ldexp(sl, ki)
    ch, cl = eft.dd_mul(ssh, ssl, eh, el)  # s * exp(-y0)
    small = y0 < 0.25
    mh, ml = _expm1_dd(np.where(small, -y0, 0.0), np.zeros_like(y0))
    bh, bl = eft.dd_add(np.ldexp(eh, ki), np.ldexp(el, ki), -1.0, 0.0)
    mh, ml = np.where(small, mh, bh), np.where(small, ml, bl)
    ch, cl = eft.dd_add(ch, cl, mh, ml)
    return eft.dd_add(y0, np.zeros_like(y0), ch, cl)


# Absolute error floor of the double-double kernels: their low parts underflow below ~2**-1000.
_DD_ABS_ERR = 2.0**-1040


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn` with NumPy's floating-point warnings off: the double-double arithmetic meets
    ``-inf - -inf`` on masked entries and ``0 * inf`` in special rows, which are masked out."""

    @functools.wraps(fn)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return quiet


def _dd_row_sum(th: np.ndarray, tl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row sums of a double-double matrix ``(R, n)``: ``(sh, sl, err)`` with ``err`` a bound on the
    absolute error.  Finite input.

    Short rows: TwoSum accumulation along the row, vectorised over rows (Ogita, Rump & Oishi's
    Sum2, error at most ``(n u)**2 sum|t|`` plus a final rounding).  Long rows: the exact integer
    sum of :func:`exact_sum`, one row at a time.
    """
    rows, n = th.shape
    if n == 0:
        zero = np.zeros(rows)
        return zero, zero.copy(), zero.copy()
    if n <= 4096 or rows > 64:
        sh = th[:, 0].copy()
        sl = tl[:, 0].copy()
        for j in range(1, n):
            sh, e = eft.two_sum(sh, th[:, j])
            sl = sl + (e + tl[:, j])
        sh, sl = eft.fast_two_sum(sh, sl)
        magnitude = np.sum(np.abs(th), axis=1) + np.sum(np.abs(tl), axis=1)
        # TwoSum is exact down to the subnormals: no absolute term.
        err = ((n * 2.0**-53) ** 2 + 2.0**-104) * magnitude * (1 + 2.0**-40)
        return sh, sl, err
    sh, sl = np.empty(rows), np.empty(rows)
    for r in range(rows):
        total, base = _exact.sum_integer(np.concatenate([th[r], tl[r]]))
        hi = _scaled_float(total, base) if total >= 0 else -_scaled_float(-total, base)
        hi_int = int(
            Fraction(hi) * Fraction(2) ** -base
        )  # an integer: hi has no bits below 2**base
        rest = total - hi_int
        lo = _scaled_float(rest, base) if rest >= 0 else -_scaled_float(-rest, base)
        sh[r], sl[r] = hi, lo
    return sh, sl, 2.0**-104 * np.abs(sh) + (sh != 0) * 2.0**-1074


@dataclass(frozen=True)
class ExactArray:
    """Exact values held as ``(hi + lo) * 2**exp`` with a bound on their error.

    The double-double form of the reference values of long rows: about 96 correct bits, enough to
    measure errors in ULPs of any format to ``2**-40`` ULP, vectorised.  Obtain one with
    ``rounded="pair"`` from :func:`logsumexp`, :func:`softmax`, :func:`log_softmax` or
    :func:`cross_entropy`.

    Attributes
    ----------
    hi, lo : numpy.ndarray of float64
        ``hi = fl(hi + lo)``; a non-finite exact value (``±inf``, NaN) is held in `hi` with
        ``lo = 0``.
    exp : numpy.ndarray of int64
        Binary scale, so that values far below float64's range (``exp(-2000)``) keep their digits.
    err : numpy.ndarray of float64
        Bound on ``|exact - (hi + lo)|``, in units of ``2**exp``.
    dtype : numpy.dtype
        The format the values are meant for (ULPs are counted in it).
    """

    hi: np.ndarray
    lo: np.ndarray
    exp: np.ndarray
    err: np.ndarray
    dtype: np.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.hi.shape

    def to_mpf(self) -> np.ndarray:
        """The values as an object array of ``mpmath.mpf`` (each ``hi + lo`` exactly, scaled)."""
        out = np.empty(self.shape, dtype=object)
        flat = out.reshape(-1)
        with mpmath.workprec(2200):
            for i, (h, lo_, e) in enumerate(
                zip(self.hi.ravel().tolist(), self.lo.ravel().tolist(), self.exp.ravel().tolist())
            ):
                if not math.isfinite(h):
                    flat[i] = mpmath.mpf(h)
                else:
                    flat[i] = mpmath.ldexp(mpmath.mpf(h) + mpmath.mpf(lo_), int(e))
        return out

    def _rounded(self) -> tuple[np.ndarray, np.ndarray]:
        """Correctly rounded float64 values of the format, and where the error bound straddles a
        rounding boundary (Ziv's test failed: those need a more precise evaluation)."""
        fmt = format_of(self.dtype)
        hi, lo, k = self.hi, self.lo, self.exp
        finite = np.isfinite(hi)
        nonzero = finite & (hi != 0)
        h = np.where(nonzero, hi, 1.0)
        l_ = np.where(nonzero, lo, 0.0)
        mant, ex = np.frexp(h)
        e = ex.astype(np.int64) - 1 + k
        e = e - ((np.abs(mant) == 0.5) & (l_ * h < 0))  # hi a power of two, value just below it
        q = np.maximum(e, fmt.emin) - (fmt.precision - 1)
        shift = np.clip(k - q, -1200, 1200).astype(np.int32)
        mh, ml = np.ldexp(h, shift), np.ldexp(l_, shift)
        # The bound, plus the rounding of frac below (2**-54) with a margin.
        tol = np.ldexp(np.where(nonzero, self.err, 0.0), shift) + 2.0**-40
        n_int = np.rint(mh)
        frac = (mh - n_int) + ml
        n_int = n_int + (frac > 0.5) - (frac < -0.5)
        ambiguous = nonzero & (np.abs(np.abs(frac) - 0.5) <= tol)
        overflow = (q > fmt.qmax) | ((q == fmt.qmax) & (np.abs(n_int) > fmt.max_significand))
        with np.errstate(over="ignore", invalid="ignore"):
            value = np.ldexp(n_int, np.clip(q, -1100, 1100).astype(np.int32))
            value = np.where(overflow, np.sign(h) * fmt.overflow_value, value)
        value = np.where(nonzero, value, np.where(finite, 0.0, hi))
        # A zero held with a nonzero bound is certain only if the bound is below half the
        # smallest subnormal.
        zero_shift = np.clip(k - fmt.qmin, -1200, 1200).astype(np.int32)
        ambiguous |= finite & (hi == 0) & (np.ldexp(self.err, zero_shift) >= 0.5)
        return value, ambiguous

    def ulp_error(self, computed: Any) -> np.ndarray:
        """Error of `computed` in ULPs of ``self.dtype``, like :func:`ulp_error` but vectorised.

        Same definition and special values as :func:`ulp_error` (``ulp`` of the exact value's
        binade, floored at the subnormal spacing and capped at the top binade); the error is
        accurate to ``err`` (about ``2**-90`` relative), not exact.
        """
        fmt = format_of(self.dtype)
        c = np.asarray(_exact.as_array(computed), dtype=np.float64)
        c = np.broadcast_to(c, self.shape)
        hi, lo, k = self.hi, self.lo, self.exp
        rounded, _ = self._rounded()
        finite_exact = np.isfinite(hi)
        nonzero = finite_exact & (hi != 0)
        h = np.where(nonzero, hi, 1.0)
        mant, ex = np.frexp(h)
        e = ex.astype(np.int64) - 1 + k
        e = e - ((np.abs(mant) == 0.5) & (np.where(nonzero, lo, 0.0) * h < 0))
        ulp_exp = np.where(nonzero, np.clip(e, fmt.emin, fmt.emax), fmt.emin) - (fmt.precision - 1)
        shift = np.clip(k - ulp_exp, -1200, 1200).astype(np.int32)
        with np.errstate(over="ignore", invalid="ignore"):
            ch = np.ldexp(c, np.clip(-ulp_exp, -1200, 1200).astype(np.int32))
            mh = np.ldexp(np.where(nonzero, hi, 0.0), shift)
            ml = np.ldexp(np.where(nonzero, lo, 0.0), shift)
            err = np.abs((ch - mh) - ml)
        err = np.where(finite_exact, err, np.inf)
        c_nan, c_inf = np.isnan(c), np.isinf(c)
        same_nonfinite = (c_nan & np.isnan(rounded)) | (c_inf & (c == rounded))
        err = np.where(c_nan | c_inf, np.where(same_nonfinite, 0.0, np.inf), err)
        return err


def _exact_array(hi, lo, exp, err, dtype) -> ExactArray:
    hi = np.asarray(hi, dtype=np.float64)
    shape = hi.shape
    return ExactArray(
        hi,
        np.broadcast_to(np.asarray(lo, dtype=np.float64), shape).copy(),
        np.broadcast_to(np.asarray(exp, dtype=np.int64), shape).copy(),
        np.broadcast_to(np.asarray(err, dtype=np.float64), shape).copy(),
        np.dtype(dtype),
    )


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _float_input(x: Any, argname: str) -> tuple[np.ndarray, np.dtype]:
    """``(exact float64 values, the input's format)``; integers count as float64 (as in numdl)."""
    arr = _exact.as_array(x)
    if arr.dtype.kind == "b" or (arr.dtype.kind not in "iuf" and not is_format_dtype(arr.dtype)):
        raise TypeError(
            f"{argname} must be a real floating-point or integer array, got dtype {arr.dtype}"
        )
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64), np.dtype(np.float64)
    if not is_format_dtype(arr.dtype):
        raise TypeError(f"{argname} has the unsupported dtype {arr.dtype}")
    return arr.astype(np.float64), arr.dtype


def _out_format(dtype: Any, default: np.dtype) -> Format:
    return format_of(default if dtype is None else dtype)


def _reduction_axes(axis: Any, ndim: int, argname: str = "axis") -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise TypeError(f"{argname} must be an int, a tuple of ints or None, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{argname}={axis!r} is out of range for a {ndim}-D array")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{argname}={axis!r} repeats an axis")
    return tuple(sorted(out))


def _to_rows(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Move `axes` to the end and flatten: ``(R, n)`` and the shape of the kept axes."""
    if x.ndim == 0:
        return x.reshape(1, 1), ()
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    batch = tuple(x.shape[i] for i in kept)
    n = math.prod(x.shape[i] for i in axes)
    return moved.reshape(math.prod(batch), n), batch


def _from_rows(y: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_to_rows` for an output of the input's shape."""
    if len(shape) == 0:
        return y.reshape(())
    kept = [i for i in range(len(shape)) if i not in axes]
    order = kept + list(axes)
    moved_shape = tuple(shape[i] for i in order)
    return np.transpose(y.reshape(moved_shape), np.argsort(order))


# ---------------------------------------------------------------------------------------------
# Row kernel: log-sum-exp, softmax and log-softmax of rows in double-double
# ---------------------------------------------------------------------------------------------


@dataclass
class _RowCore:
    """Shared quantities of ``R`` rows of exact inputs (double-double, with error bounds).

    For a row with finite maximum ``a`` attained ``m`` times: ``d = x - a`` exactly (``dh + dl``),
    ``S = sum exp(d) = m + s``, ``S1 = S - 1`` and ``L = log S = log1p(S1)``.
    """

    x: np.ndarray  # (R, n) float64
    finite: np.ndarray  # (R,) rows with a finite maximum and no NaN
    nan_row: np.ndarray
    n_pinf: np.ndarray
    a: np.ndarray
    dh: np.ndarray
    dl: np.ndarray
    s1h: np.ndarray
    s1l: np.ndarray
    s1_err: np.ndarray
    lh: np.ndarray
    ll: np.ndarray
    l_err: np.ndarray


def _row_core(x: np.ndarray) -> _RowCore:
    with np.errstate(all="ignore"):  # TwoSum of -inf entries, masked below
        return _row_core_impl(x)


def _row_core_impl(x: np.ndarray) -> _RowCore:
    rows, n = x.shape
    with np.errstate(invalid="ignore", over="ignore"):
        nan_row = np.isnan(x).any(axis=1)
        n_pinf = (x == np.inf).sum(axis=1)
        a = x.max(axis=1, initial=-np.inf) if n else np.full(rows, -np.inf)
        finite = ~nan_row & np.isfinite(a)
        a_safe = np.where(finite, a, 0.0)
        dh, dl = eft.two_sum(x, -a_safe[:, None])
        # -inf entries (and differences beyond float64's range) contribute exp(-inf) = 0.
        gone = ~np.isfinite(dh)
        dh = np.where(gone, -np.inf, dh)
        dl = np.where(gone, 0.0, dl)
    is_max = (dh == 0) & (dl == 0)
    m = is_max.sum(axis=1).astype(np.float64)
    terms = ~is_max & (dh > -1600)
    eh, el, k = _exp_dd(np.where(terms, dh, 0.0), np.where(terms, dl, 0.0))
    ki = k.astype(np.int32)
    th = np.where(terms, np.ldexp(eh, ki), 0.0)
    tl = np.where(terms, np.ldexp(el, ki), 0.0)
    sh, sl, sum_err = _dd_row_sum(th, tl)
    # Each term's relative error, plus the bits of th and tl lost to underflow in ldexp.
    s_err = sum_err + _DD_EXP_ERR * np.abs(sh) + terms.sum(axis=1) * 2.0**-1073
    s1h, s1l = eft.dd_add(m - 1, np.zeros(rows), sh, sl)
    s1h = np.where(finite, s1h, 0.0)
    s1l = np.where(finite, s1l, 0.0)
    lh, ll = _log1p_dd(s1h, s1l)
    l_err = (
        s_err / (1 + s1h) * (1 + 2.0**-40) + 2 * _DD_EXP_ERR * np.abs(lh) + (s1h != 0) * _DD_ABS_ERR
    )
    return _RowCore(x, finite, nan_row, n_pinf, a, dh, dl, s1h, s1l, s_err, lh, ll, l_err)


def _round_with_fallback(
    ex: ExactArray, fallback: Callable[[np.ndarray, int], list], rounded: Any
) -> Any:
    """Round an ExactArray; outputs that fail Ziv's test are recomputed with mpmath by
    ``fallback(flat_indices, prec) -> list of mpf`` at increasing precision."""
    if rounded == "pair":
        return ex
    if rounded not in (True, False):
        raise ValueError(f"rounded must be True, False or 'pair', got {rounded!r}")
    fmt = format_of(ex.dtype)
    value, ambiguous = ex._rounded()
    value = value.reshape(-1).copy()
    exact_values = ex.to_mpf().reshape(-1) if rounded is False else None
    todo = np.flatnonzero(ambiguous.reshape(-1))
    prec = 4 * fmt.precision + 100
    while todo.size:
        first = fallback(todo, prec)
        second = fallback(todo, 2 * prec)
        r1 = np.array([_exact.round_parts(_exact.parts(_real_or_nan(v)), fmt) for v in first])
        r2 = np.array([_exact.round_parts(_exact.parts(_real_or_nan(v)), fmt) for v in second])
        same = (r1 == r2) | (np.isnan(r1) & np.isnan(r2))
        value[todo[same]] = r2[same]
        if exact_values is not None:
            for i in np.flatnonzero(same).tolist():
                exact_values[todo[i]] = _real_or_nan(second[i])
        todo = todo[~same]
        prec *= 2
        if prec > 40_000:
            raise ArithmeticError("reference value did not settle below 40000 bits")
    if exact_values is not None:
        return exact_values.reshape(ex.shape)
    return from_float64(value.reshape(ex.shape), fmt)


def _mp_row(x_row: np.ndarray, prec: int) -> tuple[Any, list, list]:
    """``(lse, [log_softmax_j], [softmax_j])`` of one row with a finite maximum, in mpmath.

    ``log S = log m + log1p(s / m)`` with ``m`` the number of maxima and ``s`` the sum of the other
    terms: ``log(1 + s)`` at any fixed precision would round ``1 + 5e-309`` to 1.
    """
    with mpmath.workprec(prec):
        xs = [mpmath.mpf(float(v)) for v in x_row.tolist()]
        a = max(xs)
        es = [mpmath.exp(v - a) if v != mpmath.ninf else mpmath.mpf(0) for v in xs]
        m = sum(1 for v in xs if v == a)
        rest = mpmath.fsum(e for v, e in zip(xs, es, strict=True) if v != a)
        log_s = mpmath.log(m) + mpmath.log1p(rest / m)
        total = m + rest
        lse = a + log_s
        ls = [(v - a) - log_s for v in xs]
        sm = [e / total for e in es]
    return lse, ls, sm


def _rows_fallback(x2: np.ndarray, kind: str) -> Callable[[np.ndarray, int], list]:
    n = x2.shape[1]

    def fallback(flat: np.ndarray, prec: int) -> list:
        out, cache = [], {}
        for f in flat.tolist():
            r = f if kind == "lse" else f // n
            if r not in cache:
                cache[r] = _mp_row(x2[r], prec)
            lse, ls, sm = cache[r]
            out.append(lse if kind == "lse" else (ls if kind == "log_softmax" else sm)[f % n])
        return out

    return fallback


def _finish(
    values: Any, batch: tuple[int, ...], axes: tuple[int, ...], ndim: int, keepdims: bool
) -> Any:
    """Shape a per-row result: the kept axes, with size-1 axes where `axes` were if `keepdims`."""
    if isinstance(values, ExactArray):
        return ExactArray(
            *(
                _finish(v, batch, axes, ndim, keepdims)
                for v in (values.hi, values.lo, values.exp, values.err)
            ),
            values.dtype,
        )
    out = np.asarray(values).reshape(batch)
    if keepdims:
        for ax in axes:
            out = np.expand_dims(out, ax)
    return out[()] if out.ndim == 0 else out


def _is_float_dtype(x: Any) -> bool:
    arr = _exact.as_array(x)
    return is_format_dtype(arr.dtype)


def _lse_b_row(xr: np.ndarray, br: np.ndarray, prec: int) -> tuple[Any, Any]:
    """``(log|S|, sign S)`` of ``S = sum b exp(x)`` over one row, in mpmath at `prec` bits.

    Terms with ``b = 0`` are dropped, as in SciPy.  Equal ``x`` are grouped and their weights
    summed exactly; ``S`` is then zero only if every group's weight is: a nonzero combination
    ``sum B_u exp(x_u)`` with distinct rational ``x_u`` and nonzero rational ``B_u`` is never 0
    (Lindemann-Weierstrass), so the precision loop ends.
    """
    keep = br != 0
    xs, bs = xr[keep], br[keep]
    nan = mpmath.mpf("nan")
    if np.isnan(xs).any() or np.isnan(bs).any():
        return nan, nan
    with np.errstate(invalid="ignore"):
        infinite_terms = np.isinf(xs) & (xs > 0) | np.isinf(bs) & (xs > -np.inf)
    if infinite_terms.any():
        signs = set(np.sign(bs[infinite_terms]).tolist())
        if len(signs) > 1:
            return nan, nan
        return mpmath.inf, mpmath.mpf(signs.pop())
    finite = xs > -np.inf
    groups: dict[float, Fraction] = {}
    for v, w in zip(xs[finite].tolist(), bs[finite].tolist(), strict=True):
        groups[v] = groups.get(v, Fraction(0)) + Fraction(w)
    groups = {v: w for v, w in groups.items() if w != 0}
    if not groups:
        return mpmath.ninf, mpmath.mpf(0)
    a = max(groups)
    with mpmath.workprec(prec):
        top = mpmath.mpf(groups[a].numerator) / groups[a].denominator
        rest = mpmath.fsum(
            mpmath.mpf(w.numerator) / w.denominator * mpmath.exp(mpmath.mpf(v) - mpmath.mpf(a))
            for v, w in groups.items()
            if v != a
        )
        # log|top + rest| = log|top| + log|1 + r|; log1p keeps a tiny r (no 1 + r rounding).
        r = rest / top
        body = mpmath.log1p(r) if r > -1 else mpmath.log(abs(1 + r))
        return mpmath.mpf(a) + mpmath.log(abs(top)) + body, mpmath.sign(top) * mpmath.sign(1 + r)


@_quiet
def logsumexp(
    x: Any,
    axis: Any = None,
    *,
    b: Any = None,
    keepdims: bool = False,
    return_sign: bool = False,
    dtype: Any = None,
    rounded: Any = True,
) -> Any:
    """Exact ``log(sum(b * exp(x)))`` over `axis`, correctly rounded (the oracle of
    :func:`numdl.logsumexp`; same arguments and special values).

    Parameters
    ----------
    x, axis, b, keepdims, return_sign
        As in :func:`numdl.logsumexp` (SciPy's semantics).
    dtype : dtype-like, optional
        Format of the result; default: the input's (``result_type(x, b)`` when `b` is floating,
        float64 for integer input).
    rounded : True, False or "pair"
        True: correctly rounded values of `dtype`.  False: unrounded ``mpmath.mpf`` values (for
        :func:`ulp_error`).  ``"pair"``: an :class:`ExactArray` (fast vectorised ULP errors).
        The sign returned with ``return_sign=True`` is exact and always a value of `dtype`.

    Notes
    -----
    Without `b`, a row with finite maximum ``a`` (attained ``m`` times) is
    ``a + log1p(m - 1 + s)``, ``s = sum over the other entries of exp(x_j - a)``, evaluated in
    double-double (:func:`_row_core`) with a proven error bound and rounded with Ziv's test; rows
    whose bound does not decide the rounding are redone in mpmath.  With `b`, each row is evaluated
    in mpmath (slower: use short rows).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import reference
    >>> reference.logsumexp(np.array([1000.0, 1000.0]))  # 1000 + log 2, correctly rounded
    np.float64(1000.6931471805599)
    >>> float(reference.logsumexp(np.float32([0.0, -40.0]), rounded=False))  # exp(-40) ~ 4.2e-18
    4.248354255291589e-18
    """
    x64, in_dt = _float_input(x, "x")
    default = in_dt
    if b is not None:
        b64, b_dt = _float_input(b, "b")
        if _is_float_dtype(b):
            default = np.result_type(in_dt, b_dt)
        try:
            shape = np.broadcast_shapes(x64.shape, b64.shape)
        except ValueError:
            raise ValueError(
                f"b (shape {b64.shape}) does not broadcast against x (shape {x64.shape})"
            ) from None
        x64 = np.broadcast_to(x64, shape)
        b64 = np.broadcast_to(b64, shape)
    fmt = _out_format(dtype, default)
    axes = _reduction_axes(axis, x64.ndim)
    x2, batch = _to_rows(x64, axes)
    ndim = x64.ndim
    if b is None:
        core = _row_core(x2)
        hi, lo = eft.dd_add(core.a, np.zeros_like(core.a), core.lh, core.ll)
        hi = np.where(core.finite, hi, 0.0)
        lo = np.where(core.finite, lo, 0.0)
        err = np.where(core.finite, core.l_err + _DD_OP_ERR * np.abs(hi), 0.0)
        special = np.where(core.nan_row, np.nan, np.where(core.n_pinf > 0, np.inf, -np.inf))
        hi = np.where(core.finite, hi, special)
        ex = _exact_array(hi, lo, 0, err, fmt.dtype)
        values = _round_with_fallback(ex, _rows_fallback(x2, "lse"), rounded)
        sign = np.where(np.isnan(hi), np.nan, np.where(hi == -np.inf, 0.0, 1.0))
    else:
        _, b2 = None, _to_rows(b64, axes)[0]
        results = []
        for r in range(x2.shape[0]):
            prec = 4 * fmt.precision + 100
            v1, _ = _lse_b_row(x2[r], b2[r], prec)
            while True:
                v2, s2 = _lse_b_row(x2[r], b2[r], 2 * prec)
                r1 = _exact.round_parts(_exact.parts(v1), fmt)
                r2 = _exact.round_parts(_exact.parts(v2), fmt)
                if _same_float(r1, r2) or prec > 40_000:
                    break
                prec *= 2
                v1 = v2
            results.append((v2, s2, r2))
        sign = np.array([float(s) for _, s, _ in results])
        neg = sign < 0
        if rounded is False:
            values = np.empty(len(results), dtype=object)
            values[:] = [v if return_sign or s >= 0 else mpmath.mpf("nan") for v, s, _ in results]
        elif rounded is True:
            vals = np.array([r for _, _, r in results])
            values = from_float64(np.where(neg & (not return_sign), np.nan, vals), fmt)
        else:
            raise ValueError("rounded='pair' is not available with b; use True or False")
        if not return_sign and rounded is False:
            pass
    out = _finish(values, batch, axes, ndim, keepdims)
    if return_sign:
        return out, _finish(from_float64(sign, fmt), batch, axes, ndim, keepdims)
    return out


@_quiet
def _softmax_family(x: Any, axis: Any, dtype: Any, rounded: Any, kind: str) -> Any:
    x64, in_dt = _float_input(x, "x")
    fmt = _out_format(dtype, in_dt)
    axes = _reduction_axes(axis, x64.ndim)
    x2, _ = _to_rows(x64, axes)
    rows, n = x2.shape
    core = _row_core(x2)
    fin = core.finite[:, None]
    if kind == "log_softmax":
        hi, lo = eft.two_sum(core.dh, -core.lh[:, None])
        lo = lo + (core.dl - core.ll[:, None])
        hi, lo = eft.fast_two_sum(hi, lo)
        minus_inf = core.dh == -np.inf
        hi = np.where(minus_inf, -np.inf, hi)
        lo = np.where(minus_inf | ~fin, 0.0, lo)
        err = np.where(minus_inf, 0.0, core.l_err[:, None] + _DD_OP_ERR * np.abs(hi))
        exp = np.zeros((rows, n), dtype=np.int64)
        inf_value, other_value = 0.0, -np.inf
    else:
        deep = core.dh < -(2.0**20)
        eh, el, exp = _exp_dd(np.where(deep, -np.inf, core.dh), core.dl)
        sh, sl = eft.dd_add(np.ones(rows), np.zeros(rows), core.s1h, core.s1l)
        hi, lo = eft.dd_div(eh, el, sh[:, None], sl[:, None])
        rel = _DD_EXP_ERR + core.s1_err / (1 + core.s1h) + 4 * _DD_OP_ERR
        err = rel[:, None] * np.abs(hi)
        inf_value, other_value = 1.0, 0.0
    # Rows that are not finite: NaN anywhere or all -inf (and empty) give NaN; +inf entries give
    # the limit (1 or log 1 = 0) if there is exactly one of them, NaN if several; the others 0
    # (softmax) or -inf (log_softmax).
    is_pinf = x2 == np.inf
    special = np.where(is_pinf, np.where(core.n_pinf[:, None] == 1, inf_value, np.nan), other_value)
    special = np.where(core.nan_row[:, None] | (core.n_pinf[:, None] == 0), np.nan, special)
    hi = np.where(fin, hi, special)
    lo = np.where(fin, lo, 0.0)
    err = np.where(fin, err, 0.0)
    ex = _exact_array(hi, lo, np.where(fin, exp, 0), err, fmt.dtype)
    values = _round_with_fallback(ex, _rows_fallback(x2, kind), rounded)
    if isinstance(values, ExactArray):
        return ExactArray(
            *(
                _from_rows(v, x64.shape, axes)
                for v in (values.hi, values.lo, values.exp, values.err)
            ),
            values.dtype,
        )
    out = _from_rows(np.asarray(values), x64.shape, axes)
    return out[()] if out.ndim == 0 else out


def softmax(x: Any, axis: Any = -1, *, dtype: Any = None, rounded: Any = True) -> Any:
    """Exact ``exp(x_i) / sum_j exp(x_j)`` along `axis`, correctly rounded (the oracle of
    :func:`numdl.softmax`; same special values).

    `dtype` and `rounded` as in :func:`logsumexp`.  Each output is ``exp(x_i - a) / S`` with the
    double-double exponential of the exact difference ``x_i - a`` (``a`` the row maximum) and the
    row's ``S`` from :func:`_row_core`; results far below float64's range keep their digits through
    a separate binary exponent.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import reference
    >>> reference.softmax(np.float32([100.0, 0.0]))  # exp(-100) ~ 3.8e-44 is a float32 subnormal
    array([1.0e+00, 3.8e-44], dtype=float32)
    """
    return _softmax_family(x, axis, dtype, rounded, "softmax")


def log_softmax(x: Any, axis: Any = -1, *, dtype: Any = None, rounded: Any = True) -> Any:
    """Exact ``x_i - logsumexp(x)`` along `axis`, correctly rounded (the oracle of
    :func:`numdl.log_softmax`; same special values).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import reference
    >>> reference.log_softmax(np.array([50.0, 0.0]))  # the confident class: -exp(-50), not 0
    array([-1.92874985e-22, -5.00000000e+01])
    """
    return _softmax_family(x, axis, dtype, rounded, "log_softmax")


# ---------------------------------------------------------------------------------------------
# Elementwise functions (mpmath through evaluate)
# ---------------------------------------------------------------------------------------------


def _elementwise(
    fn: Callable[..., Any],
    special: Callable[..., np.ndarray],
    inputs: list[tuple[Any, str]],
    dtype: Any,
    rounded: Any,
) -> Any:
    """Evaluate `fn` in mpmath where every input is finite, and `special` (NumPy) elsewhere."""
    arrays, dtypes = [], []
    scalar = all(_exact.is_scalar(v) for v, _ in inputs)
    for value, name in inputs:
        arr, dt = _float_input(value, name)
        arrays.append(arr)
        if _is_float_dtype(value):
            dtypes.append(dt)
    default = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    fmt = _out_format(dtype, default)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        names = ", ".join(f"{name} {a.shape}" for a, (_, name) in zip(arrays, inputs, strict=True))
        raise ValueError(f"the shapes of {names} do not broadcast") from None
    arrays = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
    finite = np.logical_and.reduce([np.isfinite(a) for a in arrays]) if arrays else np.ones(0, bool)
    if rounded not in (True, False):
        raise ValueError(
            f"rounded must be True or False for elementwise functions, got {rounded!r}"
        )
    idx = np.flatnonzero(finite)
    with np.errstate(all="ignore"):
        special_values = special(*arrays)
    if rounded:
        out = np.asarray(special_values, dtype=np.float64).copy()
        if idx.size:
            out[idx] = np.asarray(
                evaluate(fn, *(a[idx] for a in arrays), dtype=fmt.dtype), dtype=np.float64
            )
        out = from_float64(out.reshape(shape), fmt)
    else:
        out = np.empty(len(special_values), dtype=object)
        out[:] = [mpmath.mpf(float(v)) for v in special_values]
        if idx.size:
            out[idx] = list(evaluate(fn, *(a[idx] for a in arrays), dtype=fmt.dtype, rounded=False))
        out = out.reshape(shape)
    return out[()] if scalar else out


def _nan_like(*arrays: np.ndarray) -> np.ndarray:
    return np.full(np.broadcast_shapes(*(a.shape for a in arrays)), np.nan)


def logaddexp(x1: Any, x2: Any, *, dtype: Any = None, rounded: bool = True) -> Any:
    """Exact ``log(exp(x1) + exp(x2))``, correctly rounded.  ``+inf`` with anything but NaN is
    ``+inf``; ``-inf`` with ``y`` is ``y``; NaN is NaN."""

    def special(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.maximum(a, b)  # right for every non-finite case but NaN (which it propagates)
        return np.where(np.isnan(a) | np.isnan(b), np.nan, out)

    return _elementwise(
        lambda a, b: max(a, b) + mpmath.log1p(mpmath.exp(-abs(a - b))),
        special,
        [(x1, "x1"), (x2, "x2")],
        dtype,
        rounded,
    )


def log1mexp(x: Any, *, dtype: Any = None, rounded: bool = True) -> Any:
    """Exact ``log(1 - exp(-|x|))``, correctly rounded: ``-inf`` at 0, ``0`` at ``±inf``."""

    def exact(v: Any) -> Any:
        # Maechler's switch in mpmath too: at any fixed precision log(-expm1(-a)) loses
        # exp(-a) against 1 for large a (log1mexp(267) is -7.3e-117, not 0).
        a = abs(v)
        return mpmath.log(-mpmath.expm1(-a)) if a <= mpmath.ln2 else mpmath.log1p(-mpmath.exp(-a))

    return _elementwise(
        exact,
        lambda v: np.where(np.isnan(v), np.nan, 0.0),
        [(x, "x")],
        dtype,
        rounded,
    )


def sigmoid(x: Any, *, dtype: Any = None, rounded: bool = True) -> Any:
    """Exact ``1 / (1 + exp(-x))``, correctly rounded: ``1`` at ``+inf``, ``0`` at ``-inf``."""
    return _elementwise(
        lambda v: 1 / (1 + mpmath.exp(-v)),
        lambda v: np.where(v > 0, 1.0, np.where(v < 0, 0.0, np.nan)),
        [(x, "x")],
        dtype,
        rounded,
    )


def log_sigmoid(x: Any, *, dtype: Any = None, rounded: bool = True) -> Any:
    """Exact ``-log1p(exp(-x))``, correctly rounded: ``0`` at ``+inf``, ``-inf`` at ``-inf``."""
    return _elementwise(
        lambda v: -mpmath.log1p(mpmath.exp(-v)),
        lambda v: np.where(v > 0, 0.0, np.where(v < 0, -np.inf, np.nan)),
        [(x, "x")],
        dtype,
        rounded,
    )


def softplus(x: Any, *, beta: float = 1.0, threshold: float | None = None, dtype: Any = None,
             rounded: bool = True) -> Any:
    """Exact ``log1p(exp(beta x)) / beta``, correctly rounded: ``+inf`` at ``+inf``, ``0`` at
    ``-inf`` (for ``beta > 0``).  `beta` is taken as the exact value of its float; with a
    `threshold`, ``x`` itself where ``beta x > threshold`` (PyTorch's switch, decided exactly)."""
    b = mpmath.mpf(float(beta))

    def exact_fn(v: Any) -> Any:
        bx = b * v
        if threshold is not None and bx > threshold:
            return v
        return mpmath.log1p(mpmath.exp(bx)) / b

    def special(v: np.ndarray) -> np.ndarray:  # v = ±inf or NaN: beta v = +inf gives v, -inf 0
        return np.where(np.isnan(v), np.nan, np.where(float(beta) * v > 0, v, 0.0))

    return _elementwise(exact_fn, special, [(x, "x")], dtype, rounded)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction={reduction!r}; choose one of {', '.join(map(repr, _REDUCTIONS))}"
        )


def _weighted_nonfinite(w: np.ndarray, neg_ls: np.ndarray) -> np.ndarray:
    """``sum_c w_c * neg_ls_c`` per row for rows where some ``neg_ls`` is inf or NaN, with
    ``0 * inf = 0`` (a class of weight zero contributes nothing, whatever its logit)."""
    with np.errstate(invalid="ignore"):
        terms = np.where(w == 0, 0.0, w * neg_ls)
    finite_part = np.where(np.isfinite(terms), 0.0, terms)
    with np.errstate(invalid="ignore"):
        return np.sum(finite_part, axis=1)


def _reduce_exact(
    hi: np.ndarray, lo: np.ndarray, err: np.ndarray, valid: np.ndarray, reduction: str, count: int
) -> tuple[float, float, float]:
    """Exact sum or mean of per-row double-doubles over `valid` rows: ``(hi, lo, err)``."""
    h, lo_, e = hi[valid], lo[valid], err[valid]
    nonfinite = ~np.isfinite(h)
    if nonfinite.any():
        with np.errstate(invalid="ignore"):
            total = float(np.sum(h[nonfinite]))
        if reduction == "mean":
            total = total / count if count else math.nan
        return total, 0.0, 0.0
    th, tl, terr = _dd_row_sum(h[None, :], lo_[None, :])
    th, tl = float(th[0]), float(tl[0])
    total_err = float(terr[0]) + float(np.sum(e)) * (1 + 2.0**-40)
    if reduction == "mean":
        if count == 0:
            return math.nan, 0.0, 0.0
        qh, ql = eft.dd_div(np.float64(th), np.float64(tl), np.float64(count), np.float64(0.0))
        return float(qh), float(ql), total_err / count + _DD_OP_ERR * abs(float(qh))
    return th, tl, total_err


@_quiet
def cross_entropy(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    weight: Any = None,
    dtype: Any = None,
    rounded: Any = True,
) -> Any:
    """Exact cross-entropy of `logits` against `target`, correctly rounded (the oracle of
    :func:`numdl.cross_entropy`; same arguments, same PyTorch semantics and special values).

    With per-class weights ``weight`` (``(C,)``, taken exactly) a row's weights are
    ``v_c = weight_c ((1 - eps) onehot(t)_c + eps / C)`` for a class index ``t`` (PyTorch's
    ``(1 - eps) nll_loss(weight) + (eps / C) sum_c weight_c (-log_softmax_c)``) and
    ``v_c = weight_c ((1 - eps) p_c + eps / C)`` for probabilities; "mean" divides by the sum of
    ``weight_t`` over the counted class-index targets, and by the number of rows for
    probabilities.  Weighted rows are evaluated in mpmath (Ziv's strategy), for tests.

    A row's loss is ``sum_c w_c (L - d_c)`` with ``d = x - max x`` exact, ``L = log sum exp d`` and
    the weights ``w`` of the (smoothed) target, evaluated in double-double with an error bound;
    a class of weight zero contributes 0 whatever its logit.  `dtype` and `rounded` as in
    :func:`logsumexp`.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import reference
    >>> float(reference.cross_entropy(np.array([[37.0, 0.0, 0.0]]), np.array([0])))
    1.706609525148813e-16
    """
    _check_reduction(reduction)
    x64, in_dt = _float_input(logits, "logits")
    fmt = _out_format(dtype, in_dt)
    if x64.ndim == 0:
        raise ValueError("logits must have a class axis, got a 0-D array")
    (ax,) = _reduction_axes(axis, x64.ndim)
    x2, batch = _to_rows(x64, (ax,))
    rows, classes = x2.shape
    eps = float(label_smoothing)
    cw = None
    if weight is not None:
        cw = _float_input(weight, "weight")[0]
        if cw.shape != (classes,):
            raise ValueError(f"weight shape {cw.shape} is not ({classes},), one per class")
    t_arr = _exact.as_array(target)
    if t_arr.dtype.kind in "iu":
        if t_arr.shape != batch:
            raise ValueError(
                f"target shape {t_arr.shape} does not match logits without axis {batch}"
            )
        t = t_arr.reshape(-1).astype(np.int64)
        ignored = (t == ignore_index) if ignore_index is not None else np.zeros(rows, bool)
        if ((t < 0) | (t >= classes))[~ignored].any():
            raise ValueError(f"target has labels outside [0, {classes})")
        t_safe = np.where(ignored, 0, t)
        w = np.full((rows, classes), eps / classes)
        w[np.arange(rows), t_safe] += 1 - eps  # only for signs and zero tests
        probs = None
    else:
        p64, _ = _float_input(target, "target")
        if p64.shape != x64.shape:
            raise ValueError(f"target shape {p64.shape} does not match logits shape {x64.shape}")
        probs = _to_rows(p64, (ax,))[0]
        ignored = np.zeros(rows, bool)
        w = (1 - eps) * probs + eps / classes  # only for signs and zero tests
    if cw is not None:
        w = w * cw
    core = _row_core(x2)
    with np.errstate(all="ignore"):
        # -log_softmax for rows that are not finite, and for -inf logits of finite rows.
        neg_ls = -np.where(core.dh == -np.inf, -np.inf, 0.0)
        is_pinf = x2 == np.inf
        special_ls = np.where(is_pinf, np.where(core.n_pinf[:, None] == 1, 0.0, np.nan), -np.inf)
        special_ls = np.where(
            core.nan_row[:, None] | (core.n_pinf[:, None] == 0), np.nan, special_ls
        )
        neg_ls = np.where(core.finite[:, None], neg_ls, -special_ls)
        nonfinite_loss = _weighted_nonfinite(w, neg_ls)
    row_special = ~core.finite | (np.isinf(neg_ls) & (w != 0)).any(axis=1)
    lh, ll, l_err = core.lh, core.ll, core.l_err
    needs_mp = np.zeros(rows, bool)
    if probs is None:
        r_idx = np.arange(rows)
        dth, dtl = core.dh[r_idx, t_safe], core.dl[r_idx, t_safe]
        dth = np.where(row_special, 0.0, dth)
        dtl = np.where(row_special, 0.0, dtl)
        one_m = eft.two_sum(np.float64(1.0), np.float64(-eps))
        ah, al = eft.dd_mul(dth, dtl, *one_m)
        hi, lo = eft.dd_add(lh, ll, -ah, -al)
        err = l_err + 4 * _DD_OP_ERR * (np.abs(lh) + np.abs(ah))
        if eps != 0:
            safe_dh = np.where(row_special[:, None], 0.0, core.dh)
            safe_dl = np.where(row_special[:, None], 0.0, core.dl)
            dh_sum, dl_sum, d_err = _dd_row_sum(safe_dh, safe_dl)
            ch, cl = eft.dd_div(np.float64(eps), np.float64(0.0), np.float64(classes), np.float64(0.0))
            bh, bl = eft.dd_mul(dh_sum, dl_sum, ch, cl)
            hi, lo = eft.dd_add(hi, lo, -bh, -bl)
            err = err + d_err * eps / classes + 4 * _DD_OP_ERR * (np.abs(bh) + np.abs(hi))
    else:
        live = (w != 0) & ~row_special[:, None]
        pz = np.where(live, probs, 0.0)
        big = (np.abs(np.where(live, core.dh, 0.0)) > 2.0**990) | (np.abs(pz) > 2.0**990)
        needs_mp = big.any(axis=1) & ~row_special
        dh_live = np.where(live & ~big, core.dh, 0.0)
        dl_live = np.where(live & ~big, core.dl, 0.0)
        pz = np.where(big, 0.0, pz)
        q1h, q1l = eft.two_prod(pz, dh_live)
        q2h, q2l = eft.two_prod(pz, dl_live)
        qh, ql, q_err = _dd_row_sum(
            np.concatenate([q1h, q2h], axis=1), np.concatenate([q1l, q2l], axis=1)
        )
        q_err = q_err + 4 * classes * 2.0**-1074
        ph, pl, p_err = _dd_row_sum(pz, np.zeros_like(pz))
        if eps != 0:
            dh_sum, dl_sum, d_err = _dd_row_sum(dh_live, dl_live)
            one_m = eft.two_sum(np.float64(1.0), np.float64(-eps))
            ph, pl = eft.dd_mul(ph, pl, *one_m)
            ph, pl = eft.dd_add(ph, pl, np.float64(eps), np.float64(0.0))
            qh, ql = eft.dd_mul(qh, ql, *one_m)
            ch, cl = eft.dd_div(np.float64(eps), np.float64(0.0), np.float64(classes), np.float64(0.0))
            bh, bl = eft.dd_mul(dh_sum, dl_sum, ch, cl)
            qh, ql = eft.dd_add(qh, ql, bh, bl)
            q_err = q_err + d_err * eps / classes + 4 * _DD_OP_ERR * np.abs(bh)
        mh, ml = eft.dd_mul(lh, ll, ph, pl)
        hi, lo = eft.dd_add(mh, ml, -qh, -ql)
        err = (
            l_err * np.abs(ph)
            + np.abs(lh) * p_err
            + q_err
            + 8 * _DD_OP_ERR * (np.abs(mh) + np.abs(qh))
        )
    hi = np.where(row_special, nonfinite_loss, hi)
    lo = np.where(row_special, 0.0, lo)
    err = np.where(row_special, 0.0, err)
    hi, lo, err = (
        np.where(ignored, 0.0, hi),
        np.where(ignored, 0.0, lo),
        np.where(ignored, 0.0, err),
    )

    def mp_row_loss(r: int, prec: int) -> Any:
        if ignored[r]:
            return mpmath.mpf(0)
        if row_special[r]:
            return mpmath.mpf(float(nonfinite_loss[r]))
        _, ls, _ = _mp_row(x2[r], prec)
        with mpmath.workprec(prec):
            e = mpmath.mpf(eps)
            if probs is None:
                weights = [e / classes] * classes
                weights[int(t[r])] += 1 - e
            else:
                weights = [(1 - e) * mpmath.mpf(float(p)) + e / classes for p in probs[r].tolist()]
            if cw is not None:
                weights = [
                    wc * mpmath.mpf(float(c)) for wc, c in zip(weights, cw.tolist(), strict=True)
                ]
            return -mpmath.fsum(wc * lc for wc, lc in zip(weights, ls, strict=True) if wc != 0)

    def fallback_rows(flat: np.ndarray, prec: int) -> list:
        return [mp_row_loss(int(r), prec) for r in flat.tolist()]

    if cw is not None:
        return _weighted_ce_exact(
            hi,
            ~ignored & ~row_special,
            mp_row_loss,
            reduction,
            batch,
            fmt,
            rounded,
            None if probs is not None else np.where(ignored, 0.0, cw[t_safe]),
        )
    if reduction == "none":
        ex = _exact_array(hi, lo, 0, err, fmt.dtype)
        if needs_mp.any():  # products beyond double-double's range: mark ambiguous via a huge bound
            ex.err[needs_mp] = np.inf
            ex.hi[needs_mp] = 1.0
        values = _round_with_fallback(ex, fallback_rows, rounded)
        return _finish(values, batch, (), len(batch), False)
    valid = ~ignored
    count = int(valid.sum())
    th, tl, terr = _reduce_exact(hi, lo, err, valid, reduction, count)
    if needs_mp.any():
        th, terr = 1.0, math.inf

    def fallback_total(flat: np.ndarray, prec: int) -> list:
        with mpmath.workprec(prec + 64):
            total = mpmath.fsum(mp_row_loss(r, prec) for r in np.flatnonzero(valid).tolist())
            if reduction == "mean":
                total = total / count if count else mpmath.mpf("nan")
        return [total]

    ex = _exact_array(np.float64(th), tl, 0, terr, fmt.dtype)
    values = _round_with_fallback(ex, fallback_total, rounded)
    if isinstance(values, ExactArray):
        return values
    return np.asarray(values)[()]


def _weighted_ce_exact(
    hi: np.ndarray,
    mp_rows: np.ndarray,
    mp_row_loss: Callable[[int, int], Any],
    reduction: str,
    batch: tuple,
    fmt: Format,
    rounded: Any,
    target_weights: np.ndarray | None,
) -> Any:
    """The weighted cross-entropy: every row in `mp_rows` (counted, finite) in mpmath, the others
    (ignored: 0; special: their non-finite loss) from `hi`; "mean" over ``sum target_weights``
    (class-index targets) or the number of rows (probabilities)."""
    rows = hi.shape[0]
    if reduction == "none":
        # an infinite error bound sends the row to mpmath (Ziv's loop in _round_with_fallback)
        ex = _exact_array(
            np.where(mp_rows, 1.0, hi), 0.0, 0, np.where(mp_rows, np.inf, 0.0), fmt.dtype
        )
        want = False if rounded == "pair" else rounded
        values = _round_with_fallback(
            ex, lambda flat, prec: [mp_row_loss(int(r), prec) for r in flat.tolist()], want
        )
        if rounded == "pair":
            return _finish(_pair_of(values, fmt), batch, (), len(batch), False)
        return _finish(values, batch, (), len(batch), False)

    def fallback_total(flat: np.ndarray, prec: int) -> list:
        with mpmath.workprec(prec + 64):
            total = mpmath.fsum(mp_row_loss(r, prec) for r in range(rows))
            if reduction == "mean":
                if target_weights is None:
                    count = mpmath.mpf(rows)
                else:
                    count = mpmath.fsum(mpmath.mpf(float(v)) for v in target_weights.tolist())
                if count == 0:
                    # 0 / 0 is NaN; only negative weights can give x / 0 with x != 0
                    nan = total == 0 or mpmath.isnan(total)
                    total = mpmath.mpf("nan") if nan else total * mpmath.inf
                else:
                    total = total / count
        return [total]

    ex = _exact_array(np.float64(1.0), 0.0, 0, np.inf, fmt.dtype)
    values = _round_with_fallback(ex, fallback_total, False if rounded == "pair" else rounded)
    if rounded == "pair":
        return _pair_of(values, fmt)
    return np.asarray(values)[()]


def _pair_of(values: Any, fmt: Format) -> ExactArray:
    """Exact mpmath values (an object array) as an :class:`ExactArray` (double-double)."""
    flat = np.asarray(values, dtype=object).reshape(-1)
    hi, lo = np.empty(flat.size), np.empty(flat.size)
    for i, v in enumerate(flat.tolist()):
        if not mpmath.isfinite(v):
            hi[i], lo[i] = float(v), 0.0
        else:
            hi[i], lo[i] = _dd_of(v)
    shape = np.asarray(values, dtype=object).shape
    err = 2.0**-104 * np.abs(hi) + 2.0**-1074
    err = np.where(np.isfinite(hi), err, 0.0)
    return _exact_array(hi.reshape(shape), lo.reshape(shape), 0, err.reshape(shape), fmt.dtype)


def binary_cross_entropy_with_logits(
    logits: Any,
    target: Any,
    *,
    reduction: str = "mean",
    pos_weight: Any = None,
    weight: Any = None,
    dtype: Any = None,
    rounded: bool = True,
) -> Any:
    """Exact ``weight * (pos_weight * y * softplus(-x) + (1 - y) * softplus(x))``, reduced,
    correctly rounded (the oracle of :func:`numdl.binary_cross_entropy_with_logits`; `weight` and
    `pos_weight` broadcast to the target's shape, "mean" divides by the number of elements).

    A term whose coefficient is zero contributes 0 even where its softplus is infinite, so
    ``x = -inf, y = 0`` gives 0 and ``x = +inf, y = 1`` gives 0.  Elements are evaluated in mpmath
    (:func:`evaluate`); sums are exact sums of them, rounded once, with the precision doubled until
    two evaluations round alike.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import reference
    >>> float(reference.binary_cross_entropy_with_logits(np.array([-40.0]), np.array([0.0])))
    4.248354255291589e-18
    """
    _check_reduction(reduction)
    x64, in_dt = _float_input(logits, "logits")
    y64, _ = _float_input(target, "target")
    if y64.shape != x64.shape:
        raise ValueError(f"target shape {y64.shape} does not match logits shape {x64.shape}")
    pw64 = np.ones(1) if pos_weight is None else _float_input(pos_weight, "pos_weight")[0]
    fmt = _out_format(dtype, in_dt)
    pw64 = np.broadcast_to(pw64, x64.shape).reshape(-1)
    ew64 = np.ones(1) if weight is None else _float_input(weight, "weight")[0]
    ew64 = np.broadcast_to(ew64, x64.shape).reshape(-1)
    xs, ys = x64.reshape(-1), y64.reshape(-1)

    def element(v: Any, y: Any, w: Any, e: Any) -> Any:
        return e * (w * y * mpmath.log1p(mpmath.exp(-v)) + (1 - y) * mpmath.log1p(mpmath.exp(v)))

    with np.errstate(all="ignore"):
        sp_minus = np.where(xs < 0, np.inf, 0.0)  # softplus(-x) at x = ±inf
        sp_plus = np.where(xs > 0, np.inf, 0.0)
        c1, c2 = pw64 * ys, 1 - ys
        special = np.where(c1 == 0, 0.0, c1 * sp_minus) + np.where(c2 == 0, 0.0, c2 * sp_plus)
        special = np.where(np.isnan(xs) | np.isnan(ys) | np.isnan(pw64), np.nan, special)
        # an element of weight 0 contributes 0 whatever its loss; a weight that is not finite
        # times a finite loss (positive for finite x): that weight's sign times inf, or NaN
        finite_loss = np.isfinite(xs) & np.isfinite(ys) & np.isfinite(pw64)
        special = np.where(ew64 == 0, 0.0, ew64 * np.where(finite_loss, 1.0, special))
    finite = finite_loss & np.isfinite(ew64) & (ew64 != 0)
    idx = np.flatnonzero(finite)

    def values_at(dps: int | None, want_rounded: bool) -> np.ndarray:
        out = np.empty(xs.size, dtype=object if not want_rounded else np.float64)
        if not want_rounded:
            out[:] = [mpmath.mpf(float(v)) for v in special]
        else:
            out[:] = special
        if idx.size:
            vals = evaluate(
                element,
                xs[idx],
                ys[idx],
                pw64[idx],
                ew64[idx],
                dtype=fmt.dtype,
                rounded=want_rounded,
                dps=dps,
            )
            out[idx] = np.asarray(vals, dtype=out.dtype) if want_rounded else list(vals)
        return out

    if reduction == "none":
        if rounded:
            return from_float64(values_at(None, True).reshape(x64.shape), fmt)[()]
        return values_at(None, False).reshape(x64.shape)[()]
    dps = 2 * fmt.precision // 3 + 20
    previous = None
    while True:
        vals = values_at(dps, False)
        with mpmath.workprec(4 * dps + 64):
            total = mpmath.fsum(vals.tolist())
            if reduction == "mean":
                total = total / xs.size if xs.size else mpmath.mpf("nan")
        r = _exact.round_parts(_exact.parts(_real_or_nan(total)), fmt)
        if previous is not None and _same_float(previous, r):
            break
        previous = r
        dps *= 2
        if dps > 12_000:
            raise ArithmeticError("binary cross-entropy reference did not settle")
    if rounded:
        return from_float64(r, fmt)[()]
    return total


# ---------------------------------------------------------------------------------------------
# Condition numbers
# ---------------------------------------------------------------------------------------------

__all__ += ["condition_number"]


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _softplus64(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def condition_number(name: str, *args: Any, **kwargs: Any) -> Any:
    """Relative condition number ``kappa`` of a numdl function at its (exact binary) input.

    ``kappa = sum_j |x_j| |d f / d x_j| / |f(x)|``: a relative perturbation ``u`` of every input
    moves ``f`` by at most about ``kappa u`` relatively, so an algorithm that is backward stable to a
    few ``u`` is within a few ``kappa`` ULP.  numdl's accuracy claim for float64 is
    ``2 max(1, kappa)`` ULP.  Computed in float64 from this module's values (a tolerance, not an
    exact number); 0 where the function's value is not finite.

    =========================  ============================================================
    ``name``                   kappa (``p = softmax(x)``, ``W = sum_j |x_j| p_j``)
    =========================  ============================================================
    logsumexp                  ``W / |logsumexp(x)|``
    softmax                    ``|x_i| (1 - 2 p_i) + W``
    log_softmax                ``(|x_i| (1 - 2 p_i) + W) / |log_softmax(x)_i|``
    logaddexp                  ``(|x1| p1 + |x2| p2) / |logaddexp(x1, x2)|``
    log1mexp                   ``|x| / ((exp|x| - 1) |log1mexp(x)|)``
    sigmoid                    ``|x| sigmoid(-x)``
    log_sigmoid                ``|x| sigmoid(-x) / |log_sigmoid(x)|``
    softplus                   ``|x| sigmoid(x) / softplus(x)``
    cross_entropy              ``(sum_j |x_j| |p_j sum(w) - w_j| + [probabilities] sum_j
                               |w_j log_softmax_j|) / loss`` per row, ``w`` the smoothed target;
                               reductions weight the rows by their losses
    binary_cross_entropy_...   ``(|x| |dl/dx| + |y| |dl/dy| + |pw| |dl/dpw|) / l``, reduced the same
    =========================  ============================================================

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.reference import condition_number
    >>> kappa = condition_number("logsumexp", np.array([1000.0, 1000.0]))  # 1000 / (1000 + log 2)
    >>> round(float(kappa), 12)  # its last digits go through np.exp, which differs between CPUs
    0.99930733294
    """
    with np.errstate(all="ignore"):
        return _condition(name, *args, **kwargs)


def _softmax_kappa(x: np.ndarray, axis: Any) -> tuple[np.ndarray, np.ndarray]:
    """``p`` and ``|x_i| (1 - p_i) + sum_{j != i} |x_j| p_j``; for the largest entry both
    brackets are sums over the other entries (``1 - p_k`` would cancel to 0 when ``p_k`` rounds
    to 1)."""
    (ax,) = _reduction_axes(axis, x.ndim)
    x2, _ = _to_rows(x, (ax,))
    p = softmax(x2, -1, dtype=np.float64).astype(np.float64)
    rows = np.arange(x2.shape[0])
    k = np.argmax(p, axis=1)
    top = np.zeros(p.shape, dtype=bool)
    top[rows, k] = True
    xp_ = np.abs(x2) * p
    w = np.nansum(xp_, axis=1, keepdims=True)
    others_p = np.sum(np.where(top, 0.0, p), axis=1, keepdims=True)
    others_w = np.nansum(np.where(top, 0.0, xp_), axis=1, keepdims=True)
    num = np.where(top, np.abs(x2) * others_p + others_w, np.abs(x2) * (1 - p) + (w - xp_))
    return _from_rows(p, x.shape, (ax,)), _from_rows(num, x.shape, (ax,))


def _finite_or_zero(k: np.ndarray, value: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(value) & np.isfinite(k), k, 0.0)


def _condition(name: str, *args: Any, **kwargs: Any) -> Any:
    if name == "logsumexp":
        x = _float_input(args[0], "x")[0]
        axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
        keep = kwargs.get("keepdims", False)
        lse = logsumexp(x, axis, keepdims=True, dtype=np.float64).astype(np.float64)
        p = np.exp(x - lse)
        axes = _reduction_axes(axis, x.ndim)
        w = np.nansum(np.abs(x) * p, axis=axes, keepdims=True)
        k = _finite_or_zero(w / np.abs(lse), lse)
        return k if keep else np.squeeze(k, axis=axes)[()]
    if name in ("softmax", "log_softmax"):
        x = _float_input(args[0], "x")[0]
        axis = kwargs.get("axis", args[1] if len(args) > 1 else -1)
        _, k = _softmax_kappa(x, axis)
        if name == "log_softmax":
            ls = log_softmax(x, axis, dtype=np.float64).astype(np.float64)
            k = k / np.abs(ls)
            return _finite_or_zero(k, ls)
        return _finite_or_zero(k, x)
    if name == "logaddexp":
        x1, x2 = (_float_input(a, "x")[0] for a in args[:2])
        y = logaddexp(x1, x2, dtype=np.float64).astype(np.float64)
        k = (np.abs(x1) * np.exp(x1 - y) + np.abs(x2) * np.exp(x2 - y)) / np.abs(y)
        return _finite_or_zero(k, y)
    x = _float_input(args[0], "x")[0]
    if name == "log1mexp":
        a = np.abs(x)
        y = log1mexp(x, dtype=np.float64).astype(np.float64)
        return _finite_or_zero(a * np.exp(-a) / -np.expm1(-a) / np.abs(y), y)
    if name == "sigmoid":
        return _finite_or_zero(np.abs(x) * _sigmoid64(-x), x)
    if name == "log_sigmoid":
        y = log_sigmoid(x, dtype=np.float64).astype(np.float64)
        return _finite_or_zero(np.abs(x) * _sigmoid64(-x) / np.abs(y), y)
    if name == "softplus":
        y = softplus(x, dtype=np.float64).astype(np.float64)
        return _finite_or_zero(np.abs(x) * _sigmoid64(x) / y, y)
    if name == "cross_entropy":
        return _ce_condition(x, args[1], **kwargs)
    if name == "binary_cross_entropy_with_logits":
        y = _float_input(args[1], "target")[0]
        pw = kwargs.get("pos_weight")
        pw = np.ones(1) if pw is None else _float_input(pw, "pos_weight")[0]
        pw = np.broadcast_to(pw, x.shape)
        s_minus, s_plus = _softplus64(-x), _softplus64(x)
        loss = pw * y * s_minus + (1 - y) * s_plus
        dx = -pw * y * _sigmoid64(-x) + (1 - y) * _sigmoid64(x)
        dy = pw * s_minus - s_plus
        num = np.abs(x) * np.abs(dx) + np.abs(y) * np.abs(dy) + np.abs(pw) * np.abs(y * s_minus)
        ew = kwargs.get("weight")
        if ew is not None:  # loss * weight: the weight's own term |weight loss| joins the others
            ew = np.broadcast_to(_float_input(ew, "weight")[0], x.shape)
            num, loss = np.abs(ew) * (num + np.abs(loss)), ew * loss
        return _reduce_kappa(num, loss, kwargs.get("reduction", "mean"))
    raise ValueError(f"name={name!r} is not one of numdl's stable functions")


def _reduce_kappa(num: np.ndarray, loss: np.ndarray, reduction: str) -> Any:
    if reduction == "none":
        return _finite_or_zero(num / np.abs(loss), loss)
    total = np.sum(loss)
    return float(_finite_or_zero(np.asarray(np.sum(num) / abs(total)), np.asarray(total)))


def _ce_condition(x: np.ndarray, target: Any, **kwargs: Any) -> Any:
    axis = kwargs.get("axis", -1)
    eps = float(kwargs.get("label_smoothing", 0.0))
    ignore_index = kwargs.get("ignore_index")
    cw = kwargs.get("weight")
    cw = None if cw is None else _float_input(cw, "weight")[0]
    (ax,) = _reduction_axes(axis, x.ndim)
    x2, batch = _to_rows(x, (ax,))
    rows, classes = x2.shape
    p = softmax(x2, -1, dtype=np.float64).astype(np.float64)
    ls = log_softmax(x2, -1, dtype=np.float64).astype(np.float64)
    t_arr = _exact.as_array(target)
    if t_arr.dtype.kind in "iu":
        t = t_arr.reshape(-1).astype(np.int64)
        ignored = t == ignore_index if ignore_index is not None else np.zeros(rows, bool)
        w = np.full((rows, classes), eps / classes)
        w[np.arange(rows), np.where(ignored, 0, t)] += 1 - eps
        extra = np.zeros(rows)
        if cw is not None:  # the weights are inputs too: their terms |v_c log_softmax_c|
            w = w * cw
            extra = np.nansum(np.abs(np.where(w == 0, 0.0, w * ls)), axis=1)
    else:
        probs = _to_rows(_float_input(target, "target")[0], (ax,))[0]
        w = (1 - eps) * probs + eps / classes
        if cw is not None:
            w = w * cw
        ignored = np.zeros(rows, bool)
        extra = np.nansum(np.abs(np.where(w == 0, 0.0, w * ls)), axis=1)
    loss = -np.nansum(np.where(w == 0, 0.0, w * ls), axis=1)
    # d loss / d x_j = p_j sum(w) - w_j; at the largest entry p_k rounds to 1 for a confident
    # prediction, so there it is (sum of the other w) - sum(w) (sum of the other p).
    top = np.zeros(p.shape, dtype=bool)
    top[np.arange(rows), np.argmax(p, axis=1)] = True
    w_sum = w.sum(axis=1, keepdims=True)
    others_p = np.sum(np.where(top, 0.0, p), axis=1, keepdims=True)
    others_w = np.sum(np.where(top, 0.0, w), axis=1, keepdims=True)
    grad = np.where(top, others_w - w_sum * others_p, p * w_sum - w)
    num = np.nansum(np.abs(x2) * np.abs(grad), axis=1) + extra
    num, loss = np.where(ignored, 0.0, num), np.where(ignored, 0.0, loss)
    k = _reduce_kappa(num, loss, kwargs.get("reduction", "mean"))
    if cw is not None and t_arr.dtype.kind in "iu" and kwargs.get("reduction", "mean") == "mean":
        # the mean divides by sum_i weight_{t_i}: a quotient's condition adds the divisor's
        wt = np.where(ignored, 0.0, cw[np.where(ignored, 0, t)])
        w_sum = np.asarray(np.sum(wt))
        k = k + float(_finite_or_zero(np.asarray(np.sum(np.abs(wt)) / abs(w_sum)), w_sum))
    return np.reshape(k, batch) if kwargs.get("reduction", "mean") == "none" else k
