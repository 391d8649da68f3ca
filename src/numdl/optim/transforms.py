"""Gradient transformations that compose into optimizers (the optax design), and gradient clipping.

An optimizer is a :class:`GradientTransformation`, a pair of pure functions::

    state = opt.init(params)
    updates, state = opt.update(grads, state, params)   # params: only for add_decayed_weights
    params = apply_updates(params, updates)             # params + updates

Small transformations, each doing one thing to the incoming updates, make an optimizer by
:func:`chain`; the updates flow through them in order and the chain's state is the tuple of
their states.  The optimizers of :mod:`numdl.optim.first_order` are such chains where that gives
the same bits as before (``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``)::

    adamw(lr, b1, b2, eps, weight_decay=wd)
      == chain(scale_by_adam(b1, b2, eps), add_decayed_weights(wd), scale_by_learning_rate(lr))

==============================  ==============================================  =====================
transformation                  ``update(u)``                                   state
==============================  ==============================================  =====================
``chain(*ts)``                  each of ``ts`` in turn                          tuple of theirs
``clip_by_global_norm(c)``      ``u * min(1, c / ||u||)``; non-finite: ``u``    ClipByGlobalNormState
``clip(limit)``                 ``clip(u, -limit, limit)``                      EmptyState
``add_decayed_weights(wd)``     ``u + wd * params``                             EmptyState
``scale(s)``                    ``s * u``                                       EmptyState
``scale_by_learning_rate(lr)``  ``-lr(count) * u`` (float or schedule)          ScaleByScheduleState
``scale_by_schedule(f)``        ``f(count) * u``                                ScaleByScheduleState
``trace(decay, nesterov)``      ``v <- decay v + u``; ``v`` or ``u + decay v``  TraceState
``scale_by_adam(b1, b2, eps)``  ``m_hat / (sqrt(v_hat) + eps)``                 ScaleByAdamState
``scale_by_rms(decay, eps)``    ``u / (sqrt(s) + eps)``, ``s`` EMA of ``u^2``   ScaleByRmsState
==============================  ==============================================  =====================

Parameters and gradients are **one array** of any shape, as for every optimizer of
:mod:`numdl.optim.first_order` and for :func:`numdl.optim.minimize`; not a list or dict of arrays
(a pytree).  A list of numbers is an ``array_like`` vector to NumPy, so accepting lists of tensors
as well would make ``[1.0, 2.0]`` ambiguous.  To train several tensors, concatenate them into one
vector (``np.concatenate([p.ravel() for p in tensors])``) -- which is also what makes
:func:`clip_by_global_norm`'s norm the global norm over all of them, like ``clip_grad_norm_`` over
a model's parameters.  The functions :func:`global_norm`, :func:`clip_grad_norm` and
:func:`clip_grad_value` (PyTorch's names, without the in-place underscore) do take a list of
gradients.

The ordering matters: clipping belongs first (it acts on the raw gradient), the learning rate last
(``scale_by_learning_rate`` carries the minus sign, so the result is the update to *add*).  A
non-finite gradient (inf or NaN anywhere) is not scaled by ``max_norm / nan`` by
:func:`clip_by_global_norm`, which would turn every entry into NaN: it is passed through unchanged
and flagged, ``state.finite = False`` (the ``finite=False`` of :func:`clip_grad_norm`).  The
caller should then skip the step: not apply the updates *and* keep the previous state, since the
transformations after the clip (Adam's moments, a momentum trace) have folded the non-finite
values into theirs -- what ``torch.cuda.amp.GradScaler`` does with an overflowing step.

Example: Adam on clipped gradients, checked step by step against torch's
``clip_grad_norm_`` + ``torch.optim.Adam`` in the tests.

>>> import numpy as np
>>> opt = chain(clip_by_global_norm(1.0), scale_by_adam(), scale_by_learning_rate(0.1))
>>> params = np.array([1.0, -2.0])
>>> state = opt.init(params)
>>> updates, state = opt.update(np.array([30.0, 40.0]), state, params)
>>> state[0].total_norm, state[0].scale
(50.0, 0.02)
>>> np.round(apply_updates(params, updates), 6)  # Adam's first step is lr * sign(g)
array([ 0.9, -2.1])
>>> with np.errstate(invalid="ignore"):  # Adam divides inf by inf
...     bad, bad_state = opt.update(np.array([np.inf, 1.0]), state, params)
>>> bad_state[0].finite, bad_state[0].nonfinite_count, bool(np.isnan(bad).any())
(False, 1, True)

Skip that step: keep ``params`` and ``state``, drop ``bad`` and ``bad_state``.

References
----------
.. [1] optax, ``optax/_src/transform.py`` and ``combine.py`` (``chain``, ``scale_by_adam``,
       ``trace``, ``add_decayed_weights``, ``scale_by_learning_rate``).
.. [2] R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
       networks", ICML 2013 (clipping by the gradient norm).
.. [3] D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.validation import (
    LearningRate,
    as_learning_rate,
    coefficient,
    real_number,
)

__all__ = [
    "ClipByGlobalNormState",
    "ClipResult",
    "EmptyState",
    "GradientTransformation",
    "LearningRate",
    "ScaleByAdamState",
    "ScaleByRmsState",
    "ScaleByScheduleState",
    "TraceState",
    "add_decayed_weights",
    "apply_updates",
    "as_gradient",
    "chain",
    "clip",
    "clip_by_global_norm",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
    "scale",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_schedule",
    "state_zeros",
    "trace",
]
@dataclass(frozen=True)
class ClipResult:
    """Gradients after clipping by global norm (:func:`clip_grad_norm`).

    ``finite`` is False when the total norm is NaN or infinite: the gradients are then returned
    unchanged and the step should be skipped (scaling every gradient by ``max_norm / nan``
    would turn every one of them into NaN).
    """

    grads: list[np.ndarray]
    total_norm: float
    scale: float
    finite: bool


def _positive_limit(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def global_norm(grads: Sequence[ArrayLike]) -> float:
    """The 2-norm of all gradients together, accumulated in float64.

    Squaring float16 or float32 gradients in their own format overflows at |g| ~ 256 (float16)
    or ~ 1.8e19 (float32) although the norm itself fits; float64 squares overflow only beyond
    ~ 1.3e154.  NaN or inf anywhere gives a NaN or inf norm.
    """
    total = 0.0
    for g in grads:
        g64 = np.asarray(g, dtype=np.float64)
        total += float(np.sum(g64 * g64))
    return float(np.sqrt(total))


def clip_grad_norm(grads: Sequence[ArrayLike], max_norm: float, *,
                   error_if_nonfinite: bool = False) -> ClipResult:
    """Scale all gradients by ``min(1, max_norm / ||g||)``, the same factor for every one.

    The direction of the full gradient is kept; only its length is capped.  A non-finite total
    norm is not clipped (``finite=False``, gradients unchanged, step to be skipped), or raises
    ``FloatingPointError`` with ``error_if_nonfinite=True``, like PyTorch's option of that name.

    Raises
    ------
    TypeError
        If `max_norm` is not a real number.
    ValueError
        If `max_norm` is not > 0.
    """
    max_norm = _positive_limit(max_norm, "max_norm")
    arrays = [np.asarray(g) for g in grads]
    total = global_norm(arrays)
    if not np.isfinite(total):
        if error_if_nonfinite:
            raise FloatingPointError(f"the total gradient norm is {total}: not clipping")
        return ClipResult(arrays, total, 1.0, False)
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    clipped = [(g * scale).astype(g.dtype) if g.dtype.kind == "f" else g * scale for g in arrays]
    return ClipResult(clipped, total, scale, True)


def clip_grad_value(grads: Sequence[ArrayLike], limit: float) -> list[np.ndarray]:
    """Clamp every gradient component to ``[-limit, limit]``.

    Unlike clipping by norm this changes the gradient's direction: components below the limit
    keep their size, large ones shrink.

    Raises
    ------
    TypeError, ValueError
        If `limit` is not a real number > 0.
    """
    limit = _positive_limit(limit, "limit")
    return [np.clip(np.asarray(g), -limit, limit) for g in grads]


# -- the protocol ----------------------------------------------------------------------------------


class GradientTransformation(NamedTuple):
    """An optimizer or a piece of one: ``init(params) -> state`` and
    ``update(grads, state, params=None) -> (updates, state)``.

    ``update`` never modifies its inputs and returns a new state record.  `params` is only needed
    by transformations that use the parameters themselves (:func:`add_decayed_weights`, hence
    ``adamw``); the others accept and ignore it.  After a whole optimizer (a chain ending in
    :func:`scale_by_learning_rate`) the updates are to be *added* to the parameters
    (:func:`apply_updates`).
    """

    init: Callable[[ArrayLike], Any]
    update: Callable[..., tuple[np.ndarray, Any]]


def apply_updates(params: ArrayLike, updates: ArrayLike) -> np.ndarray:
    """``params + updates`` (a new array; `params` is not modified)."""
    return np.asarray(params) + np.asarray(updates)


def as_gradient(grads: ArrayLike, state_like: np.ndarray | None = None) -> np.ndarray:
    """`grads` as a floating array (integers become float64), checked against the state's shape.

    Parameters
    ----------
    grads : array_like
        The incoming gradient or updates.
    state_like : numpy.ndarray, optional
        An array of the state, initialized from the parameters: `grads` must have its shape.

    Returns
    -------
    numpy.ndarray
        `grads` itself when it is already a floating (or complex) array.

    Raises
    ------
    ValueError
        If the shapes differ (the state was initialized for other parameters).
    """
    g = np.asarray(grads)
    if g.dtype.kind not in "fc":
        g = g.astype(np.float64)
    if state_like is not None and g.shape != state_like.shape:
        raise ValueError(f"grads has shape {g.shape} but the optimizer state was initialized for "
                         f"shape {state_like.shape}")
    return g


def state_zeros(params: ArrayLike) -> np.ndarray:
    """Zeros shaped like `params` for an optimizer state: `params`' dtype if floating, else
    float64 (a state of integers would truncate every update)."""
    p = np.asarray(params)
    return np.zeros(p.shape, dtype=p.dtype if p.dtype.kind in "fc" else np.float64)


def _scalar(value: Any, dtype: np.dtype) -> Any:
    # the step size in the gradient's dtype: a float64 lr would promote float32 updates
    return np.asarray(value, dtype=dtype)[()]


# -- states ----------------------------------------------------------------------------------------


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none (:func:`clip`, :func:`scale`,
    :func:`add_decayed_weights`)."""


class ClipByGlobalNormState(NamedTuple):
    """State of :func:`clip_by_global_norm`: what the last update found.

    Attributes
    ----------
    total_norm : float
        The 2-norm of the last incoming gradient (0.0 before the first update); inf or NaN when
        it was not finite.
    scale : float
        The factor applied, ``min(1, max_norm / total_norm)``; 1.0 when not finite.
    finite : bool
        False when the last gradient was not finite: it was passed through unchanged and the
        step should be skipped (see the module docstring).
    nonfinite_count : int
        How many updates so far had a non-finite gradient.
    """

    total_norm: float
    scale: float
    finite: bool
    nonfinite_count: int


class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_learning_rate` and :func:`scale_by_schedule`: updates done."""

    count: int


class TraceState(NamedTuple):
    """State of :func:`trace`: the velocity ``v`` (the decayed sum of past updates)."""

    trace: np.ndarray


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`: updates done and the first/second moment estimates."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`: the moving average of squared updates."""

    nu: np.ndarray


# -- transformations -------------------------------------------------------------------------------


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """The transformations applied one after the other; the state is the tuple of their states.

    ``chain()`` is the identity.  `params` is passed to every one of them.

    Raises
    ------
    TypeError
        If an argument is not a :class:`GradientTransformation`.
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"transforms[{i}] must be a GradientTransformation, got "
                            f"{type(t).__name__}")
    ts = tuple(transforms)

    def init(params: ArrayLike) -> tuple[Any, ...]:
        return tuple(t.init(params) for t in ts)

    def update(grads: ArrayLike, state: tuple[Any, ...],
               params: ArrayLike | None = None) -> tuple[np.ndarray, tuple[Any, ...]]:
        if not isinstance(state, tuple) or len(state) != len(ts):
            raise ValueError(f"the state of a chain of {len(ts)} transformations must be a tuple "
                             f"of {len(ts)} states, got {type(state).__name__}")
        updates = as_gradient(grads)
        new = []
        for t, s in zip(ts, state):
            updates, s = t.update(updates, s, params)
            new.append(s)
        return updates, tuple(new)

    return GradientTransformation(init, update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale the updates by ``min(1, max_norm / ||u||)`` (:func:`clip_grad_norm` on one array).

    The direction is kept and only the length capped; the norm is accumulated in float64, so
    float16/float32 gradients of any representable size are measured without overflow.  A
    non-finite norm leaves the updates unchanged and sets ``state.finite = False`` (and counts it
    in ``state.nonfinite_count``): skip that step.

    Parameters
    ----------
    max_norm : float
        The largest norm let through, ``> 0``.

    Raises
    ------
    TypeError, ValueError
        If `max_norm` is not a real number ``> 0``.
    """
    limit = _positive_limit(max_norm, "max_norm")

    def init(params: ArrayLike) -> ClipByGlobalNormState:
        return ClipByGlobalNormState(total_norm=0.0, scale=1.0, finite=True, nonfinite_count=0)

    def update(updates: ArrayLike, state: ClipByGlobalNormState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, ClipByGlobalNormState]:
        r = clip_grad_norm([as_gradient(updates)], limit)
        return r.grads[0], ClipByGlobalNormState(r.total_norm, r.scale, r.finite,
                                                 state.nonfinite_count + (not r.finite))

    return GradientTransformation(init, update)


def clip(limit: float) -> GradientTransformation:
    """Clamp every component to ``[-limit, limit]`` (:func:`clip_grad_value` on one array).

    Raises
    ------
    TypeError, ValueError
        If `limit` is not a real number ``> 0``.
    """
    bound = _positive_limit(limit, "limit")

    def init(params: ArrayLike) -> EmptyState:
        return EmptyState()

    def update(updates: ArrayLike, state: EmptyState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, EmptyState]:
        return clip_grad_value([as_gradient(updates)], bound)[0], state

    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """``u + weight_decay * params``: decoupled weight decay (Loshchilov & Hutter 2019).

    Placed after :func:`scale_by_adam` and before :func:`scale_by_learning_rate` it gives
    AdamW's ``-lr (adam + wd params)``: the decay is not divided by Adam's ``sqrt(v_hat)``, unlike
    an L2 term added to the loss.  ``update`` needs `params`.

    Raises
    ------
    TypeError, ValueError
        If `weight_decay` is not a real number ``>= 0``; ``update`` raises ``ValueError`` without
        `params` or with `params` of another shape than the updates.
    """
    wd = coefficient(weight_decay, "weight_decay", 0.0, np.inf)

    def init(params: ArrayLike) -> EmptyState:
        return EmptyState()

    def update(updates: ArrayLike, state: EmptyState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, EmptyState]:
        if params is None:
            raise ValueError("add_decayed_weights needs params (decoupled weight decay uses them): "
                             "call update(grads, state, params)")
        u = as_gradient(updates)
        p = np.asarray(params, dtype=u.dtype)
        if p.shape != u.shape:
            raise ValueError(f"params has shape {p.shape} but the updates have shape {u.shape}")
        return u + wd * p, state

    return GradientTransformation(init, update)


def scale(step_size: float) -> GradientTransformation:
    """``step_size * u`` (no minus sign: ``scale(-lr)`` is a descent step).

    Raises
    ------
    TypeError, ValueError
        If `step_size` is not a finite real number.
    """
    s = real_number(step_size, "step_size")

    def init(params: ArrayLike) -> EmptyState:
        return EmptyState()

    def update(updates: ArrayLike, state: EmptyState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, EmptyState]:
        u = as_gradient(updates)
        return _scalar(s, u.dtype) * u, state

    return GradientTransformation(init, update)


def scale_by_schedule(schedule: Callable[[int], float]) -> GradientTransformation:
    """``schedule(count) * u``, ``count`` the number of updates done (0 for the first).

    Raises
    ------
    TypeError
        If `schedule` is not callable.
    """
    if not callable(schedule):
        raise TypeError(f"schedule must be callable (count -> float), got "
                        f"{type(schedule).__name__}")

    def init(params: ArrayLike) -> ScaleByScheduleState:
        return ScaleByScheduleState(count=0)

    def update(updates: ArrayLike, state: ScaleByScheduleState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, ScaleByScheduleState]:
        u = as_gradient(updates)
        return _scalar(schedule(state.count), u.dtype) * u, ScaleByScheduleState(state.count + 1)

    return GradientTransformation(init, update)


def scale_by_learning_rate(lr: LearningRate) -> GradientTransformation:
    """``-lr(count) * u``: the learning rate with the descent's minus sign.

    Parameters
    ----------
    lr : float or schedule
        A learning rate ``>= 0`` or a function of the update count
        (:mod:`numdl.optim.schedules`).  The rate is rounded to the updates' dtype before the
        product, so float32 updates stay float32.

    Raises
    ------
    TypeError, ValueError
        If `lr` is not a finite number ``>= 0`` or a callable.
    """
    lr_fn = as_learning_rate(lr)

    def init(params: ArrayLike) -> ScaleByScheduleState:
        return ScaleByScheduleState(count=0)

    def update(updates: ArrayLike, state: ScaleByScheduleState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, ScaleByScheduleState]:
        u = as_gradient(updates)
        return -_scalar(lr_fn(state.count), u.dtype) * u, ScaleByScheduleState(state.count + 1)

    return GradientTransformation(init, update)


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: ``v <- decay v + u``; the update is ``v``, or ``u + decay v`` with `nesterov`.

    The "velocity accumulates gradients" form of torch's ``SGD(momentum)`` and optax's
    ``trace`` (``v0 = 0``, so the first update is ``u``); followed by
    :func:`scale_by_learning_rate` it is :func:`numdl.optim.momentum` (or
    :func:`~numdl.optim.nesterov`).

    Parameters
    ----------
    decay : float
        The momentum coefficient, in ``[0, 1)``.
    nesterov : bool
        The Nesterov form of Sutskever et al. (2013) as reformulated by Bengio et al. (2013).

    Raises
    ------
    TypeError, ValueError
        If `decay` is not a real number in ``[0, 1)``.
    """
    beta = coefficient(decay, "decay", 0.0, 1.0)
    look_ahead = bool(nesterov)

    def init(params: ArrayLike) -> TraceState:
        return TraceState(trace=state_zeros(params))

    def update(updates: ArrayLike, state: TraceState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, TraceState]:
        g = as_gradient(updates, state.trace)
        v = beta * state.trace + g
        return (g + beta * v if look_ahead else v), TraceState(v)

    return GradientTransformation(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """Adam's scaling: ``m_hat / (sqrt(v_hat) + eps)`` from bias-corrected moving averages.

    ``m <- b1 m + (1 - b1) u``, ``v <- b2 v + (1 - b2) u^2``, ``m_hat = m / (1 - b1^t)``,
    ``v_hat = v / (1 - b2^t)`` with ``t = count + 1``.  ``m`` and ``v`` start at 0, so without the
    correction the first steps would be too small (``m``) or too large (``v`` in the denominator);
    ``1 - b**t`` is computed in float64 and rounded once to the updates' dtype.  The result is
    about 1 per coordinate whatever the gradient's scale (exactly ``sign(u)`` at ``t = 1`` with
    ``eps = 0``); :func:`scale_by_learning_rate` makes it a step.

    Parameters
    ----------
    b1, b2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    eps : float
        Added to ``sqrt(v_hat)`` (the paper's and torch's placement), ``>= 0``.

    Raises
    ------
    TypeError, ValueError
        If a coefficient is not a real number in its interval.
    """
    b1 = coefficient(b1, "b1", 0.0, 1.0)
    b2 = coefficient(b2, "b2", 0.0, 1.0)
    eps = coefficient(eps, "eps", 0.0, np.inf)

    def init(params: ArrayLike) -> ScaleByAdamState:
        z = state_zeros(params)
        return ScaleByAdamState(count=0, mu=z, nu=z.copy())

    def update(updates: ArrayLike, state: ScaleByAdamState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, ScaleByAdamState]:
        g = as_gradient(updates, state.mu)
        t = state.count + 1
        mu = b1 * state.mu + (1 - b1) * g
        nu = b2 * state.nu + (1 - b2) * g * g
        mu_hat = mu / np.asarray(1 - b1**t, dtype=g.dtype)
        nu_hat = nu / np.asarray(1 - b2**t, dtype=g.dtype)
        return mu_hat / (np.sqrt(nu_hat) + eps), ScaleByAdamState(t, mu, nu)

    return GradientTransformation(init, update)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, *,
                 eps_in_sqrt: bool = False) -> GradientTransformation:
    """RMSprop's scaling: ``s <- decay s + (1 - decay) u^2``, ``u / (sqrt(s) + eps)``.

    Parameters
    ----------
    decay : float
        Averaging coefficient in ``[0, 1)``.
    eps : float
        Denominator guard, ``>= 0``.
    eps_in_sqrt : bool
        ``False`` (torch): ``u / (sqrt(s) + eps)``.  ``True`` (optax's default):
        ``u / sqrt(s + eps)``.

    Notes
    -----
    ``chain(scale_by_rms(decay, eps), scale_by_learning_rate(lr))`` is
    :func:`numdl.optim.rmsprop` up to the last bit: ``rmsprop`` multiplies by ``-lr`` before
    dividing, the chain after, and the two roundings can differ by one ULP.

    Raises
    ------
    TypeError, ValueError
        If `decay` is not in ``[0, 1)`` or `eps` not ``>= 0``.
    """
    rho = coefficient(decay, "decay", 0.0, 1.0)
    eps = coefficient(eps, "eps", 0.0, np.inf)
    in_sqrt = bool(eps_in_sqrt)

    def init(params: ArrayLike) -> ScaleByRmsState:
        return ScaleByRmsState(nu=state_zeros(params))

    def update(updates: ArrayLike, state: ScaleByRmsState,
               params: ArrayLike | None = None) -> tuple[np.ndarray, ScaleByRmsState]:
        g = as_gradient(updates, state.nu)
        s = rho * state.nu + (1 - rho) * g * g
        denom = np.sqrt(s + eps) if in_sqrt else np.sqrt(s) + eps
        return g / denom, ScaleByRmsState(s)

    return GradientTransformation(init, update)
