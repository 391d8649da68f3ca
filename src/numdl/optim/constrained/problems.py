"""Constrained test problems whose solutions and multipliers are known in closed form.

Each returns a :class:`ConstrainedProblem`: objective and gradient, constraints (and the set, when
the feasible set is one of :mod:`~numdl.optim.constrained.sets`), a standard start, the solution
and its KKT multipliers.  :func:`disk_and_halfplane` is the picture of chapter 3d: moving the
half-plane switches each constraint between active and inactive.

>>> p = disk_and_halfplane(0.8)
>>> p.kkt().satisfied(1e-12), p.kkt().active.tolist()
(True, [True, True])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.constrained.constraints import Equality, Inequality
from numdl.optim.constrained.kkt import KKTResiduals, kkt_residuals
from numdl.optim.constrained.sets import Affine, Ball, ConvexSet, Simplex, project_simplex
from numdl.optim.validation import nonnegative_int, readonly_float64, real_number, vector

__all__ = [
    "ConstrainedProblem",
    "ball_quadratic",
    "disk_and_halfplane",
    "equality_quadratic",
    "linear_program",
    "simplex_quadratic",
]


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
        """The dimension."""
        return self.x0.size

    def kkt(self, x: ArrayLike | None = None, lam: ArrayLike | None = None,
            nu: ArrayLike | None = None) -> KKTResiduals:
        """:func:`kkt_residuals` at `x` (default: the solution, with its multipliers)."""
        if x is None:
            x, lam, nu = self.solution, self.lam, self.nu
        return kkt_residuals(self.grad, self.constraints, x, lam, nu)


def _sq_distance(center: np.ndarray) -> tuple[Callable, Callable]:
    def fun(x):
        d = x - center
        return 0.5 * float(np.dot(d, d))

    def grad(x):
        return x - center

    return fun, grad


def ball_quadratic(center: ArrayLike = (2.0, 1.0), radius: float = 1.0) -> ConstrainedProblem:
    """``min 1/2 ||x - c||^2`` subject to ``||x||^2 <= r^2``.

    If ``||c|| > r`` the solution is ``r c / ||c||`` with ``lam = (||c|| / r - 1) / 2`` (from
    ``x - c + 2 lam x = 0``); otherwise ``x = c`` and ``lam = 0``.
    """
    c = readonly_float64(vector(center, "center"))
    r = real_number(radius, "radius", positive=True)
    the_set = Ball(r)
    nc = float(np.linalg.norm(c))
    if nc > r:
        x, lam = c * (r / nc), (nc / r - 1.0) / 2.0
    else:
        x, lam = c.copy(), 0.0
    fun, grad = _sq_distance(c)
    hi = max(nc, r) + 0.5
    return ConstrainedProblem("ball_quadratic", fun, grad, the_set.constraints(c.size), the_set,
                              readonly_float64(np.zeros(c.size) + 2 * r), readonly_float64(x), fun(x),
                              readonly_float64([lam]), readonly_float64([]), ((-hi, hi),) * 2 if c.size == 2
                              else None, {"center": c, "radius": r})


def linear_program() -> ConstrainedProblem:
    """``min -x1 - 2 x2`` subject to ``x1 + x2 <= 4``, ``x1 + 3 x2 <= 6``, ``x1 >= 0``, ``x2 >= 0``.

    The optimum is the vertex ``(3, 1)`` where the first two constraints meet, value -5, with
    ``(1, 2) = lam1 (1, 1) + lam2 (1, 3)``: ``lam = (0.5, 0.5, 0, 0)``.  The other vertices
    ``(0, 2)`` and ``(4, 0)`` give -4.
    """
    cost = readonly_float64([-1.0, -2.0])
    cons = (Inequality.linear([1.0, 1.0], 4.0, "x1 + x2 <= 4"),
            Inequality.linear([1.0, 3.0], 6.0, "x1 + 3 x2 <= 6"),
            Inequality.linear([-1.0, 0.0], 0.0, "x1 >= 0"),
            Inequality.linear([0.0, -1.0], 0.0, "x2 >= 0"))
    return ConstrainedProblem("linear_program", lambda x: float(cost @ x), lambda x: cost.copy(),
                              cons, None, readonly_float64([0.0, 0.0]), readonly_float64([3.0, 1.0]), -5.0,
                              readonly_float64([0.5, 0.5, 0.0, 0.0]), readonly_float64([]),
                              ((-0.5, 4.5), (-0.5, 2.5)), {})


def equality_quadratic(n: int = 6, p: int = 2, *, rng: np.random.Generator) -> ConstrainedProblem:
    """``min 1/2 x^T Q x - b^T x`` subject to ``A x = c`` (random, ``Q`` positive definite).

    The KKT system ``[[Q, A^T], [A, 0]] [x; nu] = [b; c]`` gives the solution and the multipliers.

    Raises
    ------
    TypeError
        If `rng` is not a ``numpy.random.Generator``.
    ValueError
        Unless ``1 <= p < n``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n, p = nonnegative_int(n, "n"), nonnegative_int(p, "p")
    if not 1 <= p < n:
        raise ValueError(f"need 1 <= p < n, got n={n}, p={p}")
    M = rng.standard_normal((n, n))
    Q = readonly_float64(M @ M.T / n + np.eye(n))
    b = readonly_float64(rng.standard_normal(n))
    A = readonly_float64(rng.standard_normal((p, n)))
    c = readonly_float64(rng.standard_normal(p))
    K = np.block([[Q, A.T], [A, np.zeros((p, p))]])
    sol = np.linalg.solve(K, np.concatenate([b, c]))
    x = sol[:n]
    the_set = Affine(A, c)

    def fun(v):
        return 0.5 * float(v @ Q @ v) - float(b @ v)

    def grad(v):
        return Q @ v - b

    return ConstrainedProblem("equality_quadratic", fun, grad, the_set.constraints(n), the_set,
                              readonly_float64(np.zeros(n)), readonly_float64(x), fun(x), readonly_float64([]),
                              readonly_float64(sol[n:]), None, {"Q": Q, "b": b, "A": A, "c": c})


def simplex_quadratic(center: ArrayLike) -> ConstrainedProblem:
    """``min 1/2 ||x - c||^2`` over the probability simplex: the solution is the projection of
    ``c`` (:func:`project_simplex`), ``nu = -theta`` and ``lam_i = x_i - c_i + ... = -(c_i - theta)``
    on the coordinates clipped to 0."""
    c = readonly_float64(vector(center, "center"))
    x = project_simplex(c)
    the_set = Simplex(1.0)
    fun, grad = _sq_distance(c)
    lam, nu = the_set.multipliers(x, grad(x), 0.0)
    return ConstrainedProblem("simplex_quadratic", fun, grad, the_set.constraints(c.size),
                              the_set, readonly_float64(np.zeros(c.size)), readonly_float64(x), fun(x),
                              readonly_float64(lam), readonly_float64(nu), None, {"center": c})


def disk_and_halfplane(offset: float = 1.0, *, center: ArrayLike = (1.8, 1.1),
                       radius: float = 1.5,
                       normal: ArrayLike = (0.3, 1.0)) -> ConstrainedProblem:
    """``min 1/2 ||x - c||^2`` subject to ``||x||^2 <= r^2`` (g1) and ``a . x <= offset`` (g2).

    The projection of ``c`` onto the intersection of a disk and a half-plane, in closed form:
    the projection onto the disk if it satisfies g2; else the projection onto the half-plane if it
    lies in the disk; else (both constraints active) the nearer of the two points where the
    circle meets the line.  Moving `offset` switches each constraint between active and inactive.
    The multipliers solve ``x - c + lam1 2 x + lam2 a = 0`` on the active constraints.  The two
    sets must intersect (``|offset| <= r ||a||``).

    Raises
    ------
    ValueError
        If `center` or `normal` is not 2-D, `radius` is not > 0, or the half-plane misses the
        disk.
    """
    c = readonly_float64(vector(center, "center"))
    a = readonly_float64(vector(normal, "normal"))
    if c.size != 2 or a.size != 2:
        raise ValueError("center and normal must be 2-D")
    r = real_number(radius, "radius", positive=True)
    b = real_number(offset, "offset")
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
                              readonly_float64([-1.5, -1.5]), readonly_float64(x), fun(x), readonly_float64(lam),
                              readonly_float64([]), ((-2.2, 2.8), (-2.0, 3.0)),
                              {"center": c, "radius": r, "normal": a, "offset": b})
