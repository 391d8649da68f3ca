"""Weight decay as a norm constraint: ridge regression penalized and constrained.

Ridge regression is written, as in the syllabus, without a factor 1/2:

    min_w ||X w - y||^2 + lam ||w||^2            (penalized)
    min_w ||X w - y||^2  subject to  ||w||^2 <= C  (constrained)

Both have the gradient ``2 X^T (X w - y) + 2 lam w``, so ``w_lam`` solves the constrained problem
for ``C = ||w_lam||^2`` with the KKT multiplier of ``||w||^2 - C <= 0`` equal to ``lam`` itself.
(With the loss ``1/2 ||Xw - y||^2`` and the penalty ``lam/2 ||w||^2`` the same ``w`` comes out, and
the multiplier is ``lam / 2``.)  :func:`ridge_radius` maps ``lam -> C`` and
:func:`ridge_penalty_for_radius` maps ``C -> lam``; :func:`ridge_as_constrained` solves both
problems and returns them side by side (:class:`WeightDecayPair`).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((20, 3)); y = X @ np.array([1.0, -2.0, 0.5])
>>> C = ridge_radius(X, y, 0.3)
>>> bool(np.isclose(ridge_penalty_for_radius(X, y, C), 0.3, rtol=1e-12))
True

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §4.3 (the
       secular equation of :func:`ridge_penalty_for_radius`).
.. [2] I. Loshchilov and F. Hutter, "Decoupled weight decay regularization", ICLR 2019.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.constrained.problems import ConstrainedProblem
from numdl.optim.constrained.sets import Ball
from numdl.optim.constrained.solvers import ConstrainedResult, minimize_constrained
from numdl.optim.validation import readonly_float64, real_array, real_number

__all__ = [
    "WeightDecayPair",
    "ridge_as_constrained",
    "ridge_ball",
    "ridge_penalty_for_radius",
    "ridge_radius",
    "ridge_solution",
]

_EPS = float(np.finfo(np.float64).eps)


def _ridge_data(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    XX = real_array(X, "X")
    if XX.ndim != 2 or XX.size == 0:
        raise ValueError(f"X must be a non-empty (m, n) matrix, got shape {XX.shape}")
    yy = real_array(y, "y").reshape(-1)
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


def ridge_solution(X: ArrayLike, y: ArrayLike, lam: float) -> np.ndarray:
    """``argmin_w ||X w - y||^2 + lam ||w||^2`` (no factor 1/2; see the module docstring).

    Through the SVD ``X = U S V^T``: ``w = V diag(s_i / (s_i^2 + lam)) U^T y``, which never forms
    ``X^T X`` (that would square the condition number).  ``lam = 0`` gives the minimum-norm
    least-squares solution.

    Raises
    ------
    TypeError, ValueError
        If `X` is not a non-empty finite matrix, `y` has not one entry per row, or ``lam < 0``.
    """
    XX, yy = _ridge_data(X, y)
    lam_ = real_number(lam, "lam", lo=0.0)
    s, c, Vt = _ridge_svd(XX, yy)
    return Vt.T @ (s * c / (s * s + lam_))


def ridge_radius(X: ArrayLike, y: ArrayLike, lam: float) -> float:
    """``C(lam) = ||w_lam||^2 = sum_i (s_i c_i / (s_i^2 + lam))^2``, decreasing in ``lam``.

    The norm ball ``||w||^2 <= C(lam)`` is the constraint whose solution is the ridge solution
    :func:`ridge_solution` (with multiplier ``lam``).

    Raises
    ------
    TypeError, ValueError
        As for :func:`ridge_solution`.
    """
    XX, yy = _ridge_data(X, y)
    lam_ = real_number(lam, "lam", lo=0.0)
    s, c, _ = _ridge_svd(XX, yy)
    return float(np.sum((s * c / (s * s + lam_)) ** 2))


def ridge_penalty_for_radius(X: ArrayLike, y: ArrayLike, C: float) -> float:
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

    Raises
    ------
    TypeError, ValueError
        As for :func:`ridge_solution`, or ``C < 0``.
    """
    XX, yy = _ridge_data(X, y)
    C_ = real_number(C, "C", lo=0.0, finite=False)
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


def _ridge_loss(X: np.ndarray, y: np.ndarray) -> tuple[Callable, Callable]:
    def fun(w):
        r = X @ w - y
        return float(r @ r)

    def grad(w):
        return 2.0 * (X.T @ (X @ w - y))

    return fun, grad


def ridge_ball(X: ArrayLike, y: ArrayLike, C: float) -> ConstrainedProblem:
    """``min ||X w - y||^2`` subject to ``||w||^2 <= C``, solved by :func:`ridge_penalty_for_radius`
    and :func:`ridge_solution`; its multiplier is the ridge penalty.

    Raises
    ------
    ValueError
        For bad data (:func:`ridge_solution`), or ``C = 0`` (no finite multiplier).
    """
    XX, yy = _ridge_data(X, y)
    lam = ridge_penalty_for_radius(XX, yy, C)
    if not math.isfinite(lam):
        raise ValueError("C = 0: the constrained solution w = 0 has no finite multiplier")
    w = ridge_solution(XX, yy, lam)
    the_set = Ball(math.sqrt(C))
    fun, grad = _ridge_loss(XX, yy)
    n = XX.shape[1]
    return ConstrainedProblem("ridge_ball", fun, grad, the_set.constraints(n), the_set,
                              readonly_float64(np.zeros(n)), readonly_float64(w), fun(w), readonly_float64([lam]),
                              readonly_float64([]), None, {"X": XX, "y": yy, "C": float(C)})


def ridge_as_constrained(X: ArrayLike, y: ArrayLike, lam: float, *, method: str = "augmented_lagrangian",
                         tol: float | None = None) -> WeightDecayPair:
    """Solve ridge regression penalized (SVD) and constrained (:func:`minimize_constrained` with
    ``||w||^2 <= C = ||w_lam||^2``), and return both with the constrained run's multiplier.

    Raises
    ------
    TypeError, ValueError
        For bad data (:func:`ridge_solution`) or a bad `method` or `tol`.
    """
    XX, yy = _ridge_data(X, y)
    lam_ = real_number(lam, "lam", lo=0.0)
    w_pen = ridge_solution(XX, yy, lam_)
    C = float(w_pen @ w_pen)
    fun, grad = _ridge_loss(XX, yy)
    res = minimize_constrained(fun, np.zeros(XX.shape[1]), Ball(math.sqrt(C)), method=method,
                               grad=grad, tol=tol)
    for a in (w_pen,):
        a.setflags(write=False)
    return WeightDecayPair(lam_, C, w_pen, res.x, float(res.multipliers[0][0]),
                           ridge_penalty_for_radius(XX, yy, C), res)
