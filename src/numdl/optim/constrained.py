"""Constrained optimization: the KKT conditions as residuals, three methods, exact projections, and
weight decay as a norm constraint.

The problem is

    min f(x)  subject to  g_i(x) <= 0 (i = 1..m)  and  h_j(x) = 0 (j = 1..p),

with the generalized Lagrangian ``L(x, lam, nu) = f(x) + sum_i lam_i g_i(x) + sum_j nu_j h_j(x)``.
A point ``x`` with multipliers ``(lam, nu)`` satisfies the Karush-Kuhn-Tucker conditions when

1. stationarity: ``grad f(x) + sum_i lam_i grad g_i(x) + sum_j nu_j grad h_j(x) = 0``;
2. primal feasibility: ``g_i(x) <= 0`` and ``h_j(x) = 0``;
3. dual feasibility: ``lam_i >= 0``;
4. complementary slackness: ``lam_i g_i(x) = 0`` (an inactive constraint, ``g_i < 0``, has
   ``lam_i = 0``; a positive multiplier needs an active constraint, ``g_i = 0``).

:func:`kkt_residuals` measures each condition as one non-negative number, 0 when it holds, so a
point is judged by ``max(residuals) <= tol``:

>>> import numpy as np
>>> from numdl.optim.constrained import Inequality, kkt_residuals
>>> # min (x - 2)^2 subject to x <= 1: the solution is x = 1 with lam = 2
>>> c = Inequality(lambda x: x[0] - 1.0, lambda x: np.array([1.0]))
>>> r = kkt_residuals(lambda x: 2 * (x - 2), [c], [1.0], lam=[2.0])
>>> r.violated(1e-9), r.active.tolist()
((), [True])
>>> kkt_residuals(lambda x: 2 * (x - 2), [c], [1.0], lam=[-2.0]).violated(1e-9)
('stationarity', 'dual_feasibility')

Constraints are objects, :class:`Inequality` (``g(x) <= 0``) and :class:`Equality`
(``h(x) = 0``); the sets :class:`Box`, :class:`Ball`, :class:`Simplex` and :class:`Affine`
have exact projections (:func:`project_box`, :func:`project_ball`, :func:`project_simplex`) and
describe themselves as constraints too.  :func:`minimize_constrained` has three methods:

``"augmented_lagrangian"``
    Any constraints.  Minimizes ``f + sum_j (nu_j h_j + mu/2 h_j^2) +
    1/(2 mu) sum_i (max(0, lam_i + mu g_i)^2 - lam_i^2)`` with BFGS, then updates
    ``lam <- max(0, lam + mu g)``, ``nu <- nu + mu h``, and multiplies ``mu`` by 10 only when the
    violation did not halve (Hestenes 1969, Powell 1969; Rockafellar 1973 for inequalities; the
    update rule of Birgin & Martinez 2014).  The multipliers converge, so ``mu`` stays moderate
    and each subproblem stays well conditioned.
``"penalty"``
    Any constraints.  The quadratic penalty ``f + mu/2 (sum h^2 + sum max(0, g)^2)`` with ``mu``
    multiplied by 10 after each subproblem; the multiplier estimates are ``mu max(0, g)`` and
    ``mu h``.  Feasibility to ``tol`` needs ``mu`` near ``lam / tol``: the subproblems become
    ill conditioned (Nocedal & Wright §17.1).  Kept as the baseline the augmented Lagrangian fixes.
``"projected_gradient"``
    A set with a projection (one of the sets above, or a projection function), not general
    constraints: ``x <- x + alpha (P(x - t g) - x)`` with a Barzilai-Borwein trial step ``t`` and an
    Armijo backtracking ``alpha`` (the spectral projected gradient of Birgin, Martinez & Raydan
    2000, monotone version).  Every iterate is feasible.  The multipliers, which the method never
    needs, are estimated at each iterate by least squares on the stationarity condition over the
    active constraints (closed forms for the four sets).

Every run returns a :class:`ConstrainedResult` (an :class:`~numdl.optim.OptimizeResult` with the
multipliers, the final :class:`KKTResiduals` and the residuals along the trajectory) whose status
comes from :data:`numdl.optim.MESSAGES`: converged when every KKT residual is ``<= tol``;
``INFEASIBLE`` for an empty set or constraints the method cannot satisfy; ``DIVERGED`` for
non-finite values or an unbounded objective.  Nothing raises except bad arguments.

Weight decay.  Ridge regression is written, as in the syllabus, without a factor 1/2:

    min_w ||X w - y||^2 + lam ||w||^2            (penalized)
    min_w ||X w - y||^2  subject to  ||w||^2 <= C  (constrained)

Both have the gradient ``2 X^T (X w - y) + 2 lam w``, so ``w_lam`` solves the constrained problem
for ``C = ||w_lam||^2`` with the KKT multiplier of ``||w||^2 - C <= 0`` equal to ``lam`` itself.
(With the loss ``1/2 ||Xw - y||^2`` and the penalty ``lam/2 ||w||^2`` the same ``w`` comes out, and
the multiplier is ``lam / 2``.)  :func:`ridge_radius` maps ``lam -> C`` and
:func:`ridge_penalty_for_radius` maps ``C -> lam``.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, ch. 12
       (KKT), §17.1 (quadratic penalty), §17.3-17.4 (augmented Lagrangian), §4.3 (the secular
       equation of :func:`ridge_penalty_for_radius`).
.. [2] R. T. Rockafellar, "The multiplier method of Hestenes and Powell applied to convex
       programming", *J. Optim. Theory Appl.* 12(6), 1973.
.. [3] E. G. Birgin and J. M. Martinez, *Practical Augmented Lagrangian Methods for Constrained
       Optimization*, SIAM, 2014.
.. [4] E. G. Birgin, J. M. Martinez and M. Raydan, "Nonmonotone spectral projected gradient
       methods on convex sets", *SIAM J. Optim.* 10(4), 2000.
.. [5] J. Duchi, S. Shalev-Shwartz, Y. Singer and T. Chandra, "Efficient projections onto the
       l1-ball for learning in high dimensions", ICML 2008 (the simplex projection).
.. [6] I. Loshchilov and F. Hutter, "Decoupled weight decay regularization", ICLR 2019.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numdl.optim import derivatives
from numdl.optim.driver import (
    DEFAULT_TOL,
    DIVERGENCE_FACTOR,
    MESSAGES,
    OptimizeResult,
    Status,
    _Trajectory,
    minimize,
)

__all__ = [
    "CONDITIONS",
    "CONSTRAINED_METHODS",
    "Affine",
    "Ball",
    "Box",
    "ConstrainedProblem",
    "ConstrainedResult",
    "ConvexSet",
    "Equality",
    "Inequality",
    "KKTResiduals",
    "Simplex",
    "WeightDecayPair",
    "ball_quadratic",
    "disk_and_halfplane",
    "equality_quadratic",
    "estimate_multipliers",
    "kkt_residuals",
    "linear_program",
    "minimize_constrained",
    "project_ball",
    "project_box",
    "project_simplex",
    "ridge_as_constrained",
    "ridge_ball",
    "ridge_penalty_for_radius",
    "ridge_radius",
    "ridge_solution",
    "simplex_quadratic",
]

CONDITIONS: tuple[str, ...] = ("stationarity", "primal_feasibility", "dual_feasibility",
                               "complementary_slackness")
"""The four KKT conditions, in the order of :class:`KKTResiduals`' fields."""

CONSTRAINED_METHODS: tuple[str, ...] = ("augmented_lagrangian", "projected_gradient", "penalty")

DEFAULT_MAX_ITER = {"augmented_lagrangian": 100, "penalty": 100, "projected_gradient": 10_000}
"""Outer iterations (subproblems) for the penalty methods; iterations for projected gradient."""

_F64 = np.dtype(np.float64)
_EPS = float(np.finfo(np.float64).eps)


def _readonly(a: Any) -> np.ndarray:
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


def _number(value: Any, name: str, *, lo: float = -math.inf, positive: bool = False,
            finite: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or (finite and not math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if v < lo:
        raise ValueError(f"{name} must be >= {lo:g}, got {value!r}")
    return v


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _real_array(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real array, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _vector(x: Any, name: str = "x") -> np.ndarray:
    arr = _real_array(x, name)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a vector of shape (n,), got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    return arr


# -- constraints ------------------------------------------------------------------------------------


class _Constraint:
    """What Inequality and Equality share: a scalar function of x and its gradient."""

    fun: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], Any] | None
    name: str
    kind = "constraint"

    def __post_init__(self) -> None:
        if not callable(self.fun):
            raise TypeError(f"fun must be callable, got {type(self.fun).__name__}")
        if self.grad is not None and not callable(self.grad):
            raise TypeError(f"grad must be callable or None, got {type(self.grad).__name__}")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__}")

    def value(self, x: np.ndarray) -> float:
        """The constraint function at `x` (a float)."""
        v = np.asarray(self.fun(x))
        if v.size != 1 or v.dtype.kind not in "biuf":
            raise ValueError(f"the {self.kind} constraint {self.name or self.fun!r} must return a "
                             f"real scalar, got {v.dtype} of shape {v.shape}")
        return float(v.reshape(()))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient at `x`: ``grad(x)``, or central differences when `grad` is None."""
        if self.grad is None:
            if not np.all(np.isfinite(x)):
                return np.full(x.shape, np.nan)
            return derivatives.gradient(self.value, x, method="central")
        g = np.asarray(self.grad(x), dtype=np.float64)
        if g.size != x.size:
            raise ValueError(f"the gradient of the {self.kind} constraint {self.name or ''} must "
                             f"have {x.size} entries, got shape {g.shape}")
        return g.reshape(x.shape)


@dataclass(frozen=True, eq=False)
class Inequality(_Constraint):
    """An inequality constraint ``fun(x) <= 0``.

    Attributes
    ----------
    fun : callable
        ``fun(x) -> float`` for ``x`` of shape ``(n,)``.
    grad : callable or None
        ``grad(x) -> array (n,)``; default: central differences
        (:func:`numdl.optim.derivatives.gradient`).
    name : str
        A label for tables and messages (default: ``g1, g2, ...`` by position).
    """

    fun: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], Any] | None = None
    name: str = ""
    kind = "inequality"

    @classmethod
    def linear(cls, a: Any, b: float, name: str = "") -> Inequality:
        """``a . x <= b``, i.e. ``a . x - b <= 0``, with its exact gradient ``a``."""
        aa = _readonly(_vector(a, "a"))
        bb = _number(b, "b")
        return cls(lambda x: float(aa @ x) - bb, lambda x: aa, name)


@dataclass(frozen=True, eq=False)
class Equality(_Constraint):
    """An equality constraint ``fun(x) = 0``; attributes as for :class:`Inequality`."""

    fun: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], Any] | None = None
    name: str = ""
    kind = "equality"

    @classmethod
    def linear(cls, a: Any, b: float, name: str = "") -> Equality:
        """``a . x = b``, i.e. ``a . x - b = 0``, with its exact gradient ``a``."""
        aa = _readonly(_vector(a, "a"))
        bb = _number(b, "b")
        return cls(lambda x: float(aa @ x) - bb, lambda x: aa, name)


# -- projections ------------------------------------------------------------------------------------


def _no_nan(x: np.ndarray, name: str) -> None:
    if np.any(np.isnan(x)):
        raise ValueError(f"{name} must not contain nan")


def project_box(x: Any, lower: Any = -np.inf, upper: Any = np.inf) -> np.ndarray:
    """Euclidean projection onto the box ``{z : lower <= z <= upper}``: ``clip(x, lower, upper)``.

    The box is a product of intervals, so the projection is coordinate by coordinate, and exact:
    every entry of the result is ``x_i``, ``lower_i`` or ``upper_i``.  Bounds broadcast against
    `x` and may be infinite.

    >>> project_box([-2.0, 0.5, 3.0], 0.0, 1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    xx = _real_array(x, "x")
    lo = _real_array(lower, "lower")
    hi = _real_array(upper, "upper")
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


def _scaled_norm(d: np.ndarray) -> float:
    """||d||_2 computed as s ||d / s|| with s = max |d_i|: squares of entries beyond 1e154 would
    overflow, and of entries below 1e-162 underflow."""
    s = float(np.max(np.abs(d))) if d.size else 0.0
    if s == 0.0 or not math.isfinite(s):
        return s
    return s * float(np.linalg.norm(d / s))


def project_ball(x: Any, radius: float, center: Any = None) -> np.ndarray:
    """Euclidean projection onto the ball ``{z : ||z - center||_2 <= radius}``.

    ``center + (x - center) * min(1, radius / ||x - center||)``: a point outside moves radially to
    the sphere.  `x` of any shape is treated as one vector (the Frobenius norm).  The norm is
    computed scaled by ``max |x_i - c_i|`` so that it neither overflows nor underflows.

    >>> project_ball([6.0, 8.0], 5.0).tolist()
    [3.0, 4.0]
    """
    xx = _real_array(x, "x")
    r = _number(radius, "radius", lo=0.0)
    c = np.zeros_like(xx) if center is None else _real_array(center, "center")
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    if not np.all(np.isfinite(c)):
        raise ValueError("center must be finite")
    d = xx - c
    nrm = _scaled_norm(d)
    if nrm <= r:
        return xx.copy()
    return c + d * (r / nrm)


def project_simplex(x: Any, total: float = 1.0) -> np.ndarray:
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
    """
    xx = _real_array(x, "x")
    z = _number(total, "total", lo=0.0)
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


# -- sets -------------------------------------------------------------------------------------------


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
        return None

    def multipliers(self, x: np.ndarray, grad: np.ndarray,
                    active_tol: float) -> tuple[np.ndarray, np.ndarray]:
        return _lstsq_multipliers(grad, self.constraints(x.size), x, active_tol)


@dataclass(frozen=True, eq=False)
class Box(ConvexSet):
    """``{x : lower <= x <= upper}``; bounds are scalars or ``(n,)`` arrays, possibly infinite.

    As constraints: for each coordinate ``i`` in order, ``x_i - upper_i <= 0`` (if finite) then
    ``lower_i - x_i <= 0`` (if finite).  A box with ``lower_i > upper_i`` is empty: a run on it
    ends with status ``INFEASIBLE`` (``reason="empty_set"``); :func:`project_box` raises.
    """

    lower: Any = -np.inf
    upper: Any = np.inf

    def __post_init__(self) -> None:
        for name in ("lower", "upper"):
            arr = _real_array(getattr(self, name), name)
            if arr.ndim > 1:
                raise ValueError(f"{name} must be a scalar or a vector, got shape {arr.shape}")
            _no_nan(arr, name)
            object.__setattr__(self, name, _readonly(arr))

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

    def multipliers(self, x, grad, active_tol):
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
    center: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius", _number(self.radius, "radius"))
        if self.center is not None:
            c = _vector(self.center, "center")
            if not np.all(np.isfinite(c)):
                raise ValueError("center must be finite")
            object.__setattr__(self, "center", _readonly(c))

    def _center(self, n: int) -> np.ndarray:
        if self.center is None:
            return np.zeros(n)
        if self.center.size != n:
            raise ValueError(f"center has {self.center.size} entries but x has {n}")
        return self.center

    def project(self, x: np.ndarray) -> np.ndarray:
        return project_ball(x, max(self.radius, 0.0), self._center(x.size))

    def constraints(self, n: int) -> tuple[Inequality]:
        c, r2 = self._center(n), self.radius**2
        return (Inequality(lambda x: float(np.sum((x - c) ** 2)) - r2, lambda x: 2.0 * (x - c),
                           name="||x - c||^2 <= r^2"),)

    def empty_reason(self, n: int) -> str | None:
        return f"radius = {self.radius:g} < 0" if self.radius < 0 else None

    def multipliers(self, x, grad, active_tol):
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
        object.__setattr__(self, "total", _number(self.total, "total"))

    def project(self, x: np.ndarray) -> np.ndarray:
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

    def multipliers(self, x, grad, active_tol):
        # stationarity: grad_i + nu - lam_i = 0, lam_i = 0 off the active set
        active = np.abs(x) <= active_tol
        if active.all():
            return _lstsq_multipliers(grad, self.constraints(x.size), x, active_tol)
        nu = -float(np.mean(grad[~active]))
        lam = np.where(active, grad + nu, 0.0)
        return lam, np.array([nu])


@dataclass(frozen=True, eq=False)
class Affine(ConvexSet):
    """``{x : A x = b}`` for ``A`` of shape ``(p, n)``; as constraints, the rows ``A_j x = b_j``.

    The projection is ``x - A^+ (A x - b)`` (least squares, so a rank-deficient ``A`` is fine).  If
    ``A x = b`` has no solution the set is empty (inconsistent equations; status ``INFEASIBLE``).
    """

    A: Any
    b: Any

    def __post_init__(self) -> None:
        A = _real_array(self.A, "A")
        if A.ndim == 1:
            A = A[None, :]
        if A.ndim != 2 or A.size == 0:
            raise ValueError(f"A must be a non-empty (p, n) matrix, got shape {A.shape}")
        b = _real_array(self.b, "b").reshape(-1)
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have {A.shape[0]} entries (one per row of A), got {b.size}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise ValueError("A and b must be finite")
        object.__setattr__(self, "A", _readonly(A))
        object.__setattr__(self, "b", _readonly(b))

    def _check(self, n: int) -> None:
        if self.A.shape[1] != n:
            raise ValueError(f"A has {self.A.shape[1]} columns but x has {n} entries")

    def project(self, x: np.ndarray) -> np.ndarray:
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

    def multipliers(self, x, grad, active_tol):
        nu = -np.linalg.lstsq(self.A.T, grad, rcond=None)[0]
        return np.zeros(0), nu


# -- KKT residuals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KKTResiduals:
    """How far ``(x, lam, nu)`` is from satisfying each KKT condition; 0 means satisfied.

    Attributes
    ----------
    stationarity : float
        ``||grad f + sum lam_i grad g_i + sum nu_j grad h_j||_2``, the Lagrangian's gradient.
    primal_feasibility : float
        The worst violation ``max(max_i max(g_i, 0), max_j |h_j|)`` (0 without constraints).
    dual_feasibility : float
        The magnitude of the most negative multiplier, ``max(0, -min_i lam_i)``.
    complementary_slackness : float
        ``max_i |lam_i g_i|``.
    active : numpy.ndarray of bool, shape (m,)
        Which inequalities are active, ``|g_i(x)| <= active_tol`` (equalities always are).
    active_tol : float
        The absolute tolerance used for `active`.
    g, h : numpy.ndarray
        The constraint values ``g_i(x)`` (m,) and ``h_j(x)`` (p,).
    lam, nu : numpy.ndarray
        The multipliers the residuals were computed with.
    lagrangian_grad : numpy.ndarray, shape (n,)
        ``grad_x L(x, lam, nu)``.

    The residuals are absolute, like :func:`~numdl.optim.minimize`'s gradient tolerance, so they
    assume f, g, h and x of order 1.  A NaN residual is never "satisfied".
    """

    stationarity: float
    primal_feasibility: float
    dual_feasibility: float
    complementary_slackness: float
    active: np.ndarray
    active_tol: float
    g: np.ndarray
    h: np.ndarray
    lam: np.ndarray
    nu: np.ndarray
    lagrangian_grad: np.ndarray

    def as_array(self) -> np.ndarray:
        """The four residuals in the order of :data:`CONDITIONS`."""
        return np.array([self.stationarity, self.primal_feasibility, self.dual_feasibility,
                         self.complementary_slackness])

    @property
    def max(self) -> float:
        """The largest residual (NaN if any is NaN)."""
        a = self.as_array()
        return math.nan if np.any(np.isnan(a)) else float(np.max(a))

    @property
    def worst(self) -> str:
        """The name of the largest residual (a NaN one first)."""
        a = self.as_array()
        return CONDITIONS[int(np.argmax(np.where(np.isnan(a), np.inf, a)))]

    def violated(self, tol: float) -> tuple[str, ...]:
        """Names of the conditions whose residual is not ``<= tol`` (NaN included), in order."""
        return tuple(name for name, r in zip(CONDITIONS, self.as_array()) if not r <= tol)

    def satisfied(self, tol: float) -> bool:
        """Every residual is ``<= tol``."""
        return not self.violated(tol)


def _split(constraints: Any, n: int) -> tuple[tuple[Inequality, ...], tuple[Equality, ...],
                                               ConvexSet | None]:
    """(inequalities, equalities, the set if one was given) in the order given."""
    if constraints is None:
        return (), (), None
    if isinstance(constraints, ConvexSet):
        cs = constraints.constraints(n)
        return (tuple(c for c in cs if isinstance(c, Inequality)),
                tuple(c for c in cs if isinstance(c, Equality)), constraints)
    if isinstance(constraints, Inequality | Equality):
        constraints = (constraints,)
    if callable(constraints) or not isinstance(constraints, Sequence | tuple | list):
        raise TypeError("constraints must be a sequence of Inequality and Equality objects or a "
                        f"set (Box, Ball, Simplex, Affine), got {type(constraints).__name__}")
    ineqs, eqs = [], []
    for i, c in enumerate(constraints):
        if isinstance(c, Inequality):
            ineqs.append(c)
        elif isinstance(c, Equality):
            eqs.append(c)
        else:
            raise TypeError(f"constraints[{i}] must be an Inequality or an Equality, got "
                            f"{type(c).__name__}")
    return tuple(ineqs), tuple(eqs), None


def _multiplier_vector(value: Any, size: int, name: str, kind: str) -> np.ndarray:
    if value is None:
        return np.zeros(size)
    arr = _real_array(value, name).reshape(-1)
    if arr.size != size:
        raise ValueError(f"{name} must have {size} entries (one per {kind}), got {arr.size}")
    return arr


def _jacobian(cs: Sequence[_Constraint], x: np.ndarray) -> np.ndarray:
    if not cs:
        return np.zeros((0, x.size))
    return np.array([c.gradient(x) for c in cs], dtype=np.float64).reshape(len(cs), x.size)


def _residuals(gf: np.ndarray, g: np.ndarray, h: np.ndarray, Jg: np.ndarray, Jh: np.ndarray,
               lam: np.ndarray, nu: np.ndarray, active_tol: float) -> KKTResiduals:
    with np.errstate(all="ignore"):
        lag = gf + lam @ Jg + nu @ Jh
        stat = _scaled_norm(lag) if np.all(np.isfinite(lag)) else math.nan
        viol = np.concatenate([np.maximum(g, 0.0), np.abs(h)])
        primal = float(np.max(viol)) if viol.size else 0.0
        if np.any(np.isnan(viol)):
            primal = math.nan
        dual = max(0.0, -float(np.min(lam))) if lam.size else 0.0
        comp = float(np.max(np.abs(lam * g))) if lam.size else 0.0
        if lam.size and np.any(np.isnan(lam * g)):
            comp = math.nan
        active = np.abs(g) <= active_tol
    for a in (active, g, h, lam, nu, lag):
        a.setflags(write=False)
    return KKTResiduals(stat, primal, dual, comp, active, float(active_tol), g, h, lam, nu, lag)


def _active_tol(active_tol: Any) -> float:
    if active_tol is None:
        return DEFAULT_TOL[_F64]
    return _number(active_tol, "active_tol", lo=0.0)


def _grad_at(grad_f: Any, x: np.ndarray) -> np.ndarray:
    gf = grad_f(x) if callable(grad_f) else grad_f
    arr = _real_array(gf, "grad_f")
    if arr.size != x.size:
        raise ValueError(f"grad_f must have {x.size} entries (the size of x), got shape {arr.shape}")
    return arr.reshape(x.shape)


def kkt_residuals(grad_f: Any, constraints: Any, x: Any, lam: Any = None, nu: Any = None, *,
                  active_tol: float | None = None) -> KKTResiduals:
    """The four KKT residuals of ``(x, lam, nu)``.

    Parameters
    ----------
    grad_f : callable or array_like
        The objective's gradient: a function ``grad_f(x) -> (n,)``, or its value at `x` already
        computed (an array of shape ``(n,)``).
    constraints : sequence of Inequality and Equality, or a ConvexSet
        In any order; `lam` follows the inequalities and `nu` the equalities in the order given.
        A set stands for its :meth:`ConvexSet.constraints`.
    x : array_like, shape (n,)
        The candidate point (finite).
    lam, nu : array_like, optional
        Multipliers, one per inequality and one per equality; default zeros.
    active_tol : float, optional
        An inequality is reported active when ``|g_i(x)| <= active_tol``; default ``1e-6`` (the
        float64 entry of :data:`~numdl.optim.DEFAULT_TOL`).  It only labels constraints: the
        residuals do not depend on it.

    Returns
    -------
    KKTResiduals
    """
    xx = _vector(x)
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    ineqs, eqs, _ = _split(constraints, xx.size)
    lam_ = _multiplier_vector(lam, len(ineqs), "lam", "Inequality")
    nu_ = _multiplier_vector(nu, len(eqs), "nu", "Equality")
    tol = _active_tol(active_tol)
    gf = _grad_at(grad_f, xx)
    g = np.array([c.value(xx) for c in ineqs], dtype=np.float64)
    h = np.array([c.value(xx) for c in eqs], dtype=np.float64)
    return _residuals(gf, g, h, _jacobian(ineqs, xx), _jacobian(eqs, xx), lam_, nu_, tol)


def _lstsq_multipliers(gf: np.ndarray, constraints: Any, x: np.ndarray,
                       active_tol: float) -> tuple[np.ndarray, np.ndarray]:
    ineqs, eqs, _ = _split(constraints, x.size)
    g = np.array([c.value(x) for c in ineqs], dtype=np.float64)
    active = np.flatnonzero(np.abs(g) <= active_tol)
    cols = [ineqs[i].gradient(x) for i in active] + [c.gradient(x) for c in eqs]
    lam, nu = np.zeros(len(ineqs)), np.zeros(len(eqs))
    if not cols:
        return lam, nu
    A = np.array(cols, dtype=np.float64).reshape(len(cols), x.size).T  # (n, |active| + p)
    sol = np.linalg.lstsq(A, -gf, rcond=None)[0]
    lam[active] = sol[:active.size]
    nu[:] = sol[active.size:]
    return lam, nu


def estimate_multipliers(grad_f: Any, constraints: Any, x: Any, *,
                         active_tol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers ``(lam, nu)`` for a candidate solution `x`, by least squares on stationarity.

    Solves ``min ||grad f(x) + sum_{i active} lam_i grad g_i(x) + sum_j nu_j grad h_j(x)||_2``
    over the multipliers of the active inequalities (``|g_i(x)| <= active_tol``) and of every
    equality, and sets ``lam_i = 0`` for the inactive ones -- complementary slackness decides
    which multipliers may be non-zero.  At a KKT point the minimum is 0 and the multipliers are
    the true ones (unique when the active gradients are linearly independent; otherwise the
    minimum-norm choice).  At a point that is not a solution they can come out negative:
    :func:`kkt_residuals` then reports the dual infeasibility instead of hiding it.  For a
    :class:`ConvexSet` the same least-squares problem is solved in closed form (``O(n)`` for box,
    ball and simplex).

    Parameters are as for :func:`kkt_residuals`.

    >>> import numpy as np
    >>> # min x1 + x2 on the unit disk: x* = -(1, 1)/sqrt(2), lam = 1/(2 ||x*||) = 1/sqrt(2)
    >>> x = -np.ones(2) / np.sqrt(2)
    >>> lam, nu = estimate_multipliers(np.ones(2), Ball(1.0), x)
    >>> bool(np.isclose(lam[0], 1 / np.sqrt(2))), nu.size
    (True, 0)
    """
    xx = _vector(x)
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    tol = _active_tol(active_tol)
    gf = _grad_at(grad_f, xx)
    if isinstance(constraints, ConvexSet):
        return constraints.multipliers(xx, gf, tol)
    return _lstsq_multipliers(gf, constraints, xx, tol)


# -- the result -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConstrainedResult(OptimizeResult):
    """The outcome of :func:`minimize_constrained`: an :class:`~numdl.optim.OptimizeResult` plus
    the multipliers and the KKT residuals (arrays are read-only).

    The inherited fields mean what they mean for :func:`~numdl.optim.minimize`, except:
    ``grad`` is the gradient of f (not of the Lagrangian) and ``grad_norm`` its norm, which need
    not be small at a constrained minimum; ``nit`` counts inner iterations (BFGS steps summed over
    the subproblems, or projected-gradient steps); ``nfev``/``ngev`` count calls of the objective
    and its gradient only (constraint calls are not counted); ``nhev`` is 0; ``tol`` is the KKT
    tolerance and ``success`` means ``kkt.max <= tol``.

    Attributes
    ----------
    multipliers : tuple of numpy.ndarray
        ``(lam, nu)`` at `x`, one per inequality and equality in the order of the constraints.
        Augmented Lagrangian: ``max(0, lam + mu g(x))`` and ``nu + mu h(x)``; penalty:
        ``mu max(0, g(x))`` and ``mu h(x)``; projected gradient:
        :func:`estimate_multipliers` (empty arrays for a bare projection function).
    kkt : KKTResiduals or None
        The residuals at `x` with `multipliers`; None only for projected gradient with a bare
        projection function (no constraint description to measure against).
    penalty : float
        The final penalty parameter ``mu`` (NaN for projected gradient).
    nouter : int
        Subproblems solved (augmented Lagrangian, penalty); equals `nit` for projected gradient.
    trajectory_kkt : numpy.ndarray, shape (k, 4)
        The residuals at each row of `trajectory`, columns in the order of :data:`CONDITIONS`;
        at an inner iterate of the penalty methods the multipliers are the estimates above with
        the subproblem's ``lam``, ``nu`` and ``mu`` (so stationarity is the subproblem's gradient
        norm).  NaN for a bare projection function.
    trajectory_lam, trajectory_nu : numpy.ndarray, shapes (k, m) and (k, p)
        The multiplier estimates at each row.
    trajectory_outer : numpy.ndarray of int, shape (k,)
        The subproblem each row belongs to (0 for the start); the iteration for projected gradient.
    """

    multipliers: tuple[np.ndarray, np.ndarray]
    kkt: KKTResiduals | None
    penalty: float
    nouter: int
    trajectory_kkt: np.ndarray
    trajectory_lam: np.ndarray
    trajectory_nu: np.ndarray
    trajectory_outer: np.ndarray


# -- the driver -------------------------------------------------------------------------------------


class _Evaluator:
    """Counts calls of f and grad f; evaluates constraints; caches the last few points."""

    def __init__(self, fun, grad, ineqs, eqs, n):
        self.fun, self.grad, self.ineqs, self.eqs, self.n = fun, grad, ineqs, eqs, n
        self.nfev = self.ngev = 0
        self.cache: dict[bytes, tuple] = {}

    def f(self, x: np.ndarray) -> float:
        self.nfev += 1
        v = np.asarray(self.fun(x))
        if v.size != 1 or v.dtype.kind not in "biuf":
            raise ValueError(f"fun must return a real scalar, got {v.dtype} of shape {v.shape}")
        return float(v.reshape(()))

    def gf(self, x: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            return np.full(self.n, np.nan)
        if self.grad is None:
            return derivatives.gradient(self.f, x, method="central")
        self.ngev += 1
        g = np.asarray(self.grad(x), dtype=np.float64)
        if g.size != self.n:
            raise ValueError(f"grad must return an array with {self.n} entries, got shape {g.shape}")
        return g.reshape(self.n)

    def all(self, x: np.ndarray) -> tuple:
        """(f, grad f, g, h, Jg, Jh) at x, from the cache when x was just evaluated."""
        key = x.tobytes()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        with np.errstate(all="ignore"):
            f = self.f(x)
            gf = self.gf(x)
            g = np.array([c.value(x) for c in self.ineqs], dtype=np.float64)
            h = np.array([c.value(x) for c in self.eqs], dtype=np.float64)
            Jg, Jh = _jacobian(self.ineqs, x), _jacobian(self.eqs, x)
        out = (f, gf, g, h, Jg, Jh)
        if len(self.cache) > 16:
            self.cache.clear()
        self.cache[key] = out
        return out


def _finite(*arrays: Any) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


class _Rows:
    """The trajectory with its residuals and multipliers, thinned like minimize's."""

    def __init__(self, cap: int, n: int, m: int, p: int) -> None:
        self.t = _Trajectory(cap)
        self.n, self.m, self.p = n, m, p

    def add(self, k: int, x: np.ndarray, f: float, kkt: np.ndarray, lam: np.ndarray,
            nu: np.ndarray, outer: int) -> None:
        self.t.add(k, np.concatenate([x, kkt, lam, nu, [outer]]), f)

    def arrays(self) -> dict[str, np.ndarray]:
        n, m, p = self.n, self.m, self.p
        packed, fs, ks = self.t.arrays(n + 4 + m + p + 1, np.float64)
        parts = {
            "trajectory": packed[:, :n], "trajectory_kkt": packed[:, n:n + 4],
            "trajectory_lam": packed[:, n + 4:n + 4 + m],
            "trajectory_nu": packed[:, n + 4 + m:n + 4 + m + p],
            "trajectory_outer": packed[:, -1].astype(np.int64),
        }
        out = {}
        for k, v in parts.items():
            v = np.ascontiguousarray(v)
            v.setflags(write=False)
            out[k] = v
        out["trajectory_fun"], out["trajectory_iter"] = fs, ks
        return out


def _names(cs: Sequence[_Constraint], prefix: str, idx: Sequence[int]) -> str:
    return ", ".join(cs[i].name or f"{prefix}{i + 1}" for i in idx)


def _diagnose_infeasible(g, h, Jg, Jh, ineqs, eqs, tol) -> tuple[str, str]:
    """'inconsistent' when two or more violated constraints pull against each other (the
    gradient of the total violation cancels between them), else 'infeasible'."""
    vi = np.flatnonzero(g > tol)
    ve = np.flatnonzero(np.abs(h) > tol)
    names = ", ".join(filter(None, [_names(ineqs, "g", vi), _names(eqs, "h", ve)]))
    terms = [g[i] * Jg[i] for i in vi] + [h[j] * Jh[j] for j in ve]
    if len(terms) >= 2:
        total = np.sum(terms, axis=0)
        scale = sum(float(np.linalg.norm(t)) for t in terms)
        if scale > 0 and float(np.linalg.norm(total)) <= 1e-3 * scale:
            return "inconsistent", names
    return "infeasible", names


def _message(reason: str, **details: Any) -> tuple[Status, str]:
    status, template = MESSAGES[reason]
    fields = {"grad_norm": math.nan, "tol": math.nan, "max_iter": 0, "nit": 0,
              "factor": DIVERGENCE_FACTOR, "change": math.nan, "kkt": math.nan, "worst": "",
              "violation": math.nan, "penalty": math.nan, "names": "", "why": ""}
    fields.update(details)
    return status, template.format(**fields)


def minimize_constrained(
    fun: Callable[[np.ndarray], Any],
    x0: Any,
    constraints: Any,
    *,
    method: str = "augmented_lagrangian",
    grad: Callable[[np.ndarray], Any] | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
    lam0: Any = None,
    nu0: Any = None,
    penalty: float = 10.0,
    penalty_growth: float = 10.0,
    max_penalty: float = 1e12,
    inner_max_iter: int = 1000,
    lr: float | None = None,
    active_tol: float | None = None,
    max_trajectory: int | None = None,
) -> ConstrainedResult:
    """Minimize ``fun`` subject to constraints; report how the run ended in a status, never by
    raising (bad arguments excepted).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float`` for ``x`` of shape ``(n,)``.
    x0 : array_like, shape (n,)
        Start point (any real dtype; the run is in float64).  It need not be feasible; projected
        gradient starts from its projection.
    constraints : sequence of Inequality/Equality, a ConvexSet, or (projected gradient) a callable
        For ``"augmented_lagrangian"`` and ``"penalty"``: constraint objects, or a set, which
        stands for its constraints.  For ``"projected_gradient"``: a :class:`ConvexSet`
        (:class:`Box`, :class:`Ball`, :class:`Simplex`, :class:`Affine`) or a projection function
        ``P(x) -> x`` onto a closed convex set -- not general constraints, which have no cheap
        projection.  With a bare function the multipliers and KKT residuals are not available and
        the run stops when ``||P(x - g) - x|| <= tol``.
    method : {"augmented_lagrangian", "projected_gradient", "penalty"}
    grad : callable, optional
        ``grad(x) -> (n,)``; default central differences (``2n`` calls of `fun`, counted in nfev).
    tol : float, optional
        Converged when every KKT residual is ``<= tol``; default ``1e-6``.
    max_iter : int, optional
        Subproblems for the penalty methods (default 100), iterations for projected gradient
        (default 10 000).
    lam0, nu0 : array_like, optional
        Initial multipliers of the augmented Lagrangian (default zeros).
    penalty, penalty_growth, max_penalty : float
        The penalty parameter ``mu``: initial value (10), growth factor (10) and cap (1e12).
    inner_max_iter : int
        Iteration budget of each BFGS subproblem (default 1000).
    lr : float, optional
        Projected gradient only: a fixed step ``x <- P(x - lr g)`` instead of the spectral step with
        backtracking (converges for ``lr < 2 / L`` with ``L`` the gradient's Lipschitz constant).
    active_tol : float, optional
        Tolerance for an inequality to count as active (:func:`kkt_residuals`); default 1e-6.
    max_trajectory : int, optional
        Most rows kept in the trajectory (default ``min(10_000, 2**20 // n)``).

    Returns
    -------
    ConstrainedResult

    Notes
    -----
    Outcomes (:data:`numdl.optim.MESSAGES`): ``"kkt_converged"``; ``"kkt_max_iter"``;
    ``"nonfinite"``, ``"nonfinite_constraints"``, ``"exploded"`` (``DIVERGED``: non-finite f or
    gradient, non-finite constraint values, or f unbounded below); ``"empty_set"`` (a set that
    is empty, or equations ``A x = b`` with no solution); ``"infeasible"`` and ``"inconsistent"`` (``INFEASIBLE``: the violation stopped
    decreasing over three successive increases of the penalty, so x is a stationary point of the
    total violation -- "inconsistent" when two or more violated constraints pull against each
    other); ``"no_step"`` / ``"line_search"`` (``STALLED``).  Every loop is bounded, so a run always
    ends.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.optim.constrained import Ball, minimize_constrained
    >>> f = lambda x: 0.5 * np.sum((x - np.array([2.0, 1.0])) ** 2)
    >>> g = lambda x: x - np.array([2.0, 1.0])
    >>> r = minimize_constrained(f, [0.0, 0.0], Ball(1.0), grad=g)
    >>> r.status.value, bool(np.allclose(r.x, np.array([2, 1]) / np.sqrt(5), atol=1e-6))
    ('converged', True)
    >>> r.kkt.active.tolist(), round(float(r.multipliers[0][0]), 6)  # (sqrt(5) - 1) / 2
    ([True], 0.618034)
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    if not isinstance(method, str) or method not in CONSTRAINED_METHODS:
        raise ValueError(f"method={method!r} is not one of {CONSTRAINED_METHODS}")
    if grad is not None and not callable(grad):
        raise TypeError("grad must be callable or None")
    x = _vector(x0, "x0")
    n = x.size
    tol_ = DEFAULT_TOL[_F64] if tol is None else _number(tol, "tol", lo=0.0)
    max_iter_ = DEFAULT_MAX_ITER[method] if max_iter is None else _count(max_iter, "max_iter")
    atol = _active_tol(active_tol)
    if max_trajectory is None:
        cap = min(10_000, max(2, 2**20 // n))
    elif isinstance(max_trajectory, bool) or not isinstance(max_trajectory, int | np.integer) or \
            max_trajectory < 2:
        raise ValueError(f"max_trajectory must be an integer >= 2, got {max_trajectory!r}")
    else:
        cap = int(max_trajectory)

    if method == "projected_gradient":
        if lam0 is not None or nu0 is not None:
            raise ValueError("lam0 and nu0 are for the penalty methods, not projected_gradient")
        if isinstance(constraints, ConvexSet):
            the_set, projection = constraints, constraints.project
        elif callable(constraints) and not isinstance(constraints, _Constraint):
            the_set, projection = None, constraints
        else:
            raise TypeError("method='projected_gradient' needs constraints= a set (Box, Ball, "
                            "Simplex, Affine) or a projection function P(x), not general "
                            "constraints; use method='augmented_lagrangian' for those")
        step = None if lr is None else _number(lr, "lr", positive=True)
        return _projected_gradient(fun, grad, x, the_set, projection, step, tol_, max_iter_, atol,
                                   cap)

    if lr is not None:
        raise ValueError(f"lr is for method='projected_gradient', not {method!r}")
    if callable(constraints) and not isinstance(constraints, _Constraint | ConvexSet):
        raise TypeError(f"method={method!r} needs constraints= Inequality/Equality objects or a "
                        "set, not a projection function")
    mu0 = _number(penalty, "penalty", positive=True)
    growth = _number(penalty_growth, "penalty_growth", lo=1.0)
    if not growth > 1:
        raise ValueError(f"penalty_growth must be > 1, got {penalty_growth!r}")
    mu_max = _number(max_penalty, "max_penalty", lo=mu0)
    inner = _count(inner_max_iter, "inner_max_iter")
    ineqs, eqs, the_set = _split(constraints, n)
    lam = _multiplier_vector(lam0, len(ineqs), "lam0", "Inequality")
    nu = _multiplier_vector(nu0, len(eqs), "nu0", "Equality")
    if method == "penalty" and (lam0 is not None or nu0 is not None):
        raise ValueError("lam0 and nu0 are for the augmented Lagrangian; the penalty method "
                         "starts from zero multipliers by definition")
    if np.any(lam < 0):
        raise ValueError("lam0 must be >= 0 (multipliers of inequalities)")
    return _penalty_methods(fun, grad, x, ineqs, eqs, the_set, method, lam, nu, tol_, max_iter_,
                            mu0, growth, mu_max, inner, atol, cap)


def _finish(method, ev, x, f, gf, nit, reason, details, rows, lam, nu, kkt, mu, nouter, tol):
    gf = np.array(gf, dtype=np.float64)
    gn = _scaled_norm(gf) if np.all(np.isfinite(gf)) else math.nan
    status, message = _message(reason, tol=tol, nit=nit, grad_norm=gn, **details)
    lam, nu = np.array(lam, dtype=np.float64), np.array(nu, dtype=np.float64)
    x = np.array(x, dtype=np.float64)
    for a in (gf, lam, nu, x):
        a.setflags(write=False)
    return ConstrainedResult(
        x=x, fun=float(f), grad=gf, grad_norm=gn, nit=nit, nfev=ev.nfev, ngev=ev.ngev, nhev=0,
        status=status, reason=reason, message=message, success=status is Status.CONVERGED,
        method=method, tol=tol, multipliers=(lam, nu), kkt=kkt, penalty=float(mu), nouter=nouter,
        **rows.arrays(),
    )


def _penalty_methods(fun, grad, x, ineqs, eqs, the_set, method, lam, nu, tol, max_iter, mu,
                     growth, mu_max, inner_max_iter, atol, cap):
    n, m, p = x.size, len(ineqs), len(eqs)
    ev = _Evaluator(fun, grad, ineqs, eqs, n)
    rows = _Rows(cap, n, m, p)
    al = method == "augmented_lagrangian"
    zeros_m, zeros_p = np.zeros(m), np.zeros(p)
    nan4 = np.full(4, np.nan)
    if the_set is not None:
        why = the_set.empty_reason(n)
        if why is not None:
            rows.add(0, x, math.nan, nan4, zeros_m, zeros_p, 0)
            return _finish(method, ev, x, math.nan, np.full(n, np.nan), 0, "empty_set",
                           {"why": why}, rows, zeros_m, zeros_p, None, mu, 0, tol)

    def estimates(g, h, lam_k, nu_k, mu_k):
        with np.errstate(all="ignore"):
            return np.maximum(0.0, lam_k + mu_k * g), nu_k + mu_k * h

    f, gf, g, h, Jg, Jh = ev.all(x)
    lam_e, nu_e = (estimates(g, h, lam, nu, mu) if al else (zeros_m, zeros_p))
    kkt = _residuals(gf, g, h, Jg, Jh, lam_e, nu_e, atol) if _finite(f, gf, g, h, Jg, Jh) else None
    rows.add(0, x, f, nan4 if kkt is None else kkt.as_array(), lam_e, nu_e, 0)
    if kkt is None:
        reason = "nonfinite_constraints" if _finite(f, gf, x) else "nonfinite"
        return _finish(method, ev, x, f, gf, 0, reason, {}, rows, lam_e, nu_e, None, mu, 0, tol)
    f0 = f
    nit = nouter = 0
    prev_violation = prev_primal = math.inf
    prev_mu = mu
    stuck = stalls = 0
    reason, details = None, {}
    while True:
        if kkt.max <= tol:
            reason = "kkt_converged"
            break
        if nouter >= max_iter:
            reason = "kkt_max_iter"
            break
        lam_k, nu_k, mu_k = (lam, nu, mu) if al else (zeros_m, zeros_p, mu)

        def phi(v, lam_k=lam_k, nu_k=nu_k, mu_k=mu_k):
            fv, gfv, gv, hv, Jgv, Jhv = ev.all(v)
            with np.errstate(all="ignore"):
                shifted = np.maximum(0.0, lam_k + mu_k * gv)
                value = (fv + float(np.dot(nu_k, hv)) + 0.5 * mu_k * float(np.dot(hv, hv))
                         + (float(np.dot(shifted, shifted)) - float(np.dot(lam_k, lam_k)))
                         / (2.0 * mu_k))
                gradient = gfv + shifted @ Jgv + (nu_k + mu_k * hv) @ Jhv
            return value, gradient

        def record(info, lam_k=lam_k, nu_k=nu_k, mu_k=mu_k, base=nit, outer_no=nouter + 1):
            xv = np.asarray(info.x)
            fv, gfv, gv, hv, Jgv, Jhv = ev.all(xv)
            le, ne = estimates(gv, hv, lam_k, nu_k, mu_k)
            ok = _finite(fv, gfv, gv, hv, Jgv, Jhv)
            r = _residuals(gfv, gv, hv, Jgv, Jhv, le, ne, atol).as_array() if ok else nan4
            rows.add(base + info.nit, xv, fv, r, le, ne, outer_no)

        # Solve each subproblem to a tenth of the current KKT error, never below tol / 10: an
        # early subproblem solved to full accuracy is wasted once the multipliers move.
        inner_tol = max(0.1 * tol, min(0.1, 0.1 * kkt.max))
        res = minimize(phi, x, method="bfgs", grad=True, tol=inner_tol, max_iter=inner_max_iter,
                       callback=record)
        nit += res.nit
        nouter += 1
        x_new = np.array(res.x)
        values = ev.all(x_new)
        if res.status is Status.DIVERGED or not _finite(*values):
            if res.status is Status.DIVERGED:
                reason = res.reason
            else:
                reason = "nonfinite_constraints" if _finite(*values[:2], x_new) else "nonfinite"
            if reason == "exploded":
                details = {"change": abs(res.fun - float(res.trajectory_fun[0]))}
            if _finite(*values):  # the last finite inner iterate, with its own residuals
                x, (f, gf, g, h, Jg, Jh) = x_new, values
                kkt = _residuals(gf, g, h, Jg, Jh, *estimates(g, h, lam_k, nu_k, mu_k), atol)
            break
        x, (f, gf, g, h, Jg, Jh) = x_new, values
        if abs(f - f0) > DIVERGENCE_FACTOR * max(abs(f0), 1.0):
            reason, details = "exploded", {"change": abs(f - f0)}
            break
        lam_new, nu_new = estimates(g, h, lam_k, nu_k, mu_k)
        kkt = _residuals(gf, g, h, Jg, Jh, lam_new, nu_new, atol)
        if al:
            lam = np.minimum(lam_new, 1e20)  # safeguard: an unbounded multiplier means trouble
            nu = np.clip(nu_new, -1e20, 1e20)
        if kkt.max <= tol:
            continue
        stalls = stalls + 1 if (res.status is Status.STALLED and res.nit == 0) else 0
        if stalls >= 2:  # BFGS cannot move from x twice in a row: the limit of precision
            reason = res.reason
            break
        primal = kkt.primal_feasibility
        # Infeasibility: three subproblems in a row, each with a larger (or the largest) penalty
        # than the one before, left the violation where it was.  x is then a stationary point
        # of the total violation, which for a feasible problem would be 0.
        pushed = mu_k > prev_mu or mu_k >= mu_max
        if pushed and primal > tol and primal > 0.99 * prev_primal:
            stuck += 1
        else:
            stuck = 0
        if stuck >= 3:
            reason, names = _diagnose_infeasible(g, h, Jg, Jh, ineqs, eqs, tol)
            details = {"violation": primal, "penalty": mu, "names": names}
            break
        # Progress measure of Birgin & Martinez: an inequality counts as far as it is violated,
        # or as far as it is from releasing its multiplier.
        with np.errstate(all="ignore"):
            sigma = np.maximum(g, -lam_k / mu_k)
            violation = float(np.max(np.abs(np.concatenate([h, sigma])))) if m + p else 0.0
        prev_mu, prev_primal = mu_k, primal
        if not al or violation > 0.5 * prev_violation:
            mu = min(mu * growth, mu_max)
        prev_violation = violation

    if reason in ("nonfinite", "nonfinite_constraints", "exploded"):
        # report the last finite subproblem solution's residuals, if any
        return _finish(method, ev, x, f, gf, nit, reason, details, rows, kkt.lam, kkt.nu, kkt,
                       mu, nouter, tol)
    details = {**details, "kkt": kkt.max, "worst": kkt.worst.replace("_", " "),
               "max_iter": max_iter}
    return _finish(method, ev, x, f, gf, nit, reason, details, rows, kkt.lam, kkt.nu, kkt, mu,
                   nouter, tol)


def _projected_gradient(fun, grad, x0, the_set, projection, step, tol, max_iter, atol, cap):
    n = x0.size
    method = "projected_gradient"
    ineqs, eqs, _ = _split(the_set, n)
    m, p = len(ineqs), len(eqs)
    ev = _Evaluator(fun, grad, ineqs, eqs, n)
    rows = _Rows(cap, n, m, p)
    nan4 = np.full(4, np.nan)
    zeros_m, zeros_p = np.zeros(m), np.zeros(p)
    why = the_set.empty_reason(n) if the_set is not None else None
    if why is not None or not np.all(np.isfinite(x0)):
        rows.add(0, x0, math.nan, nan4, zeros_m, zeros_p, 0)
        reason, details = ("empty_set", {"why": why}) if why is not None else ("nonfinite", {})
        return _finish(method, ev, x0, math.nan, np.full(n, np.nan), 0, reason, details, rows,
                       zeros_m, zeros_p, None, math.nan, 0, tol)

    def project(v: np.ndarray) -> np.ndarray:
        out = np.asarray(projection(v), dtype=np.float64)
        if out.size != n:
            raise ValueError(f"the projection must return an array with {n} entries, got shape "
                             f"{out.shape}")
        return out.reshape(n)

    def measure(x, gf):
        """(residuals (4,), lam, nu, kkt or None, converged)."""
        if the_set is None:
            gm = _scaled_norm(project(x - gf) - x)
            return nan4, zeros_m, zeros_p, None, gm <= tol
        lam, nu = the_set.multipliers(x, gf, atol)
        g = np.array([c.value(x) for c in ineqs], dtype=np.float64)
        h = np.array([c.value(x) for c in eqs], dtype=np.float64)
        kkt = _residuals(gf, g, h, _jacobian(ineqs, x), _jacobian(eqs, x), lam, nu, atol)
        return kkt.as_array(), lam, nu, kkt, kkt.max <= tol

    x = project(x0)
    with np.errstate(all="ignore"):
        f, gf = ev.f(x), ev.gf(x)
    f0 = f
    t = 1.0
    if step is None and _finite(f, gf):
        dmax = float(np.max(np.abs(project(x - gf) - x)))
        t = min(max(1.0 / dmax, 1e-10), 1e10) if dmax > 0 else 1.0
    nit = 0
    best = None  # the last iterate with finite values
    reason, details = None, {}
    kkt = None
    lam, nu = zeros_m, zeros_p
    while True:
        if not _finite(f, gf, x):
            reason = "nonfinite"
            rows.add(nit, x, f, nan4, zeros_m, zeros_p, nit)
            break
        if abs(f - f0) > DIVERGENCE_FACTOR * max(abs(f0), 1.0):
            reason, details = "exploded", {"change": abs(f - f0)}
            break
        r, lam, nu, kkt, done = measure(x, gf)
        rows.add(nit, x, f, r, lam, nu, nit)
        best = (x, f, gf, lam, nu, kkt)
        if done:
            reason = "kkt_converged"
            break
        if nit >= max_iter:
            reason = "kkt_max_iter"
            break
        with np.errstate(all="ignore"):
            d = project(x - (step if step is not None else t) * gf) - x
            gd = float(np.dot(gf, d))
            if not np.any(d != 0) or not gd < 0:  # P(x - t g) = x: nothing left to do at x
                reason = "no_step"
                break
            alpha = 1.0
            if step is not None:
                x_new = x + d
                f_new = ev.f(x_new)
            else:
                for _ in range(60):
                    x_new = x + alpha * d
                    if np.array_equal(x_new, x):  # the step is below the resolution of x
                        break
                    f_new = ev.f(x_new)
                    if f_new <= f + 1e-4 * alpha * gd:  # Armijo; False for NaN
                        break
                    # safeguarded quadratic interpolation of f along d
                    denom = f_new - f - alpha * gd
                    trial = -gd * alpha**2 / (2 * denom) if denom > 0 else 0.0
                    alpha = trial if 0.1 * alpha <= trial <= 0.5 * alpha else 0.5 * alpha
                else:
                    reason = "line_search"
                    break
                if np.array_equal(x_new, x):
                    reason = "no_step"
                    break
            g_new = ev.gf(x_new)
            s = x_new - x
            y = g_new - gf
            sy = float(np.dot(s, y))
            # Barzilai-Borwein step s.s / s.y; non-positive curvature: the longest step
            t = min(max(float(np.dot(s, s)) / sy, 1e-10), 1e10) if sy > 0 else 1e10
        x, f, gf = x_new, f_new, g_new
        nit += 1

    if reason == "nonfinite" and best is not None:
        x, f, gf, lam, nu, kkt = best
    if kkt is not None:
        details = {**details, "kkt": kkt.max, "worst": kkt.worst.replace("_", " ")}
    else:
        gm = _scaled_norm(project(x - gf) - x) if _finite(x, gf) else math.nan
        details = {**details, "kkt": gm, "worst": "gradient mapping ||P(x - g) - x||"}
    details["max_iter"] = max_iter
    return _finish(method, ev, x, f, gf, nit, reason, details, rows, lam, nu, kkt, math.nan, nit,
                   tol)


# -- test problems with known solutions ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConstrainedProblem:
    """A constrained problem with its solution known in closed form (or by an exact 1-D solve).

    Attributes
    ----------
    name : str
    fun, grad : callable
        The objective and its gradient, for ``x`` of shape ``(n,)``.
    constraints : tuple of Inequality and Equality
        The constraints; `lam` and `nu` follow their order.  When `set` is given they are
        ``set.constraints(n)``.
    set : ConvexSet or None
        The feasible set as a set with a projection, when it is one (for projected gradient).
    x0 : numpy.ndarray
        A standard (infeasible) start.
    solution : numpy.ndarray
        The minimizer.
    value : float
        ``f(solution)``.
    lam, nu : numpy.ndarray
        The KKT multipliers at the solution.
    box : tuple of (low, high) pairs or None
        A plotting window for 2-D problems.
    params : dict
        What the problem was built from.
    """

    name: str
    fun: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    constraints: tuple[Inequality | Equality, ...]
    set: ConvexSet | None
    x0: np.ndarray
    solution: np.ndarray
    value: float
    lam: np.ndarray
    nu: np.ndarray
    box: tuple[tuple[float, float], ...] | None = None
    params: dict | None = None

    @property
    def n(self) -> int:
        return self.x0.size

    def kkt(self, x: Any = None, lam: Any = None, nu: Any = None) -> KKTResiduals:
        """:func:`kkt_residuals` at `x` (default: the solution, with its multipliers)."""
        if x is None:
            x, lam, nu = self.solution, self.lam, self.nu
        return kkt_residuals(self.grad, self.constraints, x, lam, nu)


def _sq_distance(center: np.ndarray):
    def fun(x):
        d = x - center
        return 0.5 * float(np.dot(d, d))

    def grad(x):
        return x - center

    return fun, grad


def ball_quadratic(center: Any = (2.0, 1.0), radius: float = 1.0) -> ConstrainedProblem:
    """``min 1/2 ||x - c||^2`` subject to ``||x||^2 <= r^2``.

    If ``||c|| > r`` the solution is ``r c / ||c||`` with ``lam = (||c|| / r - 1) / 2`` (from
    ``x - c + 2 lam x = 0``); otherwise ``x = c`` and ``lam = 0``.
    """
    c = _readonly(_vector(center, "center"))
    r = _number(radius, "radius", positive=True)
    the_set = Ball(r)
    nc = float(np.linalg.norm(c))
    if nc > r:
        x, lam = c * (r / nc), (nc / r - 1.0) / 2.0
    else:
        x, lam = c.copy(), 0.0
    fun, grad = _sq_distance(c)
    hi = max(nc, r) + 0.5
    return ConstrainedProblem("ball_quadratic", fun, grad, the_set.constraints(c.size), the_set,
                              _readonly(np.zeros(c.size) + 2 * r), _readonly(x), fun(x),
                              _readonly([lam]), _readonly([]), ((-hi, hi),) * 2 if c.size == 2
                              else None, {"center": c, "radius": r})


def linear_program() -> ConstrainedProblem:
    """``min -x1 - 2 x2`` subject to ``x1 + x2 <= 4``, ``x1 + 3 x2 <= 6``, ``x1 >= 0``, ``x2 >= 0``.

    The optimum is the vertex ``(3, 1)`` where the first two constraints meet, value -5, with
    ``(1, 2) = lam1 (1, 1) + lam2 (1, 3)``: ``lam = (0.5, 0.5, 0, 0)``.  The other vertices
    ``(0, 2)`` and ``(4, 0)`` give -4.
    """
    cost = _readonly([-1.0, -2.0])
    cons = (Inequality.linear([1.0, 1.0], 4.0, "x1 + x2 <= 4"),
            Inequality.linear([1.0, 3.0], 6.0, "x1 + 3 x2 <= 6"),
            Inequality.linear([-1.0, 0.0], 0.0, "x1 >= 0"),
            Inequality.linear([0.0, -1.0], 0.0, "x2 >= 0"))
    return ConstrainedProblem("linear_program", lambda x: float(cost @ x), lambda x: cost.copy(),
                              cons, None, _readonly([0.0, 0.0]), _readonly([3.0, 1.0]), -5.0,
                              _readonly([0.5, 0.5, 0.0, 0.0]), _readonly([]),
                              ((-0.5, 4.5), (-0.5, 2.5)), {})


def equality_quadratic(n: int = 6, p: int = 2, *, rng: np.random.Generator) -> ConstrainedProblem:
    """``min 1/2 x^T Q x - b^T x`` subject to ``A x = c`` (random, ``Q`` positive definite).

    The KKT system ``[[Q, A^T], [A, 0]] [x; nu] = [b; c]`` gives the solution and the multipliers.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n, p = _count(n, "n"), _count(p, "p")
    if not 1 <= p < n:
        raise ValueError(f"need 1 <= p < n, got n={n}, p={p}")
    M = rng.standard_normal((n, n))
    Q = _readonly(M @ M.T / n + np.eye(n))
    b = _readonly(rng.standard_normal(n))
    A = _readonly(rng.standard_normal((p, n)))
    c = _readonly(rng.standard_normal(p))
    K = np.block([[Q, A.T], [A, np.zeros((p, p))]])
    sol = np.linalg.solve(K, np.concatenate([b, c]))
    x = sol[:n]
    the_set = Affine(A, c)

    def fun(v):
        return 0.5 * float(v @ Q @ v) - float(b @ v)

    def grad(v):
        return Q @ v - b

    return ConstrainedProblem("equality_quadratic", fun, grad, the_set.constraints(n), the_set,
                              _readonly(np.zeros(n)), _readonly(x), fun(x), _readonly([]),
                              _readonly(sol[n:]), None, {"Q": Q, "b": b, "A": A, "c": c})


def simplex_quadratic(center: Any) -> ConstrainedProblem:
    """``min 1/2 ||x - c||^2`` over the probability simplex: the solution is the projection of
    ``c`` (:func:`project_simplex`), ``nu = -theta`` and ``lam_i = x_i - c_i + ... = -(c_i - theta)``
    on the coordinates clipped to 0."""
    c = _readonly(_vector(center, "center"))
    x = project_simplex(c)
    the_set = Simplex(1.0)
    fun, grad = _sq_distance(c)
    lam, nu = the_set.multipliers(x, grad(x), 0.0)
    return ConstrainedProblem("simplex_quadratic", fun, grad, the_set.constraints(c.size),
                              the_set, _readonly(np.zeros(c.size)), _readonly(x), fun(x),
                              _readonly(lam), _readonly(nu), None, {"center": c})


def disk_and_halfplane(offset: float = 1.0, *, center: Any = (1.8, 1.1), radius: float = 1.5,
                       normal: Any = (0.3, 1.0)) -> ConstrainedProblem:
    """``min 1/2 ||x - c||^2`` subject to ``||x||^2 <= r^2`` (g1) and ``a . x <= offset`` (g2).

    The projection of ``c`` onto the intersection of a disk and a half-plane, in closed form:
    the projection onto the disk if it satisfies g2; else the projection onto the half-plane if it
    lies in the disk; else (both constraints active) the nearer of the two points where the
    circle meets the line.  Moving `offset` switches each constraint between active and inactive.
    The multipliers solve ``x - c + lam1 2 x + lam2 a = 0`` on the active constraints.  The two
    sets must intersect (``|offset| <= r ||a||``).
    """
    c = _readonly(_vector(center, "center"))
    a = _readonly(_vector(normal, "normal"))
    if c.size != 2 or a.size != 2:
        raise ValueError("center and normal must be 2-D")
    r = _number(radius, "radius", positive=True)
    b = _number(offset, "offset")
    na = float(np.linalg.norm(a))
    if b < -r * na:
        raise ValueError(f"offset={offset!r} leaves the half-plane outside the disk (need offset >= "
                         f"{-r * na:.4g})")
    cons = (Inequality(lambda x: float(x @ x) - r * r, lambda x: 2.0 * x, "disk ||x||^2 <= r^2"),
            Inequality.linear(a, b, "half-plane a.x <= b"))
    nc = float(np.linalg.norm(c))
    on_disk = c * min(1.0, r / nc)
    on_line = c - max(0.0, (float(a @ c) - b) / na**2) * a
    if float(a @ on_disk) <= b + 1e-15:
        x = on_disk
    elif float(on_line @ on_line) <= r * r:
        x = on_line
    else:  # both active: the circle meets the line at the foot of the normal +- t * tangent
        foot = b * a / na**2
        tangent = np.array([-a[1], a[0]]) / na
        t = math.sqrt(max(r * r - float(foot @ foot), 0.0))
        pts = [foot + t * tangent, foot - t * tangent]
        x = min(pts, key=lambda q: float(np.sum((q - c) ** 2)))
    fun, grad = _sq_distance(c)
    g = np.array([float(x @ x) - r * r, float(a @ x) - b])
    active = np.flatnonzero(np.abs(g) <= 1e-12 * max(1.0, r * r, abs(b)))
    lam = np.zeros(2)
    if active.size:
        J = np.array([2.0 * x, a])[active].T  # (2, |active|)
        lam[active] = np.linalg.lstsq(J, -(x - c), rcond=None)[0]
    return ConstrainedProblem("disk_and_halfplane", fun, grad, cons, None,
                              _readonly([-1.5, -1.5]), _readonly(x), fun(x), _readonly(lam),
                              _readonly([]), ((-2.2, 2.8), (-2.0, 3.0)),
                              {"center": c, "radius": r, "normal": a, "offset": b})


# -- weight decay: ridge regression as a norm-constrained problem -----------------------------------


def _ridge_data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    XX = _real_array(X, "X")
    if XX.ndim != 2 or XX.size == 0:
        raise ValueError(f"X must be a non-empty (m, n) matrix, got shape {XX.shape}")
    yy = _real_array(y, "y").reshape(-1)
    if yy.size != XX.shape[0]:
        raise ValueError(f"y must have {XX.shape[0]} entries (the rows of X), got {yy.size}")
    if not (np.all(np.isfinite(XX)) and np.all(np.isfinite(yy))):
        raise ValueError("X and y must be finite")
    return XX, yy


def _ridge_svd(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, c, Vt) with ``X = U diag(s) Vt`` (thin) and ``c = U^T y``; singular values below
    ``max(m, n) eps s_max`` are dropped (they are rounding noise of a rank-deficient X)."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s > max(X.shape) * _EPS * (s[0] if s.size else 0.0)
    return s[keep], U[:, keep].T @ y, Vt[keep]


def ridge_solution(X: Any, y: Any, lam: float) -> np.ndarray:
    """``argmin_w ||X w - y||^2 + lam ||w||^2`` (no factor 1/2; see the module docstring).

    Through the SVD ``X = U S V^T``: ``w = V diag(s_i / (s_i^2 + lam)) U^T y``, which never forms
    ``X^T X`` (that would square the condition number).  ``lam = 0`` gives the minimum-norm
    least-squares solution.
    """
    XX, yy = _ridge_data(X, y)
    lam_ = _number(lam, "lam", lo=0.0)
    s, c, Vt = _ridge_svd(XX, yy)
    return Vt.T @ (s * c / (s * s + lam_))


def ridge_radius(X: Any, y: Any, lam: float) -> float:
    """``C(lam) = ||w_lam||^2 = sum_i (s_i c_i / (s_i^2 + lam))^2``, decreasing in ``lam``.

    The norm ball ``||w||^2 <= C(lam)`` is the constraint whose solution is the ridge solution
    :func:`ridge_solution` (with multiplier ``lam``).
    """
    XX, yy = _ridge_data(X, y)
    lam_ = _number(lam, "lam", lo=0.0)
    s, c, _ = _ridge_svd(XX, yy)
    return float(np.sum((s * c / (s * s + lam_)) ** 2))


def ridge_penalty_for_radius(X: Any, y: Any, C: float) -> float:
    """The penalty ``lam >= 0`` whose ridge solution has ``||w_lam||^2 = C``: the KKT multiplier of
    ``min ||X w - y||^2`` subject to ``||w||^2 <= C``.

    Returns 0 when the constraint is inactive, ``C >= ||w_0||^2`` (the minimum-norm least-squares
    solution fits inside), and ``inf`` for ``C = 0`` unless ``X^T y = 0`` (``w = 0`` then needs an
    infinite penalty: no finite multiplier exists).

    Notes
    -----
    ``||w_lam||`` decreases monotonically from ``||w_0||`` to 0, so the root is unique.  It is found
    by Newton's method on ``phi(lam) = 1/||w_lam|| - 1/sqrt(C)``, which is nearly linear in ``lam``
    (the secular equation of trust-region methods, Nocedal & Wright §4.3), safeguarded by
    bisection inside the bracket ``[max(0, ||X^T y|| / sqrt(C) - s_max^2), ||X^T y|| / sqrt(C)]``
    (from ``||X^T y|| / (s_max^2 + lam) <= ||w_lam|| <= ||X^T y|| / lam``).
    """
    XX, yy = _ridge_data(X, y)
    C_ = _number(C, "C", lo=0.0, finite=False)
    s, c, _ = _ridge_svd(XX, yy)
    sc = s * c
    xty = float(np.linalg.norm(sc))  # ||X^T y||
    if xty == 0.0:
        return 0.0
    if C_ >= float(np.sum((c / s) ** 2)):
        return 0.0
    if C_ == 0.0:
        return math.inf
    rC = math.sqrt(C_)
    lo, hi = max(0.0, xty / rC - float(s[0]) ** 2), xty / rC

    def phi(lam: float) -> tuple[float, float]:
        q = sc / (s * s + lam)
        nrm = float(np.linalg.norm(q))
        # d||w||/dlam = -sum q_i^2 / (s_i^2 + lam) / ||w||;  phi' = -(d||w||/dlam) / ||w||^2
        dn = -float(np.sum(q * q / (s * s + lam))) / nrm
        return 1.0 / nrm - 1.0 / rC, -dn / nrm**2

    lam = hi
    for _ in range(200):
        val, der = phi(lam)
        if val == 0.0:
            return lam
        if val > 0:  # ||w|| < sqrt(C): lam too large
            hi = lam
        else:
            lo = lam
        new = lam - val / der if der > 0 else math.nan
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if abs(new - lam) <= 4 * _EPS * max(lam, new) or hi - lo <= 4 * _EPS * hi:
            return new
        lam = new
    return lam


@dataclass(frozen=True)
class WeightDecayPair:
    """The penalized and the constrained ridge problems solved side by side.

    Attributes
    ----------
    lam : float
        The penalty of ``||Xw - y||^2 + lam ||w||^2``.
    radius : float
        ``C = ||w_lam||^2``, the constraint ``||w||^2 <= C``.
    w_penalized : numpy.ndarray
        :func:`ridge_solution` (SVD).
    w_constrained : numpy.ndarray
        The constrained problem's solution found by :func:`minimize_constrained`.
    multiplier : float
        Its KKT multiplier, which equals `lam`.
    lam_from_radius : float
        :func:`ridge_penalty_for_radius` at `radius`: the map back, ``C -> lam``.
    result : ConstrainedResult
        The constrained run.
    """

    lam: float
    radius: float
    w_penalized: np.ndarray
    w_constrained: np.ndarray
    multiplier: float
    lam_from_radius: float
    result: ConstrainedResult


def _ridge_loss(X: np.ndarray, y: np.ndarray):
    def fun(w):
        r = X @ w - y
        return float(r @ r)

    def grad(w):
        return 2.0 * (X.T @ (X @ w - y))

    return fun, grad


def ridge_ball(X: Any, y: Any, C: float) -> ConstrainedProblem:
    """``min ||X w - y||^2`` subject to ``||w||^2 <= C``, solved by :func:`ridge_penalty_for_radius`
    and :func:`ridge_solution`; its multiplier is the ridge penalty."""
    XX, yy = _ridge_data(X, y)
    lam = ridge_penalty_for_radius(XX, yy, C)
    if not math.isfinite(lam):
        raise ValueError("C = 0: the constrained solution w = 0 has no finite multiplier")
    w = ridge_solution(XX, yy, lam)
    the_set = Ball(math.sqrt(C))
    fun, grad = _ridge_loss(XX, yy)
    n = XX.shape[1]
    return ConstrainedProblem("ridge_ball", fun, grad, the_set.constraints(n), the_set,
                              _readonly(np.zeros(n)), _readonly(w), fun(w), _readonly([lam]),
                              _readonly([]), None, {"X": XX, "y": yy, "C": float(C)})


def ridge_as_constrained(X: Any, y: Any, lam: float, *, method: str = "augmented_lagrangian",
                         tol: float | None = None) -> WeightDecayPair:
    """Solve ridge regression penalized (SVD) and constrained (:func:`minimize_constrained` with
    ``||w||^2 <= C = ||w_lam||^2``), and return both with the constrained run's multiplier."""
    XX, yy = _ridge_data(X, y)
    lam_ = _number(lam, "lam", lo=0.0)
    w_pen = ridge_solution(XX, yy, lam_)
    C = float(w_pen @ w_pen)
    fun, grad = _ridge_loss(XX, yy)
    res = minimize_constrained(fun, np.zeros(XX.shape[1]), Ball(math.sqrt(C)), method=method,
                               grad=grad, tol=tol)
    for a in (w_pen,):
        a.setflags(write=False)
    return WeightDecayPair(lam_, C, w_pen, res.x, float(res.multipliers[0][0]),
                           ridge_penalty_for_radius(XX, yy, C), res)
