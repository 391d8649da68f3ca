"""First-order optimizers as pairs of pure functions (the optax convention).

Each factory returns a :class:`GradientTransformation` ``(init, update)``::

    opt = adam(lr=1e-3)
    state = opt.init(params)
    for step in range(n):
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)      # params + updates

``update`` returns the *updates to add* to the parameters (they already carry the minus sign and
the learning rate), never modifies its inputs, and returns a new state record.  The state records
are typed NamedTuples; ``count`` is the number of updates done so far, and the learning rate of an
update is ``lr(count)`` for a schedule (:mod:`numdl.optim.schedules`) or the float ``lr``.
Parameters are one NumPy array of any shape; concatenate several tensors into one vector to
optimize them together.

==============  ===========================================================================
optimizer       update (``g`` gradient, ``t = count + 1``, ``eta = lr(count)``)
==============  ===========================================================================
``sgd``         ``-eta g``
``momentum``    ``v <- beta v + g``; ``-eta v``                       (torch ``SGD(momentum)``)
``nesterov``    ``v <- beta v + g``; ``-eta (g + beta v)``            (torch ``nesterov=True``)
``adagrad``     ``s <- s + g^2``; ``-eta g / (sqrt(s) + eps)``        (torch ``Adagrad``)
``rmsprop``     ``s <- rho s + (1 - rho) g^2``; ``-eta g / (sqrt(s) + eps)`` (torch ``RMSprop``)
``adam``        ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
                ``-eta m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^t)``,
                ``v_hat = v / (1 - b2^t)``                            (torch ``Adam``)
``adamw``       ``adam``'s update ``- eta wd params``                 (torch ``AdamW``)
==============  ===========================================================================

Agreement with ``torch.optim`` (checked in the tests) and where conventions differ:

* momentum is the "velocity accumulates gradients" form (torch, optax ``trace``), not Polyak's
  ``v <- beta v - eta g; x <- x + v``.  The two give identical iterates for a constant ``lr``; with a
  schedule, here a change of ``lr`` rescales the whole velocity at once.
* nesterov is the reformulation of Bengio et al. (2013) used by torch and optax: the gradient is
  taken at the stored iterate, which *is* the look-ahead point ``theta + mu V`` of the classical
  form ``V <- mu V - eta grad f(theta + mu V)``, ``theta <- theta + V`` (Sutskever et al. 2013).
  For a constant ``lr`` the iterates here are exactly those look-ahead points (tested).
* rmsprop puts ``eps`` outside the square root like torch; optax's ``scale_by_rms`` default and
  TensorFlow 1 put it inside (``g / sqrt(s + eps)``): pass ``eps_in_sqrt=True`` for that.  The
  default ``decay=0.9`` is Hinton's; torch's ``alpha`` defaults to 0.99.
* adamw multiplies the decay by the learning rate, ``-eta wd x`` (torch, optax); Loshchilov &
  Hutter write ``-eta_t (alpha adam + wd x)`` with a separate schedule multiplier ``eta_t``.  Its
  ``weight_decay`` default is torch's ``1e-2`` (optax uses ``1e-4``).

References
----------
.. [1] B. T. Polyak, "Some methods of speeding up the convergence of iteration methods", *USSR
       Comput. Math. Math. Phys.* 4(5), 1964 (heavy ball).
.. [2] I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance of initialization and
       momentum in deep learning", ICML 2013 (Nesterov momentum reformulated).
.. [3] Y. Bengio, N. Boulanger-Lewandowski and R. Pascanu, "Advances in optimizing recurrent
       networks", ICASSP 2013 (the Nesterov form used here).
.. [4] J. Duchi, E. Hazan and Y. Singer, "Adaptive subgradient methods for online learning and
       stochastic optimization", *JMLR* 12, 2011 (AdaGrad).
.. [5] T. Tieleman and G. Hinton, Lecture 6.5, "RMSProp", COURSERA: Neural Networks for Machine
       Learning, 2012.
.. [6] D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.
.. [7] I. Loshchilov and F. Hutter, "Decoupled weight decay regularization", ICLR 2019 (AdamW).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "OPTIMIZERS",
    "AdagradState",
    "AdamState",
    "GradientTransformation",
    "MomentumState",
    "RmspropState",
    "SgdState",
    "adagrad",
    "adam",
    "adamw",
    "apply_updates",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
]

LearningRate = float | Callable[[int], float]


class GradientTransformation(NamedTuple):
    """An optimizer: ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``.

    ``updates`` are to be *added* to the parameters (:func:`apply_updates`).  `params` is only
    needed by optimizers that use the parameters themselves (``adamw``); others accept and ignore
    it.
    """

    init: Callable[[np.ndarray], Any]
    update: Callable[..., tuple[np.ndarray, Any]]


class SgdState(NamedTuple):
    """State of :func:`sgd`: the number of updates done."""

    count: int


class MomentumState(NamedTuple):
    """State of :func:`momentum` and :func:`nesterov`: update count and velocity ``v``."""

    count: int
    velocity: np.ndarray


class AdagradState(NamedTuple):
    """State of :func:`adagrad`: update count and the running sum of squared gradients."""

    count: int
    sum_sq: np.ndarray


class RmspropState(NamedTuple):
    """State of :func:`rmsprop`: update count and the moving average of squared gradients."""

    count: int
    square_avg: np.ndarray


class AdamState(NamedTuple):
    """State of :func:`adam` and :func:`adamw`: count and first/second moment estimates."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


def apply_updates(params: Any, updates: Any) -> np.ndarray:
    """``params + updates`` (a new array; `params` is not modified)."""
    return np.asarray(params) + np.asarray(updates)


# -- argument checks -------------------------------------------------------------------------------


def _lr_fn(lr: Any) -> Callable[[int], float]:
    if callable(lr):
        return lr
    if isinstance(lr, bool) or not isinstance(lr, int | float | np.integer | np.floating):
        raise TypeError(f"lr must be a number or a schedule (callable of the step count), got "
                        f"{type(lr).__name__}")
    v = float(lr)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"lr must be finite and >= 0, got {lr!r}")
    return lambda count: v


def _coef(value: Any, name: str, lo: float, hi: float, *, hi_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    ok = lo <= v < hi if hi_open else lo <= v <= hi
    if not ok:
        interval = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def _positive(value: Any, name: str) -> float:
    return _coef(value, name, 0.0, math.inf)


def _grads(grads: Any, state_like: np.ndarray | None = None) -> np.ndarray:
    g = np.asarray(grads)
    if g.dtype.kind not in "fc":
        g = g.astype(np.float64)
    if state_like is not None and g.shape != state_like.shape:
        raise ValueError(f"grads has shape {g.shape} but the optimizer state was initialized for "
                         f"shape {state_like.shape}")
    return g


def _zeros(params: Any) -> np.ndarray:
    p = np.asarray(params)
    return np.zeros(p.shape, dtype=p.dtype if p.dtype.kind in "fc" else np.float64)


def _eta(lr: Callable[[int], float], count: int, dtype: Any) -> Any:
    return np.asarray(lr(count), dtype=dtype)[()]


# -- optimizers ------------------------------------------------------------------------------------


def sgd(lr: LearningRate) -> GradientTransformation:
    """Plain (stochastic) gradient descent: ``updates = -lr(count) * g``.

    Parameters
    ----------
    lr : float or schedule
        Learning rate ``>= 0`` or a function of the update count.
    """
    lr_fn = _lr_fn(lr)

    def init(params: Any) -> SgdState:
        return SgdState(count=0)

    def update(grads: Any, state: SgdState, params: Any = None) -> tuple[np.ndarray, SgdState]:
        g = _grads(grads)
        return -_eta(lr_fn, state.count, g.dtype) * g, SgdState(count=state.count + 1)

    return GradientTransformation(init, update)


def _momentum(lr: LearningRate, beta: float, nesterov: bool) -> GradientTransformation:
    lr_fn = _lr_fn(lr)
    beta = _coef(beta, "beta", 0.0, 1.0)

    def init(params: Any) -> MomentumState:
        return MomentumState(count=0, velocity=_zeros(params))

    def update(grads: Any, state: MomentumState, params: Any = None):
        g = _grads(grads, state.velocity)
        v = beta * state.velocity + g  # (v0 = 0, so the first step is plain SGD, as in torch)
        direction = g + beta * v if nesterov else v
        return -_eta(lr_fn, state.count, g.dtype) * direction, MomentumState(state.count + 1, v)

    return GradientTransformation(init, update)


def momentum(lr: LearningRate, beta: float = 0.9) -> GradientTransformation:
    """Heavy-ball momentum: ``v <- beta v + g``, ``updates = -lr v``.

    Parameters
    ----------
    lr : float or schedule
        Learning rate.
    beta : float
        Momentum coefficient in ``[0, 1)``; ``beta = 0`` is :func:`sgd`.

    Notes
    -----
    On a quadratic with eigenvalues in ``[mu, L]`` the best constant choice is
    ``lr = 4 / (sqrt(L) + sqrt(mu))^2`` and ``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``,
    which contracts the error by ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` per step (Polyak 1964;
    :func:`numdl.optim.quadratic_rates`).
    """
    return _momentum(lr, beta, nesterov=False)


def nesterov(lr: LearningRate, beta: float = 0.9) -> GradientTransformation:
    """Nesterov momentum (Sutskever et al. 2013 form): ``v <- beta v + g``, ``updates = -lr (g + beta v)``.

    This is ``torch.optim.SGD(nesterov=True, dampening=0)``; see the module docstring for how it
    relates to Nesterov's look-ahead gradient.
    """
    return _momentum(lr, beta, nesterov=True)


def adagrad(lr: LearningRate, eps: float = 1e-10,
            initial_accumulator: float = 0.0) -> GradientTransformation:
    """AdaGrad: ``s <- s + g^2``, ``updates = -lr g / (sqrt(s) + eps)`` (per coordinate).

    Parameters
    ----------
    lr : float or schedule
        Learning rate.
    eps : float
        Added to ``sqrt(s)`` (torch's placement and default ``1e-10``); prevents 0/0 for a
        coordinate whose gradients have all been zero.
    initial_accumulator : float
        Starting value of ``s`` (torch's ``initial_accumulator_value``).

    Notes
    -----
    The effective step ``lr / sqrt(sum g^2)`` only decreases, which suits sparse convex problems
    and stalls long non-convex runs -- the motivation for RMSprop.
    """
    lr_fn = _lr_fn(lr)
    eps = _positive(eps, "eps")
    acc0 = _positive(initial_accumulator, "initial_accumulator")

    def init(params: Any) -> AdagradState:
        return AdagradState(count=0, sum_sq=_zeros(params) + acc0)

    def update(grads: Any, state: AdagradState, params: Any = None):
        g = _grads(grads, state.sum_sq)
        s = state.sum_sq + g * g
        u = -_eta(lr_fn, state.count, g.dtype) * g / (np.sqrt(s) + eps)
        return u, AdagradState(state.count + 1, s)

    return GradientTransformation(init, update)


def rmsprop(lr: LearningRate, decay: float = 0.9, eps: float = 1e-8, *,
            eps_in_sqrt: bool = False) -> GradientTransformation:
    """RMSprop: ``s <- decay s + (1 - decay) g^2``, ``updates = -lr g / (sqrt(s) + eps)``.

    Parameters
    ----------
    lr : float or schedule
        Learning rate.
    decay : float
        Averaging coefficient ``rho`` in ``[0, 1)`` (torch calls it ``alpha``, default 0.99).
    eps : float
        Denominator guard.
    eps_in_sqrt : bool
        ``False`` (torch): ``g / (sqrt(s) + eps)``.  ``True`` (optax default, TensorFlow 1):
        ``g / sqrt(s + eps)``, for which the same ``eps`` is a much larger guard (``sqrt(1e-8) =
        1e-4``).

    Notes
    -----
    No bias correction: with ``s0 = 0`` the first step is ``-lr g / (sqrt(1 - decay) |g|)``,
    ``1 / sqrt(1 - decay) ~ 3.2`` times ``lr`` per coordinate for ``decay = 0.9``.
    """
    lr_fn = _lr_fn(lr)
    decay = _coef(decay, "decay", 0.0, 1.0)
    eps = _positive(eps, "eps")
    in_sqrt = bool(eps_in_sqrt)

    def init(params: Any) -> RmspropState:
        return RmspropState(count=0, square_avg=_zeros(params))

    def update(grads: Any, state: RmspropState, params: Any = None):
        g = _grads(grads, state.square_avg)
        s = decay * state.square_avg + (1 - decay) * g * g
        denom = np.sqrt(s + eps) if in_sqrt else np.sqrt(s) + eps
        return -_eta(lr_fn, state.count, g.dtype) * g / denom, RmspropState(state.count + 1, s)

    return GradientTransformation(init, update)


def _adam(lr: LearningRate, b1: float, b2: float, eps: float, weight_decay: float | None):
    lr_fn = _lr_fn(lr)
    b1 = _coef(b1, "b1", 0.0, 1.0)
    b2 = _coef(b2, "b2", 0.0, 1.0)
    eps = _positive(eps, "eps")
    wd = None if weight_decay is None else _positive(weight_decay, "weight_decay")

    def init(params: Any) -> AdamState:
        z = _zeros(params)
        return AdamState(count=0, mu=z, nu=z.copy())

    def update(grads: Any, state: AdamState, params: Any = None):
        g = _grads(grads, state.mu)
        t = state.count + 1
        mu = b1 * state.mu + (1 - b1) * g
        nu = b2 * state.nu + (1 - b2) * g * g
        # Bias correction: m and v start at 0, so without it the first steps are too small (m) or
        # too large (v in the denominator); 1 - b**t is computed in float64 for every dtype.
        mu_hat = mu / np.asarray(1 - b1**t, dtype=g.dtype)
        nu_hat = nu / np.asarray(1 - b2**t, dtype=g.dtype)
        direction = mu_hat / (np.sqrt(nu_hat) + eps)
        if wd is not None:
            if params is None:
                raise ValueError("adamw's update needs params (decoupled weight decay uses them)")
            direction = direction + wd * np.asarray(params, dtype=g.dtype)
        return -_eta(lr_fn, state.count, g.dtype) * direction, AdamState(t, mu, nu)

    return GradientTransformation(init, update)


def adam(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> GradientTransformation:
    """Adam: bias-corrected moving averages of ``g`` and ``g^2``; step ``-lr m_hat / (sqrt(v_hat) + eps)``.

    Parameters
    ----------
    lr : float or schedule
        Step size; Adam's steps are about ``lr`` per coordinate whatever the gradient's scale.
    b1, b2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    eps : float
        Added to ``sqrt(v_hat)`` (the paper's and torch's placement).

    Notes
    -----
    torch computes the same step as ``(lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``;
    the two agree to rounding.
    """
    return _adam(lr, b1, b2, eps, None)


def adamw(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> GradientTransformation:
    """AdamW: Adam plus decoupled weight decay, ``updates = adam - lr * weight_decay * params``.

    The decay does not pass through Adam's ``1 / sqrt(v_hat)`` scaling, unlike an L2 term added
    to the loss (Loshchilov & Hutter 2019).  ``update`` needs `params`.
    """
    return _adam(lr, b1, b2, eps, weight_decay)


OPTIMIZERS: Mapping[str, Callable[..., GradientTransformation]] = MappingProxyType({
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
})
"""The first-order optimizer factories by name."""
