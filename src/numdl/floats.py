"""Floating-point formats for deep learning: their parameters, their bits, their spacing, and summation.

Six binary formats are supported, from float64 down to the two 8-bit formats of the OCP FP8
specification: float64, float32, float16, bfloat16, float8_e4m3fn and float8_e5m2 (the last three from
``ml_dtypes``).  Every function that takes a ``dtype`` accepts a NumPy/ml_dtypes dtype or scalar type,
a PyTorch dtype (when torch is already imported), or a name such as ``"half"`` or ``"fp8_e4m3"``; see
:func:`as_dtype`.

A format with precision ``p`` (significand bits including the implicit leading bit) and exponent
range ``[emin, emax]`` represents ``0``, ``±m * 2**(e - p + 1)`` with integers ``2**(p-1) <= m < 2**p``
and ``emin <= e <= emax`` (normal numbers), and ``±m * 2**(emin - p + 1)`` with ``0 < m < 2**(p-1)``
(subnormal numbers, gradual underflow); float8_e4m3fn has no infinity and gives its top pattern
``S.1111.111`` to NaN, so its largest value is 448.  Arithmetic rounds to nearest, ties to even.

References
----------
.. [1] IEEE Std 754-2019, *IEEE Standard for Floating-Point Arithmetic*.
.. [2] P. Micikevicius et al., "FP8 Formats for Deep Learning", arXiv:2209.05433, 2022; OCP 8-bit
       Floating Point Specification (OFP8), rev. 1.0, 2023.
.. [3] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002, ch. 2 & 4.
.. [4] D. Goldberg, "What every computer scientist should know about floating-point arithmetic",
       ACM Computing Surveys 23(1), 1991.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from numdl import _exact
from numdl._dtypes import (
    FORMATS,
    Format,
    as_dtype,
    format_of,
    from_float64,
    is_format_dtype,
    to_numpy,
)

__all__ = [
    "FORMATS",
    "SUMMATION_METHODS",
    "Decomposition",
    "FormatInfo",
    "as_dtype",
    "decompose",
    "format_info",
    "next_after",
    "summation",
    "ulp",
]


# ---------------------------------------------------------------------------------------------
# Format parameters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatInfo:
    """Parameters of a floating-point format (all values exact; see :func:`format_info`).

    Attributes
    ----------
    name : str
        NumPy's name of the dtype (``"float32"``, ``"bfloat16"``, ``"float8_e4m3fn"``, ...).
    dtype : numpy.dtype
        The dtype itself.
    bits, exponent_bits : int
        Storage width and width of the exponent field.
    precision : int
        ``p``, significand bits including the implicit leading bit (24 for float32).
    eps : float
        Machine epsilon ``2**(1 - p)``, the gap from 1 to the next larger float.  The unit roundoff
        (the bound on the relative error of one rounding) is ``u = eps / 2``.
    max : float
        Largest finite value.
    smallest_normal, smallest_subnormal : float
        ``2**emin`` and ``2**(emin - p + 1)``.
    decimal_digits : int
        ``floor(-log10(eps)) = floor((p - 1) log10 2)``, NumPy's ``finfo.precision`` and C's
        ``FLT_DIG``/``DBL_DIG``: every decimal with this many significant digits survives the
        round trip decimal -> format -> decimal.  ``ml_dtypes.finfo`` reports 1 for the float8
        formats by fiat; the formula gives 0 (``eps`` is 0.125 and 0.25), and 0 is stored here.
    exp_overflow : float
        Largest ``x`` of the format whose ``exp(x)``, correctly rounded to the format, is finite.
    exp_underflow : float
        Smallest ``x`` of the format whose ``exp(x)``, correctly rounded to the format, is not zero.
    has_infinity : bool
        False for float8_e4m3fn, where overflow produces NaN.
    """

    name: str
    dtype: np.dtype
    bits: int
    exponent_bits: int
    precision: int
    eps: float
    max: float
    smallest_normal: float
    smallest_subnormal: float
    decimal_digits: int
    exp_overflow: float
    exp_underflow: float
    has_infinity: bool


def _rounded_exp(x: Any, fmt: Format) -> float:
    return _exact.exp_rounded(x, fmt.dtype)


def _exp_thresholds(fmt: Format) -> tuple[float, float]:
    """The exp overflow/underflow thresholds of a format, from exact evaluation and a local search.

    ``exp(x)`` rounds to a non-finite value iff ``exp(x) >= max + ulp(max)/2`` and to zero iff
    ``exp(x) <= smallest_subnormal / 2`` (equality is impossible: ``exp`` of a nonzero rational is
    irrational).  The logarithms of these bounds, rounded into the format, are within a step of the
    answers; the loops settle the last step with exactly rounded ``exp``.
    """
    dtype = fmt.dtype
    top = (2 * fmt.max_significand + 1) * Fraction(2) ** (fmt.qmax - 1)
    x_hi = _exact.round_to(_exact.ln_decimal(top), dtype)
    x_lo = _exact.round_to(_exact.ln_decimal(Fraction(2) ** (fmt.qmin - 1)), dtype)
    while not math.isfinite(_rounded_exp(x_hi, fmt)):
        x_hi = next_after(x_hi, dtype, -1)
    while math.isfinite(_rounded_exp(next_after(x_hi, dtype, 1), fmt)):
        x_hi = next_after(x_hi, dtype, 1)
    while _rounded_exp(x_lo, fmt) == 0:
        x_lo = next_after(x_lo, dtype, 1)
    while _rounded_exp(next_after(x_lo, dtype, -1), fmt) != 0:
        x_lo = next_after(x_lo, dtype, -1)
    return float(x_hi), float(x_lo)


@functools.cache
def _format_info(dtype: np.dtype) -> FormatInfo:
    fmt = format_of(dtype)
    eps = math.ldexp(1.0, 1 - fmt.precision)
    exp_overflow, exp_underflow = _exp_thresholds(fmt)
    return FormatInfo(
        name=fmt.name,
        dtype=fmt.dtype,
        bits=fmt.bits,
        exponent_bits=fmt.exponent_bits,
        precision=fmt.precision,
        eps=eps,
        max=fmt.max,
        smallest_normal=math.ldexp(1.0, fmt.emin),
        smallest_subnormal=math.ldexp(1.0, fmt.qmin),
        decimal_digits=math.floor(-math.log10(eps)),
        exp_overflow=exp_overflow,
        exp_underflow=exp_underflow,
        has_infinity=fmt.has_inf,
    )


def format_info(dtype: Any) -> FormatInfo:
    """Parameters of a floating-point format.

    Parameters
    ----------
    dtype : dtype-like
        See :func:`as_dtype`.

    Returns
    -------
    FormatInfo
        Frozen record; computed once per format and cached.

    Notes
    -----
    ``exp_overflow`` and ``exp_underflow`` are computed, not tabulated: ``log(max + ulp(max)/2)``
    and ``log(smallest_subnormal / 2)`` are evaluated with the standard library's :mod:`decimal`,
    rounded into the format, and the last step is settled by rounding ``exp`` of the neighbouring
    floats correctly (``Decimal.exp`` under Ziv's strategy; no mpmath, so ``import numdl.floats``
    stays light; the tests check every threshold against :func:`numdl.reference.evaluate`).  They bound the inputs for which a correctly rounded
    ``exp`` is finite and nonzero: ``88.72283`` and ``-103.97208`` for float32 (the latter counts
    subnormals), ``11.0859375`` and ``-17.328125`` for float16.  float8_e4m3fn has no infinity, so
    its ``exp_overflow`` (6.0) is the largest ``x`` whose ``exp`` is not NaN: its overflow threshold
    is 464, since 464 is the tie between 448 and the NaN pattern and rounds to even, 448.

    Examples
    --------
    >>> from numdl.floats import format_info
    >>> info = format_info("bfloat16")
    >>> info.precision, info.eps, info.max, info.exp_overflow
    (8, 0.0078125, 3.3895313892515355e+38, 88.5)
    """
    return _format_info(as_dtype(dtype))


# ---------------------------------------------------------------------------------------------
# Bits
# ---------------------------------------------------------------------------------------------


def _category(fmt: Format, magnitude_bits: int) -> str:
    e_field = magnitude_bits >> fmt.mantissa_bits
    fraction = magnitude_bits & ((1 << fmt.mantissa_bits) - 1)
    all_ones = (1 << fmt.exponent_bits) - 1
    if e_field == 0:
        return "zero" if fraction == 0 else "subnormal"
    if fmt.has_inf and e_field == all_ones:
        return "inf" if fraction == 0 else "nan"
    if not fmt.has_inf and magnitude_bits == (1 << (fmt.bits - 1)) - 1:
        return "nan"
    return "normal"


def _exact_decimal(value: float) -> str:
    """Every binary float is ``n / 2**k`` = ``n * 5**k / 10**k``: a finite decimal, written in full."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    num, den = abs(value).as_integer_ratio()
    k = den.bit_length() - 1
    if k == 0:
        return f"{sign}{num}"
    digits = str(num * 5**k).rjust(k + 1, "0")
    return f"{sign}{digits[:-k]}.{digits[-k:]}".rstrip("0").rstrip(".")


def _exact_fraction(value: float) -> str:
    if not math.isfinite(value):
        return _exact_decimal(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    num, den = abs(value).as_integer_ratio()
    return f"{sign}{num}" if den == 1 else f"{sign}{num}/{den}"


@dataclass(frozen=True)
class Decomposition:
    """A value rounded to a format, taken apart (see :func:`decompose`).

    Attributes
    ----------
    dtype : str
        Name of the format.
    value : float
        The value after rounding to the format (exact as a Python float).
    sign : int
        Sign bit, 0 or 1.
    exponent_bits, significand_bits : str
        The exponent field and the stored (trailing) significand field, as strings of ``0``/``1``;
        the implicit leading bit is not stored.
    biased_exponent : int
        The exponent field as an integer.
    exponent : int or None
        Unbiased exponent ``e`` with ``|value| = 1.f * 2**e`` (normal) or ``0.f * 2**emin``
        (subnormal and zero, whose exponent field is 0 but which use ``emin = 1 - bias``); None for
        inf and NaN.
    category : str
        ``"zero"``, ``"subnormal"``, ``"normal"``, ``"inf"`` or ``"nan"``.
    bits : int
        The raw bit pattern.
    bit_string : str
        The bit pattern, ``bits`` characters, sign first.
    exact_decimal : str
        The exact value of the bits in decimal, every digit (``"nan"``, ``"inf"``, ``"-0"`` for the
        specials).
    exact_fraction : str
        The exact value as ``"numerator/denominator"`` in lowest terms (or an integer).
    ulp : float
        :func:`ulp` of the value: the gap to the next float away from zero.
    inexact : bool
        The rounded value differs from the input (NaN counts as equal to NaN).
    overflow : bool
        The input was finite and the result is not (inf, or NaN in float8_e4m3fn).
    underflow : bool
        The input was nonzero and finite and the result is zero (total underflow).  IEEE 754 raises
        its underflow flag more widely, for every inexact result below ``smallest_normal``: that is
        ``subnormal and inexact`` (or ``underflow``).
    subnormal : bool
        The result is subnormal: it keeps fewer than ``precision`` significant bits.
    """

    dtype: str
    value: float
    sign: int
    exponent_bits: str
    significand_bits: str
    biased_exponent: int
    exponent: int | None
    category: str
    bits: int
    bit_string: str
    exact_decimal: str
    exact_fraction: str
    ulp: float
    inexact: bool
    overflow: bool
    underflow: bool
    subnormal: bool

    def __str__(self) -> str:
        flags = [
            name
            for name in ("inexact", "overflow", "underflow", "subnormal")
            if getattr(self, name)
        ]
        hex_digits = (len(self.bit_string) + 3) // 4
        exponent = (
            ""
            if self.exponent is None
            else f", exponent {self.exponent} (field {self.biased_exponent})"
        )
        return (
            f"{self.dtype}: {self.exact_decimal}\n"
            f"  bits {self.sign} {self.exponent_bits} {self.significand_bits} (0x{self.bits:0{hex_digits}X})\n"
            f"  {self.category}{exponent}, ulp {self.ulp!r}"
            + (f"; {', '.join(flags)}" if flags else "")
        )


def decompose(x: Any, dtype: Any) -> Decomposition:
    """Round a number to a format and show its bits, its exact value and what the rounding did.

    Parameters
    ----------
    x : float, int, str, Fraction, Decimal, mpmath.mpf or NumPy scalar
        The number.  A decimal string (``"0.1"``) is taken exactly and rounded once; a Python float is
        already the float64 nearest to its literal, so ``decompose(0.1, "float32")`` rounds that
        float64 (which is what ``np.float32(0.1)`` does too).
    dtype : dtype-like
        The format, see :func:`as_dtype`.

    Returns
    -------
    Decomposition

    Raises
    ------
    TypeError
        For arrays (take one element at a time) and non-numbers.

    Notes
    -----
    Rounding is :func:`numdl.reference.round_to` (defined without mpmath): to nearest, ties to even, overflow to ±inf (NaN
    in float8_e4m3fn).  A NumPy scalar already in `dtype` keeps its exact bits (NaN payloads too).

    Examples
    --------
    >>> from numdl.floats import decompose
    >>> d = decompose("0.1", "float32")
    >>> d.bit_string, d.exact_decimal
    ('00111101110011001100110011001101', '0.100000001490116119384765625')
    >>> decompose(1e-8, "float16").underflow, decompose(1e-5, "float16").subnormal
    (True, True)
    """
    fmt = format_of(dtype)
    if isinstance(x, np.ndarray | list | tuple) or _exact.is_tensor(x):
        raise TypeError("x must be a single number; decompose the elements of an array one by one")
    parts = _exact.parts(x, "x")
    if isinstance(x, np.generic) and x.dtype == fmt.dtype:
        stored = np.asarray(x)
    else:
        stored = from_float64(_exact.round_parts(parts, fmt), fmt)
    pattern = int(stored.view(fmt.uint).item())
    value = float(stored.astype(np.float64))
    magnitude = pattern & (fmt.sign_mask - 1)
    category = _category(fmt, magnitude)
    bit_string = format(pattern, f"0{fmt.bits}b")
    e_field = magnitude >> fmt.mantissa_bits
    if category in ("zero", "subnormal"):
        exponent: int | None = fmt.emin
    elif category == "normal":
        exponent = e_field - fmt.bias
    else:
        exponent = None
    finite_input = parts[0] == "finite"
    if parts[0] == "nan":
        inexact = not math.isnan(value)
    elif parts[0] == "inf":
        inexact = not (math.isinf(value) and (value < 0) == parts[1])
    else:
        inexact = not math.isfinite(value) or _exact.parts_to_fraction(parts) != Fraction(value)
    return Decomposition(
        dtype=fmt.name,
        value=value,
        sign=pattern >> (fmt.bits - 1),
        exponent_bits=bit_string[1 : 1 + fmt.exponent_bits],
        significand_bits=bit_string[1 + fmt.exponent_bits :],
        biased_exponent=e_field,
        exponent=exponent,
        category=category,
        bits=pattern,
        bit_string=bit_string,
        exact_decimal=_exact_decimal(value),
        exact_fraction=_exact_fraction(value),
        ulp=float(ulp(stored[()], fmt.dtype)),
        inexact=inexact,
        overflow=finite_input and not math.isfinite(value),
        underflow=finite_input and parts[2] != 0 and value == 0,
        subnormal=category == "subnormal",
    )


# ---------------------------------------------------------------------------------------------
# Spacing
# ---------------------------------------------------------------------------------------------


def _in_format(x: Any, dtype: Any, argname: str = "x") -> tuple[np.ndarray, Format, bool]:
    """``x`` as an array of the format (rounded if needed), the format, and whether x was a scalar."""
    scalar = _exact.is_scalar(x)
    if dtype is None:
        arr = to_numpy(x)
        if arr.dtype.kind in "iub" or arr.dtype == object:
            raise TypeError(
                f"{argname} has dtype {arr.dtype}; pass dtype to say which format to use"
            )
        fmt = format_of(arr.dtype, argname=f"{argname}.dtype")
        return arr, fmt, scalar
    fmt = format_of(dtype)
    arr = to_numpy(x)
    if arr.dtype != fmt.dtype:
        arr = np.asarray(_exact.round_to(x, fmt.dtype))
    return arr, fmt, scalar


def ulp(x: Any, dtype: Any = None) -> Any:
    """Unit in the last place: the gap from ``|x|`` (rounded to `dtype`) to the next float away from zero.

    Parameters
    ----------
    x : array_like, scalar or torch.Tensor
        Values; rounded to `dtype` first (correctly, :func:`numdl.reference.round_to`).
    dtype : dtype-like, optional
        The format; default: the dtype of `x` (float64 for Python floats).

    Returns
    -------
    numpy scalar or numpy.ndarray of `dtype`
        Always positive (or inf/NaN); a scalar for scalar input.  Every ULP is a power of two that
        the format itself represents.

    Notes
    -----
    ``ulp(x) = 2**(max(e, emin) - p + 1)`` with ``e = floor(log2|x|)`` (Goldberg's definition;
    Muller et al., *Handbook of Floating-Point Arithmetic*, 2018, section 2.6).
    For every finite ``x`` below ``max`` this is the distance from ``|x|`` to the next float up;
    unlike ``numpy.spacing`` it is never negative (``np.spacing(-1.0)`` is ``-eps``).

    * ``ulp(±0)`` is the smallest subnormal, and so is the ULP of every subnormal.
    * ``ulp(max)`` is the spacing of the top binade, ``max - next_after(max, -1)`` in IEEE formats
      (``numpy.spacing(max)`` is inf, the distance to the "next" float inf).  In float8_e4m3fn
      ``ulp(448) = 32``, although 448 - 416 = 32 and the pattern above 448 is NaN.
    * ``ulp(±inf)`` is inf; ``ulp(nan)`` is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.floats import ulp
    >>> ulp(1.0), ulp(np.float32(1.0)), ulp(2048.0, "float16")
    (np.float64(2.220446049250313e-16), np.float32(1.1920929e-07), np.float16(2.0))
    """
    arr, fmt, scalar = _in_format(x, dtype)
    magnitude = (arr.view(fmt.uint) & np.array(fmt.sign_mask - 1, dtype=fmt.uint)).astype(np.int64)
    e_field = magnitude >> fmt.mantissa_bits
    exponent = np.where(e_field == 0, fmt.emin, e_field - fmt.bias) - (fmt.precision - 1)
    result = np.ldexp(1.0, exponent.astype(np.int32))
    if fmt.has_inf:
        top = e_field == (1 << fmt.exponent_bits) - 1
        fraction = magnitude & ((1 << fmt.mantissa_bits) - 1)
        result = np.where(top, np.where(fraction == 0, np.inf, np.nan), result)
    else:
        result = np.where(magnitude == (1 << (fmt.bits - 1)) - 1, np.nan, result)
    result = from_float64(result, fmt)
    return result[()] if scalar else result


def _steps_array(steps: Any) -> np.ndarray:
    arr = np.asarray(steps)
    if arr.dtype.kind not in "iu" or isinstance(steps, bool | np.bool_):
        raise TypeError(f"steps must be an integer or an integer array, got {steps!r}")
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        arr = np.minimum(arr, np.iinfo(np.int64).max)
    return arr.astype(np.int64)


def next_after(x: Any, dtype: Any = None, steps: Any = 1) -> Any:
    """The float `steps` places after `x` in `dtype` (before it for negative `steps`).

    Parameters
    ----------
    x : array_like, scalar or torch.Tensor
        Starting values; rounded to `dtype` first (correctly, :func:`numdl.reference.round_to`).
    dtype : dtype-like, optional
        The format; default: the dtype of `x` (float64 for Python floats).
    steps : int or array of int
        How many floats to move up (positive) or down (negative); broadcast against `x`.

    Returns
    -------
    numpy scalar or numpy.ndarray of `dtype`

    Notes
    -----
    The finite floats of a format, in increasing order, are consecutive integers once each bit
    pattern ``s|magnitude`` is mapped to ``±magnitude``; stepping is integer addition on that line,
    done with vector operations on the integer view, so it works for arrays and for every format.

    * ``+0`` and ``-0`` are one point of the line: one step up from either zero is the smallest
      subnormal, one step down is its negative.  A result of zero keeps the sign of `x`, as IEEE
      754's nextUp/nextDown do: one step up from ``-smallest_subnormal`` gives ``-0.0``.
    * Stepping saturates: past ``max`` the result is ``inf`` and stays there, past ``-max`` it is
      ``-inf``; ``next_after(inf, steps=-1)`` is ``max``.  In float8_e4m3fn, which has no infinity,
      past ``±max`` (448) the result is NaN.
    * NaN stays NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.floats import next_after
    >>> float(next_after(1.0, "bfloat16")), float(next_after(0.0, "float16", -1))
    (1.0078125, -5.960464477539063e-08)
    >>> next_after(np.float16(65504), steps=np.array([-1, 0, 1, 2])).tolist()
    [65472.0, 65504.0, inf, inf]
    """
    arr, fmt, scalar = _in_format(x, dtype)
    steps_arr = _steps_array(steps)
    scalar = scalar and steps_arr.ndim == 0
    arr, steps_arr = np.broadcast_arrays(arr, steps_arr)
    uint = fmt.uint
    raw = arr.view(uint).astype(np.uint64)
    sign_mask = np.uint64(fmt.sign_mask)
    negative = (raw & sign_mask) != 0
    magnitude = raw & ~sign_mask
    top = np.uint64(fmt.max_magnitude_bits + 1)  # +inf, or e4m3fn's NaN pattern
    is_nan = magnitude > top if fmt.has_inf else magnitude == top
    # Position on the line [0, 2*top]: 0 is -top (-inf), top is zero, 2*top is +inf.  Unsigned
    # arithmetic keeps float64's 2*top (about 2**64 - 2**53) in range.
    with np.errstate(over="ignore"):  # NaN magnitudes exceed top; they are restored below
        position = np.where(negative, top - magnitude, top + magnitude)
    up = steps_arr >= 0
    # |steps| without overflow at int64's minimum: ~k = -k - 1 >= 0 for negative k.
    amount = np.where(up, steps_arr, np.invert(steps_arr)).astype(np.uint64) + (~up).astype(
        np.uint64
    )
    room = np.where(up, 2 * top - position, position)
    amount = np.minimum(amount, room)
    position = np.where(up, position + amount, position - amount)
    result_negative = np.where(position == top, negative, position < top)
    result_magnitude = np.where(position >= top, position - top, top - position)
    bits = np.where(result_negative, result_magnitude | sign_mask, result_magnitude)
    # In float8_e4m3fn the end points of the line are the NaN patterns S.1111.111 already.
    bits = np.where(is_nan, raw, bits)
    result = bits.astype(uint).view(fmt.dtype)
    return result[()] if scalar else result


# ---------------------------------------------------------------------------------------------
# Summation
# ---------------------------------------------------------------------------------------------

SUMMATION_METHODS = ("naive", "pairwise", "kahan", "neumaier", "exact")

_BASE_CASE = 64  # at most this many terms: a scalar loop
_MAX_LANES = 8192  # lanes of the vectorised compensated sums, unless short lanes need more
_NAIVE_CHUNK = 1 << 16  # np.add.accumulate works on bounded buffers


def _as_summand_array(x: Any) -> np.ndarray:
    arr = to_numpy(x)
    if not is_format_dtype(arr.dtype):
        if arr.dtype.kind in "fc" or arr.dtype == object:
            raise TypeError(
                f"x has dtype {arr.dtype}; summation supports {', '.join(d.name for d in FORMATS)}"
            )
        raise TypeError(
            f"x has dtype {arr.dtype}; summation needs a floating-point array (convert it, e.g. "
            f"np.asarray(x, dtype=np.float64)) so that the precision of the sum is explicit"
        )
    return np.ascontiguousarray(arr).ravel()


def _naive(x: np.ndarray) -> Any:
    # np.add.accumulate stores every partial sum in x's dtype before the next addition, so each
    # step rounds to that dtype (np.add.reduce would use pairwise summation, and float32
    # accumulators for float16).  Starting from -0.0 keeps the first term exactly (-0 + x == x for
    # every x, including +0 and -0).
    carry = np.array(-0.0, dtype=x.dtype)
    buffer = np.empty(min(x.size, _NAIVE_CHUNK) + 1, dtype=x.dtype)
    for start in range(0, x.size, _NAIVE_CHUNK):
        chunk = x[start : start + _NAIVE_CHUNK]
        view = buffer[: chunk.size + 1]
        view[0] = carry
        view[1:] = chunk
        np.add.accumulate(view, out=view)
        carry = view[-1]
    return carry[()]


def _pairwise(x: np.ndarray) -> Any:
    # Level by level: y[i] = x[i] + x[i + h], h = n // 2; an odd last element moves up unchanged.
    # The tree has depth ceil(log2 n) and every addition rounds to x's dtype.
    level = x
    while level.size > 1:
        half = level.size // 2
        nxt = np.empty(half + level.size % 2, dtype=x.dtype)
        np.add(level[:half], level[half : 2 * half], out=nxt[:half])
        if level.size % 2:
            nxt[half] = level[-1]
        level = nxt
    return level[0]


def _scalar_compensated(values: np.ndarray, method: str) -> Any:
    """Sequential Kahan or Neumaier on scalars of the array's dtype."""
    dtype = values.dtype
    as_python = dtype == np.float64  # Python floats are IEEE binary64 and much faster
    items = values.tolist() if as_python else list(values)
    zero = 0.0 if as_python else dtype.type(0)
    s, c = zero, zero
    for x in items:
        if method == "kahan":
            y = x - c
            t = s + y
            c = (t - s) - y
        else:
            t = s + x
            # Neumaier: the rounding error of s + x, computed from the larger operand.
            if abs(s) >= abs(x):
                c += (s - t) + x
            else:
                c += (x - t) + s
        s = t
        if not math.isfinite(s):
            # The running sum overflowed (the terms are finite): the compensation is about to
            # compute inf - inf.  Return the overflow, as naive summation would.
            return dtype.type(s)
    return dtype.type(s if method == "kahan" else s + c)


def _kahan_step(
    row: np.ndarray, s: np.ndarray, c: np.ndarray, t: np.ndarray, y: np.ndarray, z: np.ndarray
) -> None:
    """One Kahan step in every lane, in place (``z`` unused)."""
    np.subtract(row, c, out=y)  # y = x - c
    np.add(s, y, out=t)  # t = s + y
    np.subtract(t, s, out=c)
    np.subtract(c, y, out=c)  # c = (t - s) - y: what t lost of y
    s[...] = t


def _kahan_step_guarded(
    row: np.ndarray, s: np.ndarray, c: np.ndarray, t: np.ndarray, y: np.ndarray, z: np.ndarray
) -> None:
    """Kahan step for lanes that overflow: an infinite running sum keeps a zero compensation.

    Otherwise ``c = (inf - s) - y`` is inf, the next ``y = x - c`` is -inf and ``s + y`` is
    ``inf - inf = NaN``: the overflow would turn into NaN instead of staying ±inf.
    """
    _kahan_step(row, s, c, t, y, z)
    np.copyto(c, 0, where=~np.isfinite(s))


def _neumaier_step(
    row: np.ndarray, s: np.ndarray, c: np.ndarray, t: np.ndarray, y: np.ndarray, z: np.ndarray
) -> None:
    """One Neumaier step in every lane, in place.

    TwoSum (Knuth): with ``t = s + x`` and ``z = t - s``, ``e = (s - (t - z)) + (x - z)`` is the
    exact rounding error of ``t``, the same number Neumaier's branch ``(s - t) + x`` or
    ``(x - t) + s`` produces, without the data-dependent branch.  If ``t`` overflows, ``e`` is NaN
    but ``s`` stays ±inf, which is all the caller looks at then.
    """
    np.add(s, row, out=t)
    np.subtract(t, s, out=z)  # z = t - s
    np.subtract(t, z, out=y)
    np.subtract(s, y, out=y)  # y = s - (t - z)
    np.subtract(row, z, out=z)  # z = x - z
    np.add(y, z, out=y)  # e
    np.add(c, y, out=c)
    s[...] = t


def _lane_rows(fmt: Format, method: str) -> int:
    """Most terms one lane may sum, so that a lane's second-order error is far below ``u``.

    Kahan's bound has a term ``m u**2`` and Neumaier's ``gamma_m**2 ~ (m u)**2`` (see
    :func:`summation`); ``m <= 2**(p/2)`` resp. ``2**(p/4)`` keeps it below ``u * 2**(-p/2)``.
    Long lanes in a short format fail the way naive summation does: in bfloat16, Neumaier's
    compensation (itself a naive sum) stalls once ``m u`` nears 1.
    """
    root = fmt.precision // 2 if method == "kahan" else fmt.precision // 4
    return min(4096, max(8, 1 << root))


def _lanes(x: np.ndarray, method: str, step: Any) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    fmt = format_of(x.dtype)
    # Many lanes make the vector operations long (fast); at most _lane_rows rows keep each
    # lane accurate; at least 3 rows per lane make 2 * lanes < n, so the recursion shrinks.
    lanes = min(n // 3, max(min(_MAX_LANES, n // _BASE_CASE), -(-n // _lane_rows(fmt, method))))
    rows = n // lanes
    table = x[: rows * lanes].reshape(rows, lanes)  # (rows, lanes): lane j sums column j
    tail = x[rows * lanes :]
    s = np.zeros(lanes, dtype=x.dtype)
    c = np.zeros(lanes, dtype=x.dtype)
    t, y, z = np.empty_like(s), np.empty_like(s), np.empty_like(s)
    for row in table:
        step(row, s, c, t, y, z)
    if tail.size:
        k = tail.size
        step(tail, s[:k], c[:k], t[:k], y[:k], z[:k])
    return s, c


def _compensated(x: np.ndarray, method: str) -> Any:
    """Kahan/Neumaier over lanes: the sum of finite `x` in x's dtype."""
    if x.size <= _BASE_CASE:
        return _scalar_compensated(x, method)
    step = _kahan_step if method == "kahan" else _neumaier_step
    s, c = _lanes(x, method, step)
    if not np.isfinite(s).all():
        # Some lane's running sum overflowed.  Kahan's NaN would hide the sign: redo the lanes
        # with the guarded step, then report the overflow as naive summation would, by adding
        # the lanes' sums (±inf, NaN if lanes overflowed both ways, or in float8_e4m3fn).
        if method == "kahan":
            s, _ = _lanes(x, method, _kahan_step_guarded)
        return _pairwise(s)
    # Each lane holds the unevaluated sum s + c (Neumaier) or s - c (Kahan); sum those 2*lanes
    # numbers the same way.
    rest = np.concatenate([s, c if method == "neumaier" else -c])
    return _compensated(rest, method)


def _nonfinite_sum(x: np.ndarray) -> Any | None:
    """IEEE result of a sum with inf or NaN terms, or None if every term is finite."""
    finite = np.isfinite(x)
    if finite.all():
        return None
    if np.isnan(x).any():
        return x.dtype.type(np.nan)
    has_pos = bool((x == np.inf).any())
    has_neg = bool((x == -np.inf).any())
    if has_pos and has_neg:
        return x.dtype.type(np.nan)
    return x.dtype.type(-np.inf if has_neg else np.inf)


def summation(x: Any, method: str = "pairwise") -> Any:
    """Sum all elements of a float array in its own precision, by one of five algorithms.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Floats of one of the supported dtypes (every element is summed).  Python lists of floats
        become float64.  Integer and boolean input is rejected (``TypeError``): convert it, so that
        the precision of the sum is a visible choice.
    method : {"naive", "pairwise", "kahan", "neumaier", "exact"}
        The algorithm.  All additions are IEEE additions in x's dtype (for float16, bfloat16 and
        float8, NumPy/ml_dtypes add in float32 and round once; since ``24 >= 2p + 2`` that double
        rounding is innocuous and each addition is correctly rounded in x's format).

    Returns
    -------
    numpy scalar of x's dtype
        ``0`` for empty input.

    Notes
    -----
    With ``u = eps / 2`` the unit roundoff, ``S = sum |x_i|`` and ``s`` the exact sum, ``n`` terms
    ([3]_ ch. 4; error bounds to first order):

    ``"naive"``
        ``((x0 + x1) + x2) + ...`` left to right, every partial sum rounded to x's dtype (via
        ``np.add.accumulate``).  ``|error| <= (n - 1) u S``.  Summing ones in float16 stalls at
        2048, where ``2048 + 1`` is a tie that rounds back to 2048.
    ``"pairwise"``
        A true pairwise (cascade) recursion in x's dtype: ``y_i = x_i + x_{i+h}``, ``h = n // 2``,
        repeated on ``y``; the tree has depth ``ceil(log2 n)``.  ``|error| <= ceil(log2 n) u S``.
        This is not NumPy's ``np.sum``, which adds blocks of 128 terms through 8 accumulators
        before recursing, and which accumulates float16 in float32.
    ``"kahan"``
        Kahan's compensated summation ``y = x_i - c; t = s + y; c = (t - s) - y; s = t``, run
        in ``K`` independent lanes with vector operations: lane ``j`` sums ``x_j, x_{j+K}, ...``
        sequentially.  ``K`` is 8192 (or ``n // 64`` if smaller), raised where needed so that no
        lane sums more than ``m = min(4096, max(8, 2**(p // 2)))`` terms.  The ``2K`` numbers
        ``s_j`` and ``-c_j`` (each lane's sum is ``s_j - c_j``) are then summed the same way, and
        so on, until at most 64 numbers remain for a sequential loop.  With ``L`` lane stages
        (``L = 3`` for 10**7 float32 terms) and Knuth's bound ``(2u + O(m u**2))`` times the sum
        of magnitudes for each stage, ``|error| <= (2(L + 1) u + O(L m u**2)) S``: still free of
        ``n`` to first order, against ``2u + O(n u**2)`` for one sequential pass ([3]_ 4.3).
        Kahan's weakness remains: the compensation is lost when a term is larger than the running
        sum, so ``[1, 1e100, 1, -1e100]`` gives 0.
    ``"neumaier"``
        Neumaier's variant: ``c`` accumulates the exact error of every addition ``t = s + x``
        and the result is ``s + c``.  The error is computed branch-free with Knuth's TwoSum,
        which yields exactly the number Neumaier's ``(s - t) + x`` / ``(x - t) + s`` branch does;
        this is Ogita, Rump and Oishi's Sum2 [7]_, with ``|error| <= u |s| + gamma_{n-1}**2 S``
        for one sequential pass, ``gamma_k = k u / (1 - k u)``: as if summed in twice the
        precision and rounded once.  Same lanes as Kahan, except that a lane sums at most
        ``m = min(4096, max(8, 2**(p // 4)))`` terms, because the ``(m u)**2`` term grows fast:
        in bfloat16 the compensation, a naive sum itself, stalls once ``m u`` nears 1.  The
        pairs ``(s_j, c_j)`` go to the next stage unrounded, so
        ``|error| <= u |s| + L gamma_m**2 S (1 + O(u))`` with ``gamma_m**2 <= u 2**(-p/2)``
        to first order.  ``[1, 1e100, 1, -1e100]`` gives 2.
    ``"exact"``
        The exact sum (:func:`numdl.reference.exact_sum`, integer arithmetic) correctly rounded
        once to x's dtype.  ``|error| <= u |s|``; overflow only if the correctly rounded sum does.
        (``math.fsum`` followed by a cast would round twice, first to float64.)

    Every method is vectorised; for 10**6 float32 terms on one core, about 0.3 ns per element
    (pairwise), 1-2 ns (kahan, neumaier), 3.5 ns (naive) and 20 ns (exact); float16, bfloat16
    and float8 arithmetic is emulated by NumPy/ml_dtypes and several times slower.  See
    ``benchmarks/summation.py``.

    Special values: ``"naive"`` and ``"pairwise"`` do plain IEEE arithmetic in their order (NaN
    propagates, ``inf + -inf`` is NaN, overflow gives ±inf, or NaN in float8_e4m3fn).  The others
    first look for non-finite terms: NaN, or both ``+inf`` and ``-inf``, give NaN; otherwise an
    infinite term gives that infinity -- the compensation terms never see ``inf - inf``.  If a
    running sum of finite terms overflows in ``"kahan"``/``"neumaier"``, the overflowed sums are
    returned (±inf, NaN if lanes overflowed in both directions), as naive summation would, instead
    of the NaN the compensation would produce.  An exact zero sum is ``-0.0`` only if every term is
    ``-0.0``.

    References
    ----------
    .. [3] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002,
           sections 4.2-4.3.
    .. [5] W. Kahan, "Further remarks on reducing truncation errors", CACM 8(1), 1965.
    .. [6] A. Neumaier, "Rundungsfehleranalyse einiger Verfahren zur Summation endlicher Summen",
           ZAMM 54(1), 1974.
    .. [7] T. Ogita, S. M. Rump and S. Oishi, "Accurate sum and dot product", SIAM J. Sci.
           Comput. 26(6), 2005, Proposition 4.5.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.floats import summation
    >>> x = np.ones(4096, dtype=np.float16)
    >>> [float(summation(x, m)) for m in ("naive", "pairwise", "exact")]
    [2048.0, 4096.0, 4096.0]
    >>> y = np.array([1.0, 1e100, 1.0, -1e100])
    >>> [float(summation(y, m)) for m in ("naive", "kahan", "neumaier")]
    [0.0, 0.0, 2.0]
    """
    if not isinstance(method, str) or method not in SUMMATION_METHODS:
        raise ValueError(f"method={method!r} is not one of {', '.join(SUMMATION_METHODS)}")
    arr = _as_summand_array(x)
    dtype = arr.dtype
    if arr.size == 0:
        return dtype.type(0)
    with np.errstate(all="ignore"):
        if method == "naive":
            return _naive(arr)
        if method == "pairwise":
            return _pairwise(arr)
        special = _nonfinite_sum(arr)
        if special is not None:
            return special
        if method == "exact":
            parts = _exact.exact_sum_parts(arr)
            rounded = _exact.round_parts(parts, format_of(dtype))
            return from_float64(rounded, format_of(dtype))[()]
        result = _compensated(arr, method)
        if result == 0 and np.signbit(arr).all():
            # The compensated loops start from +0; IEEE's sum of -0s is -0.
            return dtype.type(-0.0)
        return result
