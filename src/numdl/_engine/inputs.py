"""Input handling shared by every path: which library an input belongs to, its dtype, its axes,
and the one rounding of a float64 result to the input's format.

NumPy input takes the engine's own kernels; a PyTorch tensor or JAX array is handled with its own
library's operations (:mod:`numdl._engine.xp`), so that the result stays on the input's device and
autograd sees every step.  Neither torch nor jax is ever imported here: an input can only be a
tensor of a library that is already loaded.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from numdl._dtypes import format_of, is_format_dtype, round_float64_array

__all__ = [
    "is_numpy_input",
    "namespace",
    "normalize_axes",
    "np_float_input",
    "np_round",
    "xp_float_input",
]


def is_numpy_input(*values: Any) -> bool:
    """True unless some value is a PyTorch tensor or a JAX array (lists and scalars are NumPy)."""
    for v in values:
        if v is None:
            continue
        if array_api_compat.is_torch_array(v) or array_api_compat.is_jax_array(v):
            return False
    return True


def namespace(*values: Any) -> Any:
    """The array API namespace of the tensors among `values` (Python scalars are ignored)."""
    arrays = [
        v
        for v in values
        if v is not None and not isinstance(v, bool | int | float | list | tuple | np.ndarray)
    ]
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        raise TypeError(f"the arguments mix array libraries: {exc}") from None


def _dtype_error(argname: str, dtype: Any) -> TypeError:
    return TypeError(
        f"{argname} must be a real floating-point array (float16, bfloat16, float32, float64) or an "
        f"integer array (computed as float64), got dtype {dtype}"
    )


def np_float_input(x: Any, argname: str) -> np.ndarray:
    """``x`` as a NumPy array of a supported float format.

    Integer arrays become float64, as in SciPy (the result is then float64).  Booleans, complex
    numbers, strings, objects and unsupported floats (longdouble) raise :class:`TypeError` naming
    `argname`.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{argname} must be an array of numbers: {exc}") from None
    kind = arr.dtype.kind
    if kind in "iu":
        return arr.astype(np.float64)
    if not is_format_dtype(arr.dtype) or kind == "b":
        raise _dtype_error(argname, arr.dtype)
    return arr


def np_round(y64: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round float64 values once, correctly, to `dtype` (NumPy's casts to float32/float16 are
    correct; bfloat16 and float8 go through :func:`round_float64_array`, because ml_dtypes'
    float64 casts round twice, through float32)."""
    if dtype == np.float64:
        return y64
    if dtype in (np.float32, np.float16):
        with np.errstate(over="ignore"):
            return y64.astype(dtype)
    return round_float64_array(y64, format_of(dtype))


def xp_float_input(xp: Any, x: Any, argname: str) -> Any:
    """A tensor of a supported float dtype; integer tensors become float64 (see
    :func:`np_float_input`)."""
    if xp.isdtype(x.dtype, "integral"):
        return xp.astype(x, xp.float64)
    if not xp.isdtype(x.dtype, "real floating"):
        raise _dtype_error(argname, x.dtype)
    return x


def normalize_axes(axis: Any, ndim: int, argname: str = "axis") -> tuple[int, ...]:
    """Reduction axes as a sorted tuple of non-negative ints.

    ``None`` means every axis.  A 0-D input is treated as one element along axis 0 (so ``axis=0``
    and ``axis=-1`` are accepted there, as in PyTorch).  Raises :class:`TypeError` for a non-integer
    axis and :class:`ValueError` (naming `argname`) for one out of range or repeated.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    span = max(ndim, 1)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise TypeError(f"{argname} must be an int, a tuple of ints or None, got {axis!r}")
        if not -span <= a < span:
            raise ValueError(f"{argname}={axis!r} is out of range for a {ndim}-D array")
        out.append(int(a) % span)
    if len(set(out)) != len(out):
        raise ValueError(f"{argname}={axis!r} repeats an axis")
    return tuple(sorted(out)) if ndim else ()
