"""Learning-rate schedules: functions of the step count.

A schedule is a frozen, callable record: ``schedule(count)`` is the learning rate of the update
number ``count`` (0 for the first update, as in optax), for an ``int`` or an integer array (handy
for plotting ``schedule(np.arange(1000))``).  Every first-order optimizer in
:mod:`numdl.optim.first_order` accepts a schedule wherever it accepts a float ``lr``.

=================================  ==============================================================
schedule                           ``lr(t)``
=================================  ==============================================================
``constant_schedule(v)``           ``v``
``step_schedule(v, step_size, f)`` ``v * f**floor(t / step_size)``
``exponential_schedule(v, r, T)``  ``v * r**(t / T)``
``inverse_time_schedule(v, r, T)`` ``v / (1 + r t / T)``
``cosine_schedule(v, T, alpha)``   ``v * (alpha + (1 - alpha) (1 + cos(pi min(t, T) / T)) / 2)``
``warmup_cosine_schedule(...)``    linear from ``init`` to ``peak`` over ``W`` steps, then cosine
                                   from ``peak`` to ``end`` until step ``T``
=================================  ==============================================================

The ``1/t`` schedule satisfies the Robbins-Monro conditions ``sum lr = inf``, ``sum lr^2 < inf``
that guarantee convergence of SGD on strongly convex problems; cosine with warmup is the usual
choice for training transformers.

References
----------
.. [1] H. Robbins and S. Monro, "A stochastic approximation method", *Ann. Math. Statist.* 22,
       1951.
.. [2] I. Loshchilov and F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
       ICLR 2017 (cosine annealing).
.. [3] P. Goyal et al., "Accurate, large minibatch SGD: training ImageNet in 1 hour",
       arXiv:1706.02677, 2017 (linear warmup).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Schedule",
    "constant_schedule",
    "cosine_schedule",
    "exponential_schedule",
    "inverse_time_schedule",
    "step_schedule",
    "warmup_cosine_schedule",
]


def _number(value: Any, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _steps(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _count(count: Any) -> np.ndarray:
    t = np.asarray(count)
    if t.dtype.kind not in "iu" or np.any(t < 0):
        raise ValueError(f"count must be a non-negative integer (or integer array), got {count!r}")
    return t.astype(np.float64)


def _out(v: np.ndarray) -> Any:
    return float(v) if v.ndim == 0 else v


@dataclass(frozen=True)
class Schedule(ABC):
    """Base of the schedule records: ``schedule(count) -> lr`` (float, or array for an array)."""

    def __call__(self, count: ArrayLike) -> float | np.ndarray:
        """The learning rate of update number `count` (a float), or of each count in an array."""
        return _out(self._lr(_count(count)))

    @abstractmethod
    def _lr(self, t: np.ndarray) -> np.ndarray:
        """The learning rate at step counts ``t`` (float64 array)."""


@dataclass(frozen=True)
class _Constant(Schedule):
    value: float

    def _lr(self, t):
        return np.full_like(t, self.value)


@dataclass(frozen=True)
class _Step(Schedule):
    init_value: float
    step_size: int
    factor: float

    def _lr(self, t):
        return self.init_value * self.factor ** np.floor(t / self.step_size)


@dataclass(frozen=True)
class _Exponential(Schedule):
    init_value: float
    decay_rate: float
    decay_steps: int

    def _lr(self, t):
        return self.init_value * self.decay_rate ** (t / self.decay_steps)


@dataclass(frozen=True)
class _InverseTime(Schedule):
    init_value: float
    decay_rate: float
    decay_steps: int

    def _lr(self, t):
        return self.init_value / (1 + self.decay_rate * t / self.decay_steps)


@dataclass(frozen=True)
class _Cosine(Schedule):
    init_value: float
    decay_steps: int
    alpha: float

    def _lr(self, t):
        c = 0.5 * (1 + np.cos(np.pi * np.minimum(t, self.decay_steps) / self.decay_steps))
        return self.init_value * (self.alpha + (1 - self.alpha) * c)


@dataclass(frozen=True)
class _WarmupCosine(Schedule):
    init_value: float
    peak_value: float
    warmup_steps: int
    decay_steps: int
    end_value: float

    def _lr(self, t):
        w, total = self.warmup_steps, self.decay_steps
        warm = self.init_value + (self.peak_value - self.init_value) * t / max(w, 1)
        frac = np.clip((t - w) / max(total - w, 1), 0.0, 1.0)
        cos = self.end_value + (self.peak_value - self.end_value) * 0.5 * (1 + np.cos(np.pi * frac))
        return np.where(t < w, warm, cos)


def constant_schedule(value: float) -> Schedule:
    """``lr(t) = value``."""
    return _Constant(_number(value, "value", nonnegative=True))


def step_schedule(init_value: float, *, step_size: int, factor: float = 0.1) -> Schedule:
    """``lr(t) = init_value * factor**floor(t / step_size)``: drop by `factor` every `step_size`."""
    return _Step(_number(init_value, "init_value", nonnegative=True), _steps(step_size, "step_size"),
                 _number(factor, "factor", positive=True))


def exponential_schedule(init_value: float, *, decay_rate: float, decay_steps: int = 1) -> Schedule:
    """``lr(t) = init_value * decay_rate**(t / decay_steps)`` (smooth, no staircase)."""
    return _Exponential(_number(init_value, "init_value", nonnegative=True),
                        _number(decay_rate, "decay_rate", positive=True),
                        _steps(decay_steps, "decay_steps"))


def inverse_time_schedule(init_value: float, *, decay_rate: float = 1.0,
                          decay_steps: int = 1) -> Schedule:
    """``lr(t) = init_value / (1 + decay_rate * t / decay_steps)``: the 1/t (Robbins-Monro) decay."""
    return _InverseTime(_number(init_value, "init_value", nonnegative=True),
                        _number(decay_rate, "decay_rate", nonnegative=True),
                        _steps(decay_steps, "decay_steps"))


def cosine_schedule(init_value: float, *, decay_steps: int, alpha: float = 0.0) -> Schedule:
    """Cosine annealing from `init_value` to ``alpha * init_value`` over `decay_steps`, then flat.

    ``lr(t) = init_value * (alpha + (1 - alpha) * (1 + cos(pi * min(t, T) / T)) / 2)``.
    """
    a = _number(alpha, "alpha", nonnegative=True)
    if a > 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return _Cosine(_number(init_value, "init_value", nonnegative=True),
                   _steps(decay_steps, "decay_steps"), a)


def warmup_cosine_schedule(peak_value: float, *, warmup_steps: int, decay_steps: int,
                           init_value: float = 0.0, end_value: float = 0.0) -> Schedule:
    """Linear warmup from `init_value` to `peak_value`, then cosine decay to `end_value`.

    ``lr(t) = init + (peak - init) t / W`` for ``t < W``, then
    ``end + (peak - end) (1 + cos(pi (t - W) / (T - W))) / 2`` until ``t = T`` (`decay_steps`,
    which counts the warmup, as in optax), and `end_value` after.

    Examples
    --------
    >>> import numpy as np
    >>> s = warmup_cosine_schedule(1.0, warmup_steps=10, decay_steps=110)
    >>> s(0), s(5), s(10), s(60), s(110), s(500)
    (0.0, 0.5, 1.0, 0.5, 0.0, 0.0)
    """
    w = int(warmup_steps) if isinstance(warmup_steps, int | np.integer) and not isinstance(
        warmup_steps, bool) else -1
    if w < 0:
        raise ValueError(f"warmup_steps must be a non-negative integer, got {warmup_steps!r}")
    total = _steps(decay_steps, "decay_steps")
    if total < w:
        raise ValueError(f"decay_steps={decay_steps} must be >= warmup_steps={warmup_steps}")
    return _WarmupCosine(_number(init_value, "init_value", nonnegative=True),
                         _number(peak_value, "peak_value", nonnegative=True), w, total,
                         _number(end_value, "end_value", nonnegative=True))
