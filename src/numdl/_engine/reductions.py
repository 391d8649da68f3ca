"""The row reductions of NumPy input: logsumexp (plain and weighted), softmax and log_softmax,
each on the small-input path (:mod:`numdl._engine.small`) or the kernels
(:mod:`numdl._engine.numpy_kernel`, :mod:`numdl._engine.compiled`), narrow formats' logsumexp
certified where cancellation near 0 leaves its float64 value uncertain
(:mod:`numdl._engine.certify`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numdl._engine import certify
from numdl._engine.inputs import normalize_axes, np_float_input, np_round
from numdl._engine.numpy_kernel import np_kernel
from numdl._engine.rows import np_rows, np_unrows, scalar_or_array
from numdl._engine.small import applies as small_applies
from numdl._engine.small import np_small, round_long

__all__ = ["is_complex_input", "np_logsumexp", "np_logsumexp_complex", "np_softmax_family"]


def is_complex_input(*values: Any) -> bool:
    """True if some NumPy value is complex (lists of complex numbers included)."""
    return any(v is not None and np.iscomplexobj(v) for v in values)


def np_logsumexp_complex(x: Any, axis: Any, b: Any, keepdims: bool, return_sign: bool) -> Any:
    """logsumexp of complex NumPy input, as SciPy computes it: ``a + log(sum(b exp(x - a)))`` with
    ``a`` the largest real part, in complex128, rounded once to the result dtype (complex64 for
    complex64 input).  The principal branch of ``log``; with `return_sign`, ``log|sum|`` and the
    unit complex ``sum / |sum|``.  No certification: a complex sum may cancel (like negative
    weights), and the result then carries that cancellation."""
    xa = np.asarray(x)
    arrays = [xa] if b is None else [xa, np.asarray(b)]
    for arr, name in zip(arrays, ("x", "b")):
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    out_dtype = np.result_type(*(a.dtype for a in arrays), np.complex64)
    if out_dtype.kind != "c" or out_dtype.itemsize > 16:
        raise TypeError(f"complex input of dtype {out_dtype} is not supported (complex64 or "
                        "complex128)")
    x128 = xa.astype(np.complex128)
    b128 = None if b is None else np.asarray(b).astype(np.complex128)
    if b128 is not None:
        try:
            shape = np.broadcast_shapes(x128.shape, b128.shape)
        except ValueError:
            raise ValueError(f"b (shape {b128.shape}) does not broadcast against x (shape "
                             f"{x128.shape})") from None
        x128, b128 = np.broadcast_to(x128, shape), np.broadcast_to(b128, shape)
    axes = normalize_axes(axis, x128.ndim)
    with np.errstate(all="ignore"):
        re = x128.real
        if b128 is not None:
            re = np.where(b128 == 0, -np.inf, re)  # zero weights drop their terms, as SciPy
        a = np.max(re, axis=axes, keepdims=True, initial=-np.inf)
        a = np.where(np.isfinite(a), a, 0.0)  # -inf rows sum to 0; inf and NaN propagate
        terms = np.exp(x128 - a)
        if b128 is not None:
            terms = np.where(b128 == 0, 0.0, terms * b128)
        total = np.sum(terms, axis=axes, keepdims=True)
        if return_sign:
            mag = np.abs(total)
            out = np.log(mag) + a
            sign = np.where(mag > 0, total / np.where(mag > 0, mag, 1.0), 0.0)
        else:
            out = np.log(total) + a
    if not keepdims:
        out = np.squeeze(out, axis=axes)
        if return_sign:
            sign = np.squeeze(sign, axis=axes)
    if return_sign:
        real = np.float32 if out_dtype == np.complex64 else np.float64
        return (scalar_or_array(np.asarray(np.asarray(out).real, dtype=real)),
                scalar_or_array(np.asarray(sign).astype(out_dtype)))
    return scalar_or_array(np.asarray(out).astype(out_dtype))


def np_logsumexp(x: Any, axis: Any, b: Any, keepdims: bool, return_sign: bool) -> Any:
    """:func:`numdl.stable.logsumexp` of NumPy input (and weights `b`)."""
    if is_complex_input(x, b):
        return np_logsumexp_complex(x, axis, b, keepdims, return_sign)
    x = np_float_input(x, "x")
    if b is not None:
        # NumPy's promotion, as SciPy: integer weights are float64, so float32 x with integer b
        # gives float64 (numpy.result_type(float32, int64))
        b = np_float_input(b, "b")
        try:
            shape = np.broadcast_shapes(x.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"b (shape {b.shape}) does not broadcast against x (shape {x.shape})"
            ) from None
        # SciPy's rule: x and b are broadcast first, and `axis` counts the axes of the broadcast
        # shape (b may have more dimensions than x).
        x, b = np.broadcast_to(x, shape), np.broadcast_to(b, shape)
        axes = normalize_axes(axis, len(shape))
        return _np_logsumexp_weighted(x, b, axes, keepdims, return_sign)
    return _np_logsumexp(x, normalize_axes(axis, x.ndim), keepdims, return_sign)


def _np_logsumexp(x: np.ndarray, axes: tuple[int, ...], keepdims: bool, return_sign: bool) -> Any:
    x2, batch, _ = np_rows(x, axes)
    small = None
    if small_applies(x2.size) and x2.shape[1]:
        small = np_small(x2, "lse")
    if small is not None:
        a, s, y_long = small
        y = y_long.astype(np.float64)
        u = 2.0**-64
    else:
        # A plain float64 sum is enough here: its relative error moves a + log1p(s) by a few
        # u s/(1+s), within the bound unless |result| < 1, where rows are short (few roundings).
        stats = np_kernel(x2, "stats", split=False)
        a, s, u = stats.a, stats.s, 2.0**-53
        with np.errstate(all="ignore"):
            # a row without a finite maximum is its maximum: NaN, +inf, or -inf (all -inf, empty)
            y = np.where(np.isfinite(a), a + np.log1p(s), a)
    if x.dtype != np.float64:
        # Near a result of 0 the float64 sum a + log1p(s) cancels; where its error bound does not
        # keep the result within 1 ULP, the row is certified.
        a64, s64 = np.asarray(a, dtype=np.float64), np.asarray(s, dtype=np.float64)
        redo = certify.uncertain_lse(a64, s64, y, x2.shape[1], x.dtype, u)
        if redo.size:
            y[redo] = certify.lse_rows(x2[redo].astype(np.float64), x.dtype)
            if small is not None:
                y_long = y_long.copy()
                y_long[redo] = y[redo]
    sign = np.where(np.isnan(y), np.nan, np.where(y == -np.inf, 0.0, 1.0))
    out = round_long(y_long, x.dtype) if small is not None else np_round(y, x.dtype)
    out = out.reshape(batch)
    sign = sign.astype(x.dtype).reshape(batch)
    if keepdims:
        for ax in axes:
            out, sign = np.expand_dims(out, ax), np.expand_dims(sign, ax)
    out, sign = scalar_or_array(out), scalar_or_array(sign)
    return (out, sign) if return_sign else out


def _np_logsumexp_weighted(
    x: np.ndarray, b: np.ndarray, axes: tuple[int, ...], keepdims: bool, return_sign: bool
) -> Any:
    """SciPy's weighted logsumexp, computed in float64 (rows short enough for plain NumPy).

    ``sum b exp(x) = B (1 + r)``: ``B`` the weight of the row's largest entries, ``r`` the rest
    relative to it, so the result is ``a + log|B| + log|1 + r|`` with ``log1p`` for small ``r``
    and ``log|1 + r|`` past ``r < -1`` (the sign changes).  A row whose largest entries cancel
    (``B = 0``) is recomputed without them.
    """
    dtype = np.result_type(x.dtype, b.dtype)
    shape = np.broadcast_shapes(x.shape, b.shape)
    x64 = np.broadcast_to(x, shape).astype(np.float64)
    b64 = np.broadcast_to(b, shape).astype(np.float64)
    x2, batch, _ = np_rows(x64, axes)
    b2, _, _ = np_rows(b64, axes)
    x2, b2 = x2.copy(), b2.copy()
    with np.errstate(all="ignore"):
        x2[b2 == 0] = -np.inf  # SciPy: a term of weight 0 adds nothing, even if x is inf or NaN
        direct = np.log(np.abs(np.sum(b2 * np.exp(x2), axis=1)))  # for the non-finite results
        direct_sign = np.sign(np.sum(b2 * np.exp(x2), axis=1))
        out = np.empty(x2.shape[0])
        sign = np.empty(x2.shape[0])
        for r in range(x2.shape[0]):
            xr, br = x2[r], b2[r]
            value, sgn = -np.inf, 0.0
            while True:
                a = xr.max(initial=-np.inf)
                if not math.isfinite(a):
                    value, sgn = direct[r], direct_sign[r]
                    break
                top = xr == a
                big = float(np.sum(br[top]))
                rest = np.where(top, 0.0, br * np.exp(xr - a))
                if big == 0:
                    xr = np.where(top, -np.inf, xr)
                    continue
                ratio = float(np.sum(rest)) / big
                one_plus = 1.0 + ratio
                sgn = (
                    math.copysign(1.0, one_plus) * math.copysign(1.0, big) if one_plus != 0 else 0.0
                )
                body = math.log1p(ratio) if ratio >= -1 else math.log(-one_plus)
                value = a + math.log(abs(big)) + body if one_plus != 0 else -math.inf
                break
            out[r], sign[r] = value, sgn
        if not return_sign:
            out = np.where(sign < 0, np.nan, out)
    out = np_round(out, dtype).reshape(batch)
    sign = sign.astype(dtype).reshape(batch)
    if keepdims:
        for ax in axes:
            out, sign = np.expand_dims(out, ax), np.expand_dims(sign, ax)
    out, sign = scalar_or_array(out), scalar_or_array(sign)
    return (out, sign) if return_sign else out


def np_softmax_family(x: Any, axis: Any, kind: str) -> Any:
    """softmax (`kind` ``"softmax"``) or log_softmax (``"log_softmax"``) of NumPy input: the
    small-input path or the kernel."""
    x = np_float_input(x, "x")
    axes = normalize_axes(axis, x.ndim)
    if x.ndim == 0:  # one element along axis 0, as in SciPy and PyTorch
        return np_softmax_family(x.reshape(1), 0, kind)[0]
    x2, _, perm = np_rows(x, axes)
    small = np_small(x2, kind) if small_applies(x2.size) else None
    if small is not None:
        out = round_long(small, x.dtype)
    else:
        out = np.empty(x2.shape, dtype=x.dtype)
        np_kernel(x2, kind, out=out)
    return scalar_or_array(np_unrows(out, x.shape, perm))
