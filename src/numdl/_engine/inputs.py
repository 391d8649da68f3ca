"""Input handling shared by every path: which library an input belongs to, its dtype, its axes,
and the one rounding of a float64 result to the input's format.

NumPy input takes the engine's own kernels; a PyTorch tensor, JAX array or any other array-API
array (array-api-strict, CuPy, ...) is handled with its own library's operations
(:mod:`numdl._engine.xp`), so that the result stays on the input's device and autograd sees every
step.  Neither torch nor jax is ever imported here: an input can only be a tensor of a library
that is already loaded.

Dtype promotion follows the input's library: NumPy's rules for NumPy input (integers are float64,
as in SciPy), and for a tensor its library's ``result_type`` (``torch.result_type``,
``jax.numpy.result_type``; Python scalars do not promote a tensor), with an integer result
replaced by the library's default floating dtype (``torch.get_default_dtype()``, float32 in JAX
unless ``jax_enable_x64``), as ``torch.logsumexp`` does.
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
    "xp_default_float",
    "xp_float_input",
    "xp_result_dtype",
]

# NumPy input: what np.asarray takes as it is (a NumPy array or scalar, a Python number, a list).
_NUMPY_KINDS = (np.ndarray, np.generic, bool, int, float, complex, list, tuple)


def is_numpy_input(*values: Any) -> bool:
    """True unless some value is an array of another library: a PyTorch tensor, a JAX array or
    any array-API array (array-api-strict, CuPy, ...).  NumPy arrays and scalars, Python numbers
    and lists are NumPy input."""
    for v in values:
        if v is None or isinstance(v, _NUMPY_KINDS):
            continue
        if array_api_compat.is_array_api_obj(v):
            return False
    return True


def namespace(*values: Any) -> Any:
    """The array API namespace of the tensors among `values` (Python scalars are ignored)."""
    arrays = [
        v
        for v in values
        if v is not None and not isinstance(v, _NUMPY_KINDS)
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


def xp_default_float(xp: Any, x: Any = None) -> Any:
    """The library's default real floating dtype (``torch.get_default_dtype()``; JAX: float32,
    float64 under ``jax_enable_x64``), on `x`'s device."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return xp.float64
    device = getattr(x, "device", None) if x is not None else None
    try:
        return info().default_dtypes(device=device)["real floating"]
    except (TypeError, ValueError):
        return info().default_dtypes()["real floating"]


def xp_float_input(xp: Any, x: Any, argname: str) -> Any:
    """A tensor of a supported float dtype; integer tensors become the library's default floating
    dtype (:func:`xp_default_float`), as its own functions convert them (``torch.logsumexp`` of
    an int64 tensor is float32).  Integers beyond the default format's significand (2**24 for
    float32) round there."""
    if xp.isdtype(x.dtype, "integral"):
        return xp.astype(x, xp_default_float(xp, x))
    if not xp.isdtype(x.dtype, "real floating"):
        raise _dtype_error(argname, x.dtype)
    return x


def xp_result_dtype(xp: Any, *args: tuple[Any, str]) -> Any:
    """The result dtype of tensors ``(value, argname)`` by their library's own promotion
    (``xp.result_type``), with an integer result replaced by the default floating dtype.

    Python numbers are weak, as in PyTorch and JAX: they do not promote a tensor's dtype.
    A library that refuses to promote the dtypes (array-api-strict mixes no kinds) raises
    :class:`TypeError` naming the arguments.
    """
    arrays = [(v, name) for v, name in args if hasattr(v, "dtype")]
    if not arrays:
        arrays = [(xp.asarray(v), name) for v, name in args]
    for v, name in arrays:
        if not (xp.isdtype(v.dtype, "integral") or xp.isdtype(v.dtype, "real floating")):
            raise _dtype_error(name, v.dtype)
    try:
        dtype = xp.result_type(*(v.dtype for v, _ in arrays))
    except (TypeError, ValueError) as exc:
        names = ", ".join(f"{name} ({v.dtype})" for v, name in arrays)
        raise TypeError(f"{names}: {xp.__name__} does not promote these dtypes together: "
                        f"{exc}") from None
    if xp.isdtype(dtype, "integral"):
        dtype = xp_default_float(xp, arrays[0][0])
    return dtype


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
