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

import decimal
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from mpmath import libmp

from numdl._dtypes import (
    Format,
    format_of,
    from_float64,
    is_format_dtype,
    round_float64_array,
    round_scaled,
    to_numpy,
)

__all__ = ["evaluate", "exact", "exact_sum", "round_to", "ulp_error"]

# Internal exact representation of one value: ("nan",), ("inf", negative) or
# ("finite", negative, num, den, exp) meaning (-1)**negative * num / den * 2**exp with num >= 0, den > 0.
_NAN = ("nan",)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _finite(negative: bool, num: int, den: int, exp: int = 0) -> tuple:
    if den != 1 and _is_power_of_two(den):
        exp -= den.bit_length() - 1
        den = 1
    return ("finite", bool(negative), num, den, exp)


def _from_fraction(q: Fraction, negative_zero: bool = False) -> tuple:
    if q == 0:
        return _finite(negative_zero, 0, 1)
    return _finite(q < 0, abs(q.numerator), q.denominator)


_SPECIAL_STRINGS = {
    "nan": _NAN,
    "+nan": _NAN,
    "-nan": _NAN,
    "inf": ("inf", False),
    "+inf": ("inf", False),
    "infinity": ("inf", False),
    "+infinity": ("inf", False),
    "-inf": ("inf", True),
    "-infinity": ("inf", True),
}


def _parts(v: Any, argname: str = "value") -> tuple:
    """Exact representation of one scalar (see the comment on _NAN)."""
    if isinstance(v, mpmath.mpc):
        if v.imag != 0:
            raise TypeError(f"{argname} must be real, got the complex mpmath value {v}")
        v = v.real
    if hasattr(v, "_mpf_"):
        mpf_tuple = v._mpf_
        if mpf_tuple == libmp.fnan:
            return _NAN
        if mpf_tuple in (libmp.finf, libmp.fninf):
            return ("inf", mpf_tuple == libmp.fninf)
        sign, man, exp, _ = mpf_tuple
        return ("finite", bool(sign), int(man), 1, int(exp))
    if isinstance(v, bool | np.bool_):
        raise TypeError(f"{argname} must be a number, got the bool {v!r}")
    if isinstance(v, int | np.integer):
        v = int(v)
        return ("finite", v < 0, abs(v), 1, 0)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _parts(v[()], argname)
    if isinstance(v, np.generic) and is_format_dtype(v.dtype):
        v = float(v)  # exact: float64 holds every supported format (ml_dtypes scalars included)
    if isinstance(v, float | np.floating):
        if isinstance(v, np.floating) and not is_format_dtype(v.dtype):
            num, den = v.as_integer_ratio() if np.isfinite(v) else (0, 0)  # e.g. longdouble
            if den:
                return _finite(num < 0, abs(int(num)), int(den))
        f = float(v)  # exact for every supported format
        if math.isnan(f):
            return _NAN
        if math.isinf(f):
            return ("inf", f < 0)
        num, den = f.as_integer_ratio()
        return _finite(math.copysign(1.0, f) < 0, abs(num), den)
    if isinstance(v, Fraction):
        return _from_fraction(v)
    if isinstance(v, decimal.Decimal):
        if v.is_nan():
            return _NAN
        if v.is_infinite():
            return ("inf", v < 0)
        return _from_fraction(Fraction(v), v.is_signed())
    if isinstance(v, str):
        key = v.strip().lower()
        if key in _SPECIAL_STRINGS:
            return _SPECIAL_STRINGS[key]
        try:
            q = Fraction(key)
        except ValueError:
            raise ValueError(f"{argname}={v!r} is not a decimal or fraction string") from None
        return _from_fraction(q, key.startswith("-"))
    raise TypeError(
        f"{argname} must be a real number (float, int, Fraction, Decimal, decimal string, mpmath "
        f"mpf, NumPy scalar) or an array of them, got {type(v).__name__}"
    )


def _parts_to_fraction(p: tuple) -> Fraction:
    _, negative, num, den, exp = p
    q = Fraction(num << exp, den) if exp >= 0 else Fraction(num, den << -exp)
    return -q if negative else q


def _round_parts(p: tuple, fmt: Format) -> float:
    if p[0] == "nan":
        return math.nan
    if p[0] == "inf":
        value = fmt.overflow_value
        return -value if p[1] else value
    _, negative, num, den, exp = p
    return round_scaled(negative, num, den, exp, fmt)


def _mpf_from_parts(p: tuple) -> mpmath.mpf:
    if p[0] == "nan":
        return mpmath.mpf("nan")
    if p[0] == "inf":
        return mpmath.mpf("-inf") if p[1] else mpmath.mpf("inf")
    _, negative, num, den, exp = p
    if den != 1:
        raise ValueError(f"{num}/{den} is not a binary fraction, so no mpf holds it exactly")
    return mpmath.mp.make_mpf(libmp.from_man_exp(-num if negative else num, exp))


def _is_scalar(x: Any) -> bool:
    return not isinstance(x, np.ndarray | list | tuple) and np.ndim(x) == 0 and not _is_tensor(x)


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _as_array(x: Any) -> np.ndarray:
    arr = to_numpy(x)
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    return arr


def _elements(arr: np.ndarray) -> list:
    """Flat list of Python scalars that convert exactly (float64 holds every supported format)."""
    if arr.dtype == object:
        return list(arr.ravel())
    if is_format_dtype(arr.dtype):
        return arr.astype(np.float64).ravel().tolist()
    if arr.dtype.kind in "iu":
        return [int(v) for v in arr.ravel().tolist()]
    if arr.dtype.kind == "b":
        raise TypeError("boolean arrays are not numbers here; convert them explicitly")
    if arr.dtype.kind == "f":  # longdouble: keep NumPy scalars, converted exactly by _parts
        return list(arr.ravel())
    raise TypeError(f"arrays of dtype {arr.dtype} are not supported")


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
    if _is_scalar(x):
        if isinstance(x, str):
            raise TypeError("x must be a number or an array of numbers, not a string")
        return _mpf_from_parts(_parts(x, "x"))
    arr = _as_array(x)
    if arr.dtype == object and any(isinstance(v, str) for v in arr.ravel()):
        raise TypeError("x must be a number or an array of numbers, not strings")
    out = np.empty(arr.shape, dtype=object)
    out.ravel()[:] = [_mpf_from_parts(_parts(v, "x")) for v in _elements(arr)]
    return out


def round_to(value: Any, dtype: Any) -> Any:
    """Correctly round exact values to a floating-point format (to nearest, ties to even).

    Parameters
    ----------
    value : mpmath.mpf, int, Fraction, Decimal, float, decimal string, array_like or torch.Tensor
        The exact value(s).  Python ints, Fractions, Decimals and decimal strings (``"0.1"``,
        ``"1/3"``, ``"-inf"``) are taken exactly; floats and float arrays are taken as their exact
        binary values; an ``mpf`` as the dyadic number it holds.
    dtype : dtype-like
        Target format, see :func:`numdl.floats.as_dtype`.

    Returns
    -------
    numpy scalar or numpy.ndarray
        A scalar of `dtype` for scalar input, else an array of `dtype` with the input's shape.

    Notes
    -----
    * Subnormals are produced with gradual underflow; a value at most half the smallest subnormal
      rounds to zero (exactly half is a tie and goes to the even neighbour, zero).
    * Overflow is decided after rounding with an unbounded exponent: a value at or beyond
      ``max + ulp(max)/2`` becomes ``±inf``; ``float8_e4m3fn`` has no infinity and gives NaN, as its
      ml_dtypes casts do (its threshold is 464: ``max = 448`` and ``464`` ties to 448).  ``±inf``
      inputs give ``±inf``, or NaN in ``float8_e4m3fn``.
    * Zero keeps its sign where the input has one (floats, ``"-0.0"``); mpf and int zeros are +0.
    * The result equals NumPy's casts from float64 to float32 and float16, and ml_dtypes' casts
      *from float32*.  ml_dtypes' casts from float64 to bfloat16 and float8 round twice (through
      float32) and differ from this function on about one input in 2**30, e.g.
      ``1 + 2**-8 + 2**-40`` -> bfloat16 is ``1.0078125`` here but ``1.0`` from
      ``np.float64(...).astype(ml_dtypes.bfloat16)``.  Float arrays take a vectorised integer path;
      other input is rounded element by element with Python integers.

    Examples
    --------
    >>> from numdl.reference import round_to
    >>> round_to("0.1", "float32"), round_to(2**-150, "float32"), round_to(1e39, "float32")
    (np.float32(0.1), np.float32(0.0), np.float32(inf))
    >>> float(round_to(465, "float8_e4m3fn")), float(round_to(464, "float8_e4m3fn"))
    (nan, 448.0)
    """
    fmt = format_of(dtype)
    if _is_scalar(value):
        rounded = _round_parts(_parts(value), fmt)
        return from_float64(rounded, fmt)[()]
    arr = _as_array(value)
    if is_format_dtype(arr.dtype):
        return round_float64_array(arr.astype(np.float64), fmt)
    rounded = [_round_parts(_parts(v), fmt) for v in _elements(arr)]
    return from_float64(np.reshape(rounded, arr.shape), fmt)


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
        r = _round_parts(e, fmt)
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
    diff = abs(_parts_to_fraction(c) - _parts_to_fraction(e)) / Fraction(2) ** ulp_exp
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
    c_arr = _as_array(computed)
    if not is_format_dtype(c_arr.dtype):
        raise TypeError(
            f"computed must be floats of a supported format (its dtype sets the ULP), got dtype "
            f"{c_arr.dtype}"
        )
    fmt = format_of(c_arr.dtype, argname="computed.dtype")
    e_arr = _as_array(exact)
    try:
        shape = np.broadcast_shapes(c_arr.shape, e_arr.shape)
    except ValueError:
        raise ValueError(
            f"computed (shape {c_arr.shape}) and exact (shape {e_arr.shape}) do not broadcast"
        ) from None
    c_list = _elements(np.broadcast_to(c_arr, shape))
    e_list = _elements(np.broadcast_to(e_arr, shape))
    errors = [
        _ulp_error_one(_parts(c, "computed"), _parts(e, "exact"), fmt)
        for c, e in zip(c_list, e_list, strict=True)
    ]
    out = np.array(errors, dtype=np.float64).reshape(shape)
    return float(out) if out.ndim == 0 else out


# Terms per bincount pass: |hi| < 2**27, so 2**26 of them keep float64 partial sums below 2**53.
_SUM_CHUNK = 1 << 26


def _sum_integer(x64: np.ndarray) -> tuple[int, int]:
    """``(S, B)`` with ``sum(x64) == S * 2**B`` exactly, for a finite float64 array.

    Each value is ``M * 2**E`` with an integer ``|M| < 2**53`` (from ``frexp``).  ``M`` is split as
    ``hi * 2**26 + lo`` with ``|hi| < 2**27`` and ``0 <= lo < 2**26``, and ``hi`` and ``lo`` are summed
    per exponent with ``np.bincount``: its float64 partial sums are integers below ``2**53`` for up
    to ``2**26`` terms, hence exact.  The at most ~2100 per-exponent sums are combined as Python ints.
    """
    total, base = 0, 0
    for start in range(0, x64.size, _SUM_CHUNK):
        part = x64[start : start + _SUM_CHUNK]
        fraction, exponent = np.frexp(part)
        m = (fraction * 2.0**53).astype(np.int64)  # exact: |fraction| < 1 has 53 bits
        e = exponent.astype(np.int64) - 53
        e_min = int(e.min())
        index = e - e_min
        hi = m >> 26
        lo = m & ((1 << 26) - 1)
        sum_hi = np.bincount(index, weights=hi.astype(np.float64))
        sum_lo = np.bincount(index, weights=lo.astype(np.float64))
        part_total = 0
        for k in np.flatnonzero((sum_hi != 0) | (sum_lo != 0)).tolist():
            part_total += ((int(sum_hi[k]) << 26) + int(sum_lo[k])) << k
        # Bring the running total and this chunk to a common base exponent.
        if start == 0:
            total, base = part_total, e_min
        elif e_min >= base:
            total += part_total << (e_min - base)
        else:
            total = (total << (base - e_min)) + part_total
            base = e_min
    return total, base


def _exact_sum_parts(arr: np.ndarray) -> tuple:
    """Exact sum of a float array in the internal representation; IEEE rules for inf and NaN."""
    x64 = arr.astype(np.float64, copy=False).ravel()
    if x64.size == 0:
        return _finite(False, 0, 1)
    finite = np.isfinite(x64)
    if not finite.all():
        if np.isnan(x64).any():
            return _NAN
        has_pos = bool((x64 == np.inf).any())
        has_neg = bool((x64 == -np.inf).any())
        return _NAN if has_pos and has_neg else ("inf", has_neg)
    total, base = _sum_integer(x64)
    if total == 0:
        # IEEE 754 6.3: an exact zero sum is +0 in round-to-nearest unless every term is -0.
        return _finite(bool(np.signbit(x64).all()), 0, 1)
    return _finite(total < 0, abs(total), 1, base)


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
    arr = _as_array(x)
    if not is_format_dtype(arr.dtype):
        raise TypeError(f"x must be an array of a supported float dtype, got dtype {arr.dtype}")
    return _mpf_from_parts(_exact_sum_parts(arr))


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
    arrays = [_as_array(a) for a in args]
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
        [_mpf_from_parts(_parts(v, "args")) for v in _elements(np.broadcast_to(a, shape))]
        for a in arrays
    ]
    results, values = [], []
    for inputs in zip(*columns, strict=True) if columns else [()]:
        prec = prec0
        with mpmath.workprec(prec):
            y = _real_or_nan(fn(*inputs))
        r = _round_parts(_parts(y, "fn(...)"), fmt)
        while True:
            with mpmath.workprec(2 * prec):
                y2 = _real_or_nan(fn(*inputs))
            r2 = _round_parts(_parts(y2, "fn(...)"), fmt)
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
        return out[()] if not args or all(_is_scalar(a) for a in args) else out
    out = from_float64(np.reshape(results, shape), fmt)
    return out[()] if not args or all(_is_scalar(a) for a in args) else out
