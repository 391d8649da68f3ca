"""The array-API path: PyTorch tensors, JAX arrays and any other array-API array
(array-api-strict, ...) computed with their own library's operations (``xp = array_namespace(x)``),
so that results stay on the input's device and autograd differentiates through every step.  The
same formulas as the NumPy path, in float64; every ``where`` is given safe inputs in both
branches, since a masked-out ``inf`` or ``nan`` would still poison the gradient.

Certification (narrow formats' ``logsumexp`` and ``logaddexp`` near a result of 0) needs the
float64 values on the host.  A JAX array is certified through ``jax.pure_callback``, so that the
functions trace under ``jax.jit`` and ``jax.vmap`` with the same results (the callback sees
concrete values; its output carries no gradient).  Without ``jax_enable_x64`` JAX computes the
"float64" steps in float32, where the float64 error bound does not hold: certification is then
skipped and narrow results carry float32's own rounding (a few float32 ULP, more where
``logsumexp`` cancels near 0).  Other libraries' values are copied to the host with DLPack
(PyTorch: ``.cpu()``), which ``torch.compile`` traces as a graph break.
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
from numdl._engine.elementwise import logaddexp64
from numdl._engine.inputs import namespace, normalize_axes, xp_float_input, xp_result_dtype
from numdl._engine.rows import rows_shape

__all__ = [
    "XpCore",
    "array_device",
    "stop_gradient",
    "xp_core",
    "xp_elementwise",
    "xp_finish",
    "xp_logsumexp",
    "xp_one_minus_cos_ratio",
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
    if not hasattr(x, "dtype") or isinstance(x, np.ndarray):
        x = xp.asarray(x)
    if (b is not None and not hasattr(b, "dtype")) or isinstance(b, np.ndarray):
        b = xp.asarray(b)
    # the library's own promotion (torch.result_type(int64, float32) is float32)
    dtype = xp_result_dtype(xp, (x, "x")) if b is None else xp_result_dtype(xp, (x, "x"), (b, "b"))
    x = xp_float_input(xp, x, "x")
    if b is not None:
        b = xp_float_input(xp, b, "b")
        try:
            shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(b.shape)))
        except ValueError:
            raise ValueError(f"b (shape {tuple(b.shape)}) does not broadcast against x (shape "
                             f"{tuple(x.shape)})") from None
        x, b = xp.broadcast_to(x, shape), xp.broadcast_to(b, shape)
    # SciPy's rule: with b, `axis` counts the axes of the broadcast shape
    axes = normalize_axes(axis, x.ndim)
    x64 = xp.astype(x, xp.float64)
    x2, batch, _ = xp_rows(xp, x64, axes)
    if x2.shape[1] == 0:
        # an empty sum is 0, its log -inf (argmax has no empty reduction); the sum of the empty
        # rows keeps the autograd graph (an empty gradient)
        y = xp.sum(x2, axis=-1, keepdims=True) - xp.inf
        if b is not None:
            y = y + xp.sum(xp_rows(xp, xp.astype(b, xp.float64), axes)[0], axis=-1, keepdims=True)
        sign = xp.zeros_like(y)
    elif b is None:
        core = xp_core(xp, x2, exact=x.dtype == xp.float64)
        y = core.a + xp.log1p(core.s)
        y = xp.where(core.finite, y, core.a)
        nan_row = xp.any(xp.isnan(x2), axis=-1, keepdims=True)
        y = xp.where(nan_row, xp.zeros_like(y) + math.nan, y)
        if dtype != xp.float64:
            y = _xp_certify(xp, y, core, x2, dtype)
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


def _host(x: Any) -> np.ndarray:
    """A concrete array's values as NumPy (PyTorch through :func:`to_numpy`, others through
    DLPack or the buffer protocol)."""
    if array_api_compat.is_torch_array(x) or array_api_compat.is_numpy_array(x):
        return to_numpy(x)
    try:
        return np.from_dlpack(x)
    except (TypeError, AttributeError, BufferError, RuntimeError):
        return np.asarray(x)


def _np_dtype(xp: Any, dtype: Any) -> np.dtype:
    """The NumPy (ml_dtypes) dtype of a library's float `dtype`."""
    if array_api_compat.is_jax_namespace(xp):
        return np.dtype(dtype)
    return _host(xp.zeros((1,), dtype=dtype)).dtype


def _host_call(xp: Any, fn: Any, out: Any, *args: Any) -> Any:
    """``fn(*numpy arrays)`` of tensors, as a tensor like `out` (float64) without gradient.

    JAX goes through ``jax.pure_callback`` (traceable by ``jit`` and ``vmap``: the callback gets
    the batched arrays, ``fn`` works on flat rows), other libraries copy to the host.  None when
    the working precision is not float64 (JAX without ``jax_enable_x64``): the float64 error
    bounds of :mod:`numdl._engine.certify` do not hold there.
    """
    if out.dtype != xp.float64 or any(a.dtype != xp.float64 for a in args):
        return None
    args = tuple(stop_gradient(xp, a) for a in args)
    if array_api_compat.is_jax_namespace(xp):
        jax = sys.modules["jax"]
        spec = jax.ShapeDtypeStruct(out.shape, out.dtype)

        def call(*arrays: Any) -> np.ndarray:
            return np.asarray(fn(*(np.asarray(a) for a in arrays)), dtype=np.float64)

        return jax.pure_callback(call, spec, *args, vmap_method="broadcast_all")
    fixed = fn(*(_host(a) for a in args))
    return xp.reshape(xp.asarray(fixed, dtype=out.dtype, device=array_device(out)), out.shape)


def _xp_certify(xp: Any, y: Any, core: XpCore, x2: Any, dtype: Any) -> Any:
    """The certification of :mod:`numdl._engine.certify` for tensors: rows whose float64 value
    may round to the wrong neighbour get the certified value, their gradient unchanged
    (``y + stop_gradient(certified - y)``)."""
    np_dtype = _np_dtype(xp, dtype)
    n = int(x2.shape[1])

    def fix(y_np: np.ndarray, a_np: np.ndarray, s_np: np.ndarray, rows: np.ndarray) -> np.ndarray:
        shape = y_np.shape
        y_np, a_np, s_np = (v.reshape(-1).astype(np.float64) for v in (y_np, a_np, s_np))
        redo = certify.uncertain_lse(a_np, s_np, y_np, n, np_dtype)
        delta = np.zeros_like(y_np)  # 0 elsewhere: inf - inf would make the others NaN
        if redo.size:
            rows64 = rows.reshape(-1, n)[redo].astype(np.float64)
            delta[redo] = certify.lse_rows(rows64, np_dtype) - y_np[redo]
        return delta.reshape(shape)

    delta = _host_call(xp, fix, y, y, core.a, core.s, x2)
    return y if delta is None else y + stop_gradient(xp, delta)


def _xp_certify_logaddexp(xp: Any, y: Any, x1: Any, x2: Any, dtype: Any) -> Any:
    """:func:`numdl._engine.elementwise.np_logaddexp`'s certification for tensors (float64
    ``y`` of the broadcast ``x1``, ``x2``)."""
    np_dtype = _np_dtype(xp, dtype)

    def fix(y_np: np.ndarray, a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
        y_np = np.asarray(y_np, dtype=np.float64)
        with np.errstate(all="ignore"):
            redo = certify.uncertain_logaddexp(y_np, np.maximum(a1, a2), np_dtype)
        delta = np.zeros_like(y_np)
        if redo.any():
            pairs = np.stack([a1[redo], a2[redo]], axis=1)
            delta[redo] = certify.lse_rows(pairs, np_dtype) - y_np[redo]
        return delta

    shape = tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    delta = _host_call(xp, fix, y, y, xp.broadcast_to(x1, shape), xp.broadcast_to(x2, shape))
    return y if delta is None else y + stop_gradient(xp, delta)


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
    """``fn(xp, *float64 tensors)`` of ``(value, argname)`` pairs, in their result dtype (the
    library's promotion, :func:`numdl._engine.inputs.xp_result_dtype`); the narrow formats'
    ``logaddexp`` is certified as on the NumPy path."""
    xp = namespace(*(v for v, _ in args))
    args = tuple(
        (xp.asarray(v) if isinstance(v, np.ndarray | np.generic | list | tuple) else v, name)
        for v, name in args
    )
    dtype = xp_result_dtype(xp, *args)
    tensors = [
        xp_float_input(xp, v if hasattr(v, "dtype") else xp.asarray(v, dtype=dtype), name)
        for v, name in args
    ]
    t64 = [xp.astype(t, xp.float64) for t in tensors]
    y = fn(xp, *t64)
    if fn is logaddexp64 and dtype != xp.float64:
        y = _xp_certify_logaddexp(xp, y, *t64, dtype)
    return xp_finish(xp, y, dtype)


def xp_one_minus_cos_ratio(x: Any) -> Any:
    """:func:`numdl.stable.one_minus_cos_ratio` of a tensor: ``2 sin^2(x/2) / x^2`` as
    ``(sin(h) / h)^2 / 2``, ``h = x / 2``, in float64 rounded once to x's dtype (float64 for
    integer input's library default).  ``h = 0`` takes the limit 1 with a safe divisor, so the
    gradient there is the limit's, 0."""
    xp = namespace(x)
    dtype = xp_result_dtype(xp, (x, "x"))
    x64 = xp.astype(xp_float_input(xp, x, "x"), xp.float64)
    half = x64 / 2
    zero = half == 0
    safe = xp.where(zero, xp.ones_like(half), half)
    s = xp.where(zero, xp.ones_like(half), xp.sin(safe) / safe)
    return xp_finish(xp, s * s / 2, dtype)


