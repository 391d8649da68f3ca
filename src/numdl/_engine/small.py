"""The small-input path: inputs of at most ``config.settings.small_threshold`` elements in x86
long double (64-bit significand), one NumPy call per step, no blocks and no threads, where the
blocked kernels' per-call overhead would cost more than the arithmetic.

With 11 more bits than float64 the shift, the sum and the division round far below float64's half
ULP, so no error-free transformations are needed.  Where long double is only float64
(``config.settings.long_double is None``) the blocked kernels serve every size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numdl._engine import config
from numdl._engine.compiled import FAST_DTYPES
from numdl._engine.inputs import np_round

__all__ = ["applies", "fast_small", "long_shift", "np_small", "round_long"]


def applies(size: int) -> bool:
    """Whether an input of `size` elements takes the small-input path."""
    s = config.settings
    return s.long_double is not None and 0 < size <= s.small_threshold


def np_small(x2: np.ndarray, kind: str) -> Any:
    """logsumexp (per row), softmax or log_softmax of a small ``(R, n)`` input in long double.

    The same identities as the kernel.  Returns long double results -- ``(a, s, a + log1p(s))``
    for ``"lse"`` -- or None if some row has no finite maximum (NaN, ``+inf``, all ``-inf``),
    which the kernel's special-value rules handle.
    """
    shifted = long_shift(x2)
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


def long_shift(x2: np.ndarray) -> tuple | None:
    """The max-shift of small rows ``(R, n)`` in long double: ``(ar, k, a, d, e)`` with ``ar =
    arange(R)``, ``k`` and ``a`` each row's (first) maximum and its value, ``d = x - a`` and
    ``e = exp(d)``; None if some row has no finite maximum."""
    xl = x2.astype(config.settings.long_double)
    ar = np.arange(x2.shape[0])
    k = xl.argmax(axis=1)
    a = xl[ar, k]
    if not np.isfinite(a).all():
        return None
    d = xl - a[:, None]
    return ar, k, a, d, np.exp(d)


def fast_small(x: Any, axis: Any, kind: str) -> Any:
    """The small-input path for the common call -- a float32/float64 ndarray of 1 or 2 dimensions
    reduced along its last axis -- with nothing else around it (a 10-element call costs a few
    microseconds, like SciPy's).  Returns None for anything else, including rows whose maximum is
    not finite; the general path then handles them.
    """
    s = config.settings
    long_double = s.long_double
    if (
        long_double is None
        or type(x) is not np.ndarray
        or x.dtype not in FAST_DTYPES
        or not 0 < x.size <= s.small_threshold
        or x.ndim == 0
        or x.shape[-1] == 0
        or (axis is not None and type(axis) is not int)
        or not s.fast_paths
    ):
        return None
    ndim = x.ndim
    if ndim == 1:
        if axis not in (-1, 0, None):
            return None
        xl = x.astype(long_double)
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
        shifted = long_shift(x)
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


def round_long(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Long double results rounded to `dtype` (through float64 for the narrow formats)."""
    if dtype in (np.float64, np.float32):
        return y.astype(dtype)
    return np_round(y.astype(np.float64), dtype)  # the float64 step adds at most 2**-42 ULP
