"""Newton's method, BFGS and L-BFGS: search directions and the strong Wolfe line search.

The pieces are pure functions, and this module imports nothing else from :mod:`numdl.optim`; the
iteration loops live in :func:`numdl.optim.minimize` (``method="newton"``, ``"bfgs"``,
``"lbfgs"``), with the shorthands :func:`~numdl.optim.newton`, :func:`~numdl.optim.bfgs` and
:func:`~numdl.optim.lbfgs` beside it in :mod:`numdl.optim.driver`.

* :func:`wolfe_line_search` -- Nocedal & Wright Algorithms 3.5 (bracketing) and 3.6 (zoom) with
  cubic interpolation, finding a step ``alpha`` with sufficient decrease
  ``f(x + alpha p) <= f(x) + c1 alpha g^T p`` and the strong curvature condition
  ``|g(x + alpha p)^T p| <= c2 |g^T p|``.
* :func:`newton_direction` -- solve ``H p = -g``, optionally made a descent direction by damping.
* :func:`bfgs_update` -- the BFGS update of the inverse Hessian approximation.
* :func:`lbfgs_direction` -- the two-loop recursion with the last ``m`` pairs ``(s, y)``.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006:
       Alg. 3.3 (Cholesky with added multiple of the identity), 3.5-3.6 (line search), eq. 3.59
       (cubic interpolation), eq. 3.60 (initial step), §3.4 (Hessian modification), eq. 6.17
       (BFGS update), Alg. 7.4-7.5 (L-BFGS).
.. [2] J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed sufficient decrease",
       *ACM TOMS* 20(3), 1994 (the interval-shrinkage safeguard).
.. [3] Y. N. Dauphin et al., "Identifying and attacking the saddle point problem in
       high-dimensional non-convex optimization", NeurIPS 2014 (Newton with ``|lambda|``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DAMPINGS",
    "LineSearchResult",
    "NewtonDirection",
    "bfgs_update",
    "lbfgs_direction",
    "newton_direction",
    "wolfe_line_search",
]

DAMPINGS: tuple[str | None, ...] = (None, "levenberg", "eigen")


# -- line search -----------------------------------------------------------------------------------


class LineSearchResult(NamedTuple):
    """Outcome of :func:`wolfe_line_search`.

    Attributes
    ----------
    alpha : float
        The step taken (0 when no point with sufficient decrease was found).
    x, fun, grad :
        ``x + alpha p`` and the function value and gradient there (the start point when
        ``alpha == 0``).
    nfev : int
        Number of evaluations of ``(f, g)`` made.
    success : bool
        Whether `alpha` satisfies both strong Wolfe conditions.  When False but ``alpha > 0``, the
        point has sufficient decrease only (the best one found).
    """

    alpha: float
    x: np.ndarray
    fun: float
    grad: np.ndarray
    nfev: int
    success: bool


def _cubic_min(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float | None:
    """Minimizer of the cubic through (a, fa, da), (b, fb, db) (N&W eq. 3.59), or None."""
    if a == b:
        return None
    d1 = da + db - 3 * (fa - fb) / (a - b)
    rad = d1 * d1 - da * db
    if not (math.isfinite(rad) and rad >= 0):
        return None
    d2 = math.copysign(math.sqrt(rad), b - a)
    den = db - da + 2 * d2
    if den == 0 or not math.isfinite(den):
        return None
    t = b - (b - a) * (db + d2 - d1) / den
    return t if math.isfinite(t) else None


def _quad_min(a: float, fa: float, da: float, b: float, fb: float) -> float | None:
    """Minimizer of the parabola with value fa and slope da at a, value fb at b, or None."""
    d = b - a
    c = (fb - fa - da * d) / (d * d)
    if not (math.isfinite(c) and c > 0):
        return None
    return a - da / (2 * c)


def wolfe_line_search(
    fun_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: ArrayLike,
    p: ArrayLike,
    *,
    f0: float,
    g0: ArrayLike,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 30,
) -> LineSearchResult:
    """A step along `p` satisfying the strong Wolfe conditions (Nocedal & Wright Alg. 3.5-3.6).

    Parameters
    ----------
    fun_and_grad : callable
        ``fun_and_grad(x) -> (f, g)``; called once per trial step.
    x, p : array_like
        Start point and search direction; ``g0 @ p`` must be negative.
    f0 : float
        Value at `x`.
    g0 : array_like
        Gradient at `x`.
    alpha0 : float
        First trial step: 1 for Newton and quasi-Newton directions, whose natural step is 1.
    c1, c2 : float
        Sufficient decrease and curvature constants, ``0 < c1 < c2 < 1``; ``c2 = 0.9`` is the usual
        choice for (quasi-)Newton, ``0.1`` for conjugate gradients.
    max_evals : int
        Budget of evaluations.

    Returns
    -------
    LineSearchResult

    Raises
    ------
    ValueError
        If ``0 < c1 < c2 < 1`` fails, ``alpha0 <= 0``, `max_evals` is not a positive integer, or
        `x`, `p`, `g0` differ in shape.  A direction that is not a descent direction is not an
        error: the result has ``alpha = 0``.

    Notes
    -----
    Bracketing (Alg. 3.5): trial steps grow by a factor 2 until one fails sufficient decrease,
    does not decrease ``f`` from the previous trial, or has a non-negative slope; a step that
    satisfies both conditions ends the search.  Zoom (Alg. 3.6) then shrinks the bracket
    ``[lo, hi]`` (``lo`` the best sufficient-decrease step) with the minimizer of the cubic
    interpolating ``phi`` and ``phi'`` at both ends, kept at least 1% of the bracket away from its
    ends, falling back to a parabola and to bisection; like Moré & Thuente's algorithm, it bisects
    when two trials have not shrunk the bracket by a third.  A non-finite trial value (overflow)
    counts as a failed sufficient decrease and the next trial is taken at a tenth of the bracket.
    """
    if not 0 < c1 < c2 < 1:
        raise ValueError(f"c1={c1!r} and c2={c2!r} must satisfy 0 < c1 < c2 < 1")
    if not alpha0 > 0:
        raise ValueError(f"alpha0 must be > 0, got {alpha0!r}")
    if isinstance(max_evals, bool) or not isinstance(max_evals, int | np.integer) or max_evals < 1:
        raise ValueError(f"max_evals must be a positive integer, got {max_evals!r}")
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    p = np.asarray(p, dtype=x.dtype)
    g0 = np.asarray(g0)
    if p.shape != x.shape or g0.shape != x.shape:
        raise ValueError(f"x, p and g0 must have the same shape, got {x.shape}, {p.shape}, "
                         f"{g0.shape}")
    dphi0 = float(np.dot(g0.ravel(), p.ravel()))
    evals = 0
    if not (dphi0 < 0 and math.isfinite(dphi0) and math.isfinite(f0)):
        return LineSearchResult(0.0, x, f0, g0, 0, False)

    def phi(a: float) -> tuple[float, float, np.ndarray, np.ndarray]:
        nonlocal evals
        evals += 1
        xa = x + a * p
        fa, ga = fun_and_grad(xa)
        da = float(np.dot(ga.ravel(), p.ravel()))
        return float(fa), da, xa, ga

    def armijo(a: float, fa: float) -> bool:
        return math.isfinite(fa) and fa <= f0 + c1 * a * dphi0

    def curvature(da: float) -> bool:
        return math.isfinite(da) and abs(da) <= -c2 * dphi0

    # best (alpha, f, x, g) with sufficient decrease, for the fallback
    best: list[Any] = [0.0, f0, x, g0]

    def note(a: float, fa: float, xa: np.ndarray, ga: np.ndarray) -> None:
        if armijo(a, fa) and fa < best[1] and np.all(np.isfinite(ga)):
            best[:] = [a, fa, xa, ga]

    def zoom(lo, f_lo, d_lo, hi, f_hi, d_hi) -> LineSearchResult:
        widths: list[float] = []
        while evals < max_evals:
            width = abs(hi - lo)
            if width <= 4 * np.finfo(x.dtype).eps * max(abs(lo), abs(hi)):
                break
            widths.append(width)
            if len(widths) >= 3 and width > (2 / 3) * widths[-3]:
                a = lo + 0.5 * (hi - lo)  # no progress in two trials: bisect (Moré-Thuente)
            elif not math.isfinite(f_hi):
                a = lo + 0.1 * (hi - lo)
            else:
                a = _cubic_min(lo, f_lo, d_lo, hi, f_hi, d_hi) if math.isfinite(d_hi) else None
                if a is None:
                    a = _quad_min(lo, f_lo, d_lo, hi, f_hi)
                if a is None:
                    a = lo + 0.5 * (hi - lo)
                # keep the trial inside the bracket, 1% away from its ends
                t = min(max((a - lo) / (hi - lo), 0.01), 0.99)
                a = lo + t * (hi - lo)
            fa, da, xa, ga = phi(a)
            note(a, fa, xa, ga)
            if not armijo(a, fa) or fa >= f_lo:
                hi, f_hi, d_hi = a, fa, da
            else:
                if curvature(da):
                    return LineSearchResult(a, xa, fa, ga, evals, True)
                if da * (hi - lo) >= 0:
                    hi, f_hi, d_hi = lo, f_lo, d_lo
                lo, f_lo, d_lo = a, fa, da
        return LineSearchResult(best[0], best[2], best[1], best[3], evals, False)

    a_prev, f_prev, d_prev = 0.0, f0, dphi0
    a = float(alpha0)
    first = True
    while evals < max_evals:
        fa, da, xa, ga = phi(a)
        note(a, fa, xa, ga)
        if not armijo(a, fa) or (not first and fa >= f_prev):
            return zoom(a_prev, f_prev, d_prev, a, fa, da)
        if curvature(da):
            return LineSearchResult(a, xa, fa, ga, evals, True)
        if da >= 0:
            return zoom(a, fa, da, a_prev, f_prev, d_prev)
        a_prev, f_prev, d_prev = a, fa, da
        a = 2 * a
        first = False
    return LineSearchResult(best[0], best[2], best[1], best[3], evals, False)


# -- Newton ----------------------------------------------------------------------------------------


class NewtonDirection(NamedTuple):
    """A (possibly damped) Newton direction.

    Attributes
    ----------
    direction : numpy.ndarray or None
        ``p`` with ``(H + E) p = -g``; None when undamped ``H`` is singular.
    shift : float
        For ``"levenberg"``: the ``tau`` added to the diagonal.  For ``"eigen"``: the largest
        change made to an eigenvalue.  0 when ``H`` was used as is.
    """

    direction: np.ndarray | None
    shift: float


def newton_direction(hessian: ArrayLike, grad: ArrayLike, *,
                     damping: str | None = None) -> NewtonDirection:
    """The Newton direction ``p = -H^{-1} g``, optionally modified to be a descent direction.

    Parameters
    ----------
    hessian : array_like, shape (n, n)
        Symmetric Hessian.
    grad : array_like, shape (n,)
        Gradient.
    damping : {None, "levenberg", "eigen"}
        * ``None`` -- solve ``H p = -g`` as is.  At an indefinite ``H`` the direction may point
          uphill, and Newton's iteration is attracted by saddles and maxima as much as by minima.
        * ``"levenberg"`` -- ``(H + tau I) p = -g`` with the smallest ``tau`` of the sequence
          ``0, beta, 2 beta, 4 beta, ...`` (starting at ``beta - min H_ii`` if a diagonal entry is
          not positive) for which a Cholesky factorization succeeds: Nocedal & Wright Alg. 3.3,
          with ``beta = 1e-3 * max |H_ij|``.  ``tau = 0`` when ``H`` is positive definite, so the
          quadratic convergence near a minimum is kept.
        * ``"eigen"`` -- replace each eigenvalue ``lambda`` by ``max(|lambda|, delta)``,
          ``delta = sqrt(eps) * max |lambda|``: the step keeps its length along each eigenvector
          but goes downhill on negative curvature (N&W §3.4; the "saddle-free Newton" of Dauphin
          et al. 2014).

    Returns
    -------
    NewtonDirection
        ``direction`` is None when undamped ``H`` is singular or anything is not finite.

    Raises
    ------
    ValueError
        If `damping` is not one of :data:`DAMPINGS` or the shapes do not match.
    """
    if damping not in DAMPINGS:
        raise ValueError(f"damping={damping!r} is not one of {DAMPINGS}")
    H = np.asarray(hessian)
    g = np.asarray(grad)
    n = g.size
    if H.shape != (n, n):
        raise ValueError(f"hessian must have shape ({n}, {n}) for a gradient of size {n}, got "
                         f"{H.shape}")
    if not (np.all(np.isfinite(H)) and np.all(np.isfinite(g))):
        return NewtonDirection(None, 0.0)
    if damping is None:
        try:
            p = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            return NewtonDirection(None, 0.0)
        return NewtonDirection(p if np.all(np.isfinite(p)) else None, 0.0)
    if damping == "eigen":
        lam, Q = np.linalg.eigh(H)
        top = float(np.max(np.abs(lam)))
        delta = math.sqrt(float(np.finfo(H.dtype).eps)) * (top if top > 0 else 1.0)
        mod = np.maximum(np.abs(lam), delta)
        p = -(Q @ ((Q.T @ g) / mod))
        return NewtonDirection(p, float(np.max(np.abs(mod - lam))))
    # levenberg: N&W Alg. 3.3
    scale = float(np.max(np.abs(H)))
    beta = 1e-3 * (scale if scale > 0 else 1.0)
    dmin = float(np.min(np.diag(H)))
    tau = 0.0 if dmin > 0 else beta - dmin
    eye = np.eye(n, dtype=H.dtype)
    for _ in range(200):
        try:
            L = np.linalg.cholesky(H + tau * eye)
        except np.linalg.LinAlgError:
            tau = max(2 * tau, beta)
            continue
        z = np.linalg.solve(L, -g)
        return NewtonDirection(np.linalg.solve(L.T, z), tau)
    return NewtonDirection(None, tau)  # pragma: no cover - 2**200 * beta exceeds any finite |H|


# -- quasi-Newton ----------------------------------------------------------------------------------


def bfgs_update(inv_hessian: ArrayLike, s: ArrayLike, y: ArrayLike) -> np.ndarray:
    """BFGS update of the inverse Hessian approximation (N&W eq. 6.17).

    ``H+ = (I - rho s y^T) H (I - rho y s^T) + rho s s^T`` with ``rho = 1 / (y^T s)``, expanded as
    ``H - rho (s (Hy)^T + (Hy) s^T) + (rho^2 y^T H y + rho) s s^T`` (O(n^2), no matrix products).
    ``H+`` satisfies the secant equation ``H+ y = s`` and stays positive definite when
    ``y^T s > 0`` -- which the Wolfe curvature condition guarantees.

    Parameters
    ----------
    inv_hessian : array_like, shape (n, n)
        The current approximation ``H`` of the inverse Hessian (symmetric positive definite).
    s, y : array_like, shape (n,)
        The step ``x_{k+1} - x_k`` and the gradient change ``g_{k+1} - g_k``.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        ``H+``, a new array (symmetrized).

    Raises
    ------
    ValueError
        If ``y^T s <= 0`` (the update would lose positive definiteness).
    """
    inv_hessian, s, y = np.asarray(inv_hessian), np.asarray(s), np.asarray(y)
    sy = float(np.dot(s, y))
    if not sy > 0:
        raise ValueError(f"the BFGS update needs y^T s > 0 (curvature condition), got {sy!r}")
    rho = 1.0 / sy
    Hy = inv_hessian @ y
    H = (inv_hessian - rho * (np.outer(s, Hy) + np.outer(Hy, s))
         + (rho * rho * float(np.dot(y, Hy)) + rho) * np.outer(s, s))
    return (H + H.T) / 2


def lbfgs_direction(grad: ArrayLike, s_history: Sequence[ArrayLike],
                    y_history: Sequence[ArrayLike]) -> np.ndarray:
    """The L-BFGS direction ``-H g`` by the two-loop recursion (N&W Alg. 7.4).

    Parameters
    ----------
    grad : array_like
        Current gradient.
    s_history, y_history : sequences of array_like
        The last ``m`` steps ``s_k = x_{k+1} - x_k`` and gradient changes ``y_k = g_{k+1} - g_k``,
        oldest first, each with ``y^T s > 0``.

    Returns
    -------
    numpy.ndarray
        ``-H g`` where ``H`` is the BFGS matrix built from the pairs, starting from
        ``H0 = gamma I``, ``gamma = s^T y / y^T y`` of the newest pair (N&W eq. 7.20); ``-g`` with
        no pairs.  Costs ``4 m n`` multiplications and no ``n x n`` matrix.

    Raises
    ------
    ValueError
        If the histories differ in length.
    """
    q = np.array(grad, copy=True)
    if len(s_history) != len(y_history):
        raise ValueError("s_history and y_history must have the same length")
    s_history = [np.asarray(s) for s in s_history]
    y_history = [np.asarray(y) for y in y_history]
    rhos = [1.0 / float(np.dot(y, s)) for s, y in zip(s_history, y_history)]
    alphas = []
    for s, y, rho in zip(reversed(s_history), reversed(y_history), reversed(rhos)):
        a = rho * float(np.dot(s, q))
        alphas.append(a)
        q = q - a * y
    if s_history:
        s, y = s_history[-1], y_history[-1]
        q = q * (float(np.dot(s, y)) / float(np.dot(y, y)))
    for s, y, rho, a in zip(s_history, y_history, rhos, reversed(alphas)):
        b = rho * float(np.dot(y, q))
        q = q + (a - b) * s
    return -q

