"""Exact values without mpmath: the bottom layer that floats, the kernels and the oracle share.

A real input is taken apart into an exact representation ("parts"), rounded correctly into any
supported format with integer arithmetic (:func:`numdl._dtypes.round_scaled`), summed exactly, and
``exp``/``log`` of such values are rounded correctly with the standard library's :mod:`decimal`
(whose ``exp`` and ``ln`` are correctly rounded at the context's precision) under Ziv's strategy:
evaluate with an error bound, and raise the precision until the bound decides the rounding.

Parts: ``("nan",)``, ``("inf", negative)`` or ``("finite", negative, num, den, exp)`` meaning
``(-1)**negative * num / den * 2**exp`` with ``num >= 0`` and ``den > 0`` (``den == 1`` for every
binary value).

mpmath numbers are accepted where a value is (their ``_mpf_`` tuple is read directly); this module
never imports mpmath itself unless it is handed one of its values, so ``import numdl.floats`` does
not load it.
"""

from __future__ import annotations

import decimal
import math
from fractions import Fraction
from typing import Any

import numpy as np

from numdl._dtypes import (
    Format,
    format_of,
    from_float64,
    is_format_dtype,
    round_float64_array,
    round_scaled,
    to_numpy,
)

__all__ = [
    "NAN",
    "as_array",
    "elements",
    "exact_sum_parts",
    "exp_rounded",
    "finite",
    "from_fraction",
    "is_scalar",
    "is_tensor",
    "ln_decimal",
    "parts",
    "parts_to_fraction",
    "round_parts",
    "round_to",
    "sum_integer",
]

NAN = ("nan",)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def finite(negative: bool, num: int, den: int, exp: int = 0) -> tuple:
    """The parts of ``(-1)**negative * num / den * 2**exp`` (a power-of-two `den` moves into `exp`)."""
    if den != 1 and _is_power_of_two(den):
        exp -= den.bit_length() - 1
        den = 1
    return ("finite", bool(negative), num, den, exp)


def from_fraction(q: Fraction, negative_zero: bool = False) -> tuple:
    if q == 0:
        return finite(negative_zero, 0, 1)
    return finite(q < 0, abs(q.numerator), q.denominator)


_SPECIAL_STRINGS = {
    "nan": NAN,
    "+nan": NAN,
    "-nan": NAN,
    "inf": ("inf", False),
    "+inf": ("inf", False),
    "infinity": ("inf", False),
    "+infinity": ("inf", False),
    "-inf": ("inf", True),
    "-infinity": ("inf", True),
}


def _mpf_parts(v: Any, argname: str) -> tuple:
    # Only reached with an mpmath value in hand, so mpmath is already imported.
    from mpmath import libmp

    if hasattr(v, "_mpc_"):
        if v.imag != 0:
            raise TypeError(f"{argname} must be real, got the complex mpmath value {v}")
        v = v.real
    mpf_tuple = v._mpf_
    if mpf_tuple == libmp.fnan:
        return NAN
    if mpf_tuple in (libmp.finf, libmp.fninf):
        return ("inf", mpf_tuple == libmp.fninf)
    sign, man, exp, _ = mpf_tuple
    return ("finite", bool(sign), int(man), 1, int(exp))


def parts(v: Any, argname: str = "value") -> tuple:
    """Exact representation of one real scalar (see the module docstring)."""
    if hasattr(v, "_mpf_") or hasattr(v, "_mpc_"):
        return _mpf_parts(v, argname)
    if isinstance(v, bool | np.bool_):
        raise TypeError(f"{argname} must be a number, got the bool {v!r}")
    if isinstance(v, int | np.integer):
        v = int(v)
        return ("finite", v < 0, abs(v), 1, 0)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return parts(v[()], argname)
    if isinstance(v, np.generic) and is_format_dtype(v.dtype):
        v = float(v)  # exact: float64 holds every supported format (ml_dtypes scalars included)
    if isinstance(v, float | np.floating):
        if isinstance(v, np.floating) and not is_format_dtype(v.dtype):
            num, den = v.as_integer_ratio() if np.isfinite(v) else (0, 0)  # e.g. longdouble
            if den:
                return finite(num < 0, abs(int(num)), int(den))
        f = float(v)  # exact for every supported format
        if math.isnan(f):
            return NAN
        if math.isinf(f):
            return ("inf", f < 0)
        num, den = f.as_integer_ratio()
        return finite(math.copysign(1.0, f) < 0, abs(num), den)
    if isinstance(v, Fraction):
        return from_fraction(v)
    if isinstance(v, decimal.Decimal):
        if v.is_nan():
            return NAN
        if v.is_infinite():
            return ("inf", v < 0)
        return from_fraction(Fraction(v), v.is_signed())
    if isinstance(v, str):
        key = v.strip().lower()
        if key in _SPECIAL_STRINGS:
            return _SPECIAL_STRINGS[key]
        try:
            q = Fraction(key)
        except ValueError:
            raise ValueError(f"{argname}={v!r} is not a decimal or fraction string") from None
        return from_fraction(q, key.startswith("-"))
    raise TypeError(
        f"{argname} must be a real number (float, int, Fraction, Decimal, decimal string, mpmath "
        f"mpf, NumPy scalar) or an array of them, got {type(v).__name__}"
    )


def parts_to_fraction(p: tuple) -> Fraction:
    """The Fraction a finite parts tuple stands for."""
    _, negative, num, den, exp = p
    q = Fraction(num << exp, den) if exp >= 0 else Fraction(num, den << -exp)
    return -q if negative else q


def round_parts(p: tuple, fmt: Format) -> float:
    """Parts correctly rounded into `fmt` (to nearest, ties to even), as the float64 holding it."""
    if p[0] == "nan":
        return math.nan
    if p[0] == "inf":
        value = fmt.overflow_value
        return -value if p[1] else value
    _, negative, num, den, exp = p
    return round_scaled(negative, num, den, exp, fmt)


def is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def is_scalar(x: Any) -> bool:
    return not isinstance(x, np.ndarray | list | tuple) and np.ndim(x) == 0 and not is_tensor(x)


def as_array(x: Any) -> np.ndarray:
    arr = to_numpy(x)
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    return arr


def elements(arr: np.ndarray) -> list:
    """Flat list of Python scalars that convert exactly (float64 holds every supported format)."""
    if arr.dtype == object:
        return list(arr.ravel())
    if is_format_dtype(arr.dtype):
        return arr.astype(np.float64).ravel().tolist()
    if arr.dtype.kind in "iu":
        return [int(v) for v in arr.ravel().tolist()]
    if arr.dtype.kind == "b":
        raise TypeError("boolean arrays are not numbers here; convert them explicitly")
    if arr.dtype.kind == "f":  # longdouble: keep NumPy scalars, converted exactly by parts()
        return list(arr.ravel())
    raise TypeError(f"arrays of dtype {arr.dtype} are not supported")


def round_to(value: Any, dtype: Any) -> Any:
    """Correctly round exact values to a floating-point format (to nearest, ties to even).

    Parameters
    ----------
    value : int, Fraction, Decimal, float, decimal string, mpmath.mpf, array_like or torch.Tensor
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
    if is_scalar(value):
        rounded = round_parts(parts(value), fmt)
        return from_float64(rounded, fmt)[()]
    arr = as_array(value)
    if is_format_dtype(arr.dtype):
        return round_float64_array(arr.astype(np.float64), fmt)
    rounded = [round_parts(parts(v), fmt) for v in elements(arr)]
    return from_float64(np.reshape(rounded, arr.shape), fmt)


# -- exact sums ------------------------------------------------------------------------------------

# Terms per bincount pass: |hi| < 2**27, so 2**26 of them keep float64 partial sums below 2**53.
_SUM_CHUNK = 1 << 26


def sum_integer(x64: np.ndarray, chunk: int = _SUM_CHUNK) -> tuple[int, int]:
    """``(S, B)`` with ``sum(x64) == S * 2**B`` exactly, for a finite float64 array.

    `chunk` (at most ``2**26``) is the number of terms per pass.

    Each value is ``M * 2**E`` with an integer ``|M| < 2**53`` (from ``frexp``).  ``M`` is split as
    ``hi * 2**26 + lo`` with ``|hi| < 2**27`` and ``0 <= lo < 2**26``, and ``hi`` and ``lo`` are summed
    per exponent with ``np.bincount``: its float64 partial sums are integers below ``2**53`` for up
    to ``2**26`` terms, hence exact.  The at most ~2100 per-exponent sums are combined as Python ints.
    """
    total, base = 0, 0
    if not 1 <= chunk <= _SUM_CHUNK:
        raise ValueError(f"chunk must be in [1, 2**26], got {chunk}")
    for start in range(0, x64.size, chunk):
        part = x64[start : start + chunk]
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


def exact_sum_parts(arr: np.ndarray) -> tuple:
    """Exact sum of a float array as parts; IEEE rules for inf and NaN."""
    x64 = arr.astype(np.float64, copy=False).ravel()
    if x64.size == 0:
        return finite(False, 0, 1)
    ok = np.isfinite(x64)
    if not ok.all():
        if np.isnan(x64).any():
            return NAN
        has_pos = bool((x64 == np.inf).any())
        has_neg = bool((x64 == -np.inf).any())
        return NAN if has_pos and has_neg else ("inf", has_neg)
    total, base = sum_integer(x64)
    if total == 0:
        # IEEE 754 6.3: an exact zero sum is +0 in round-to-nearest unless every term is -0.
        return finite(bool(np.signbit(x64).all()), 0, 1)
    return finite(total < 0, abs(total), 1, base)


# -- exp and log with the decimal module ---------------------------------------------------------


def _decimal(q: Fraction, ctx: decimal.Context) -> decimal.Decimal:
    return ctx.divide(decimal.Decimal(q.numerator), decimal.Decimal(q.denominator))


def ln_decimal(q: Fraction, digits: int = 60) -> decimal.Decimal:
    """``log(q)`` of a positive rational, correctly rounded to `digits` significant digits."""
    if q <= 0:
        raise ValueError(f"log of {q} <= 0")
    ctx = decimal.Context(prec=digits + 10, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    # A power of two times 2**k is split off so that huge and tiny q stay cheap.
    k = q.numerator.bit_length() - q.denominator.bit_length()
    r = q / Fraction(2) ** k
    out = ctx.add(ctx.ln(_decimal(r, ctx)), ctx.multiply(decimal.Decimal(k), ctx.ln(decimal.Decimal(2))))
    return decimal.Context(prec=digits).plus(out)


def exp_rounded(x: Any, dtype: Any) -> float:
    """``exp(x)`` of an exact real `x`, correctly rounded into `dtype` (as the float64 holding it).

    Ziv's strategy with :mod:`decimal`: ``Decimal.exp`` is correctly rounded to the context's
    precision, so its result ``e`` is within half a unit of its last digit of ``exp(x)``; when both
    ends of ``e`` plus or minus that bound round to the same value of `dtype`, that value is
    ``exp(x)`` rounded.  ``exp`` of a nonzero rational is irrational, so the loop ends.
    """
    fmt = format_of(dtype)
    p = parts(x, "x")
    if p[0] == "nan":
        return math.nan
    if p[0] == "inf":
        return 0.0 if p[1] else fmt.overflow_value
    q = parts_to_fraction(p)
    if q == 0:
        return 1.0
    digits = 2 * fmt.precision + 20
    while True:
        ctx = decimal.Context(prec=digits, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
        e = ctx.exp(_decimal(q, ctx))
        # half a unit in the last digit of e, plus the rounding of q into `digits` digits
        # (relative 10**(1 - digits) at most, which moves exp(q) by that much times |q|)
        ee = Fraction(e)
        if ee == 0:
            return 0.0
        unit = Fraction(10) ** (e.adjusted() - digits + 1)
        slack = unit + ee * (abs(q) + 1) * Fraction(10) ** (1 - digits) * 2
        lo = round_parts(from_fraction(ee - slack), fmt) if ee > slack else 0.0
        hi = round_parts(from_fraction(ee + slack), fmt)
        if lo == hi or (math.isnan(lo) and math.isnan(hi)):  # NaN: float8_e4m3fn's overflow
            return hi
        digits *= 2
