"""The KKT conditions as residuals, and the multipliers that make them hold.

For ``min f(x)`` subject to ``g_i(x) <= 0`` and ``h_j(x) = 0``, a point ``x`` with multipliers
``(lam, nu)`` satisfies the Karush-Kuhn-Tucker conditions when stationarity
(``grad f + sum lam_i grad g_i + sum nu_j grad h_j = 0``), primal feasibility, dual feasibility
(``lam >= 0``) and complementary slackness (``lam_i g_i = 0``) hold.  :func:`kkt_residuals`
measures each as one non-negative number, 0 when it holds (:class:`KKTResiduals`);
:func:`kkt_residuals_from_values` is the same arithmetic on values already computed, and
:func:`estimate_multipliers` finds the multipliers of a candidate point by least squares on
stationarity.

>>> import numpy as np
>>> from numdl.optim.constrained import Inequality
>>> # min (x - 2)^2 subject to x <= 1: the solution is x = 1 with lam = 2
>>> c = Inequality(lambda x: x[0] - 1.0, lambda x: np.array([1.0]))
>>> kkt_residuals(lambda x: 2 * (x - 2), [c], [1.0], lam=[2.0]).satisfied(1e-9)
True
>>> estimate_multipliers(lambda x: 2 * (x - 2), [c], [1.0])[0].tolist()
[2.0]

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, ch. 12.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.constrained.constraints import (
    Constraint,
    constraint_jacobian,
    least_squares_multipliers,
)
from numdl.optim.constrained.sets import ConvexSet, scaled_norm, split_constraints
from numdl.optim.driver import DEFAULT_TOL
from numdl.optim.validation import multipliers_or_zeros, real_array, tolerance, vector

__all__ = [
    "CONDITIONS",
    "KKTResiduals",
    "estimate_multipliers",
    "kkt_residuals",
    "kkt_residuals_from_values",
]

CONDITIONS: tuple[str, ...] = ("stationarity", "primal_feasibility", "dual_feasibility",
                               "complementary_slackness")
"""The four KKT conditions, in the order of :class:`KKTResiduals`' fields."""

_F64 = np.dtype(np.float64)


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


def kkt_residuals_from_values(gf: ArrayLike, g: ArrayLike, h: ArrayLike, Jg: ArrayLike,
                              Jh: ArrayLike, lam: ArrayLike, nu: ArrayLike,
                              active_tol: float) -> KKTResiduals:
    """The four KKT residuals from values already computed at a point.

    The arithmetic of :func:`kkt_residuals`, without evaluating anything: the solvers call it at
    every iterate with the values they have.  With ``L = f + lam . g + nu . h``:

    * stationarity ``||grad f + Jg^T lam + Jh^T nu||_2`` (scaled so that it neither overflows
      nor underflows; NaN if the Lagrangian's gradient is not finite);
    * primal feasibility ``max(max_i max(g_i, 0), max_j |h_j|)`` (0 without constraints);
    * dual feasibility ``max(0, -min_i lam_i)``;
    * complementary slackness ``max_i |lam_i g_i|``.

    Parameters
    ----------
    gf : array_like, shape (n,)
        The objective's gradient.
    g, h : array_like, shapes (m,) and (p,)
        The inequality and equality constraint values.
    Jg, Jh : array_like, shapes (m, n) and (p, n)
        Their gradients, as rows.
    lam, nu : array_like, shapes (m,) and (p,)
        The multipliers.
    active_tol : float
        An inequality is reported active when ``|g_i| <= active_tol``.

    Returns
    -------
    KKTResiduals
        Its arrays are read-only copies.

    Raises
    ------
    ValueError
        If the shapes do not fit together.
    """
    gf = np.asarray(gf, dtype=np.float64)
    g, h = np.array(g, dtype=np.float64), np.array(h, dtype=np.float64)
    lam, nu = np.array(lam, dtype=np.float64), np.array(nu, dtype=np.float64)
    Jg, Jh = np.asarray(Jg, dtype=np.float64), np.asarray(Jh, dtype=np.float64)
    n, m, p = gf.size, g.size, h.size
    if (gf.shape != (n,) or g.shape != (m,) or h.shape != (p,) or Jg.shape != (m, n)
            or Jh.shape != (p, n) or lam.shape != (m,) or nu.shape != (p,)):
        raise ValueError(f"shapes do not fit: gf {gf.shape}, g {g.shape}, h {h.shape}, Jg "
                         f"{Jg.shape}, Jh {Jh.shape}, lam {lam.shape}, nu {nu.shape} (need (n,), "
                         "(m,), (p,), (m, n), (p, n), (m,), (p,))")
    with np.errstate(all="ignore"):
        lag = gf + lam @ Jg + nu @ Jh
        stat = scaled_norm(lag) if np.all(np.isfinite(lag)) else math.nan
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


def _grad_at(grad_f: Callable[[np.ndarray], ArrayLike] | ArrayLike, x: np.ndarray) -> np.ndarray:
    gf = grad_f(x) if callable(grad_f) else grad_f
    arr = real_array(gf, "grad_f")
    if arr.size != x.size:
        raise ValueError(f"grad_f must have {x.size} entries (the size of x), got shape {arr.shape}")
    return arr.reshape(x.shape)


def kkt_residuals(grad_f: Callable[[np.ndarray], ArrayLike] | ArrayLike,
                  constraints: ConvexSet | Constraint | Sequence[Constraint] | None, x: ArrayLike,
                  lam: ArrayLike | None = None, nu: ArrayLike | None = None, *,
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

    Raises
    ------
    TypeError
        If an argument is not real or `constraints` is not made of constraint objects.
    ValueError
        If `x` is not a finite vector, `grad_f` or the multipliers have the wrong size, or
        `active_tol` is negative.
    """
    xx = vector(x)
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    ineqs, eqs, _ = split_constraints(constraints, xx.size)
    lam_ = multipliers_or_zeros(lam, len(ineqs), "lam", "Inequality")
    nu_ = multipliers_or_zeros(nu, len(eqs), "nu", "Equality")
    tol = tolerance(active_tol, "active_tol", DEFAULT_TOL[_F64])
    gf = _grad_at(grad_f, xx)
    g = np.array([c.value(xx) for c in ineqs], dtype=np.float64)
    h = np.array([c.value(xx) for c in eqs], dtype=np.float64)
    return kkt_residuals_from_values(gf, g, h, constraint_jacobian(ineqs, xx), constraint_jacobian(eqs, xx), lam_, nu_, tol)


def estimate_multipliers(grad_f: Callable[[np.ndarray], ArrayLike] | ArrayLike,
                         constraints: ConvexSet | Constraint | Sequence[Constraint] | None,
                         x: ArrayLike, *,
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

    Parameters and errors are as for :func:`kkt_residuals`; returns ``(lam, nu)``, float64
    arrays of shapes ``(m,)`` and ``(p,)``.

    >>> import numpy as np
    >>> from numdl.optim.constrained import Ball
    >>> # min x1 + x2 on the unit disk: x* = -(1, 1)/sqrt(2), lam = 1/(2 ||x*||) = 1/sqrt(2)
    >>> x = -np.ones(2) / np.sqrt(2)
    >>> lam, nu = estimate_multipliers(np.ones(2), Ball(1.0), x)
    >>> bool(np.isclose(lam[0], 1 / np.sqrt(2))), nu.size
    (True, 0)
    """
    xx = vector(x)
    if not np.all(np.isfinite(xx)):
        raise ValueError("x must be finite")
    tol = tolerance(active_tol, "active_tol", DEFAULT_TOL[_F64])
    gf = _grad_at(grad_f, xx)
    if isinstance(constraints, ConvexSet):
        return constraints.multipliers(xx, gf, tol)
    return least_squares_multipliers(gf, constraints, xx, tol)
