"""Chapter 3d (constrained optimization and KKT): weight decay in Adam, L2 penalty against decoupled.

Every function takes a ``numpy.random.Generator`` where it draws; the notebook only draws the
figures from what these return.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim import adam, adamw
from numdl.tutorial.simulations._common import check_rng

__all__ = ["DecayComparison", "decoupled_decay_experiment"]


def _positive(value: Any, name: str, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and (v >= 0 if zero_ok else v > 0)):
        raise ValueError(f"{name} must be finite and {'>= 0' if zero_ok else '> 0'}, got {value!r}")
    return v


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class DecayComparison:
    """Adam with an L2 penalty against AdamW on a loss whose gradients are noise of per-coordinate
    scales `scales` (see :func:`decoupled_decay_experiment`).

    Attributes
    ----------
    scales : numpy.ndarray, shape (n,)
    steps : numpy.ndarray of int, shape (k,)
        The recorded steps (0 to the last).
    adam_l2, adamw : numpy.ndarray, shape (k, n)
        Mean over the runs of ``w_i(t) / w_i(0)`` for Adam on ``loss + wd/2 ||w||^2`` and for AdamW
        with ``weight_decay = wd``.
    uniform : numpy.ndarray, shape (k,)
        ``(1 - lr wd)^t``, the decay of every coordinate's mean under AdamW (and under SGD on the
        L2-penalized loss with the same ``lr``).
    lr, weight_decay : float
    runs : int
    """

    scales: np.ndarray
    steps: np.ndarray
    adam_l2: np.ndarray
    adamw: np.ndarray
    uniform: np.ndarray
    lr: float
    weight_decay: float
    runs: int


def decoupled_decay_experiment(scales: ArrayLike = (0.01, 0.1, 1.0, 10.0), *,
                               weight_decay: float = 0.1, lr: float = 1e-2, steps: int = 1000,
                               runs: int = 32, record_every: int = 10,
                               rng: np.random.Generator) -> DecayComparison:
    """How Adam + L2 and AdamW shrink weights whose gradients have very different scales.

    The stochastic loss at step t is ``sum_i s_i xi_{t,i} w_i`` with ``xi ~ N(0, 1)``: gradients of
    scale ``s_i`` per coordinate and no signal, so the only systematic pull on ``w`` is the decay,
    and every coordinate should shrink alike.  Both optimizers start at ``w = 1`` and see the same
    noise.

    * AdamW's update is Adam's, which has zero mean here (it is odd in the noise), plus
      ``-lr wd w``: every coordinate's mean decays by exactly ``(1 - lr wd)`` per step.
    * Adam on ``loss + wd/2 ||w||^2`` divides the decay gradient ``wd w`` by
      ``sqrt(v) ~ sqrt(s_i^2 + (wd w)^2)``: a coordinate with large gradients (``s_i >> wd``)
      is barely decayed, one with tiny gradients decays at the full ``lr`` per step, to 0.

    ``rng`` draws the noise; ``runs`` independent runs are averaged.
    """
    s = np.asarray(scales, dtype=np.float64).reshape(-1)
    if not (s.size and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("scales must be a non-empty sequence of finite numbers > 0")
    wd = _positive(weight_decay, "weight_decay", zero_ok=True)
    lr_ = _positive(lr, "lr")
    T = _count(steps, "steps")
    R = _count(runs, "runs")
    every = _count(record_every, "record_every")
    check_rng(rng)
    opt_l2, opt_w = adam(lr_), adamw(lr_, weight_decay=wd)
    w_l2 = np.ones((R, s.size))  # (R, n)
    w_w = np.ones((R, s.size))
    st_l2, st_w = opt_l2.init(w_l2), opt_w.init(w_w)
    steps_out, l2_out, w_out = [0], [w_l2.mean(0)], [w_w.mean(0)]
    for t in range(1, T + 1):
        noise = s * rng.standard_normal((R, s.size))  # the loss's gradient, (R, n)
        upd, st_l2 = opt_l2.update(noise + wd * w_l2, st_l2)
        w_l2 = w_l2 + upd
        upd, st_w = opt_w.update(noise, st_w, w_w)
        w_w = w_w + upd
        if t % every == 0 or t == T:
            steps_out.append(t)
            l2_out.append(w_l2.mean(0))
            w_out.append(w_w.mean(0))
    ks = np.array(steps_out)
    out = [s.copy(), ks, np.array(l2_out), np.array(w_out), (1.0 - lr_ * wd) ** ks.astype(float)]
    for a in out:
        a.setflags(write=False)
    return DecayComparison(out[0], out[1], out[2], out[3], out[4], lr_, wd, R)
