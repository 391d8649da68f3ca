"""Argument checks shared by the modules of :mod:`numdl.optim`.

Each check returns the argument converted (a float, an int, a float64 array, a learning-rate
function) or raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad value)
with a message that names the argument, e.g. ``ValueError("b1 must be in [0.0, 1.0), got 1.5")``.
Booleans are refused where numbers are expected (``True`` is an ``int`` to Python, never a learning
rate).  The checks are for user input; internal invariants use ``assert``.

>>> coefficient(0.9, "beta", 0.0, 1.0)
0.9
>>> real_number(float("nan"), "tol")
Traceback (most recent call last):
    ...
ValueError: tol must be a finite number, got nan
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "LearningRate",
    "as_learning_rate",
    "coefficient",
    "multipliers_or_zeros",
    "nonnegative_int",
    "readonly_float64",
    "real_array",
    "real_number",
    "tolerance",
    "vector",
]

LearningRate = float | Callable[[int], float]
"""A learning rate: a float ``>= 0``, or a schedule ``lr(count)`` (:mod:`numdl.optim.schedules`)."""

_REAL = int | float | np.integer | np.floating


def _real_scalar(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, _REAL):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def coefficient(value: object, name: str, lo: float, hi: float, *, hi_open: bool = True) -> float:
    """`value` as a float in ``[lo, hi)`` (or ``[lo, hi]`` with ``hi_open=False``).

    Parameters
    ----------
    value : object
        The argument.
    name : str
        Its name, for the message.
    lo, hi : float
        The interval; ``hi = inf`` for "at least `lo`".
    hi_open : bool
        Whether `hi` itself is excluded.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If `value` is not a real number (a bool is not).
    ValueError
        If it is outside the interval (NaN always is).
    """
    v = _real_scalar(value, name)
    ok = lo <= v < hi if hi_open else lo <= v <= hi
    if not ok:
        interval = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def as_learning_rate(lr: object, name: str = "lr") -> Callable[[int], float]:
    """A learning rate as a function of the update count.

    Parameters
    ----------
    lr : float or callable
        A finite number ``>= 0`` (returned as a constant function) or a schedule, any callable
        ``lr(count)`` (returned as is).
    name : str
        The argument's name, for the message.

    Returns
    -------
    callable
        ``count -> float``.

    Raises
    ------
    TypeError
        If `lr` is neither a real number nor callable.
    ValueError
        If it is a number that is negative, infinite or NaN.
    """
    if callable(lr):
        return lr
    if isinstance(lr, bool) or not isinstance(lr, _REAL):
        raise TypeError(f"{name} must be a number or a schedule (callable of the step count), got "
                        f"{type(lr).__name__}")
    v = float(lr)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {lr!r}")
    return lambda count: v


def real_number(value: object, name: str, *, lo: float = -math.inf, positive: bool = False,
                finite: bool = True) -> float:
    """`value` as a float ``>= lo`` (``> 0`` with ``positive=True``), finite unless told.

    Raises
    ------
    TypeError
        If `value` is not a real number (a bool is not).
    ValueError
        If it is NaN, infinite (with ``finite=True``), not ``> 0`` (with ``positive=True``) or
        below `lo`.
    """
    v = _real_scalar(value, name)
    if math.isnan(v) or (finite and not math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if v < lo:
        raise ValueError(f"{name} must be >= {lo:g}, got {value!r}")
    return v


def tolerance(value: object, name: str, default: float) -> float:
    """`default` if `value` is None, else `value` as a float ``>= 0`` (:func:`real_number`)."""
    if value is None:
        return float(default)
    return real_number(value, name, lo=0.0)


def nonnegative_int(value: object, name: str) -> int:
    """`value` as an ``int >= 0``.

    Raises
    ------
    ValueError
        If `value` is not an integer (a bool or a float is not) or is negative.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def real_array(x: ArrayLike, name: str) -> np.ndarray:
    """`x` as a float64 array (a new one).

    Raises
    ------
    TypeError
        If `x` is not real (complex, object, strings...).
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real array, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def vector(x: ArrayLike, name: str = "x") -> np.ndarray:
    """`x` as a non-empty float64 vector of shape ``(n,)`` (a scalar becomes ``(1,)``).

    Raises
    ------
    TypeError
        If `x` is not real.
    ValueError
        If it has more than one dimension or no entries.
    """
    arr = real_array(x, name)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a vector of shape (n,), got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    return arr


def readonly_float64(a: ArrayLike) -> np.ndarray:
    """A read-only float64 copy of `a`, for the fields of frozen records."""
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


def multipliers_or_zeros(value: ArrayLike | None, size: int, name: str, kind: str) -> np.ndarray:
    """Multipliers given as `value` (one per `kind` of constraint), or ``size`` zeros for None.

    Raises
    ------
    TypeError
        If `value` is not real.
    ValueError
        If it does not have `size` entries.
    """
    if value is None:
        return np.zeros(size)
    arr = real_array(value, name).reshape(-1)
    if arr.size != size:
        raise ValueError(f"{name} must have {size} entries (one per {kind}), got {arr.size}")
    return arr
