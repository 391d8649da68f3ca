"""Critical points: classify one by its Hessian, find them all in a box by multi-start Newton.

At a point where the gradient vanishes, the second-order Taylor expansion
``f(x* + d) = f(x*) + d^T H d / 2 + O(|d|^3)`` decides the type from the eigenvalues of ``H``:
all positive -- a strict local minimum; all negative -- a strict local maximum; both signs -- a
saddle.  If some eigenvalue is zero and the others share one sign, the quadratic term is flat in
some direction and the test is *inconclusive* ("degenerate"): ``x^4`` (minimum), ``-x^4``
(maximum) and ``x^3`` (neither) all have a zero Hessian at 0, and so does the monkey saddle
``x^3 - 3 x y^2``.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006, §2.1
       (second-order conditions) and §11.1 (Newton's method for nonlinear equations).
.. [2] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, §5.4.1 (the
       ``n * eps * ||A||`` rank tolerance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numdl.optim.problems import CriticalPoint

__all__ = ["Classification", "classify_critical_point", "find_critical_points"]


@dataclass(frozen=True)
class Classification:
    """The second-order test at a critical point.

    Attributes
    ----------
    kind : {"minimum", "maximum", "saddle", "degenerate"}
        ``"saddle"`` whenever eigenvalues of both signs exceed `tol` (even if some are zero);
        ``"degenerate"`` when some ``|lambda| <= tol`` and the rest share one sign.
    eigenvalues : numpy.ndarray
        Eigenvalues of the (symmetrized) Hessian, ascending.
    tol : float
        Eigenvalues with ``|lambda| <= tol`` counted as zero.
    """

    kind: str
    eigenvalues: np.ndarray
    tol: float


def _hessian_matrix(hessian: Any) -> np.ndarray:
    H = np.asarray(hessian)
    if H.dtype.kind in "biu":
        H = H.astype(np.float64)
    if H.dtype.kind != "f":
        raise TypeError(f"hessian must be a real floating-point matrix, got dtype {H.dtype}")
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"hessian must be a square (n, n) matrix, got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("hessian must be finite (it contains inf or nan)")
    scale = float(np.max(np.abs(H)))
    # finite-difference Hessians are symmetric only to ~sqrt(eps); anything beyond is a mistake
    if float(np.max(np.abs(H - H.T))) > math.sqrt(float(np.finfo(H.dtype).eps)) * scale:
        raise ValueError("hessian must be symmetric (|H - H^T| exceeds sqrt(eps) * max |H|)")
    return (H + H.T) / 2


def classify_critical_point(hessian: ArrayLike, *, tol: float | None = None) -> Classification:
    """Classify a critical point by the signs of its Hessian's eigenvalues.

    Parameters
    ----------
    hessian : array_like, shape (n, n)
        Symmetric Hessian at the point (asymmetry up to ``sqrt(eps) max |H|``, as in a
        finite-difference Hessian, is averaged away).
    tol : float, optional
        Eigenvalues with ``|lambda| <= tol`` count as zero.  Default
        ``n * eps * max |lambda|`` with ``eps`` of the Hessian's dtype: the size of the rounding
        error of a computed eigenvalue (as in ``numpy.linalg.matrix_rank``).  Pass a larger one for
        Hessians with errors of their own (finite differences: ~``1e-5`` relative).

    Returns
    -------
    Classification

    Examples
    --------
    >>> classify_critical_point([[2.0, 0.0], [0.0, -2.0]]).kind
    'saddle'
    >>> classify_critical_point([[0.0, 0.0], [0.0, 0.0]]).kind  # monkey saddle at the origin
    'degenerate'
    >>> classify_critical_point([[1.0, 0.0], [0.0, 1e-17]]).kind
    'degenerate'
    """
    H = _hessian_matrix(hessian)
    lam = np.linalg.eigvalsh(H)
    if tol is None:
        tol = H.shape[0] * float(np.finfo(H.dtype).eps) * float(np.max(np.abs(lam)))
    elif isinstance(tol, bool) or not isinstance(tol, int | float | np.integer | np.floating) or \
            not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    tol = float(tol)
    pos, neg = bool(np.any(lam > tol)), bool(np.any(lam < -tol))
    zero = bool(np.any(np.abs(lam) <= tol))
    if pos and neg:
        kind = "saddle"
    elif zero:
        kind = "degenerate"
    else:
        kind = "minimum" if pos else "maximum"
    lam.setflags(write=False)
    return Classification(kind=kind, eigenvalues=lam, tol=tol)


def _newton_root(grad, hess, x: np.ndarray, tol: float, max_iter: int, max_step: float):
    """Newton on g(x) = 0 with a minimum-norm step for singular H, a step cap and backtracking on
    the merit |g|^2 / 2; returns (x, |g|) or None if it fails."""
    g = np.asarray(grad(x), dtype=np.float64)
    gn = float(np.linalg.norm(g))
    for _ in range(max_iter):
        if not math.isfinite(gn):
            return None
        H = np.asarray(hess(x), dtype=np.float64)
        if not np.all(np.isfinite(H)):
            return None
        # lstsq gives the minimum-norm solution when H is singular (at degenerate critical points
        # H -> 0 and solve() would fail or return a huge step)
        dx = np.linalg.lstsq(H, -g, rcond=None)[0]
        length = float(np.linalg.norm(dx))
        if length > max_step:
            dx *= max_step / length
        t = 1.0
        for _ in range(30):  # backtracking: Newton's direction is a descent direction of |g|^2
            x_new = x + t * dx
            g_new = np.asarray(grad(x_new), dtype=np.float64)
            gn_new = float(np.linalg.norm(g_new))
            if gn_new < gn or gn_new == 0:
                break
            t /= 2
        else:
            return (x, gn) if gn <= tol else None
        step = t * length
        x, g, gn = x_new, g_new, gn_new
        if gn == 0 or step <= 1e-13 * (1 + float(np.linalg.norm(x))):
            break
    return (x, gn) if gn <= tol else None


def find_critical_points(problem: Any, box: ArrayLike | None = None, *, n_starts: int = 64,
                         rng: np.random.Generator, tol: float = 1e-8,
                         eig_tol: float | None = None,
                         max_iter: int = 100) -> tuple[CriticalPoint, ...]:
    """All critical points reached by Newton's method on ``g = 0`` from random starts in a box.

    Parameters
    ----------
    problem : Problem
        Anything with ``value``, ``gradient``, ``hessian``, ``dim`` and ``box``
        (:mod:`numdl.optim.problems`).
    box : sequence of (low, high), optional
        Search box, one pair per variable; default ``problem.box``.  Points found outside it are
        dropped.
    n_starts : int
        Number of starting points, uniform in the box.
    rng : numpy.random.Generator
        Source of the starting points (required: results depend on it).
    tol : float
        A start succeeds when it reaches ``|g| <= tol``.
    eig_tol : float, optional
        Eigenvalue tolerance of the classification (:func:`classify_critical_point`).  Default
        ``sqrt(tol) * max(1, L)``, ``L`` the largest ``|lambda|`` over all points found: a point
        computed to ``|g| ~ tol`` near a degenerate critical point can be ``~sqrt(tol)`` away from
        it, where its Hessian is ``~sqrt(tol)`` from singular.
    max_iter : int
        Newton iterations per start.

    Returns
    -------
    tuple of CriticalPoint
        Distinct points (closer than ``1e-4`` of the box diagonal are merged, keeping the one with
        the smaller gradient), sorted by value, each with ``kind``, ``eigenvalues`` and
        ``grad_norm``.

    Notes
    -----
    Newton's method for ``g(x) = 0`` solves ``H dx = -g`` (least squares when ``H`` is singular),
    caps the step at half the box diagonal, and halves it until ``|g|`` decreases -- ``dx`` is a
    descent direction for ``|g|^2 / 2`` since ``g^T H dx = -|g|^2``.  Unlike minimization it is
    attracted to every kind of critical point, which is what we want here; each start converges
    to the root in whose basin it lies, so a point with a tiny basin can be missed: more starts
    make that less likely, never impossible.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(n_starts, bool) or not isinstance(n_starts, int | np.integer) or n_starts < 1:
        raise ValueError(f"n_starts must be a positive integer, got {n_starts!r}")
    if not (isinstance(tol, int | float | np.integer | np.floating) and tol > 0):
        raise ValueError(f"tol must be a number > 0, got {tol!r}")
    dim = int(problem.dim)
    bounds = np.array(problem.box if box is None else box, dtype=np.float64)
    if bounds.shape != (dim, 2) or not np.all(bounds[:, 0] < bounds[:, 1]):
        raise ValueError(f"box must be {dim} pairs (low, high) with low < high, got {box!r}")
    lo, hi = bounds[:, 0], bounds[:, 1]
    diag = float(np.linalg.norm(hi - lo))
    slack = 1e-9 * diag
    starts = lo + (hi - lo) * rng.random((int(n_starts), dim))
    found: list[tuple[np.ndarray, float]] = []
    with np.errstate(all="ignore"):
        for x0 in starts:
            out = _newton_root(problem.gradient, problem.hessian, x0, float(tol), int(max_iter),
                               diag / 2)
            if out is None:
                continue
            x, gn = out
            if np.any(x < lo - slack) or np.any(x > hi + slack):
                continue
            for k, (y, gy) in enumerate(found):
                if np.linalg.norm(x - y) <= 1e-4 * diag:
                    if gn < gy:
                        found[k] = (x, gn)
                    break
            else:
                found.append((x, gn))
    hessians = [np.asarray(problem.hessian(x), dtype=np.float64) for x, _ in found]
    top = max((float(np.max(np.abs(np.linalg.eigvalsh((H + H.T) / 2)))) for H in hessians),
              default=0.0)
    etol = math.sqrt(tol) * max(1.0, top) if eig_tol is None else float(eig_tol)
    points = []
    for (x, gn), H in zip(found, hessians):
        c = classify_critical_point((H + H.T) / 2, tol=etol)
        x = np.array(x)
        x.setflags(write=False)
        points.append(CriticalPoint(x=x, value=float(problem.value(x)), kind=c.kind,
                                    eigenvalues=c.eigenvalues, grad_norm=gn))
    points.sort(key=lambda p: (p.value, tuple(p.x)))
    return tuple(points)
