"""Chapter 2c (poor conditioning): what a condition number does to a solve and to descent.

The circle a matrix maps to an ellipse (:func:`circle_to_ellipse`), the measured amplification of
perturbations against kappa (:func:`amplification_sweep`), Hilbert matrices and their exact
inverses (:func:`hilbert_study`), LU solve against the explicit inverse (:func:`solve_vs_inverse`,
also chapter 6's), and gradient descent against Newton on an ill-conditioned quadratic
(:func:`descend_quadratic`, :func:`descent_iterations`).  :func:`loglog_slope` fits the power
laws these show (chapter 5b fits its error curves with it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
from numpy.typing import ArrayLike

from numdl.linalg import condition_number, hilbert, matrix_with_condition
from numdl.tutorial.simulations._common import check_rng

__all__ = [
    "AmplificationSweep",
    "DescentRun",
    "EllipseMap",
    "HilbertRow",
    "SolveVsInverse",
    "amplification_sweep",
    "circle_to_ellipse",
    "descend_quadratic",
    "descent_iterations",
    "hilbert_study",
    "loglog_slope",
    "quadratic_hessian",
    "solve_vs_inverse",
]


def _rotation(degrees: float) -> np.ndarray:
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _check_kappa(kappa: float) -> float:
    if not (np.isfinite(kappa) and kappa >= 1):
        raise ValueError(f"kappa={kappa!r} must be finite and >= 1")
    return float(kappa)


@dataclass(frozen=True)
class EllipseMap:
    """A 2x2 matrix, the unit circle and its image, and the SVD that explains the image."""

    matrix: np.ndarray  # (2, 2)
    circle: np.ndarray  # (2, k) points of the unit circle
    ellipse: np.ndarray  # (2, k) their images matrix @ circle
    u: np.ndarray  # (2, 2) left singular vectors, as columns: the ellipse's axes
    sigma: np.ndarray  # (2,) singular values, largest first: the semi-axes' lengths
    v: np.ndarray  # (2, 2) right singular vectors, as columns: the circle points mapped onto the axes

    @property
    def kappa(self) -> float:
        return float(self.sigma[0] / self.sigma[1])


def circle_to_ellipse(kappa: float, angle: float = 30.0, points: int = 361) -> EllipseMap:
    """``A = R(angle) diag(1, 1/kappa) R(angle - 75 deg)^T`` applied to the unit circle.

    Every matrix maps the unit circle to an ellipse: the right singular vector
    ``v_i`` lands on the semi-axis ``sigma_i u_i``.  The ratio of the longest to
    the shortest semi-axis is the condition number; the SVD is recomputed from
    the matrix (not read off the construction) so the figure shows what NumPy
    finds.
    """
    kappa = _check_kappa(kappa)
    if points < 3:
        raise ValueError(f"points={points!r} must be at least 3")
    a = _rotation(angle) @ np.diag([1.0, 1.0 / kappa]) @ _rotation(angle - 75.0).T
    t = np.linspace(0.0, 2.0 * np.pi, points)
    circle = np.vstack([np.cos(t), np.sin(t)])
    u, s, vt = np.linalg.svd(a)
    # Sign convention for the figure: each v_i points into the upper half-plane (u_i follows).
    flip = np.where(vt[:, 1] < 0, -1.0, 1.0)
    return EllipseMap(a, circle, a @ circle, u * flip, s, (vt * flip[:, None]).T)


@dataclass(frozen=True)
class AmplificationSweep:
    """Measured amplification ``(|dx|/|x|) / (|db|/|b|)`` of random perturbations of b."""

    kappas: np.ndarray  # (K,) requested condition numbers
    condition: np.ndarray  # (K,) condition numbers of the matrices as built
    amplification: np.ndarray  # (K, trials)
    rel_perturbation: float
    worst_case_x: bool


def amplification_sweep(kappas: ArrayLike, rel_perturbation: float = 1e-10, trials: int = 200, *,
                        worst_case_x: bool = False, n: int = 2,
                        rng: np.random.Generator) -> AmplificationSweep:
    """Solve ``A x = b`` and ``A x' = b + db`` for random ``db`` of relative size ``rel_perturbation``.

    For each ``kappa`` a random ``n x n`` matrix with that condition number is
    built (:func:`numdl.linalg.matrix_with_condition`).  The relative change of
    x is at most ``kappa`` times the relative change of b; the bound is attained
    when x lies along the top right singular vector ``v_1`` (so ``|b| = sigma_1
    |x|`` is as large as possible) and db along the bottom left one ``u_n``.
    With ``worst_case_x`` x is ``v_1``, otherwise a random vector.  Both solves
    are real float64 solves, so for ``rel_perturbation`` near the unit roundoff
    their own rounding errors (also amplified by up to kappa) join the
    measurement.  ``rng`` draws the matrices, x and the perturbations.
    """
    if not rel_perturbation > 0:
        raise ValueError(f"rel_perturbation={rel_perturbation!r} must be positive")
    if trials < 1:
        raise ValueError(f"trials={trials!r} must be positive")
    check_rng(rng)
    kappas = np.asarray(kappas, dtype=np.float64)
    amp = np.empty((kappas.size, trials))
    cond = np.empty(kappas.size)
    for i, kappa in enumerate(kappas):
        a = matrix_with_condition(n, n, float(_check_kappa(kappa)), rng=rng)
        cond[i] = condition_number(a)
        x = np.linalg.svd(a)[2][0] if worst_case_x else rng.standard_normal(n)
        b = a @ x
        x0 = np.linalg.solve(a, b)
        db = rng.standard_normal((trials, n))  # (T, n) random directions
        db *= rel_perturbation * np.linalg.norm(b) / np.linalg.norm(db, axis=1, keepdims=True)
        x1 = np.linalg.solve(a, (b + db).T).T  # (T, n): one solve per perturbed b
        rel_x = np.linalg.norm(x1 - x0, axis=1) / np.linalg.norm(x0)
        amp[i] = rel_x / (np.linalg.norm(db, axis=1) / np.linalg.norm(b))
    return AmplificationSweep(kappas, cond, amp, float(rel_perturbation), bool(worst_case_x))


def _hilbert_inverse_exact(n: int) -> list[list[int]]:
    """The exact inverse of the n x n Hilbert matrix: integers (Choi 1983, eq. for (H^-1)_ij)."""
    return [[(-1) ** (i + j) * (i + j - 1) * comb(n + i - 1, n - j) * comb(n + j - 1, n - i)
             * comb(i + j - 2, i - 1) ** 2 for j in range(1, n + 1)] for i in range(1, n + 1)]


@dataclass(frozen=True)
class HilbertRow:
    """Solving ``H_n x = H_n @ ones`` in float64, by LU solve and by the explicit inverse."""

    n: int
    kappa_exact: float  # of the exact Hilbert matrix
    kappa_computed: float  # numdl.linalg.condition_number of the rounded matrix, in float64
    error_solve: float  # |x - 1| / |1|, x = solve(H, b)
    error_inv: float  # the same for x = inv(H) @ b
    backward_solve: float  # |b - H x| / (|H| |x|), normwise backward error
    backward_inv: float

    @property
    def digits_lost(self) -> float:
        return float(np.log10(self.kappa_exact))


def hilbert_study(ns: ArrayLike) -> list[HilbertRow]:
    """Condition numbers of Hilbert matrices and the accuracy of float64 solves with them.

    The exact condition number comes from the exact integer inverse:
    ``kappa = lambda_max(H) * lambda_max(H^-1)`` (H is symmetric positive
    definite), each largest eigenvalue computed in float64 to nearly full
    relative accuracy.  The computed condition number of the *rounded* matrix
    stops growing near ``1/u`` (n >= 13): its smallest singular value is lost in
    rounding noise of size ``u * |H|``.
    """
    rows = []
    for n in np.atleast_1d(np.asarray(ns)):
        n = int(n)
        h = hilbert(n)
        inv_exact = np.array(_hilbert_inverse_exact(n), dtype=np.float64)
        kappa = float(np.linalg.eigvalsh(h)[-1] * np.linalg.eigvalsh(inv_exact)[-1])
        ones = np.ones(n)
        b = h @ ones
        norm_h = np.linalg.norm(h, 2)
        with np.errstate(all="ignore"):
            x_solve = np.linalg.solve(h, b)
            x_inv = np.linalg.inv(h) @ b
        errs = [float(np.linalg.norm(x - ones) / np.linalg.norm(ones)) for x in (x_solve, x_inv)]
        back = [float(np.linalg.norm(b - h @ x) / (norm_h * np.linalg.norm(x))) for x in (x_solve, x_inv)]
        rows.append(HilbertRow(n, kappa, condition_number(h), errs[0], errs[1], back[0], back[1]))
    return rows


@dataclass(frozen=True)
class SolveVsInverse:
    """Forward and backward errors of ``solve(A, b)`` and ``inv(A) @ b`` against kappa."""

    kappas: np.ndarray  # (K,)
    error_solve: np.ndarray  # (K,) median relative forward error |x - x_true| / |x_true|
    error_inv: np.ndarray
    backward_solve: np.ndarray  # (K,) median |b - A x| / (|A| |x|)
    backward_inv: np.ndarray


def solve_vs_inverse(kappas: ArrayLike, n: int = 50, repeats: int = 3, *,
                     rng: np.random.Generator) -> SolveVsInverse:
    """Median errors of LU ``solve`` and of the explicit inverse over ``repeats`` random systems.

    Both solutions have a forward error up to about ``kappa * u`` (the
    conditioning of the problem allows no better).  The difference is the
    backward error: LU with partial pivoting returns the exact solution of a
    system within a few ``u`` of yours, whatever kappa; ``inv(A) @ b`` does not,
    its residual grows like ``kappa * u`` (Higham 2002, section 14.1).  ``rng``
    draws the matrices and the solutions.
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"n={n!r} and repeats={repeats!r} must be positive")
    check_rng(rng)
    kappas = np.asarray(kappas, dtype=np.float64)
    out = np.empty((4, kappas.size, repeats))
    for i, kappa in enumerate(kappas):
        for r in range(repeats):
            a = matrix_with_condition(n, n, float(_check_kappa(kappa)), rng=rng)
            x_true = rng.standard_normal(n)
            b = a @ x_true
            norm_a = np.linalg.norm(a, 2)
            for j, x in enumerate((np.linalg.solve(a, b), np.linalg.inv(a) @ b)):
                out[j, i, r] = np.linalg.norm(x - x_true) / np.linalg.norm(x_true)
                out[2 + j, i, r] = np.linalg.norm(b - a @ x) / (norm_a * np.linalg.norm(x))
    med = np.median(out, axis=2)
    return SolveVsInverse(kappas, med[0], med[1], med[2], med[3])


@dataclass(frozen=True)
class DescentRun:
    """Gradient descent (or Newton's method) on ``f(x) = x^T H x / 2`` from ``x0``."""

    kappa: float
    lr: float
    path: np.ndarray  # (steps + 1, 2) iterates, x0 first
    converged_at: int | None  # first k with |x_k| <= tol |x_0|, or None
    diverged: bool

    @property
    def hessian(self) -> np.ndarray:
        return quadratic_hessian(self.kappa)


def quadratic_hessian(kappa: float) -> np.ndarray:
    """The 2x2 Hessian with eigenvalues 1 and 1/kappa, its axes turned by 30 degrees."""
    kappa = _check_kappa(kappa)
    r = _rotation(30.0)
    return r @ np.diag([1.0, 1.0 / kappa]) @ r.T


def descend_quadratic(kappa: float, lr: float, steps: int = 200, *, tol: float = 1e-6,
                      newton: bool = False) -> DescentRun:
    """Run ``x <- x - lr * H x`` (or ``x <- x - lr * H^{-1} H x``, Newton) from ``x0 = (-2, 1.2)``.

    ``f(x) = x^T H x / 2`` has its minimum at 0 and Hessian H with eigenvalues
    ``L = 1`` and ``mu = 1/kappa``.  Along each eigenvector gradient descent
    multiplies the error by ``1 - lr * lambda``: it converges for ``0 < lr <
    2/L`` and at best (``lr = 2/(L + mu)``) shrinks the error by ``(kappa - 1) /
    (kappa + 1)`` per step, so it needs about ``kappa/2 * ln(1/tol)`` steps;
    Newton's step ``H^{-1} grad`` removes the curvature and lands on the
    minimum in one step (lr = 1).  Stops early once converged or diverged
    (``|x| > 1e6 |x0|``).
    """
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
    h = quadratic_hessian(kappa)
    x = np.array([-2.0, 1.2])
    norm0 = float(np.linalg.norm(x))
    path = [x]
    converged = None
    diverged = False
    for k in range(1, steps + 1):
        g = h @ x
        step = np.linalg.solve(h, g) if newton else g
        x = x - lr * step
        path.append(x)
        size = float(np.linalg.norm(x))
        if size <= tol * norm0:
            converged = k
            break
        if not np.isfinite(size) or size > 1e6 * norm0:
            diverged = True
            break
    return DescentRun(float(kappa), float(lr), np.array(path), converged, diverged)


def descent_iterations(kappas: ArrayLike, rule: str = "optimal", *, tol: float = 1e-6,
                       max_steps: int = 100_000) -> np.ndarray:
    """Steps gradient descent needs on :func:`quadratic_hessian` (kappa) to shrink |x| by ``tol``.

    ``rule``: ``"optimal"`` (lr = 2/(L + mu)), ``"1/L"`` (lr = 1/L, the usual
    safe choice) or ``"newton"``.  All kappas run together as one batch of
    2-vectors, each iteration a plain gradient step; a kappa that does not
    converge within ``max_steps`` gets NaN.  Returns shape ``(K,)``.
    """
    rules = ("optimal", "1/L", "newton")
    if rule not in rules:
        raise ValueError(f"rule={rule!r}; choose one of {', '.join(rules)}")
    kappas = np.asarray(kappas, dtype=np.float64)
    if kappas.ndim != 1 or not np.all(np.isfinite(kappas) & (kappas >= 1)):
        raise ValueError("kappas must be a 1-D array of finite values >= 1")
    h = np.stack([quadratic_hessian(k) for k in kappas])  # (K, 2, 2)
    lr = {"optimal": 2.0 / (1.0 + 1.0 / kappas), "1/L": np.ones_like(kappas),
          "newton": np.ones_like(kappas)}[rule]
    x = np.tile([-2.0, 1.2], (kappas.size, 1))  # (K, 2)
    norm0 = np.linalg.norm(x[0])
    steps = np.full(kappas.size, np.nan)
    active = np.ones(kappas.size, dtype=bool)
    for k in range(1, max_steps + 1):
        g = np.einsum("kij,kj->ki", h[active], x[active])  # (K_active, 2) gradients H x
        if rule == "newton":
            g = np.linalg.solve(h[active], g[..., None])[..., 0]
        x[active] -= lr[active, None] * g
        done = active & (np.linalg.norm(x, axis=1) <= tol * norm0)
        steps[done] = k
        active &= ~done
        if not active.any():
            break
    return steps


def loglog_slope(x: ArrayLike, y: ArrayLike, *, lo: float = 0.0, hi: float = np.inf) -> float:
    """Least-squares slope of ``log10 y`` against ``log10 x`` over the points with ``lo <= y <= hi``.

    Points with a non-finite or non-positive ``y`` are left out; NaN if fewer
    than three points remain (no slope worth quoting).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(y) & (y > 0) & (y >= lo) & (y <= hi) & (x > 0)
    if keep.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log10(x[keep]), np.log10(y[keep]), 1)[0])
