"""Floating-point formats known to numdl: resolution of dtype arguments and exact rounding kernels.

This private module is the single table of the six binary formats numdl supports and the integer
arithmetic that rounds exact values into them.  The public faces are :func:`numdl.floats.as_dtype`,
:data:`numdl.floats.FORMATS` and :func:`numdl.reference.round_to`.

Every format here is a binary format with round-to-nearest-even arithmetic and gradual underflow.
Values are written ``N * 2**q`` with an integer significand ``N``; a format with precision ``p``
(significand bits including the implicit one) and minimum normal exponent ``emin`` places every finite
value on the grid ``2**(max(e, emin) - p + 1)`` where ``e = floor(log2|x|)``.  Rounding is therefore
one integer division with ties to even, followed by an overflow check at the top binade.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "FORMATS",
    "SUPPORTED_NAMES",
    "Format",
    "as_dtype",
    "format_of",
    "from_float64",
    "is_format_dtype",
    "round_float64_array",
    "round_scaled",
    "to_numpy",
]


@dataclass(frozen=True)
class Format:
    """Bit-level description of one binary floating-point format.

    Attributes
    ----------
    dtype : numpy.dtype
        The NumPy (or ml_dtypes) dtype.
    bits : int
        Storage width.
    exponent_bits, mantissa_bits : int
        Widths of the biased exponent field and of the stored (trailing) significand field.
    bias : int
        Exponent bias; a normal value with biased exponent ``E`` is ``1.m * 2**(E - bias)``.
    emax : int
        Largest unbiased exponent of a finite value.
    has_inf : bool
        False for ``float8_e4m3fn``, whose all-ones exponent field still encodes finite values and
        whose only non-finite encodings are NaN (``S.1111.111``).
    max_significand : int
        Integer significand of the largest finite value on the top binade's grid:
        ``2**p - 1`` for IEEE-like formats, ``2**p - 2`` for ``float8_e4m3fn`` (448 = 14 * 2**5),
        whose ``S.1111.111`` pattern is NaN.
    """

    dtype: np.dtype
    bits: int
    exponent_bits: int
    mantissa_bits: int
    bias: int
    emax: int
    has_inf: bool
    max_significand: int

    @property
    def name(self) -> str:
        return self.dtype.name

    @property
    def precision(self) -> int:
        return self.mantissa_bits + 1

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def qmin(self) -> int:
        """Exponent of the smallest subnormal, ``emin - p + 1``."""
        return self.emin - self.precision + 1

    @property
    def qmax(self) -> int:
        """Exponent of the ULP of the top binade, ``emax - p + 1``."""
        return self.emax - self.precision + 1

    @property
    def max(self) -> float:
        return math.ldexp(self.max_significand, self.qmax)

    @property
    def uint(self) -> np.dtype:
        """Unsigned integer dtype of the same width, for bit views."""
        return np.dtype(f"u{self.bits // 8}")

    @property
    def sign_mask(self) -> int:
        return 1 << (self.bits - 1)

    @property
    def max_magnitude_bits(self) -> int:
        """Bit pattern (sign cleared) of the largest finite value."""
        if self.has_inf:
            return ((1 << self.exponent_bits) - 2) << self.mantissa_bits | (
                (1 << self.mantissa_bits) - 1
            )
        return (1 << (self.bits - 1)) - 2

    @property
    def overflow_value(self) -> float:
        """What an overflowing positive result becomes: +inf, or NaN where there is no infinity."""
        return math.inf if self.has_inf else math.nan


def _ieee(dtype: Any, exponent_bits: int, mantissa_bits: int) -> Format:
    bias = (1 << (exponent_bits - 1)) - 1
    precision = mantissa_bits + 1
    return Format(
        dtype=np.dtype(dtype),
        bits=1 + exponent_bits + mantissa_bits,
        exponent_bits=exponent_bits,
        mantissa_bits=mantissa_bits,
        bias=bias,
        emax=bias,
        has_inf=True,
        max_significand=(1 << precision) - 1,
    )


# Ordered by decreasing width; float16 before bfloat16 because it is more precise at equal width.
_FORMAT_LIST = (
    _ieee(np.float64, 11, 52),
    _ieee(np.float32, 8, 23),
    _ieee(np.float16, 5, 10),
    _ieee(ml_dtypes.bfloat16, 8, 7),
    # e4m3fn ("fn": finite, NaN only): bias 7, the all-ones exponent field holds normal numbers up
    # to 1.110 * 2**8 = 448, and S.1111.111 is NaN.
    Format(
        dtype=np.dtype(ml_dtypes.float8_e4m3fn),
        bits=8,
        exponent_bits=4,
        mantissa_bits=3,
        bias=7,
        emax=8,
        has_inf=False,
        max_significand=(1 << 4) - 2,
    ),
    _ieee(ml_dtypes.float8_e5m2, 5, 2),
)

FORMATS: tuple[np.dtype, ...] = tuple(f.dtype for f in _FORMAT_LIST)
_BY_DTYPE = {f.dtype: f for f in _FORMAT_LIST}

_ALIASES = {
    "float64": ("float64", "f8", "double", "fp64", "f64", "float"),
    "float32": ("float32", "f4", "single", "fp32", "f32"),
    "float16": ("float16", "f2", "half", "fp16", "f16"),
    "bfloat16": ("bfloat16", "bf16"),
    "float8_e4m3fn": ("float8_e4m3fn", "fp8_e4m3fn", "fp8_e4m3", "float8_e4m3", "e4m3fn", "e4m3"),
    "float8_e5m2": ("float8_e5m2", "fp8_e5m2", "e5m2"),
}
_NAME_TO_DTYPE = {
    alias: np.dtype(
        getattr(ml_dtypes, canon)
        if canon in ("bfloat16", "float8_e4m3fn", "float8_e5m2")
        else canon
    )
    for canon, aliases in _ALIASES.items()
    for alias in aliases
}
SUPPORTED_NAMES = ", ".join(sorted(_NAME_TO_DTYPE))


def _unsupported(dtype: Any, argname: str) -> ValueError:
    return ValueError(
        f"{argname}={dtype!r} is not a supported floating-point format; numdl supports "
        f"{', '.join(f.name for f in _FORMAT_LIST)} (names accepted: {SUPPORTED_NAMES})"
    )


def as_dtype(dtype: Any, *, argname: str = "dtype") -> np.dtype:
    """Resolve a dtype-like argument to one of the six supported NumPy dtypes.

    Parameters
    ----------
    dtype : numpy.dtype, scalar type, torch.dtype or str
        A NumPy/ml_dtypes dtype or scalar type (``np.float32``, ``ml_dtypes.bfloat16``), the Python
        type ``float`` (float64), a PyTorch dtype (recognised only if ``torch`` is already imported,
        so torch is never imported here), or a case-insensitive name such as ``"float16"``,
        ``"half"``, ``"bf16"``, ``"fp8_e4m3"``, ``"e5m2"``, ``"single"``, ``"double"``, ``"fp32"``;
        a ``"torch."`` prefix on a name is ignored.
    argname : str
        Name of the caller's argument, used in error messages.

    Returns
    -------
    numpy.dtype
        One of :data:`FORMATS`.

    Raises
    ------
    TypeError
        If `dtype` is not dtype-like at all (a number, a list, None).
    ValueError
        If `dtype` names a dtype that is not one of the six supported formats (int32, longdouble,
        complex64, float8_e4m3fnuz, an unknown name); the message lists the supported names.
    """
    if isinstance(dtype, str):
        key = dtype.strip().lower()
        key = key.removeprefix("torch.").removeprefix("np.").removeprefix("numpy.")
        if key in _NAME_TO_DTYPE:
            return _NAME_TO_DTYPE[key]
        raise _unsupported(dtype, argname)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, torch.dtype):
        key = str(dtype).removeprefix("torch.")
        if key in _NAME_TO_DTYPE:
            return _NAME_TO_DTYPE[key]
        raise _unsupported(dtype, argname)
    if dtype is None or isinstance(dtype, bool | int | float | complex | list | tuple | dict):
        raise TypeError(
            f"{argname} must be a dtype, scalar type, torch.dtype or format name, got {dtype!r}; "
            f"supported names: {SUPPORTED_NAMES}"
        )
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"{argname} must be a dtype, scalar type, torch.dtype or format name, got {dtype!r}; "
            f"supported names: {SUPPORTED_NAMES}"
        ) from exc
    if resolved not in _BY_DTYPE:
        raise _unsupported(dtype, argname)
    return resolved


def format_of(dtype: Any, *, argname: str = "dtype") -> Format:
    """The :class:`Format` record of a dtype-like argument (see :func:`as_dtype`)."""
    return _BY_DTYPE[as_dtype(dtype, argname=argname)]


def is_format_dtype(dtype: np.dtype) -> bool:
    return dtype in _BY_DTYPE


def to_numpy(x: Any) -> np.ndarray:
    """``np.asarray(x)``, also for PyTorch tensors of any supported dtype.

    NumPy cannot convert bfloat16 or float8 tensors, so those travel as integer bit views and are
    reinterpreted as the ml_dtypes type: no value changes.  ``torch`` is only consulted if it has
    already been imported.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        name = str(t.dtype).removeprefix("torch.")
        if name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
            width = torch.int16 if name == "bfloat16" else torch.int8
            return t.view(width).numpy().view(_NAME_TO_DTYPE[name])
        return t.numpy()
    return np.asarray(x)


def round_scaled(negative: bool, num: int, den: int, exp: int, fmt: Format) -> float:
    """Correctly round ``(-1)**negative * num / den * 2**exp`` to `fmt`; return it as a Python float.

    Round to nearest, ties to even, with gradual underflow; ``num >= 0``, ``den > 0``.  A result too
    large for the format is ``±inf`` (NaN for float8_e4m3fn, which has no infinity: ml_dtypes casts
    do the same).  Every value of every supported format is a float64, so the return value is exact.

    Notes
    -----
    With ``e = floor(log2 v)`` the result lies on the grid ``2**q``, ``q = max(e, emin) - p + 1``;
    ``N = round_half_even(v / 2**q)`` is an integer division.  Overflow is decided *after* rounding
    with an unbounded exponent (IEEE 754-2019, 7.4): ``q > qmax``, or ``q == qmax`` and ``N`` above
    the largest significand.  A carry to ``N = 2**p`` is a representable power of two unless it
    crosses the top.
    """
    if num == 0:
        return -0.0 if negative else 0.0
    e = num.bit_length() - den.bit_length()
    if (num < (den << e)) if e >= 0 else ((num << -e) < den):
        e -= 1
    e += exp
    q = max(e, fmt.emin) - fmt.precision + 1
    shift = exp - q
    if shift >= 0:
        n_int, rem, d = num << shift, 0, 1
        if den != 1:
            n_int, rem = divmod(num << shift, den)
            d = den
    else:
        n_int, rem = divmod(num, den << -shift)
        d = den << -shift
    twice = 2 * rem
    if twice > d or (twice == d and n_int & 1):
        n_int += 1
    if q > fmt.qmax or (q == fmt.qmax and n_int > fmt.max_significand):
        value = fmt.overflow_value
    else:
        value = math.ldexp(n_int, q)  # exact: n_int <= 2**p <= 2**53 and q >= -1074
    return -value if negative else value


def from_float64(values: Any, fmt: Format) -> np.ndarray:
    """Cast float64 values that are already representable in `fmt` (an exact cast).

    NaN and inf cast to float8_e4m3fn make ml_dtypes warn; they are intended here.
    """
    with np.errstate(all="ignore"):
        return np.asarray(values, dtype=np.float64).astype(fmt.dtype)


_F64_FRACTION = (1 << 52) - 1


def round_float64_array(x: np.ndarray, fmt: Format) -> np.ndarray:
    """Correctly round a float64 array to `fmt` (vectorised :func:`round_scaled`).

    Why not ``x.astype(fmt.dtype)``: ml_dtypes converts float64 to bfloat16 and float8 through
    float32, which rounds twice.  ``1 + 2**-8 + 2**-40`` is just above the midpoint between the
    bfloat16 neighbours 1 and ``1 + 2**-7``, so it should round up; float32 first rounds it onto the
    midpoint, and the second rounding (ties to even) goes down to 1.  Here the float64 significand is
    rounded once, with integer shifts, and the exact result is then cast (exactly) to the format.
    NumPy's own float64 -> float32 and float64 -> float16 casts are correct and are used directly.
    """
    x = np.asarray(x, dtype=np.float64)
    if fmt.dtype in (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16)):
        with np.errstate(over="ignore"):
            return x.astype(fmt.dtype)
    bits = x.view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    e_field = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    fraction = (bits & np.uint64(_F64_FRACTION)).astype(np.int64)
    normal = e_field > 0
    significand = np.where(normal, fraction | (1 << 52), fraction)  # value = significand * 2**lsb
    lsb = np.where(normal, e_field - 1075, -1074)
    # float64 subnormals are below 2**-1022, far under half the smallest subnormal of every narrower
    # format, so any exponent <= emin gives them the right (zero) result.
    e = np.where(normal, e_field - 1023, -1023)
    q = np.maximum(e, fmt.emin) - (fmt.precision - 1)
    # A shift of 55 or more leaves significand < 2**53 < half: the result is 0 either way; capping
    # keeps the int64 shifts defined.
    shift = np.minimum(q - lsb, 62)
    n_int = significand >> shift
    rem = significand & ((np.int64(1) << shift) - 1)
    half = np.int64(1) << (shift - 1)
    n_int = n_int + ((rem > half) | ((rem == half) & ((n_int & 1) == 1)))
    overflow = (q > fmt.qmax) | ((q == fmt.qmax) & (n_int > fmt.max_significand))
    with np.errstate(all="ignore"):  # overflowing lanes are replaced below
        value = np.ldexp(n_int.astype(np.float64), q.astype(np.int32))  # exact, see round_scaled
        value = np.where(overflow, fmt.overflow_value, value)
        finite = e_field < 0x7FF
        nonfinite = np.abs(x) if fmt.has_inf else np.full_like(x, np.nan)
        value = np.where(finite, value, nonfinite)
        value = np.where(negative, -value, value)
        return value.astype(fmt.dtype)  # exact: every value is representable
