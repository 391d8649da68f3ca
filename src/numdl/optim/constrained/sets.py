"""Closed convex sets with exact Euclidean projections: box, ball, simplex, affine subspace.

The projections :func:`project_box`, :func:`project_ball` and :func:`project_simplex` are exact
(closed forms, the simplex by Duchi et al.'s sort), and the sets :class:`Box`, :class:`Ball`,
:class:`Simplex` and :class:`Affine` pair a projection (for projected gradient) with the same set
written as constraints (for the penalty methods and the KKT residuals) and its multipliers in
closed form.  :func:`split_constraints` turns a set or a list of constraints into the
inequalities and equalities every method works with; :func:`scaled_norm` is the 2-norm that
neither overflows nor underflows.

>>> import numpy as np
>>> Ball(1.0).project(np.array([3.0, 4.0])).tolist()
[0.6000000000000001, 0.8]
>>> [c.name for c in Box(0.0, 1.0).constraints(1)]
['x1 <= 1', 'x1 >= 0']

References
----------
.. [1] J. Duchi, S. Shalev-Shwartz, Y. Singer and T. Chandra, "Efficient projections onto the
       l1-ball for learning in high dimensions", ICML 2008 (the simplex projection).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.constrained.constraints import (
    Constraint,
    Equality,
    Inequality,
    least_squares_multipliers,
    partition_constraints,
)
from numdl.optim.validation import readonly_float64, real_array, real_number, vector

__all__ = [
    "Affine",
    "Ball",
    "Box",
    "ConvexSet",
    "Simplex",
    "project_ball",
    "project_box",
    "project_simplex",
    "scaled_norm",
    "split_constraints",
]

_EPS = float(np.finfo(np.float64).eps)


def _no_nan(x: np.ndarray, name: str) -> None:
    if np.any(np.isnan(x)):
        raise ValueError(f"{name} must not contain nan")


def project_box(x: ArrayLike, lower: ArrayLike = -np.inf,
                upper: ArrayLike = np.inf) -> np.ndarray:
    """Euclidean projection onto the box ``{z : lower <= z <= upper}``: ``clip(x, lower, upper)``.

    The box is a product of intervals, so the projection is coordinate by coordinate, and exact:
    every entry of the result is ``x_i``, ``lower_i`` or ``upper_i``.  Bounds broadcast against
    `x` and may be infinite.

    >>> project_box([-2.0, 0.5, 3.0], 0.0, 1.0).tolist()
    [0.0, 0.5, 1.0]

    Raises
    ------
    TypeError
        If an argument is not real.
    ValueError
        If one contains NaN, the bounds do not broadcast to `x`, or ``lower > upper`` somewhere.
    """
    xx = real_array(x, "x")
    lo = real_array(lower, "lower")
    hi = real_array(upper, "upper")
    _no_nan(xx, "x")
    _no_nan(lo, "lower")
    _no_nan(hi, "upper")
    try:
        lo_b, hi_b, _ = np.broadcast_arrays(lo, hi, xx)
    except ValueError:
        raise ValueError(f"lower {lo.shape} and upper {hi.shape} must broadcast to x's shape "
                         f"{xx.shape}") from None
    bad = np.argwhere(lo_b > hi_b)
    if bad.size:
        i = tuple(int(k) for k in bad[0])
        raise ValueError(f"lower must be <= upper: lower[{i}] = {lo_b[i]} > upper[{i}] = "
                         f"{hi_b[i]} (the box is empty)")
    return np.minimum(np.maximum(xx, lo_b), hi_b)


def scaled_norm(d: np.ndarray) -> float:
    """``||d||_2`` computed as ``s ||d / s||`` with ``s = max |d_i|``.

    Squares of entries beyond 1e154 would overflow to inf, and of entries below 1e-162 underflow
    to 0; scaled, the largest entry is 1.  An empty ``d`` has norm 0, a non-finite one
    ``max |d_i|`` (inf, or NaN when a NaN is there).

    >>> d = np.array([3e200, 4e200])
    >>> with np.errstate(over="ignore"):
    ...     naive = float(np.sqrt(np.sum(d * d)))
    >>> naive, f"{scaled_norm(d):.15g}"
    (inf, '5e+200')
    """
    s = float(np.max(np.abs(d))) if d.size else 0.0
    if s == 0.0 or not math.isfinite(s):
        return s
    return s * float(np.linalg.norm(d / s))


def project_ball(x: ArrayLike, radius: float, center: ArrayLike | None = None) -> np.ndarray:
    """Euclidean projection onto the ball ``{z : ||z - center||_2 <= radius}``.

    ``center + (x - center) * min(1, radius / ||x - center||)``: a point outside moves radially to
    the sphere.  `x` of any shape is treated as one vector (the Frobenius norm).  The norm is
    computed scaled by ``max |x_i - c_i|`` so that it neither overflows nor underflows.

    >>> project_ball([6.0, 8.0], 5.0).tolist()
    [3.0, 4.0]

    Raises
    ------
    TypeError
        If an argument is not real.
    ValueError
        If `radius` is negative or not finite, or `x` or `center` is not finite.
    """
    xx = real_array(x, "x")
    r = real_number(radius, "radius", lo=0.0)
    c = np.zeros_like(xx) if center is None else real_array(center, "center")
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    if not np.all(np.isfinite(c)):
        raise ValueError("center must be finite")
    d = xx - c
    nrm = scaled_norm(d)
    if nrm <= r:
        return xx.copy()
    return c + d * (r / nrm)


def project_simplex(x: ArrayLike, total: float = 1.0) -> np.ndarray:
    """Euclidean projection onto the simplex ``{z : z >= 0, sum z = total}``, along the last axis.

    The sort-based algorithm of Duchi et al. (2008, Fig. 1), ``O(n log n)``: with ``u`` sorted in
    decreasing order, ``rho = max{j : u_j - (sum_{k<=j} u_k - total) / j > 0}`` and
    ``theta = (sum_{k<=rho} u_k - total) / rho``, the projection is ``max(x - theta, 0)``.  It is the
    exact KKT solution of ``min ||z - x||^2``: ``theta`` is the multiplier of the sum constraint.
    ``total = 0`` gives zeros.  Batches ``(..., n)`` are projected row by row.  In floating point
    the sum equals `total` up to the rounding of a cumulative sum, about ``n eps max|x|``.

    >>> project_simplex([1.0, 0.5, -1.0]).tolist()
    [0.75, 0.25, 0.0]
    >>> project_simplex([2.0, 0.0]).tolist()
    [1.0, 0.0]

    Raises
    ------
    TypeError
        If `x` is not real.
    ValueError
        If `x` has no entry along its last axis or is not finite, or `total` is negative.
    """
    xx = real_array(x, "x")
    z = real_number(total, "total", lo=0.0)
    if xx.ndim == 0 or xx.shape[-1] == 0:
        raise ValueError(f"x must have at least one entry along its last axis, got shape {xx.shape}")
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    n = xx.shape[-1]
    u = -np.sort(-xx, axis=-1)  # (..., n) decreasing
    css = np.cumsum(u, axis=-1) - z
    j = np.arange(1, n + 1, dtype=np.float64)
    cond = u - css / j > 0  # true on a prefix; at j = 1 it is u_1 - u_1 + z > 0 unless z = 0
    # rho = last true index + 1; if none is true (z = 0), rho = 1 and theta = max x: all zeros
    rho = np.where(cond.any(axis=-1), n - np.argmax(cond[..., ::-1], axis=-1), 1)
    theta = np.take_along_axis(css, (rho - 1)[..., None], axis=-1) / rho[..., None]
    return np.maximum(xx - theta, 0.0)


class ConvexSet(ABC):
    """A closed convex set with an exact Euclidean projection (for ``"projected_gradient"``).

    Subclasses give ``project(x)``, ``constraints(n)`` (the same set as inequalities and
    equalities, so that every method and :func:`kkt_residuals` can use it), ``empty_reason(n)``
    (``None``, or why the set is empty) and ``multipliers(x, grad, active_tol)`` (the
    least-squares multipliers of :func:`estimate_multipliers`, in closed form).
    """

    @abstractmethod
    def project(self, x: np.ndarray) -> np.ndarray:
        """The Euclidean projection of ``x`` onto the set."""

    @abstractmethod
    def constraints(self, n: int) -> tuple[Inequality | Equality, ...]:
        """The set as constraints on R^n."""

    def empty_reason(self, n: int) -> str | None:
        """None, or why the set is empty in R^n (a run on an empty set is ``INFEASIBLE``)."""
        return None

    def multipliers(self, x: np.ndarray, grad: np.ndarray,
                    active_tol: float) -> tuple[np.ndarray, np.ndarray]:
        """``(lam, nu)`` at `x` for the objective gradient `grad`: least squares on stationarity
        over the active constraints (:func:`least_squares_multipliers`)."""
        return least_squares_multipliers(grad, self.constraints(x.size), x, active_tol)


@dataclass(frozen=True, eq=False)
class Box(ConvexSet):
    """``{x : lower <= x <= upper}``; bounds are scalars or ``(n,)`` arrays, possibly infinite.

    As constraints: for each coordinate ``i`` in order, ``x_i - upper_i <= 0`` (if finite) then
    ``lower_i - x_i <= 0`` (if finite).  A box with ``lower_i > upper_i`` is empty: a run on it
    ends with status ``INFEASIBLE`` (``reason="empty_set"``); :func:`project_box` raises.
    """

    lower: ArrayLike = -np.inf
    upper: ArrayLike = np.inf

    def __post_init__(self) -> None:
        for name in ("lower", "upper"):
            arr = real_array(getattr(self, name), name)
            if arr.ndim > 1:
                raise ValueError(f"{name} must be a scalar or a vector, got shape {arr.shape}")
            _no_nan(arr, name)
            object.__setattr__(self, name, readonly_float64(arr))

    def bounds(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` broadcast to shape ``(n,)``."""
        out = []
        for name in ("lower", "upper"):
            arr = getattr(self, name)
            if arr.ndim == 1 and arr.size != n:
                raise ValueError(f"{name} has {arr.size} entries but x has {n}")
            out.append(np.broadcast_to(arr, (n,)))
        return out[0], out[1]

    def project(self, x: np.ndarray) -> np.ndarray:
        """The projection onto the box (:func:`project_box`)."""
        lo, hi = self.bounds(x.size)
        return project_box(x, lo, hi)

    def constraints(self, n: int) -> tuple[Inequality, ...]:
        lo, hi = self.bounds(n)
        out = []
        for i in range(n):
            e = np.zeros(n)
            e[i] = 1.0
            if math.isfinite(hi[i]):
                out.append(Inequality.linear(e, float(hi[i]), name=f"x{i + 1} <= {hi[i]:g}"))
            if math.isfinite(lo[i]):
                out.append(Inequality.linear(-e, -float(lo[i]), name=f"x{i + 1} >= {lo[i]:g}"))
        return tuple(out)

    def empty_reason(self, n: int) -> str | None:
        lo, hi = self.bounds(n)
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            i = int(bad[0])
            return f"lower[{i}] = {lo[i]:g} > upper[{i}] = {hi[i]:g}"
        return None

    def multipliers(self, x: np.ndarray, grad: np.ndarray,
                    active_tol: float) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.bounds(x.size)
        lam = []
        for i in range(x.size):
            at_hi = math.isfinite(hi[i]) and abs(x[i] - hi[i]) <= active_tol
            at_lo = math.isfinite(lo[i]) and abs(lo[i] - x[i]) <= active_tol
            g = float(grad[i])
            # stationarity on coordinate i: g + lam_hi - lam_lo = 0
            if at_hi and at_lo:  # a fixed coordinate: split g so that both are >= 0
                up, down = max(0.0, -g), max(0.0, g)
            else:
                up, down = (-g if at_hi else 0.0), (g if at_lo else 0.0)
            if math.isfinite(hi[i]):
                lam.append(up)
            if math.isfinite(lo[i]):
                lam.append(down)
        return np.array(lam, dtype=np.float64), np.zeros(0)


@dataclass(frozen=True, eq=False)
class Ball(ConvexSet):
    """``{x : ||x - center||_2 <= radius}``; as a constraint, ``||x - center||^2 - radius^2 <= 0``.

    The squared form is smooth everywhere (the norm is not, at the center), and it is the form of
    the weight-decay constraint ``||w||^2 <= C``, whose multiplier is the penalty ``lam``.  A
    negative radius is an empty set (status ``INFEASIBLE`` in a run).
    """

    radius: float
    center: ArrayLike | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius", real_number(self.radius, "radius"))
        if self.center is not None:
            c = vector(self.center, "center")
            if not np.all(np.isfinite(c)):
                raise ValueError("center must be finite")
            object.__setattr__(self, "center", readonly_float64(c))

    def _center(self, n: int) -> np.ndarray:
        if self.center is None:
            return np.zeros(n)
        if self.center.size != n:
            raise ValueError(f"center has {self.center.size} entries but x has {n}")
        return self.center

    def project(self, x: np.ndarray) -> np.ndarray:
        """The projection onto the ball (:func:`project_ball`)."""
        return project_ball(x, max(self.radius, 0.0), self._center(x.size))

    def constraints(self, n: int) -> tuple[Inequality]:
        c, r2 = self._center(n), self.radius**2
        return (Inequality(lambda x: float(np.sum((x - c) ** 2)) - r2, lambda x: 2.0 * (x - c),
                           name="||x - c||^2 <= r^2"),)

    def empty_reason(self, n: int) -> str | None:
        return f"radius = {self.radius:g} < 0" if self.radius < 0 else None

    def multipliers(self, x: np.ndarray, grad: np.ndarray,
                    active_tol: float) -> tuple[np.ndarray, np.ndarray]:
        d = x - self._center(x.size)
        g = float(np.sum(d * d)) - self.radius**2
        dd = float(np.sum(d * d))
        if abs(g) > active_tol or dd == 0.0:
            return np.zeros(1), np.zeros(0)
        # least squares for lam in grad + lam * 2 d = 0
        return np.array([-float(np.dot(grad, d)) / (2.0 * dd)]), np.zeros(0)


@dataclass(frozen=True, eq=False)
class Simplex(ConvexSet):
    """``{x : x >= 0, sum x = total}`` (the probability simplex for ``total = 1``).

    As constraints: the inequalities ``-x_i <= 0`` (``i = 1..n``) and the equality
    ``sum x - total = 0``.  A negative total is an empty set.
    """

    total: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", real_number(self.total, "total"))

    def project(self, x: np.ndarray) -> np.ndarray:
        """The projection onto the simplex (:func:`project_simplex`)."""
        return project_simplex(x, max(self.total, 0.0))

    def constraints(self, n: int) -> tuple[Inequality | Equality, ...]:
        out: list[Inequality | Equality] = []
        for i in range(n):
            e = np.zeros(n)
            e[i] = -1.0
            out.append(Inequality.linear(e, 0.0, name=f"x{i + 1} >= 0"))
        out.append(Equality.linear(np.ones(n), self.total, name=f"sum x = {self.total:g}"))
        return tuple(out)

    def empty_reason(self, n: int) -> str | None:
        return f"total = {self.total:g} < 0" if self.total < 0 else None

    def multipliers(self, x: np.ndarray, grad: np.ndarray,
                    active_tol: float) -> tuple[np.ndarray, np.ndarray]:
        # stationarity: grad_i + nu - lam_i = 0, lam_i = 0 off the active set
        active = np.abs(x) <= active_tol
        if active.all():
            return least_squares_multipliers(grad, self.constraints(x.size), x, active_tol)
        nu = -float(np.mean(grad[~active]))
        lam = np.where(active, grad + nu, 0.0)
        return lam, np.array([nu])


@dataclass(frozen=True, eq=False)
class Affine(ConvexSet):
    """``{x : A x = b}`` for ``A`` of shape ``(p, n)``; as constraints, the rows ``A_j x = b_j``.

    The projection is ``x - A^+ (A x - b)`` (least squares, so a rank-deficient ``A`` is fine).  If
    ``A x = b`` has no solution the set is empty (inconsistent equations; status ``INFEASIBLE``).
    """

    A: ArrayLike
    b: ArrayLike

    def __post_init__(self) -> None:
        A = real_array(self.A, "A")
        if A.ndim == 1:
            A = A[None, :]
        if A.ndim != 2 or A.size == 0:
            raise ValueError(f"A must be a non-empty (p, n) matrix, got shape {A.shape}")
        b = real_array(self.b, "b").reshape(-1)
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have {A.shape[0]} entries (one per row of A), got {b.size}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise ValueError("A and b must be finite")
        object.__setattr__(self, "A", readonly_float64(A))
        object.__setattr__(self, "b", readonly_float64(b))

    def _check(self, n: int) -> None:
        if self.A.shape[1] != n:
            raise ValueError(f"A has {self.A.shape[1]} columns but x has {n} entries")

    def project(self, x: np.ndarray) -> np.ndarray:
        """``x - A^+ (A x - b)``."""
        self._check(x.size)
        return x - np.linalg.lstsq(self.A, self.A @ x - self.b, rcond=None)[0]

    def constraints(self, n: int) -> tuple[Equality, ...]:
        self._check(n)
        return tuple(Equality.linear(a, float(bj), name=f"row {j + 1} of A x = b")
                     for j, (a, bj) in enumerate(zip(self.A, self.b)))

    def empty_reason(self, n: int) -> str | None:
        self._check(n)
        x = np.linalg.lstsq(self.A, self.b, rcond=None)[0]
        res = float(np.linalg.norm(self.A @ x - self.b))
        scale = float(np.linalg.norm(self.A)) * float(np.linalg.norm(x)) + float(
            np.linalg.norm(self.b))
        if res > 1e3 * _EPS * max(scale, np.finfo(np.float64).tiny):
            return f"A x = b has no solution: the least-squares residual is {res:.3g}"
        return None

    def multipliers(self, x: np.ndarray, grad: np.ndarray,
                    active_tol: float) -> tuple[np.ndarray, np.ndarray]:
        nu = -np.linalg.lstsq(self.A.T, grad, rcond=None)[0]
        return np.zeros(0), nu


def split_constraints(
        constraints: ConvexSet | Constraint | Sequence[Constraint] | None, n: int,
) -> tuple[tuple[Inequality, ...], tuple[Equality, ...], ConvexSet | None]:
    """``(inequalities, equalities, the set if one was given)``, in the order given.

    Parameters
    ----------
    constraints : ConvexSet, Inequality, Equality, a sequence of them, or None
        A set stands for its :meth:`ConvexSet.constraints`.
    n : int
        The dimension of x (a set's constraints depend on it).

    Returns
    -------
    tuple
        ``(tuple of Inequality, tuple of Equality, ConvexSet or None)``.

    Raises
    ------
    TypeError
        If `constraints` is none of these (:func:`partition_constraints`).
    """
    if isinstance(constraints, ConvexSet):
        cs = constraints.constraints(n)
        return (tuple(c for c in cs if isinstance(c, Inequality)),
                tuple(c for c in cs if isinstance(c, Equality)), constraints)
    ineqs, eqs = partition_constraints(constraints)
    return ineqs, eqs, None
