"""The elementwise functions: each formula written once for any array namespace ``xp`` (NumPy or
a tensor library's), evaluated in float64 and rounded once to the input's format; the narrow
formats' ``logaddexp`` near a result of 0 is certified (:mod:`numdl._engine.certify`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numdl._engine import certify
from numdl._engine.inputs import np_float_input, np_round
from numdl._engine.rows import scalar_or_array

__all__ = [
    "log1mexp64",
    "log_sigmoid64",
    "logaddexp64",
    "minus_abs",
    "np_elementwise",
    "np_logaddexp",
    "np_one_minus_cos_ratio",
    "scaled_softplus64",
    "sigmoid64",
    "softplus64",
]

_LN2 = math.log(2.0)


def np_elementwise(fn: Any, *args: tuple[Any, str]) -> tuple[Any, list[np.ndarray], np.dtype]:
    """``fn(np, *float64 arrays)`` of ``(value, argname)`` pairs rounded once to their result
    dtype: ``(result, the input arrays, that dtype)``."""
    arrays = [np_float_input(v, name) for v, name in args]
    dtype = np.result_type(*(a.dtype for a in arrays))
    with np.errstate(all="ignore"):
        y = fn(np, *(a.astype(np.float64) for a in arrays))
    return scalar_or_array(np_round(np.asarray(y, dtype=np.float64), dtype)), arrays, dtype


def minus_abs(xp: Any, x: Any) -> Any:
    """``-|x|``, written as ``where(x >= 0, -x, x)`` so that autograd takes the ``x >= 0`` branch at
    0 (``abs`` would give the derivative 0 there, and sigmoid'(0) would come out 0, not 1/4)."""
    return xp.where(x >= 0, -x, x)


def softplus64(xp: Any, x: Any) -> Any:
    """``max(x, 0) + log1p(exp(-|x|))``: the exponent is never positive, and the two terms have
    the same sign, so nothing overflows or cancels.  ``exp(-|x|)`` at ``x = ±inf`` is 0."""
    t = xp.log1p(xp.exp(minus_abs(xp, x)))
    pos = xp.where(x >= 0, x, xp.zeros_like(x))
    return pos + t


def scaled_softplus64(beta: float, threshold: float | None) -> Any:
    """``softplus64(beta x) / beta``, or ``x`` where ``beta x > threshold`` (PyTorch's switch),
    as a function of ``(xp, x)`` for :func:`np_elementwise` and the array-API path."""

    def fn(xp: Any, x: Any) -> Any:
        bx = beta * x
        y = softplus64(xp, bx) / beta
        return y if threshold is None else xp.where(bx > threshold, x, y)

    return fn


def sigmoid64(xp: Any, x: Any) -> Any:
    """``1 / (1 + z)`` for ``x >= 0`` and ``z / (1 + z)`` for ``x < 0``, ``z = exp(-|x|) <= 1``."""
    z = xp.exp(minus_abs(xp, x))
    one_plus = 1.0 + z
    return xp.where(x >= 0, 1.0 / one_plus, z / one_plus)


def log_sigmoid64(xp: Any, x: Any) -> Any:
    """``min(x, 0) - log1p(exp(-|x|))``: two terms of the same sign."""
    t = xp.log1p(xp.exp(minus_abs(xp, x)))
    neg = xp.where(x >= 0, xp.zeros_like(x), x)
    return neg - t


def log1mexp64(xp: Any, x: Any) -> Any:
    """Maechler's switch at ``log 2``; each branch gets an argument that is safe for it."""
    a = xp.abs(x)
    near = a <= _LN2
    a_near = xp.where(near, a, xp.zeros_like(a) + _LN2)
    a_far = xp.where(near, xp.zeros_like(a) + 2 * _LN2, a)
    return xp.where(near, xp.log(-xp.expm1(-a_near)), xp.log1p(-xp.exp(-a_far)))


def logaddexp64(xp: Any, x1: Any, x2: Any) -> Any:
    """``max + log1p(exp(-|x1 - x2|))``, with ``x1 == x2`` (both infinite too) giving
    ``x1 + log 2`` and NaN propagated."""
    m = xp.maximum(x1, x2)
    same = x1 == x2
    diff = xp.where(same, xp.zeros_like(m), x1 - x2)
    diff = xp.where(xp.isnan(diff) & ~xp.isnan(m), xp.zeros_like(m), diff)
    y = m + xp.log1p(xp.exp(-xp.abs(diff)))
    return xp.where(same & xp.isinf(m), m, y)


def np_logaddexp(x1: Any, x2: Any) -> Any:
    """:func:`numdl.stable.logaddexp` of NumPy inputs: float64, rounded once; narrow formats'
    elements whose float64 value may round to the wrong neighbour are certified as the
    logsumexp of the row ``[x1, x2]``."""
    y, arrays, dtype = np_elementwise(logaddexp64, (x1, "x1"), (x2, "x2"))
    if dtype != np.float64:
        a1, a2 = np.broadcast_arrays(*(a.astype(np.float64) for a in arrays))
        with np.errstate(all="ignore"):
            y64 = logaddexp64(np, a1, a2)
            redo = certify.uncertain_logaddexp(y64, np.maximum(a1, a2), dtype)
        if redo.any():
            y = np.array(y, copy=True).reshape(y64.shape)
            y[redo] = certify.lse_rows(np.stack([a1[redo], a2[redo]], axis=1), dtype)
            y = scalar_or_array(y)
    return y


def np_one_minus_cos_ratio(x: Any) -> Any:
    """:func:`numdl.stable.one_minus_cos_ratio`: ``2 sin^2(x/2) / x^2`` in x's floating dtype."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) and x.dtype.kind != "V":
        x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        half = x / 2
        # sin(h)/h -> 1 as h -> 0: never square a tiny x (x*x underflows to 0 long before the
        # ratio does).  h is 0 for x = 0 and for the smallest subnormal, whose half rounds to 0;
        # the limit 1 is exact there.
        s = np.where(half == 0, np.asarray(1, dtype=x.dtype), np.sin(half) / half)
        out = np.asarray(s * s / 2, dtype=x.dtype)
    return out[()] if out.ndim == 0 else out
