"""Classification losses computed from logits, without forming probabilities.

``cross_entropy`` and ``binary_cross_entropy_with_logits`` follow PyTorch's definitions (targets,
reductions, ``ignore_index``, ``label_smoothing``, ``weight``, ``pos_weight``) and compute every loss from the
log-sum-exp identities of :mod:`numdl.stable`: a confidently right prediction keeps its tiny loss
(``3.9e-22`` for logits ``[50, 0, 0]``, where the textbook ``-log(softmax)`` and every framework
give 0), and a masked class (logit ``-inf``) with target probability 0 contributes 0, not the
``0 * -inf = nan`` of the textbook sum.  :mod:`numdl.naive` has the textbook versions,
:mod:`numdl.reference` the exact values.

References
----------
P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the log-sum-exp and softmax
functions", *IMA J. Numer. Anal.* 41(4), 2021.  PyTorch documentation of
``torch.nn.functional.cross_entropy`` and ``binary_cross_entropy_with_logits`` (semantics).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numdl._engine import config
from numdl._engine.compiled import FAST_DTYPES
from numdl._engine.eft import two_sum
from numdl._engine.elementwise import minus_abs
from numdl._engine.inputs import (
    is_numpy_input,
    namespace,
    normalize_axes,
    np_float_input,
    np_round,
    xp_float_input,
)
from numdl._engine.numpy_kernel import np_kernel, special_row
from numdl._engine.rows import np_rows
from numdl._engine.small import applies as small_applies
from numdl._engine.small import long_shift
from numdl._engine.xp import xp_core, xp_rows, xp_special

__all__ = ["Array", "binary_cross_entropy_with_logits", "cross_entropy"]

# What the losses return: a NumPy scalar or array for NumPy input, a tensor of the input's library
# for a PyTorch tensor or JAX array.
Array = Any

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction={reduction!r} is not one of {', '.join(repr(r) for r in _REDUCTIONS)}"
        )
    return reduction


def _check_smoothing(label_smoothing: Any) -> float:
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing={label_smoothing!r} must be in [0, 1]")
    return eps


def _class_axis(axis: Any, ndim: int) -> int:
    if ndim == 0:
        raise ValueError("logits must have a class axis; got a 0-D array")
    if isinstance(axis, tuple):
        raise TypeError(f"axis must be a single int (the class axis), got {axis!r}")
    return normalize_axes(axis, ndim)[0]


def _fsum(values: np.ndarray) -> float:
    """Correctly rounded sum of float64 values (``math.fsum``), with IEEE rules for inf and NaN."""
    if values.size and not np.isfinite(values).all():
        with np.errstate(invalid="ignore"):
            return float(np.sum(values))
    return math.fsum(values.tolist())


def _reduce_np(
    losses: np.ndarray, reduction: str, count: int, batch: tuple, dtype: np.dtype
) -> Any:
    if reduction == "none":
        out = np_round(losses, dtype).reshape(batch)
        return out[()] if out.ndim == 0 else out
    total = _fsum(losses)
    if reduction == "mean":
        total = total / count if count else math.nan
    return np_round(np.array([total]), dtype)[0]


def cross_entropy(
    logits: ArrayLike | Array,
    target: ArrayLike | Array,
    *,
    axis: int = -1,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    weight: ArrayLike | Array | None = None,
) -> Array:
    """Cross-entropy of `target` under ``softmax(logits)``, from the logits (PyTorch semantics).

    The identity: the loss of a row is ``sum_c w_c (-log_softmax(x)_c)`` with
    ``-log_softmax(x)_c = log1p(s) - (x_c - a)``, ``a = max x``,
    ``s = sum_{j != argmax} exp(x_j - a)``, and ``w`` the (smoothed) target distribution:
    ``w = (1 - eps) onehot(t) + eps / C`` for a class index ``t``, ``w = (1 - eps) p + eps / C``
    for probabilities ``p`` (``eps = label_smoothing``, ``C`` classes).  Every term is
    non-negative, so nothing cancels.

    The textbook ``-log(softmax(x)[t])`` overflows with large logits, gives ``log 0 = -inf`` when the
    true class's probability underflows, and gives exactly 0 when the prediction is confidently
    right (``softmax`` rounds to 1): the loss of logits ``[50, 0, 0]`` with target 0 is
    ``2 exp(-50) = 3.9e-22``, not 0.  A masked class (logit ``-inf``) with target probability 0
    contributes 0 here, where ``0 * log(0)`` is NaN.

    Parameters
    ----------
    logits : array_like, torch.Tensor or jax.Array
        Unnormalised scores, with the classes along `axis` (e.g. ``(N, C)``; PyTorch's ``(N, C,
        d1, ...)`` is ``axis=1``).
    target : array_like or tensor
        Class indices (integers) of the logits' shape without `axis`, or class probabilities
        (floats) of the logits' shape.
    axis : int
        The class axis (default: the last).
    reduction : {"mean", "sum", "none"}
        "mean" averages over the batch elements that are not ignored (all of them for probability
        targets); "sum" adds; "none" returns one loss per batch element (0 where ignored).
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution, as PyTorch does.
    ignore_index : int, optional
        Class-index targets equal to it contribute 0 and are left out of the mean (PyTorch's
        default is -100; here the default is to ignore nothing).  Only for class-index targets.
    weight : array_like or tensor of shape (C,), optional
        Per-class weights (class imbalance), as PyTorch's ``weight``: a row's class weights become
        ``w_c weight_c``, i.e. ``(1 - eps) weight_t (-log_softmax_t) + (eps / C) sum_c weight_c
        (-log_softmax_c)`` for a class index ``t`` and ``-sum_c weight_c w_c log_softmax_c`` for
        probabilities.  "mean" then divides by ``sum weight_t`` over the class-index targets that
        are not ignored (not by their number), and by the number of rows for probability targets,
        as in PyTorch.  Any real values are accepted, as in PyTorch; the accuracy claim is for
        non-negative weights.  Gradients flow to a tensor `weight` (PyTorch refuses them for
        class-index targets).  ``None`` (the default) runs the unweighted code unchanged.

    Returns
    -------
    A scalar ("mean", "sum") or an array of the batch shape ("none"), of the logits' dtype
    (float64 for integer logits) and kind (NumPy, tensor).

    Raises
    ------
    ValueError
        For an unknown `reduction`, `label_smoothing` outside [0, 1], a target shape that does not
        match, labels outside ``[0, C)`` (other than `ignore_index`), `ignore_index` with
        probability targets, a `weight` that is not of shape ``(C,)``, or an `axis` out of range.
        (Under ``jax.jit`` the labels are not known when the function is traced, so their range
        is not checked there; an out-of-range label then gives what ``take_along_axis`` gives.)
    TypeError
        For boolean or complex inputs (`weight` included), or a tuple `axis`.

    Notes
    -----
    Special values: a row with NaN gives NaN; a row with one ``+inf`` logit gives 0 if that is the
    target (and ``+inf`` if it is not, or if smoothing gives the others weight); several ``+inf``
    give NaN; a row of all ``-inf`` gives NaN; a ``-inf`` logit gives ``+inf`` if its class has
    target weight, 0 if it has none.  A "mean" with no element counted is NaN (``0 / 0``), as in
    PyTorch, and so is a weighted "mean" whose counted weights sum to 0.

    Differences from PyTorch with `weight`: a class of weight 0 contributes 0 even where its logit
    is ``-inf`` (PyTorch: ``0 * inf = NaN``); a `weight` of another float dtype than the logits is
    accepted (computed in float64; PyTorch raises).

    Accuracy: float16/bfloat16/float32 within 1 ULP; float64 within ``2 max(1, kappa)`` ULP with
    ``kappa = sum_j |x_j| |p_j - w_j| / loss`` (``p = softmax(x)``).  Probability targets are taken
    as exact, and the smoothed weights are formed in float64.  With `weight`, kappa also counts
    the weights as inputs (``sum_c |v_c log_softmax_c|`` per row, plus 1 for the divisor of a
    weighted mean).

    References
    ----------
    Blanchard, Higham & Higham (2021); PyTorch, ``torch.nn.functional.cross_entropy``.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import losses, naive
    >>> logits, target = np.array([[50.0, 0.0, 0.0]]), np.array([0])
    >>> naive.cross_entropy(logits, target), losses.cross_entropy(logits, target)  # 2 exp(-50)
    (np.float64(0.0), np.float64(3.8574996959278356e-22))
    >>> masked = np.array([[1.0, -np.inf, 0.5]]), np.array([[0.7, 0.0, 0.3]])
    >>> losses.cross_entropy(*masked)  # naive: 0 * log(0) = nan
    np.float64(0.6240769841801066)
    """
    if (
        weight is None
        and label_smoothing == 0.0
        and ignore_index is None
        and type(logits) is np.ndarray
        and type(target) is np.ndarray
        and reduction in _REDUCTIONS
        and type(label_smoothing) in (float, int)
    ):
        fast = _fast_small_cross_entropy(logits, target, axis, reduction)
        if fast is not None:
            return fast
    reduction = _check_reduction(reduction)
    eps = _check_smoothing(label_smoothing)
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
    ):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    plain = (
        type(logits) is np.ndarray
        and type(target) is np.ndarray
        and (weight is None or type(weight) is np.ndarray)
    )
    if not plain and not is_numpy_input(logits, target, weight):
        return _xp_cross_entropy(logits, target, axis, reduction, eps, ignore_index, weight)
    x = np_float_input(logits, "logits")
    if x.ndim == 2 and type(axis) is int and axis in (-1, 1):
        ax = 1
        x2, batch = x, (x.shape[0],)  # the common (N, C) call, without the general reshaping
    else:
        ax = _class_axis(axis, x.ndim)
        x2, batch, _ = np_rows(x, (ax,))
    rows, classes = x2.shape
    cw = None if weight is None else _np_class_weight(weight, classes)
    t_arr = np.asarray(target)
    if t_arr.dtype.kind in "iu":
        t, ignored = _class_targets(t_arr, batch, classes, ignore_index)
        if cw is not None:
            return _np_weighted_class_targets(x2, t, ignored, cw, eps, reduction, batch, x.dtype)
        if small_applies(x2.size):
            small = _small_cross_entropy(x2, t, ignored, None, eps)
            if small is not None:
                return _reduce_long(small, reduction, int(rows - ignored.sum()), batch, x.dtype)
        stats = np_kernel(x2, "stats", want_dsum=eps != 0)
        ar = np.arange(rows)
        t_safe = np.where(ignored, 0, t)
        xt = x2[ar, t_safe].astype(np.float64)
        with np.errstate(all="ignore"):
            a_safe = np.where(np.isfinite(stats.a), stats.a, 0.0)
            dt, dlt = two_sum(xt, -a_safe)  # the target's shift, exactly
            dlt = np.where(np.isfinite(dlt), dlt, 0.0)
            lg = np.log1p(stats.s)
            loss = (lg - dt * (1 - eps)) - dlt * (1 - eps)
            if eps:
                loss = loss - (eps / classes) * stats.dsum
        wm = None
        count = int(rows - ignored.sum())
    else:
        if ignore_index is not None:
            raise ValueError("ignore_index applies to class-index targets only, not probabilities")
        p = np_float_input(target, "target")
        if p.shape != x.shape:
            raise ValueError(
                f"target has shape {p.shape}; probability targets must have the logits' shape "
                f"{x.shape}"
            )
        p2 = np_rows(p, (ax,))[0].astype(np.float64)
        wm = p2 if eps == 0 else (1 - eps) * p2 + eps / classes
        if cw is not None:
            wm = wm * cw  # torch: -sum_c weight_c p_c log_softmax_c; the mean still divides by N
        if small_applies(x2.size):
            small = _small_cross_entropy(x2, None, None, wm, eps)
            if small is not None:
                return _reduce_long(small, reduction, rows, batch, x.dtype)
        stats = np_kernel(x2, "stats", weights=wm)
        with np.errstate(all="ignore"):
            lg = np.log1p(stats.s)
            loss = lg * wm.sum(axis=1) - stats.wdsum
        ignored = np.zeros(rows, dtype=bool)
        count = rows
    bad = np.flatnonzero(~np.isfinite(stats.a))
    if bad.size:
        loss = loss.copy()
        for r in bad.tolist():
            w = wm[r] if wm is not None else _class_weights(t[r], classes, eps)
            loss[r] = _weighted_loss(w, special_row(x2[r].astype(np.float64), "log_softmax"))
    loss = np.where(ignored, 0.0, loss)
    return _reduce_np(loss, reduction, count, batch, x.dtype)


def _fast_small_cross_entropy(x: np.ndarray, t: np.ndarray, axis: Any, reduction: str) -> Any:
    """The common small call -- ``(N, C)`` float32/float64 logits, ``(N,)`` class indices, no
    smoothing, nothing ignored -- in long double with nothing around it, so that a call on 10
    logits costs what SciPy's ``log_softmax`` and a gather cost.  None for anything else (labels
    out of range included: the general path raises their error)."""
    settings = config.settings
    if (
        settings.long_double is None
        or not settings.fast_paths
        or x.ndim != 2
        or x.dtype not in FAST_DTYPES
        or not 0 < x.size <= settings.small_threshold
        or type(axis) is not int
        or axis not in (-1, 1)
        or t.dtype.kind not in "iu"
        or t.shape != (x.shape[0],)
    ):
        return None
    rows, classes = x.shape
    if t.min() < 0 or t.max() >= classes:
        return None
    shifted = long_shift(x)
    if shifted is None:
        return None
    ar, k, _, d, e = shifted
    e[ar, k] = 0  # kept out of the sum: log1p
    loss = np.log1p(e.sum(axis=1)) - d[ar, t]
    if reduction == "none":
        return loss.astype(x.dtype)
    total = loss.sum() if reduction == "sum" else loss.sum() / rows
    return total.astype(x.dtype)[()]


def _small_cross_entropy(
    x2: np.ndarray, t: Any, ignored: Any, weight: Any, eps: float
) -> np.ndarray | None:
    """Per-row losses of a small input in long double (see :func:`numdl._engine.small.np_small`), or
    None if a row has no finite maximum (the general path's special-value rules handle it)."""
    classes = x2.shape[1]
    shifted = long_shift(x2)
    if shifted is None:
        return None
    ar, k, _, d, e = shifted
    e[ar, k] = 0  # kept out of the sum: log1p
    lg = np.log1p(e.sum(axis=1))
    if weight is None:
        some_ignored = ignored.any()
        t_safe = np.where(ignored, 0, t) if some_ignored else t
        loss = lg - (1 - eps) * d[ar, t_safe]
        if eps:
            loss = loss - (eps / classes) * d.sum(axis=1)
        return np.where(ignored, 0, loss) if some_ignored else loss
    w = weight.astype(config.settings.long_double)
    with np.errstate(invalid="ignore"):
        wd = np.where(w == 0, 0, w * d)  # a class of weight zero contributes 0, even at -inf
    return lg * w.sum(axis=1) - wd.sum(axis=1)


def _reduce_long(
    losses: np.ndarray, reduction: str, count: int, batch: tuple, dtype: np.dtype
) -> Any:
    """The reduction of long double losses, rounded once to `dtype`."""
    if reduction == "none":
        out = (
            np_round(losses.astype(np.float64), dtype)
            if dtype not in (np.float64, np.float32)
            else losses.astype(dtype)
        )
        out = out.reshape(batch)
        return out[()] if out.ndim == 0 else out
    with np.errstate(invalid="ignore"):
        total = losses.sum()
        if reduction == "mean":
            total = total / count if count else config.settings.long_double(math.nan)
    if dtype in (np.float64, np.float32):
        return np.asarray(total).astype(dtype)[()]
    return np_round(np.array([float(total)]), dtype)[0]


def _class_targets(
    t_arr: np.ndarray, batch: tuple, classes: int, ignore_index: int | None
) -> tuple[np.ndarray, np.ndarray]:
    if t_arr.shape != batch:
        raise ValueError(
            f"target has shape {t_arr.shape}; class-index targets must have the logits' shape "
            f"without the class axis, {batch}"
        )
    t = t_arr.reshape(-1).astype(np.int64, copy=False)
    ignored = t == ignore_index if ignore_index is not None else np.zeros(t.shape, dtype=bool)
    bad = ((t < 0) | (t >= classes)) & ~ignored
    if bad.any():
        raise ValueError(
            f"target has labels outside [0, {classes}): {sorted(set(t[bad].tolist()))[:5]}"
        )
    return t, ignored


def _class_weights(t: int, classes: int, eps: float) -> np.ndarray:
    w = np.full(classes, eps / classes)
    w[t] += 1 - eps
    return w


def _weighted_loss(w: np.ndarray, ls: np.ndarray) -> float:
    """``-sum w_c ls_c`` with ``0 * inf = 0`` (a class without target weight contributes 0)."""
    with np.errstate(invalid="ignore"):
        terms = np.where(w == 0, 0.0, -w * ls)
        return float(np.sum(terms))


def _weight_shape_error(shape: tuple, classes: int) -> ValueError:
    return ValueError(
        f"weight has shape {shape}; it must hold one weight per class, shape ({classes},)"
    )


def _np_class_weight(weight: Any, classes: int) -> np.ndarray:
    """The per-class `weight` of :func:`cross_entropy` as float64 ``(C,)``.  Any real values are
    accepted, as in PyTorch (negative or NaN weights are computed, with no accuracy claim)."""
    cw = np_float_input(weight, "weight")
    if cw.shape != (classes,):
        raise _weight_shape_error(cw.shape, classes)
    return cw.astype(np.float64)


def _np_weighted_class_targets(
    x2: np.ndarray,
    t: np.ndarray,
    ignored: np.ndarray,
    cw: np.ndarray,
    eps: float,
    reduction: str,
    batch: tuple,
    dtype: np.dtype,
) -> Any:
    """Class-index targets with per-class weights ``cw`` (PyTorch's ``weight=``).

    A row's loss is ``sum_c v_c (L - d_c)``, ``L = log1p(s)``, ``d = x - a``, with
    ``v_c = (1 - eps) cw_t [c = t] + (eps / C) cw_c``: PyTorch's ``(1 - eps) nll_loss(weight) +
    (eps / C) sum_c cw_c (-log_softmax_c)``.  "mean" divides by ``sum cw_t`` over the rows that
    are not ignored.
    """
    rows, classes = x2.shape
    t_safe = np.where(ignored, 0, t)
    wt = np.where(ignored, 0.0, cw[t_safe])  # (N,) the target's weight, 0 where ignored
    denom = _fsum(wt) if reduction == "mean" else 1.0
    ar = np.arange(rows)
    if small_applies(x2.size):
        ld = config.settings.long_double
        v = np.broadcast_to((ld(eps) / classes) * cw.astype(ld), x2.shape).copy()  # (N, C)
        v[ar, t_safe] += (1 - ld(eps)) * wt.astype(ld)
        small = _small_cross_entropy(x2, None, None, v, eps)
        if small is not None:
            small = np.where(ignored, 0, small)
            return _reduce_long(small, reduction, denom, batch, dtype)
    # the weighted sum of the shifts over the row: the kernel reads cw through a stride-0 view
    stats = np_kernel(x2, "stats", weights=np.broadcast_to(cw, x2.shape) if eps else None)
    xt = x2[ar, t_safe].astype(np.float64)
    c_t = (1 - eps) * wt  # (N,)
    with np.errstate(all="ignore"):
        a_safe = np.where(np.isfinite(stats.a), stats.a, 0.0)
        dt, dlt = two_sum(xt, -a_safe)  # the target's shift, exactly
        dlt = np.where(np.isfinite(dlt), dlt, 0.0)
        c_l = c_t + (eps / classes) * _fsum(cw) if eps else c_t  # sum_c v_c
        # a target of weight 0 contributes 0 even where its logit is -inf (0 * inf)
        target_term = np.where(c_t == 0, 0.0, dt * c_t)
        loss = (np.log1p(stats.s) * c_l - target_term) - np.where(c_t == 0, 0.0, dlt * c_t)
        if eps:
            loss = loss - (eps / classes) * stats.wdsum
    bad = np.flatnonzero(~np.isfinite(stats.a) & ~ignored)
    if bad.size:
        loss = loss.copy()
        for r in bad.tolist():
            w = (eps / classes) * cw
            w[t[r]] += c_t[r]
            loss[r] = _weighted_loss(w, special_row(x2[r].astype(np.float64), "log_softmax"))
    loss = np.where(ignored, 0.0, loss)
    return _reduce_np(loss, reduction, denom, batch, dtype)


def _xp_class_weight(xp: Any, weight: Any, classes: int) -> Any:
    """The per-class `weight` as a float64 tensor ``(C,)`` (gradients flow through it)."""
    if isinstance(weight, np.ndarray) or not hasattr(weight, "dtype"):
        weight = xp.asarray(np_float_input(weight, "weight"))
    cw = xp_float_input(xp, weight, "weight")
    if tuple(cw.shape) != (classes,):
        raise _weight_shape_error(tuple(cw.shape), classes)
    return xp.astype(cw, xp.float64)


def _xp_cross_entropy(logits, target, axis, reduction, eps, ignore_index, weight=None):
    xp = namespace(logits, target, weight)
    x = xp_float_input(xp, xp.asarray(logits) if isinstance(logits, list) else logits, "logits")
    ax = _class_axis(axis, x.ndim)
    x64 = xp.astype(x, xp.float64)
    x2, batch, _ = xp_rows(xp, x64, (ax,))
    rows, classes = x2.shape
    cw = None if weight is None else _xp_class_weight(xp, weight, classes)
    core = xp_core(xp, x2, exact=x.dtype == xp.float64)
    a_safe = xp.where(core.finite, core.a, xp.zeros_like(core.a))
    ls = ((x2 - a_safe) - xp.log1p(core.s)) + core.dl
    ls = xp.where(core.finite, ls, xp_special(xp, x2, "log_softmax"))
    t = target if hasattr(target, "dtype") else xp.asarray(target)
    if xp.isdtype(t.dtype, "integral"):
        if tuple(t.shape) != batch:
            raise ValueError(
                f"target has shape {tuple(t.shape)}; class-index targets must have the logits' "
                f"shape without the class axis, {batch}"
            )
        t1 = xp.reshape(t, (rows,))
        ignored = (
            t1 == ignore_index if ignore_index is not None else xp.zeros((rows,), dtype=xp.bool)
        )
        out_of_range = ((t1 < 0) | (t1 >= classes)) & ~ignored
        try:
            out_of_range_found = bool(xp.any(out_of_range))
        except TypeError:  # a JAX tracer under jit: the labels are not known until it runs
            out_of_range_found = False
        if out_of_range_found:
            raise ValueError(f"target has labels outside [0, {classes})")
        t_safe = xp.where(ignored, xp.zeros_like(t1), t1)
        ls_t = xp.take_along_axis(ls, xp.reshape(xp.astype(t_safe, xp.int64), (rows, 1)), axis=-1)[
            :, 0
        ]
        if cw is None:
            loss = -(1 - eps) * ls_t
            if eps:
                loss = loss - (eps / classes) * xp.sum(ls, axis=-1)
            # an array, not an int: traceable under jax.jit (0 / 0 is NaN, as in PyTorch)
            count = xp.sum(xp.astype(~ignored, ls.dtype))
        else:
            wt = xp.take(cw, xp.astype(t_safe, xp.int64), axis=0)
            wt = xp.where(ignored, xp.zeros_like(wt), wt)  # (N,) the target's weight
            # a weight of 0 contributes 0 even at a -inf logit, gradients included
            ls_t = xp.where(wt == 0, xp.zeros_like(ls_t), ls_t)
            loss = -(1 - eps) * (wt * ls_t)
            if eps:
                safe_ls = xp.where(cw == 0, xp.zeros_like(ls), ls)
                loss = loss - (eps / classes) * xp.sum(cw * safe_ls, axis=-1)
            count = xp.sum(wt)  # PyTorch's mean divides by the weights of the counted targets
        loss = xp.where(ignored, xp.zeros_like(loss), loss)
    else:
        if ignore_index is not None:
            raise ValueError("ignore_index applies to class-index targets only, not probabilities")
        p = xp_float_input(xp, t, "target")
        if tuple(p.shape) != tuple(x.shape):
            raise ValueError(
                f"target has shape {tuple(p.shape)}; probability targets must have the logits' "
                f"shape {tuple(x.shape)}"
            )
        p2, _, _ = xp_rows(xp, xp.astype(p, xp.float64), (ax,))
        w = p2 if eps == 0 else (1 - eps) * p2 + eps / classes
        if cw is not None:
            w = w * cw  # the mean still divides by N, as in PyTorch
        zero = w == 0
        safe_ls = xp.where(zero, xp.zeros_like(ls), ls)  # 0 * -inf is 0 here, gradients included
        loss = -xp.sum(w * safe_ls, axis=-1)
        count = rows
    if reduction == "none":
        out = xp.reshape(loss, batch)
    else:
        out = xp.sum(loss)
        if reduction == "mean":
            if not isinstance(count, int):
                out = out / count  # 0 / 0 is NaN, as in PyTorch
            else:
                out = out / count if count else out * math.nan
    return out if out.dtype == x.dtype else xp.astype(out, x.dtype)


def binary_cross_entropy_with_logits(
    logits: ArrayLike | Array,
    target: ArrayLike | Array,
    *,
    reduction: str = "mean",
    pos_weight: ArrayLike | Array | None = None,
    weight: ArrayLike | Array | None = None,
) -> Array:
    """Binary cross-entropy of `target` under ``sigmoid(logits)``, from the logits (PyTorch
    semantics).

    The identity: ``loss = pos_weight * y * softplus(-x) + (1 - y) * softplus(x)``, with
    ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``.  For targets in [0, 1] both terms are
    non-negative, so nothing cancels.

    The textbook ``-(y log p + (1 - y) log(1 - p))`` with ``p = sigmoid(x)`` gives ``inf`` once
    ``p`` rounds to 1 (``x > 37`` in float64, ``x > 17`` in float32) and NaN from ``0 * log 0``.
    PyTorch's ``(1 - y) x + softplus(-x)`` cancels for ``y = 0`` and very negative ``x``: it returns
    0 where the loss is ``exp(x)`` (``4.2e-18`` at ``x = -40``); the form here does not.

    Parameters
    ----------
    logits : array_like, torch.Tensor or jax.Array
    target : array_like or tensor
        Same shape as `logits`; probabilities in [0, 1] (values outside are computed but carry no
        accuracy guarantee, as the two terms may then cancel).
    reduction : {"mean", "sum", "none"}
    pos_weight : array_like, optional
        Weight of the positive term, broadcast to `target`'s shape (one per class along the last
        axis, as in PyTorch).
    weight : array_like, optional
        Per-element weight of the loss (PyTorch's ``weight``), broadcast to `target`'s shape.
        "mean" still divides by the number of elements, as in PyTorch.  An element of weight 0
        contributes 0 even where its loss is ``+inf`` (PyTorch: NaN).

    Raises
    ------
    ValueError
        For `target` of another shape than `logits` (PyTorch raises too: broadcasting ``(N, 1)``
        against ``(N,)`` would silently give an ``(N, N)`` loss), or a `weight`/`pos_weight` that
        does not broadcast to it without enlarging it (PyTorch multiplies in place).

    Returns
    -------
    A scalar ("mean", "sum") or an array of the logits' shape ("none"), of the logits' dtype and
    kind.

    Notes
    -----
    Special values: a term whose coefficient is 0 contributes 0 even where its softplus is
    infinite, so ``x = -inf, y = 0`` and ``x = +inf, y = 1`` give 0; ``x = ±inf`` against the other
    label gives ``+inf``; NaN gives NaN.  An empty "mean" is NaN.  Accuracy: 1 ULP for narrow
    formats, ``2 max(1, kappa)`` ULP for float64 (kappa: the relative condition number in ``x``,
    ``y``, ``pos_weight`` and ``weight``).

    References
    ----------
    PyTorch, ``torch.nn.functional.binary_cross_entropy_with_logits``; Maechler (2012) for
    ``softplus``.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import losses, naive
    >>> x, y = np.array([-40.0, 40.0]), np.array([0.0, 0.0])
    >>> naive.binary_cross_entropy(x, y), losses.binary_cross_entropy_with_logits(x, y, reduction="none")
    (np.float64(inf), array([4.24835426e-18, 4.00000000e+01]))
    """
    reduction = _check_reduction(reduction)
    if not is_numpy_input(logits, target, pos_weight, weight):
        xp = namespace(logits, target, pos_weight, weight)
        x = xp_float_input(xp, logits, "logits")
        y = target if hasattr(target, "dtype") else xp.asarray(target)
        y = xp_float_input(xp, y, "target")
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(
                f"target has shape {tuple(y.shape)}; it must have the logits' shape {tuple(x.shape)}"
            )
        pw = _xp_elementwise_weight(xp, pos_weight, "pos_weight", tuple(y.shape))
        ew = _xp_elementwise_weight(xp, weight, "weight", tuple(y.shape))
        loss = _bce64(xp, xp.astype(x, xp.float64), xp.astype(y, xp.float64), pw, ew)
        if reduction == "none":
            out = loss
        else:
            out = xp.sum(loss)
            if reduction == "mean":
                n = math.prod(x.shape)
                out = out / n if n else out * math.nan
        return out if out.dtype == x.dtype else xp.astype(out, x.dtype)
    x = np_float_input(logits, "logits")
    y = np_float_input(target, "target")
    if y.shape != x.shape:
        raise ValueError(f"target has shape {y.shape}; it must have the logits' shape {x.shape}")
    pw = _np_elementwise_weight(pos_weight, "pos_weight", y.shape)
    ew = _np_elementwise_weight(weight, "weight", y.shape)
    with np.errstate(all="ignore"):
        loss = _bce64(np, x.astype(np.float64), y.astype(np.float64), pw, ew)
    loss = np.asarray(loss, dtype=np.float64)
    if reduction == "none":
        out = np_round(loss, x.dtype)
        return out[()] if out.ndim == 0 else out
    return _reduce_np(loss.reshape(-1), reduction, loss.size, (), x.dtype)


def _check_broadcast(shape: tuple, target_shape: tuple, argname: str) -> None:
    """PyTorch multiplies the loss by `argname` in place: it must broadcast to the target's shape
    without enlarging it."""
    try:
        ok = np.broadcast_shapes(shape, target_shape) == target_shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{argname} (shape {shape}) does not broadcast to the shape of target {target_shape}"
        )


def _np_elementwise_weight(w: Any, argname: str, target_shape: tuple) -> np.ndarray | None:
    if w is None:
        return None
    arr = np_float_input(w, argname).astype(np.float64)
    _check_broadcast(arr.shape, target_shape, argname)
    return arr


def _xp_elementwise_weight(xp: Any, w: Any, argname: str, target_shape: tuple) -> Any:
    if w is None:
        return None
    if isinstance(w, np.ndarray) or not hasattr(w, "dtype"):
        w = xp.asarray(np_float_input(w, argname))
    w = xp_float_input(xp, w, argname)
    _check_broadcast(tuple(w.shape), target_shape, argname)
    return xp.astype(w, xp.float64)


def _bce64(xp: Any, x: Any, y: Any, pw: Any, ew: Any = None) -> Any:
    """``ew (pw y softplus(-x) + (1 - y) softplus(x))`` in float64 with ``0 * inf = 0``; both
    softplus share ``log1p(exp(-|x|))``."""
    t = xp.log1p(xp.exp(minus_abs(xp, x)))
    zero = xp.zeros_like(x)
    sp_plus = xp.where(x >= 0, x, zero) + t
    sp_minus = xp.where(x >= 0, zero, -x) + t
    c1 = y if pw is None else pw * y
    c2 = 1.0 - y
    # Each term's coefficient may be 0 where its softplus is inf (x = ±inf): give the product 0,
    # and give the unused branch a finite argument so that no gradient is poisoned.
    term1 = xp.where(c1 == 0, zero, c1 * xp.where(c1 == 0, zero, sp_minus))
    term2 = xp.where(c2 == 0, zero, c2 * xp.where(c2 == 0, zero, sp_plus))
    if ew is None:
        return term1 + term2
    # an element of weight 0 contributes 0 even where its loss is inf (PyTorch: NaN)
    loss = term1 + term2
    return ew * xp.where(ew == 0, xp.zeros_like(loss), loss)
