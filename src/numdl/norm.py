"""Normalization layers and running statistics, with the precision each step uses stated.

:func:`batch_norm` and :func:`layer_norm` compute ``y = gamma * (x - mean) / sqrt(var + eps) + beta``
with the mean and the biased (population) variance taken over the batch (batch norm) or over each
sample's features (layer norm); each returns ``(y, cache)``, and :func:`batch_norm_backward` /
:func:`layer_norm_backward` turn ``dL/dy`` and the cache into ``(dL/dx, dL/dgamma, dL/dbeta)``.
:class:`RunningStats` accumulates the mean and variance of a stream of batches without ever forming
``E[x^2] - E[x]^2``, whose cancellation :func:`numdl.naive.variance` shows.

The variance is always computed in two passes, from ``mean((x - mean(x))**2)``: the one-pass
``mean(x**2) - mean(x)**2`` subtracts two numbers of size ``mean**2`` to get one of size ``var`` and
loses ``log10(mean**2 / var)`` digits -- all of them in float32 for data like ``1e4 + N(0, 1)``.

References
----------
.. [1] S. Ioffe and C. Szegedy, "Batch normalization: accelerating deep network training by reducing
       internal covariate shift", ICML 2015.
.. [2] J. L. Ba, J. R. Kiros and G. E. Hinton, "Layer normalization", arXiv:1607.06450, 2016.
.. [3] B. P. Welford, "Note on a method for calculating corrected sums of squares and products",
       Technometrics 4(3), 1962.
.. [4] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for computing the sample variance:
       analysis and recommendations", The American Statistician 37(3), 1983.
.. [5] PyTorch, ``torch.nn.BatchNorm1d`` and ``torch.nn.LayerNorm`` documentation.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "NormCache",
    "RunningBuffers",
    "RunningStats",
    "batch_norm",
    "batch_norm_backward",
    "layer_norm",
    "layer_norm_backward",
]

_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _as_float_array(x: Any, argname: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{argname} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{argname} must be float16, float32 or float64 (integers are taken as float64), got "
            f"dtype {arr.dtype}"
        )
    return arr


def _accumulator(dtype: np.dtype) -> np.dtype:
    """Reductions of float16 data accumulate in float32: a float16 running sum stops growing once
    it reaches 2048 times the terms (its ULP exceeds them)."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _normalize_axes(axis: Any, ndim: int, argname: str = "axis") -> tuple[int, ...]:
    items = axis if isinstance(axis, tuple | list) else (axis,)
    if len(items) == 0:
        raise ValueError(f"{argname} must name at least one axis, got {axis!r}")
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise TypeError(f"{argname} must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{argname}={axis!r} is out of range for a {ndim}-D array")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{argname}={axis!r} repeats an axis")
    return tuple(sorted(out))


def _check_eps(eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a real number, got {eps!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be finite and >= 0, got {eps!r}")
    return float(eps)


def _param(p: Any, shape: tuple[int, ...], expand: tuple[int, ...], ndim: int, argname: str,
           dtype: np.dtype) -> np.ndarray | None:
    """`p` checked against `shape`, cast to `dtype` and reshaped to broadcast against x (the axes in
    `expand` get size 1)."""
    if p is None:
        return None
    arr = _as_float_array(p, argname)
    if arr.shape != shape:
        raise ValueError(f"{argname} must have shape {shape}, got {arr.shape}")
    full = list(arr.shape)
    for a in expand:
        full.insert(a, 1)
    assert len(full) == ndim  # internal: expand and shape partition x's axes
    return arr.astype(dtype).reshape(full)


@dataclass
class RunningBuffers:
    """The running statistics of a batch-norm layer: a small *mutable* record, updated in place.

    :func:`batch_norm` in training mode rebinds ``mean`` and ``var`` to the updated arrays and
    increments ``num_batches_tracked``, as PyTorch updates a module's buffers; in eval mode it reads
    them.  The arrays keep their dtype (the update is computed in it).

    Attributes
    ----------
    mean, var : numpy.ndarray
        Running mean and running *unbiased* variance, of the feature shape (the shape of ``gamma``).
    num_batches_tracked : int
        Training batches seen; with ``momentum=None`` the running statistics are their cumulative
        average (PyTorch's convention).
    """

    mean: np.ndarray
    var: np.ndarray
    num_batches_tracked: int = 0

    @classmethod
    def initial(cls, shape: int | tuple[int, ...], dtype: Any = np.float64) -> RunningBuffers:
        """PyTorch's initial buffers: mean 0, variance 1, no batch tracked."""
        dt = np.dtype(dtype)
        if dt not in _FLOAT_DTYPES:
            raise TypeError(f"dtype must be float16, float32 or float64, got {dtype!r}")
        return cls(np.zeros(shape, dtype=dt), np.ones(shape, dtype=dt), 0)


@dataclass(frozen=True)
class NormCache:
    """What a normalization's backward pass needs from its forward pass (frozen).

    Attributes
    ----------
    kind : str
        ``"batch_norm"`` or ``"layer_norm"``.
    x_hat : numpy.ndarray
        ``(x - mean) * inv_std``, shape of x, dtype of x.
    inv_std : numpy.ndarray
        ``1 / sqrt(var + eps)``, broadcastable against x (size 1 along `stat_axes`).
    gamma : numpy.ndarray or None
        The scale, broadcastable against x (None: no scale).
    stat_axes : tuple of int
        Axes the statistics reduce over.
    param_axes : tuple of int
        Axes ``dgamma`` and ``dbeta`` sum over (the complement of gamma's axes).
    count : int
        Number of values per statistic.
    batch_stats : bool
        True if the statistics depend on x (training batch norm, layer norm), so that the gradient
        flows through them; False for eval-mode batch norm (fixed running statistics).
    param_shape : tuple of int
        Shape of gamma and beta.
    """

    kind: str
    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray | None
    stat_axes: tuple[int, ...]
    param_axes: tuple[int, ...]
    count: int
    batch_stats: bool
    param_shape: tuple[int, ...]


def _corrected_two_pass(xa: np.ndarray, axes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``M2 / n`` (biased variance) over `axes` (keepdims), by the corrected two-pass
    algorithm of Chan, Golub & LeVeque (1983, eq. 1.7), in xa's dtype.

    The first-pass mean of data with a large offset is off by several ULPs of the offset (float32
    data 1e4 + N(0, 1): ~4e-3, enough to shift every normalized value by 0.4% of a standard
    deviation); the mean of the deviations ``c`` measures that error accurately, since the deviations
    are small, and ``mean(d**2) - c**2`` removes its effect on the variance.  Clamped at 0: for
    (nearly) constant data the two terms can round to a tiny negative difference.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        mean0 = np.mean(xa, axis=axes, keepdims=True)
        d = xa - mean0
        c = np.mean(d, axis=axes, keepdims=True)
        var = np.maximum(np.mean(np.square(d), axis=axes, keepdims=True) - c * c, 0)
        # np.maximum(nan, 0) is nan: a NaN feature stays NaN.
    return mean0 + c, var


def _moments(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance over `axes` (keepdims) in the accumulator dtype."""
    return _corrected_two_pass(x.astype(_accumulator(x.dtype), copy=False), axes)


def _normalize(x, mean, var, eps, gamma_b, beta_b):
    """Steps 3-5 of the forward pass, in x.dtype: returns (y, x_hat, inv_std)."""
    dtype = x.dtype
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # eps is rounded to x.dtype and added there: in float16 an eps below 2**-25 ~ 3e-8 becomes
        # 0, and a constant feature then gives 0 * inf = NaN.
        inv_std = (1 / np.sqrt(var.astype(dtype) + dtype.type(eps))).astype(dtype)
        x_hat = (x - mean.astype(dtype)) * inv_std
        y = x_hat if gamma_b is None else x_hat * gamma_b
        if beta_b is not None:
            y = y + beta_b
    return y.astype(dtype, copy=False), x_hat.astype(dtype, copy=False), inv_std


def batch_norm(
    x: Any,
    gamma: Any,
    beta: Any,
    *,
    eps: float = 1e-5,
    axis: int | tuple[int, ...] = 0,
    running: RunningBuffers | None = None,
    training: bool = True,
    momentum: float | None = 0.1,
) -> tuple[np.ndarray, NormCache]:
    """Batch normalization: ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, statistics per feature.

    Parameters
    ----------
    x : array_like
        Input, float16/float32/float64 (integers become float64).  For PyTorch's ``BatchNorm1d``
        layouts use ``axis=0`` on ``(N, C)`` and ``axis=(0, 2)`` on ``(N, C, L)``.
    gamma, beta : array_like or None
        Scale and shift, of the feature shape: ``x.shape`` without the `axis` dimensions (``(C,)``
        above).  None means no scale (1) / no shift (0).
    eps : float
        Added to the variance under the square root, ``>= 0``.
    axis : int or tuple of int
        The batch axes the statistics reduce over.
    running : RunningBuffers, optional
        Running statistics.  In training they are updated in place (see Notes); in eval mode
        (``training=False``) they are used instead of the batch statistics and are required.
    training : bool
        Batch statistics (True) or running statistics (False).
    momentum : float in [0, 1] or None
        Weight of the new batch in the running statistics; None: cumulative average.

    Returns
    -------
    y : numpy.ndarray
        Shape and dtype of `x`.
    cache : NormCache
        For :func:`batch_norm_backward`.

    Raises
    ------
    TypeError
        For non-numeric `x`, `gamma` or `beta`, an unsupported dtype (float16/32/64 only), a
        `running` that is not a :class:`RunningBuffers`, or non-numeric `eps`/`momentum`/`axis`.
    ValueError
        If `axis` is out of range or repeated; `gamma`, `beta` or `running` has the wrong shape;
        `eps` is negative or not finite; `momentum` is outside [0, 1]; training sees a single value
        per feature (the unbiased variance would divide by 0; PyTorch raises too); or
        ``training=False`` without `running`.

    Notes
    -----
    **Semantics (PyTorch's BatchNorm1d).**  Training normalizes with the batch mean and the
    *biased* batch variance ``mean((x - mean)**2)``, and updates ``running.mean <- (1 - momentum) *
    running.mean + momentum * mean`` and ``running.var`` likewise with the *unbiased* variance
    ``var * n / (n - 1)``, ``n`` the number of values per feature; with ``momentum=None`` the weight
    is ``1 / num_batches_tracked`` (a cumulative average).  Eval mode normalizes with
    ``running.mean`` and ``running.var`` and changes nothing.  ``eps`` sits inside the square root.

    **Precision.**  The output has x's dtype.  The mean and the biased variance come from the
    corrected two-pass algorithm (the mean of the deviations from a first-pass mean corrects the
    mean and the variance, Chan, Golub & LeVeque 1983, eq. 1.7); its reductions accumulate in x's
    dtype, except that float16 accumulates in float32 (a float16
    sum stalls after about 2048 terms); both are then rounded to x's dtype.  Everything after --
    adding eps, the square root, the normalization, gamma and beta -- is computed in x's dtype, as a
    float16 layer written out in float16 would.  In float16 this exposes three failures that
    PyTorch's kernels (which keep the statistics and the normalization in float32) hide:

    * an ``eps`` below ``2**-25 ~ 3e-8`` rounds to 0, and a constant feature then gives ``0 * inf =
      NaN`` (``eps=1e-5`` is subnormal in float16 but nonzero, and works);
    * a feature with variance near zero is scaled by ``1/sqrt(var + eps)``, up to ``316`` for
      ``eps = 1e-5``, which turns its rounding noise into signal: values 8 and ``8 + ulp`` (one
      float16 ULP, ``2**-7``) normalize to ``-0.78`` and ``+0.78`` exactly -- and to 0 and 1.55 in
      float16, where their mean ``8 + ulp/2`` is a tie that rounds to 8 (the same happens in
      float32 at its own ULP, with outputs 0 and ``3e-4``);
    * a variance above 65504 (std above 256) overflows to inf and the feature's output collapses to
      ``beta``.

    For float16 training, pass ``x.astype(np.float32)`` and cast the result back.  The running
    buffers are updated in their own dtype.

    **Special values.**  A NaN anywhere in a feature's batch makes that feature's mean, and so its
    whole output, NaN; an inf makes it NaN too (``inf - inf``).  An empty batch axis raises.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.norm import RunningBuffers, batch_norm
    >>> x = np.array([[1.0, 10.0], [3.0, 10.0]])
    >>> buffers = RunningBuffers.initial(2)
    >>> y, cache = batch_norm(x, None, None, running=buffers)
    >>> y.round(4).tolist()  # the constant feature gives 0, not NaN: eps keeps 1/sqrt(var+eps) finite
    [[-1.0, 0.0], [1.0, 0.0]]
    >>> buffers.mean.tolist(), buffers.var.tolist()  # 0.9 * (0, 1) + 0.1 * (mean, unbiased var)
    ([0.2, 1.0], [1.1, 0.9])

    The same constant feature in float16 with ``eps = 1e-8``, which rounds to 0 there:

    >>> y16, _ = batch_norm(x.astype(np.float16), None, None, eps=1e-8)
    >>> y16[:, 1].tolist()
    [nan, nan]
    """
    x_arr = _as_float_array(x, "x")
    axes = _normalize_axes(axis, x_arr.ndim)
    eps = _check_eps(eps)
    if momentum is not None:
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
            raise TypeError(f"momentum must be a real number or None, got {momentum!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum!r}")
    if not isinstance(training, bool | np.bool_):
        raise TypeError(f"training must be a bool, got {training!r}")
    if running is not None and not isinstance(running, RunningBuffers):
        raise TypeError(f"running must be a RunningBuffers or None, got {type(running).__name__}")
    feature_axes = tuple(a for a in range(x_arr.ndim) if a not in axes)
    feature_shape = tuple(x_arr.shape[a] for a in feature_axes)
    count = math.prod(x_arr.shape[a] for a in axes)
    if count == 0:
        raise ValueError(f"x has no values along axis={axis!r} (shape {x_arr.shape})")
    gamma_b = _param(gamma, feature_shape, axes, x_arr.ndim, "gamma", x_arr.dtype)
    beta_b = _param(beta, feature_shape, axes, x_arr.ndim, "beta", x_arr.dtype)
    if running is not None:
        for name in ("mean", "var"):
            buf = np.asarray(getattr(running, name))
            if buf.shape != feature_shape:
                raise ValueError(
                    f"running.{name} must have the feature shape {feature_shape}, got {buf.shape}"
                )

    def expand(a: np.ndarray) -> np.ndarray:
        return np.expand_dims(np.asarray(a), axes)

    if training:
        if count == 1:
            raise ValueError(
                f"batch_norm in training needs more than one value per feature, got x.shape="
                f"{x_arr.shape} with axis={axis!r}: the unbiased variance would divide by n - 1 = 0"
            )
        # 1. Batch statistics (two-pass, float32 accumulation for float16).
        mean, var = _moments(x_arr, axes)
        # 2. Running statistics, updated in place in the buffers' dtype.
        if running is not None:
            running.num_batches_tracked += 1
            weight = 1.0 / running.num_batches_tracked if momentum is None else float(momentum)
            buf_dtype = np.asarray(running.mean).dtype
            batch_mean = np.squeeze(mean, axis=axes).astype(buf_dtype)
            unbiased = np.squeeze(var * (count / (count - 1)), axis=axes).astype(buf_dtype)
            w = buf_dtype.type(weight)
            one_minus = buf_dtype.type(1 - weight)
            running.mean = (one_minus * np.asarray(running.mean) + w * batch_mean).astype(buf_dtype)
            var_dtype = np.asarray(running.var).dtype
            running.var = (
                var_dtype.type(1 - weight) * np.asarray(running.var)
                + var_dtype.type(weight) * unbiased.astype(var_dtype)
            ).astype(var_dtype)
    else:
        if running is None:
            raise ValueError("training=False normalizes with running statistics: pass running")
        mean, var = expand(running.mean), expand(running.var)
    # 3-5. Normalize, scale, shift in x.dtype.
    y, x_hat, inv_std = _normalize(x_arr, mean, var, eps, gamma_b, beta_b)
    cache = NormCache(
        kind="batch_norm",
        x_hat=x_hat,
        inv_std=inv_std,
        gamma=gamma_b,
        stat_axes=axes,
        param_axes=axes,
        count=count,
        batch_stats=bool(training),
        param_shape=feature_shape,
    )
    return y, cache


def layer_norm(
    x: Any, gamma: Any, beta: Any, *, eps: float = 1e-5, axis: int | tuple[int, ...] = -1
) -> tuple[np.ndarray, NormCache]:
    """Layer normalization: ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` over each sample's features.

    Parameters
    ----------
    x : array_like
        Input, float16/float32/float64 (integers become float64).
    gamma, beta : array_like or None
        Scale and shift, of the normalized shape ``tuple(x.shape[a] for a in axis)`` (PyTorch's
        ``normalized_shape``); None means 1 / 0.
    eps : float
        Added to the variance under the square root, ``>= 0``.
    axis : int or tuple of int
        The axes normalized over (default the last, as ``torch.nn.LayerNorm(C)``).

    Returns
    -------
    y : numpy.ndarray
        Shape and dtype of `x`.
    cache : NormCache
        For :func:`layer_norm_backward`.

    Raises
    ------
    TypeError, ValueError
        As :func:`batch_norm` (bad dtype, axis, shapes of gamma/beta, eps).

    Notes
    -----
    Mean and biased variance over `axis` for every sample, no running statistics, the same in
    training and evaluation (``torch.nn.LayerNorm``).  Precision and special values as in
    :func:`batch_norm`: two-pass statistics accumulated in x's dtype (float32 for float16) and
    rounded to it, the rest in x's dtype; a NaN or inf in a sample makes its whole output NaN.  A
    normalized size of 1 gives ``x_hat = 0`` and ``y = beta``.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.norm import layer_norm
    >>> y, _ = layer_norm(np.array([[1.0, 2.0, 3.0]]), None, None, eps=0.0)
    >>> y.round(6).tolist()
    [[-1.224745, 0.0, 1.224745]]
    """
    x_arr = _as_float_array(x, "x")
    axes = _normalize_axes(axis, x_arr.ndim)
    eps = _check_eps(eps)
    other = tuple(a for a in range(x_arr.ndim) if a not in axes)
    norm_shape = tuple(x_arr.shape[a] for a in axes)
    count = math.prod(norm_shape)
    if count == 0:
        raise ValueError(f"x has no values along axis={axis!r} (shape {x_arr.shape})")
    gamma_b = _param(gamma, norm_shape, other, x_arr.ndim, "gamma", x_arr.dtype)
    beta_b = _param(beta, norm_shape, other, x_arr.ndim, "beta", x_arr.dtype)
    mean, var = _moments(x_arr, axes)
    y, x_hat, inv_std = _normalize(x_arr, mean, var, eps, gamma_b, beta_b)
    cache = NormCache(
        kind="layer_norm",
        x_hat=x_hat,
        inv_std=inv_std,
        gamma=gamma_b,
        stat_axes=axes,
        param_axes=other,
        count=count,
        batch_stats=True,
        param_shape=norm_shape,
    )
    return y, cache


def _backward(dy: Any, cache: NormCache, kind: str):
    if not isinstance(cache, NormCache):
        raise TypeError(f"cache must be the NormCache returned by {kind}, got {type(cache).__name__}")
    if cache.kind != kind:
        raise ValueError(f"cache comes from {cache.kind}, not {kind}")
    dy_arr = _as_float_array(dy, "dy")
    if dy_arr.shape != cache.x_hat.shape:
        raise ValueError(f"dy must have the shape of x, {cache.x_hat.shape}, got {dy_arr.shape}")
    dtype = cache.x_hat.dtype
    acc = _accumulator(dtype)
    dy_arr = dy_arr.astype(dtype, copy=False)
    x_hat = cache.x_hat
    # Parameter gradients: y = gamma * x_hat + beta.
    if cache.param_axes:
        dbeta = np.sum(dy_arr, axis=cache.param_axes, dtype=acc)
        dgamma = np.sum(dy_arr.astype(acc) * x_hat, axis=cache.param_axes, dtype=acc)
    else:
        dbeta, dgamma = dy_arr.astype(acc), dy_arr.astype(acc) * x_hat
    dbeta = np.asarray(dbeta).astype(dtype).reshape(cache.param_shape)
    dgamma = np.asarray(dgamma).astype(dtype).reshape(cache.param_shape)
    g = dy_arr if cache.gamma is None else dy_arr * cache.gamma  # dL/dx_hat
    if not cache.batch_stats:
        dx = g * cache.inv_std
    else:
        # x_hat = (x - mean) * inv_std with mean and var functions of x:
        # dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), means over the statistic's axes.
        ga = g.astype(acc)
        mean_g = np.mean(ga, axis=cache.stat_axes, keepdims=True)
        mean_gx = np.mean(ga * x_hat, axis=cache.stat_axes, keepdims=True)
        dx = cache.inv_std * (ga - mean_g - x_hat * mean_gx).astype(dtype)
    gamma_grad = None if cache.gamma is None else dgamma
    return dx.astype(dtype, copy=False), gamma_grad, dbeta


def batch_norm_backward(
    dy: Any, cache: NormCache
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Gradients of :func:`batch_norm`: ``(dL/dx, dL/dgamma, dL/dbeta)`` from ``dL/dy``.

    Parameters
    ----------
    dy : array_like
        ``dL/dy``, the shape of x.
    cache : NormCache
        The second return value of :func:`batch_norm`.

    Returns
    -------
    dx : numpy.ndarray
        Shape and dtype of x.
    dgamma : numpy.ndarray or None
        Feature shape; None when the forward pass had ``gamma=None``.
    dbeta : numpy.ndarray
        Feature shape (the gradient a shift would get, also when ``beta`` was None).

    Notes
    -----
    With ``g = gamma * dy`` and means over the batch axes, training mode differentiates through the
    batch statistics::

        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))

    (the biased variance's ``1/n`` makes this exact); eval mode treats the running statistics as
    constants, ``dx = inv_std * g``.  ``dgamma = sum(dy * x_hat)`` and ``dbeta = sum(dy)`` over the
    batch axes.  Reductions accumulate in float32 for float16 and the results are rounded to x's
    dtype.  See Ioffe & Szegedy (2015), section 3.
    """
    return _backward(dy, cache, "batch_norm")


def layer_norm_backward(
    dy: Any, cache: NormCache
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Gradients of :func:`layer_norm`: ``(dL/dx, dL/dgamma, dL/dbeta)`` from ``dL/dy``.

    The formula of :func:`batch_norm_backward` with the means over the normalized axes;
    ``dgamma`` and ``dbeta`` sum over the other axes and have the normalized shape.
    """
    return _backward(dy, cache, "layer_norm")


class RunningStats:
    """Mean and population variance of a stream of batches: Welford's update, Chan et al.'s merge.

    ``update(batch)`` takes a batch of samples along axis 0 (shape ``(b,)`` for scalars, ``(b, *f)``
    for features of shape ``f``; a 0-d input is one sample).  Both ``update`` and ``merge`` modify
    this accumulator in place and return it.

    Notes
    -----
    The state is ``(count, mean, M2)`` with ``M2 = sum (x - mean)**2``.  A batch's own mean and
    ``M2`` are computed by the corrected two-pass algorithm (Chan et al. eq. 1.7: the mean of the
    deviations from the first-pass mean corrects both), then combined with the state by Chan, Golub & LeVeque's
    pairwise formula::

        delta = mean_b - mean_a,   n = n_a + n_b
        mean  = mean_a + delta * n_b / n
        M2    = M2_a + M2_b + delta**2 * n_a * n_b / n

    which for a batch of one sample is exactly Welford's update, and is also :meth:`merge`.  Nothing
    of size ``mean**2`` is ever subtracted: the rounding errors are relative to the *deviations*,
    so the relative error of the variance grows like ``(k + log2 n) * kappa * u`` for ``k`` updates
    of ``n`` values in all, ``kappa = sqrt(1 + mean**2 / var)`` the condition number of the
    variance [1]_, instead of ``kappa**2 * u`` for ``E[x^2] - E[x]^2``
    (:func:`numdl.naive.variance`).  For float32 data ``1e4 + N(0, 1)``, ``kappa ~ 1e4``: the naive
    formula has no correct digit left (``kappa**2 u ~ 6``) while this keeps about three.

    The state dtype is ``np.result_type(batch.dtype, float32)``: float32 stays float32 (so that the
    comparison with the naive formula is at equal precision), float16 is promoted to float32,
    integers to float64; a later batch of a wider dtype promotes the state.

    Special values: ``count == 0`` gives ``mean`` and ``var`` NaN; one sample gives ``var`` 0.  A NaN
    or inf in a batch makes the statistics of its feature NaN from then on.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for computing the sample variance:
           analysis and recommendations", The American Statistician 37(3), 1983.
    .. [2] B. P. Welford, Technometrics 4(3), 1962.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl import naive
    >>> from numdl.norm import RunningStats
    >>> x = (1e4 + np.random.default_rng(0).standard_normal(4096)).astype(np.float32)
    >>> stats = RunningStats()
    >>> for batch in np.split(x, 16):
    ...     _ = stats.update(batch)
    >>> print(f"{stats.var:.4f} {np.var(x.astype(np.float64)):.4f} {naive.variance(x):.1f}")
    0.9951 0.9951 -8.0
    """

    def __init__(self) -> None:
        self._count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    @property
    def count(self) -> int:
        """Number of samples seen."""
        return self._count

    @property
    def mean(self) -> Any:
        """Mean of the samples seen (NaN before any)."""
        return math.nan if self._mean is None else self._out(self._mean)

    @property
    def var(self) -> Any:
        """Population variance ``M2 / count`` (NaN before any sample)."""
        if self._m2 is None:
            return math.nan
        return self._out(self._m2 / self._m2.dtype.type(self._count))

    @property
    def sample_var(self) -> Any:
        """Unbiased variance ``M2 / (count - 1)`` (NaN for fewer than two samples)."""
        if self._m2 is None or self._count < 2:
            return math.nan
        return self._out(self._m2 / self._m2.dtype.type(self._count - 1))

    @staticmethod
    def _out(a: np.ndarray) -> Any:
        return a[()] if a.ndim == 0 else a.copy()

    def combine(self, n_b: int, mean_b: ArrayLike, m2_b: ArrayLike) -> RunningStats:
        """Add a group of `n_b` samples given by its mean and ``M2`` (its sum of squared deviations
        from that mean); returns self.

        Chan, Golub and LeVeque's pairwise update, behind :meth:`update` and :meth:`merge`: with
        ``delta = mean_b - mean_a`` and ``n = n_a + n_b``, ``mean = mean_a + delta n_b / n`` and
        ``M2 = M2_a + M2_b + delta^2 n_a n_b / n``.  Only differences of means are squared, so a
        large common offset costs no digits (the textbook ``sum x^2 - n mean^2`` loses them all).

        Raises
        ------
        TypeError
            If `n_b` is not an integer.
        ValueError
            If `n_b` is negative, or the shapes of `mean_b`/`m2_b` differ from each other or from
            the statistics already accumulated.
        """
        if isinstance(n_b, bool) or not isinstance(n_b, int | np.integer):
            raise TypeError(f"n_b must be an integer, got {type(n_b).__name__}")
        if n_b < 0:
            raise ValueError(f"n_b must be >= 0, got {n_b}")
        mean_b, m2_b = np.asarray(mean_b), np.asarray(m2_b)
        if mean_b.shape != m2_b.shape:
            raise ValueError(f"mean_b has shape {mean_b.shape} but m2_b has shape {m2_b.shape}")
        n_b = int(n_b)
        if n_b == 0:
            return self
        if self._mean is None:
            self._count, self._mean, self._m2 = n_b, mean_b, m2_b
            return self
        if mean_b.shape != self._mean.shape:
            raise ValueError(
                f"the feature shape {mean_b.shape} does not match the accumulated {self._mean.shape}"
            )
        dtype = np.result_type(self._mean.dtype, mean_b.dtype)
        mean_a, m2_a = self._mean.astype(dtype), self._m2.astype(dtype)
        mean_b, m2_b = mean_b.astype(dtype), m2_b.astype(dtype)
        n_a = self._count
        n = n_a + n_b
        with np.errstate(invalid="ignore", over="ignore"):
            delta = mean_b - mean_a
            # Ratios of counts first: n_a * n_b may not fit float16/32 exactly, the ratios are <= 1.
            self._mean = mean_a + delta * dtype.type(n_b / n)
            self._m2 = m2_a + m2_b + delta * delta * dtype.type(n_a * (n_b / n))
        self._count = n
        return self

    def update(self, batch: Any) -> RunningStats:
        """Add a batch of samples (along axis 0); returns self."""
        arr = np.asarray(batch)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(f"batch must be a real numeric array, got dtype {arr.dtype}")
        if arr.ndim == 0:
            arr = arr.reshape(1)
        dtype = np.result_type(arr.dtype, np.float32)
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(f"batch must be float16/32/64 or integers, got dtype {arr.dtype}")
        n_b = arr.shape[0]
        if n_b == 0:
            if self._mean is not None and arr.shape[1:] != self._mean.shape:
                raise ValueError(
                    f"the feature shape {arr.shape[1:]} does not match the accumulated "
                    f"{self._mean.shape}"
                )
            return self
        mean_b, var_b = _corrected_two_pass(arr.astype(dtype, copy=False), 0)
        m2_b = var_b[0] * dtype.type(n_b)
        return self.combine(n_b, mean_b[0], m2_b)

    def merge(self, other: RunningStats) -> RunningStats:
        """Add the samples summarized by `other` (left unchanged); returns self."""
        if not isinstance(other, RunningStats):
            raise TypeError(f"other must be a RunningStats, got {type(other).__name__}")
        if other._mean is not None:
            self.combine(other._count, other._mean.copy(), other._m2.copy())
        return self

    def __repr__(self) -> str:
        return f"RunningStats(count={self._count}, mean={self.mean!r}, var={self.var!r})"
