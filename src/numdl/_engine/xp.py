"""The array-API path: PyTorch tensors (and JAX arrays) computed with their own library's
operations (``xp = array_namespace(x)``), so that results stay on the input's device and autograd
differentiates through every step.  The same formulas as the NumPy path, in float64; every
``where`` is given safe inputs in both branches, since a masked-out ``inf`` or ``nan`` would still
poison the gradient.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from numdl._dtypes import to_numpy
from numdl._engine import certify
from numdl._engine.eft import two_sum
from numdl._engine.inputs import namespace, normalize_axes, xp_float_input
from numdl._engine.rows import rows_shape

__all__ = [
    "XpCore",
    "array_device",
    "stop_gradient",
    "xp_core",
    "xp_elementwise",
    "xp_finish",
    "xp_logsumexp",
    "xp_rows",
    "xp_softmax_family",
    "xp_special",
    "xp_unrows",
]

_FMAX = float(np.finfo(np.float64).max)


def stop_gradient(xp: Any, x: Any) -> Any:
    """``x`` without its autograd history (PyTorch ``detach``, JAX ``stop_gradient``).

    Used only on quantities that are exactly zero in exact arithmetic (the rounding error of a
    subtraction), whose derivative is zero, and on the certified correction of a result.
    """
    if array_api_compat.is_torch_namespace(xp):
        return x.detach()
    if array_api_compat.is_jax_namespace(xp):
        jax = sys.modules["jax"]
        return jax.lax.stop_gradient(x)
    return x


def xp_rows(xp: Any, x: Any, axes: tuple[int, ...]) -> tuple[Any, tuple[int, ...], list[int]]:
    """:func:`numdl._engine.rows.np_rows` for tensors."""
    if x.ndim == 0:
        return xp.reshape(x, (1, 1)), (), [0]
    perm, batch, n = rows_shape(tuple(x.shape), axes)
    moved = x if perm == list(range(x.ndim)) else xp.permute_dims(x, tuple(perm))
    return xp.reshape(moved, (math.prod(batch), n)), batch, perm


def xp_unrows(xp: Any, y2: Any, shape: tuple[int, ...], perm: list[int]) -> Any:
    """:func:`numdl._engine.rows.np_unrows` for tensors."""
    if len(shape) == 0:
        return xp.reshape(y2, ())
    moved = xp.reshape(y2, tuple(shape[i] for i in perm))
    if perm == list(range(len(shape))):
        return moved
    return xp.permute_dims(moved, tuple(int(i) for i in np.argsort(perm)))


@dataclass
class XpCore:
    """float64 row quantities for the array-API path (see :func:`xp_core`)."""

    x: Any  # (R, n) float64
    a: Any  # (R, 1) row maximum, with its autograd history
    finite: Any  # (R, 1) bool
    d: Any  # (R, n) fl(x - a), the finite rows' shift (0 elsewhere)
    dl: Any  # (R, n) its rounding error (no gradient)
    e: Any  # (R, n) exp(d) * (1 + dl)
    is_top: Any  # (R, n) the first maximum of each row
    s: Any  # (R, 1) sum of e over the other entries


def xp_core(xp: Any, x64: Any, exact: bool) -> XpCore:
    """The max-shift with the largest term kept out of the sum, in array-API operations.

    Every ``where`` evaluates both branches, so each branch is given safe inputs (``a`` is
    replaced by 0 where it is not finite, arguments of ``exp`` are finite or ``-inf``): a
    masked-out ``inf`` or ``nan`` would otherwise poison the gradient.
    """
    n = x64.shape[1]
    k = xp.argmax(x64, axis=-1, keepdims=True)
    a = xp.take_along_axis(x64, k, axis=-1)
    finite = xp.isfinite(a)
    zero = xp.zeros_like(a)
    a_safe = xp.where(finite, a, zero)
    low = xp.where(finite, a_safe - 2.0**1000, zero - _FMAX)
    xc = xp.where(x64 >= low, x64, xp.zeros_like(x64) + low)  # also maps NaN to low
    d = xc - a_safe
    if exact:
        dl = stop_gradient(xp, two_sum(xc, -a_safe)[1])
    else:
        dl = xp.zeros_like(d)
    cols = xp.reshape(xp.arange(n, device=array_device(x64)), (1, n))
    is_top = cols == k
    e = xp.exp(d)
    if exact:
        e = e + e * dl
    s = xp.sum(xp.where(is_top, xp.zeros_like(e), e), axis=-1, keepdims=True)
    return XpCore(x64, a, finite, d, dl, e, is_top, s)


def array_device(x: Any) -> Any:
    """The device of a tensor (None for arrays without one)."""
    return getattr(x, "device", None)


def xp_special(xp: Any, x64: Any, kind: str) -> Any:
    """:func:`numdl._engine.numpy_kernel.special_row` in array-API operations, for every row
    (used where ``a`` is not finite)."""
    nan_row = xp.any(xp.isnan(x64), axis=-1, keepdims=True)
    inf = x64 == xp.inf
    n_inf = xp.sum(xp.astype(inf, x64.dtype), axis=-1, keepdims=True)
    top = 1.0 if kind == "softmax" else 0.0
    rest = 0.0 if kind == "softmax" else -math.inf
    full = xp.zeros_like(x64)
    value = xp.where(inf, xp.where(n_inf == 1, full + top, full + math.nan), full + rest)
    return xp.where(nan_row | (n_inf == 0), full + math.nan, value)


def xp_finish(xp: Any, y64: Any, dtype: Any) -> Any:
    """A float64 result in the output's `dtype` (the library's cast rounds once)."""
    return y64 if y64.dtype == dtype else xp.astype(y64, dtype)


def xp_logsumexp(x: Any, axis: Any, b: Any, keepdims: bool, return_sign: bool) -> Any:
    """:func:`numdl.stable.logsumexp` of a tensor (and weights `b`): the max-shift with ``log1p``,
    narrow formats certified as in :mod:`numdl._engine.certify`; SciPy's semantics for `b`."""
    xp = namespace(x, b)
    axes = normalize_axes(axis, x.ndim)
    x = xp_float_input(xp, x, "x")
    dtype = x.dtype
    if b is not None:
        b = xp.asarray(b)
        b = xp_float_input(xp, b, "b")
        dtype = xp.result_type(x.dtype, b.dtype)
        shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(b.shape)))
        x, b = xp.broadcast_to(x, shape), xp.broadcast_to(b, shape)
    x64 = xp.astype(x, xp.float64)
    x2, batch, _ = xp_rows(xp, x64, axes)
    if b is None:
        core = xp_core(xp, x2, exact=x.dtype == xp.float64)
        y = core.a + xp.log1p(core.s)
        y = xp.where(core.finite, y, core.a)
        nan_row = xp.any(xp.isnan(x2), axis=-1, keepdims=True)
        y = xp.where(nan_row, xp.zeros_like(y) + math.nan, y)
        if x.dtype != xp.float64:
            y = _xp_certify(xp, y, core, x2, x.dtype)
        sign = xp.where(xp.isnan(y), y, xp.where(y == -xp.inf, xp.zeros_like(y), xp.ones_like(y)))
    else:
        b2, _, _ = xp_rows(xp, xp.astype(b, xp.float64), axes)
        x2 = xp.where(b2 == 0, xp.zeros_like(x2) - xp.inf, x2)
        k = xp.argmax(x2, axis=-1, keepdims=True)
        a = xp.take_along_axis(x2, k, axis=-1)
        finite = xp.isfinite(a)
        a_safe = xp.where(finite, a, xp.zeros_like(a))
        top = x2 == a
        big = xp.sum(xp.where(top, b2, xp.zeros_like(b2)), axis=-1, keepdims=True)
        rest = xp.sum(
            xp.where(top, xp.zeros_like(b2), b2 * xp.exp(x2 - a_safe)), axis=-1, keepdims=True
        )
        safe_big = xp.where(big == 0, xp.ones_like(big), big)
        ratio = rest / safe_big
        one_plus = 1.0 + ratio
        above = ratio >= -1
        body = xp.where(
            above,
            xp.log1p(xp.where(above, ratio, xp.zeros_like(ratio))),
            xp.log(xp.abs(xp.where(above, xp.ones_like(ratio), one_plus))),
        )
        y = a_safe + xp.log(xp.abs(safe_big)) + body
        sign = xp.sign(one_plus) * xp.sign(big)
        total = xp.sum(b2 * xp.exp(x2), axis=-1, keepdims=True)
        direct = xp.log(xp.abs(total))
        ok = finite & (big != 0) & xp.isfinite(y)
        y = xp.where(ok, y, direct)
        sign = xp.where(ok, sign, xp.sign(total))
        if not return_sign:
            y = xp.where(sign < 0, xp.zeros_like(y) + math.nan, y)
    y = xp.reshape(y, batch)
    sign = xp.reshape(sign, batch)
    if keepdims:
        for ax in axes:
            y, sign = xp.expand_dims(y, axis=ax), xp.expand_dims(sign, axis=ax)
    y, sign = xp_finish(xp, y, dtype), xp_finish(xp, sign, dtype)
    return (y, sign) if return_sign else y


def _xp_certify(xp: Any, y: Any, core: XpCore, x2: Any, dtype: Any) -> Any:
    """The certification of :mod:`numdl._engine.certify` for tensors: rows whose float64 value
    may round to the wrong neighbour get the certified value, their gradient unchanged
    (``y + stop_gradient(certified - y)``)."""
    y_np = to_numpy(y).reshape(-1).astype(np.float64)
    a_np = to_numpy(core.a).reshape(-1).astype(np.float64)
    s_np = to_numpy(core.s).reshape(-1).astype(np.float64)
    np_dtype = to_numpy(xp.zeros((1,), dtype=dtype)).dtype
    redo = certify.uncertain_lse(a_np, s_np, y_np, int(x2.shape[1]), np_dtype)
    if redo.size == 0:
        return y
    rows = to_numpy(x2).reshape(x2.shape)[redo]
    fixed = y_np.copy()
    fixed[redo] = certify.lse_rows(rows, np_dtype)
    target = xp.reshape(xp.asarray(fixed, dtype=y.dtype, device=array_device(y)), y.shape)
    return y + stop_gradient(xp, target - y)


def xp_softmax_family(x: Any, axis: Any, kind: str) -> Any:
    """softmax (`kind` ``"softmax"``) or log_softmax (``"log_softmax"``) of a tensor."""
    xp = namespace(x)
    x = xp_float_input(xp, x, "x")
    axes = normalize_axes(axis, x.ndim)
    exact = x.dtype == xp.float64
    x2, _, perm = xp_rows(xp, xp.astype(x, xp.float64), axes)
    if x2.shape[1] == 0:
        return xp.reshape(xp.astype(x2, x.dtype), x.shape)
    core = xp_core(xp, x2, exact)
    if kind == "softmax":
        e = xp.where(core.is_top, xp.ones_like(core.e), core.e)
        if exact:
            th, tl = two_sum(1.0 + xp.zeros_like(core.s), core.s)
            q = e / th
            y = q - q * stop_gradient(xp, tl / th)
        else:
            y = e / (1.0 + core.s)
    else:
        a_safe = xp.where(core.finite, core.a, xp.zeros_like(core.a))
        y = ((x2 - a_safe) - xp.log1p(core.s)) + core.dl  # unclamped: -inf stays -inf
    y = xp.where(core.finite, y, xp_special(xp, x2, kind))
    return xp_finish(xp, xp_unrows(xp, y, tuple(x.shape), perm), x.dtype)


def xp_elementwise(fn: Any, *args: tuple[Any, str]) -> Any:
    """``fn(xp, *float64 tensors)`` of ``(value, argname)`` pairs, in their result dtype."""
    xp = namespace(*(v for v, _ in args))
    tensors = [
        xp_float_input(
            xp, v if hasattr(v, "dtype") and not isinstance(v, np.ndarray) else xp.asarray(v), name
        )
        for v, name in args
    ]
    dtype = xp.result_type(*(t.dtype for t in tensors))
    y = fn(xp, *(xp.astype(t, xp.float64) for t in tensors))
    return xp_finish(xp, y, dtype)


