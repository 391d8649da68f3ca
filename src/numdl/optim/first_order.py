"""First-order optimizers as pairs of pure functions (the optax convention).

Each factory returns a :class:`GradientTransformation` ``(init, update)``::

    opt = adam(lr=1e-3)
    state = opt.init(params)
    for step in range(n):
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)      # params + updates

``update`` returns the *updates to add* to the parameters (they already carry the minus sign and
the learning rate), never modifies its inputs, and returns a new state record.  ``sgd``,
``momentum``, ``nesterov``, ``adam`` and ``adamw`` are chains of the transformations of
:mod:`numdl.optim.transforms` (:func:`adam_chain` shows how), with their state kept in the records
below, and compute the same bits as when they were written out (tested over 50 steps in float32
and float64, with a constant lr and a schedule).  ``adagrad`` and ``rmsprop`` stay written out:
as chains their ``(-lr g) / denom`` would round as ``-lr (g / denom)``, a different last bit.  The
state records are typed NamedTuples; ``count`` is the number of updates done so far, and the
learning rate of an update is ``lr(count)`` for a schedule (:mod:`numdl.optim.schedules`) or the
float ``lr``.  Parameters are one NumPy array of any shape; concatenate several tensors into one
vector to optimize them together.  Gradients should have the parameters' dtype (as
:func:`numdl.optim.minimize` and every training loop pass them): for float32 gradients on float64
parameters the written-out forms rounded ``lr`` (and adamw's ``params`` in the decay term) to
float32, and the chains keep them in float64.

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

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.transforms import (
    EmptyState,
    GradientTransformation,
    ScaleByAdamState,
    ScaleByScheduleState,
    TraceState,
    add_decayed_weights,
    apply_updates,
    as_gradient,
    chain,
    scale_by_adam,
    scale_by_learning_rate,
    state_zeros,
    trace,
)
from numdl.optim.validation import LearningRate, as_learning_rate, coefficient

__all__ = [
    "OPTIMIZERS",
    "AdagradState",
    "AdamState",
    "GradientTransformation",
    "LearningRate",
    "MomentumState",
    "RmspropState",
    "SgdState",
    "adagrad",
    "adam",
    "adam_chain",
    "adamw",
    "apply_updates",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
]


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


def _positive(value: object, name: str) -> float:
    return coefficient(value, name, 0.0, np.inf)


def _eta(lr: Callable[[int], float], count: int, dtype: Any) -> Any:
    return np.asarray(lr(count), dtype=dtype)[()]


def _keeping_state(inner: GradientTransformation, pack: Callable[[tuple], Any],
                   unpack: Callable[[Any], tuple]) -> GradientTransformation:
    """`inner` (a chain) with its tuple of states kept as one of the records above."""

    def init(params: ArrayLike) -> Any:
        return pack(inner.init(params))

    def update(grads: ArrayLike, state: Any, params: ArrayLike | None = None):
        updates, new = inner.update(grads, unpack(state), params)
        return updates, pack(new)

    return GradientTransformation(init, update)


# -- optimizers ------------------------------------------------------------------------------------


def sgd(lr: LearningRate) -> GradientTransformation:
    """Plain (stochastic) gradient descent: ``updates = -lr(count) * g``.

    ``scale_by_learning_rate(lr)`` with its state kept as an :class:`SgdState`.

    Parameters
    ----------
    lr : float or schedule
        Learning rate ``>= 0`` or a function of the update count.

    Raises
    ------
    TypeError, ValueError
        If `lr` is not a finite number ``>= 0`` or a callable.
    """
    return _keeping_state(chain(scale_by_learning_rate(lr)),
                          lambda s: SgdState(count=s[0].count),
                          lambda st: (ScaleByScheduleState(st.count),))


def _momentum(lr: LearningRate, beta: float, nesterov: bool) -> GradientTransformation:
    as_learning_rate(lr)
    beta = coefficient(beta, "beta", 0.0, 1.0)
    # (v0 = 0, so the first step is plain SGD, as in torch)
    return _keeping_state(chain(trace(beta, nesterov=nesterov), scale_by_learning_rate(lr)),
                          lambda s: MomentumState(s[1].count, s[0].trace),
                          lambda st: (TraceState(st.velocity), ScaleByScheduleState(st.count)))


def momentum(lr: LearningRate, beta: float = 0.9) -> GradientTransformation:
    """Heavy-ball momentum: ``v <- beta v + g``, ``updates = -lr v``.

    ``chain(trace(beta), scale_by_learning_rate(lr))`` with its state kept as a
    :class:`MomentumState`.

    Parameters
    ----------
    lr : float or schedule
        Learning rate.
    beta : float
        Momentum coefficient in ``[0, 1)``; ``beta = 0`` is :func:`sgd`.

    Raises
    ------
    TypeError, ValueError
        If `lr` or `beta` is out of range.

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

    This is ``torch.optim.SGD(nesterov=True, dampening=0)``, and
    ``chain(trace(beta, nesterov=True), scale_by_learning_rate(lr))``; see the module docstring
    for how it relates to Nesterov's look-ahead gradient.

    Raises
    ------
    TypeError, ValueError
        If `lr` or `beta` is out of range.
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

    Raises
    ------
    TypeError, ValueError
        If an argument is out of range.

    Notes
    -----
    The effective step ``lr / sqrt(sum g^2)`` only decreases, which suits sparse convex problems
    and stalls long non-convex runs -- the motivation for RMSprop.
    """
    lr_fn = as_learning_rate(lr)
    eps = _positive(eps, "eps")
    acc0 = _positive(initial_accumulator, "initial_accumulator")

    def init(params: ArrayLike) -> AdagradState:
        return AdagradState(count=0, sum_sq=state_zeros(params) + acc0)

    def update(grads: ArrayLike, state: AdagradState, params: ArrayLike | None = None):
        g = as_gradient(grads, state.sum_sq)
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

    Raises
    ------
    TypeError, ValueError
        If an argument is out of range.

    Notes
    -----
    No bias correction: with ``s0 = 0`` the first step is ``-lr g / (sqrt(1 - decay) |g|)``,
    ``1 / sqrt(1 - decay) ~ 3.2`` times ``lr`` per coordinate for ``decay = 0.9``.
    ``chain(scale_by_rms(decay, eps), scale_by_learning_rate(lr))`` computes the same up to the
    last bit (it divides before multiplying by ``-lr``).
    """
    lr_fn = as_learning_rate(lr)
    decay = coefficient(decay, "decay", 0.0, 1.0)
    eps = _positive(eps, "eps")
    in_sqrt = bool(eps_in_sqrt)

    def init(params: ArrayLike) -> RmspropState:
        return RmspropState(count=0, square_avg=state_zeros(params))

    def update(grads: ArrayLike, state: RmspropState, params: ArrayLike | None = None):
        g = as_gradient(grads, state.square_avg)
        s = decay * state.square_avg + (1 - decay) * g * g
        denom = np.sqrt(s + eps) if in_sqrt else np.sqrt(s) + eps
        return -_eta(lr_fn, state.count, g.dtype) * g / denom, RmspropState(state.count + 1, s)

    return GradientTransformation(init, update)


def adam_chain(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
               weight_decay: float | None = None) -> GradientTransformation:
    """Adam, or AdamW when `weight_decay` is given: the core of :func:`adam` and :func:`adamw`.

    The chain ``scale_by_adam(b1, b2, eps)``, then ``add_decayed_weights(weight_decay)`` if
    `weight_decay` is not None, then ``scale_by_learning_rate(lr)``, with its state kept as one
    :class:`AdamState` (the three counts are equal, so one is kept).  The update is
    ``-lr(count) (m_hat / (sqrt(v_hat) + eps) + weight_decay * params)``.

    Parameters
    ----------
    lr : float or schedule
        Step size.
    b1, b2 : float
        Decay rates of the moment estimates, in ``[0, 1)``.
    eps : float
        Added to ``sqrt(v_hat)``.
    weight_decay : float or None
        Decoupled weight decay ``>= 0`` (then ``update`` needs `params`), or None for Adam.

    Returns
    -------
    GradientTransformation
        Its state is an :class:`AdamState`.

    Raises
    ------
    TypeError, ValueError
        If an argument is out of range (named in the message).
    """
    as_learning_rate(lr)
    steps = [scale_by_adam(b1, b2, eps)]
    if weight_decay is not None:
        steps.append(add_decayed_weights(weight_decay))
    steps.append(scale_by_learning_rate(lr))
    middle = (EmptyState(),) if weight_decay is not None else ()

    def pack(s: tuple) -> AdamState:
        return AdamState(s[0].count, s[0].mu, s[0].nu)

    def unpack(st: AdamState) -> tuple:
        return (ScaleByAdamState(st.count, st.mu, st.nu), *middle, ScaleByScheduleState(st.count))

    opt = _keeping_state(chain(*steps), pack, unpack)
    if weight_decay is None:
        return opt

    def update(grads: ArrayLike, state: AdamState, params: ArrayLike | None = None):
        if params is None:
            raise ValueError("adamw's update needs params (decoupled weight decay uses them)")
        return opt.update(grads, state, params)

    return GradientTransformation(opt.init, update)


def adam(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> GradientTransformation:
    """Adam: bias-corrected moving averages of ``g`` and ``g^2``; step ``-lr m_hat / (sqrt(v_hat) + eps)``.

    ``chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(lr))`` (:func:`adam_chain`).

    Parameters
    ----------
    lr : float or schedule
        Step size; Adam's steps are about ``lr`` per coordinate whatever the gradient's scale.
    b1, b2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    eps : float
        Added to ``sqrt(v_hat)`` (the paper's and torch's placement).

    Raises
    ------
    TypeError, ValueError
        If an argument is out of range.

    Notes
    -----
    torch computes the same step as ``(lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``;
    the two agree to rounding.
    """
    return adam_chain(lr, b1, b2, eps, None)


def adamw(lr: LearningRate = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> GradientTransformation:
    """AdamW: Adam plus decoupled weight decay, ``updates = adam - lr * weight_decay * params``.

    The decay does not pass through Adam's ``1 / sqrt(v_hat)`` scaling, unlike an L2 term added
    to the loss (Loshchilov & Hutter 2019).  ``update`` needs `params`.  It is
    ``chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay),
    scale_by_learning_rate(lr))`` (:func:`adam_chain`).

    Raises
    ------
    TypeError, ValueError
        If an argument is out of range; ``update`` raises ``ValueError`` without `params`.
    """
    return adam_chain(lr, b1, b2, eps, weight_decay)


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
