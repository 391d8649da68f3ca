"""Chapter 5b (linear least squares): the forward error of every solver against kappa.

:func:`lstsq_sweep` solves :func:`numdl.linalg.least_squares_problem` at each condition number by
each method of :func:`numdl.linalg.lstsq` (normal equations lose twice the digits QR and the SVD
lose); :func:`collinear_problem` builds the numerically rank-deficient design that ``rcond``
rescues; :func:`qr_inverse_vs_triangular` finishes a QR solve by an explicit inverse or by back
substitution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, DTypeLike

from numdl.linalg import LSTSQ_METHODS, least_squares_problem, lstsq
from numdl.tutorial.simulations._common import check_rng, sim_dtype
from numdl.tutorial.simulations.ch02c import loglog_slope

__all__ = [
    "TRIANGULAR_VARIANTS",
    "LstsqSweep",
    "TriangularStudy",
    "collinear_problem",
    "lstsq_sweep",
    "qr_inverse_vs_triangular",
]


@dataclass(frozen=True)
class LstsqSweep:
    """Forward error of every :func:`numdl.linalg.lstsq` method against kappa."""

    dtype: str
    kappas: np.ndarray  # (K,) requested
    realized: np.ndarray  # (K,) median condition number of the stored X (float32 rounding moves it)
    errors: dict[str, np.ndarray]  # method -> (K,) median |x - x_true| / |x_true| (NaN: failed)
    statuses: dict[str, list[str]]  # method -> list of K statuses (the worst over the repeats)
    truncated: dict[str, np.ndarray]  # method -> (K,) bool: a singular value was cut (rcond)
    unit_roundoff: float

    def slope(self, method: str, *, lo_ulps: float = 100.0, hi: float = 0.1) -> float:
        """Fitted log-log slope of ``method``'s error against kappa, from ``lo_ulps * u`` up to
        ``hi``, leaving out truncated solves (their error is that of another problem)."""
        keep = ~self.truncated[method]
        return loglog_slope(self.realized[keep], self.errors[method][keep],
                            lo=lo_ulps * self.unit_roundoff, hi=hi)


_STATUS_RANK = {"success": 0, "ill_conditioned": 1, "rank_deficient": 2, "failed": 3}


def lstsq_sweep(kappas: ArrayLike, dtype: DTypeLike = "float64", *, m: int = 100, n: int = 10,
                tan_theta: float = 0.0, repeats: int = 3, methods: Sequence[str] | None = None,
                rng: np.random.Generator) -> LstsqSweep:
    """Solve :func:`numdl.linalg.least_squares_problem` at each kappa by each method; median of ``repeats``.

    ``rng`` draws the problems, one stream through the whole sweep.  A failed solve (Cholesky
    breaking down) counts as an infinite error in the median, so the median is NaN-free only
    where most repeats succeeded; its entry is then NaN.
    """
    dt = sim_dtype(dtype)
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r} must be positive")
    check_rng(rng)
    methods = tuple(methods or LSTSQ_METHODS)
    unknown = [mth for mth in methods if mth not in LSTSQ_METHODS]
    if unknown:
        raise ValueError(f"methods={unknown!r}; choose from {', '.join(LSTSQ_METHODS)}")
    kappas = np.asarray(kappas, dtype=np.float64)
    errs = {mth: np.empty((kappas.size, repeats)) for mth in methods}
    stats = {mth: [] for mth in methods}
    cut = {mth: np.zeros(kappas.size, dtype=bool) for mth in methods}
    realized = np.empty((kappas.size, repeats))
    u = 0.0
    for i, kappa in enumerate(kappas):
        worst = dict.fromkeys(methods, "success")
        for r in range(repeats):
            x, y, x_true = least_squares_problem(m, n, float(kappa), tan_theta=tan_theta,
                                                 dtype=dtype, rng=rng)
            for mth in methods:
                sol, diag = lstsq(x, y, method=mth)
                u = diag.unit_roundoff
                realized[i, r] = diag.kappa_estimate
                err = np.linalg.norm(sol.astype(np.float64) - x_true) / np.linalg.norm(x_true)
                errs[mth][i, r] = err if np.isfinite(err) else np.inf
                cut[mth][i] |= diag.truncated > 0
                if _STATUS_RANK[diag.status] > _STATUS_RANK[worst[mth]]:
                    worst[mth] = diag.status
        for mth in methods:
            stats[mth].append(worst[mth])
    med = {mth: np.median(e, axis=1) for mth, e in errs.items()}
    med = {mth: np.where(np.isfinite(e), e, np.nan) for mth, e in med.items()}
    return LstsqSweep(dt.name, kappas, np.median(realized, axis=1), med, stats, cut, u)


def collinear_problem(m: int = 40, noise: float = 1e-12, *,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Features ``a``, ``b`` and ``c = a + b + noise * e``: X is numerically rank 2 of 3.

    ``y = a + 2 b`` plus a small measurement error (1e-3); ``rng`` draws a, b, e and the error.
    The third singular value of X is about ``noise`` (times ``sqrt(m)``); a solver that keeps it
    must use huge, cancelling coefficients ``(1 - t, 2 - t, t)`` to fit the
    measurement error along ``e``, a truncating one (singular values below
    ``rcond * sigma_max`` dropped) returns the small minimum-norm solution.
    Returns ``(X, y)`` in float64, shapes ``(m, 3)`` and ``(m,)``.
    """
    if not noise >= 0:
        raise ValueError(f"noise={noise!r} must be >= 0")
    check_rng(rng)
    a = rng.standard_normal(m)
    b = rng.standard_normal(m)
    c = a + b + noise * rng.standard_normal(m)
    x = np.column_stack([a, b, c])  # (m, 3)
    y = a + 2.0 * b + 1e-3 * rng.standard_normal(m)
    return x, y


TRIANGULAR_VARIANTS = ("inv(R) @ Q.T @ y", "inv(R) @ (Q.T @ y)", "solve_triangular(R, Q.T @ y)")


@dataclass(frozen=True)
class TriangularStudy:
    """The last step of a QR least-squares solve done three ways (see :data:`TRIANGULAR_VARIANTS`)."""

    kappas: np.ndarray  # (K,)
    errors: dict[str, np.ndarray]  # variant -> (K,) median |x - x_true| / |x_true|
    backward: dict[str, np.ndarray]  # variant -> (K,) median |c - R x| / (|R| |x|), c = Q^T y


def qr_inverse_vs_triangular(kappas: ArrayLike, dtype: DTypeLike = "float64", *, m: int = 100,
                             n: int = 10, repeats: int = 5,
                             rng: np.random.Generator) -> TriangularStudy:
    """``x`` from ``X = QR`` by the explicit inverse of R, or by back substitution.

    ``inv(R) @ Q.T @ y`` evaluates left to right: it forms ``inv(R) @ Q.T``, an
    explicit ``n x m`` pseudo-inverse of X, before touching y.  ``inv(R) @ (Q.T
    @ y)`` inverts only R.  Back substitution (``solve_triangular``) is backward
    stable: the computed x solves ``(R + dR) x = c`` with ``|dR| <= n u |R|``
    (Higham 2002, theorem 8.5), whatever kappa, and costs ``n**2`` flops against
    the ``n**3`` of an inverse.  The backward error is measured as the residual
    of ``R x = c`` relative to ``|R| |x|``, in float64.  ``rng`` draws the problems.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r} must be positive")
    check_rng(rng)
    kappas = np.asarray(kappas, dtype=np.float64)
    errs = np.empty((3, kappas.size, repeats))
    back = np.empty((3, kappas.size, repeats))
    for i, kappa in enumerate(kappas):
        for r in range(repeats):
            x, y, x_true = least_squares_problem(m, n, float(kappa), dtype=dtype, rng=rng)
            q, rr = np.linalg.qr(x)
            c = q.T @ y
            r64, c64 = rr.astype(np.float64), c.astype(np.float64)
            norm_r = np.linalg.norm(r64, 2)
            sols = (np.linalg.inv(rr) @ q.T @ y, np.linalg.inv(rr) @ c,
                    scipy.linalg.solve_triangular(rr, c))
            for j, sol in enumerate(sols):
                s64 = sol.astype(np.float64)
                errs[j, i, r] = np.linalg.norm(s64 - x_true) / np.linalg.norm(x_true)
                back[j, i, r] = np.linalg.norm(c64 - r64 @ s64) / (norm_r * np.linalg.norm(s64))
    return TriangularStudy(
        kappas,
        {v: np.median(errs[j], axis=1) for j, v in enumerate(TRIANGULAR_VARIANTS)},
        {v: np.median(back[j], axis=1) for j, v in enumerate(TRIANGULAR_VARIANTS)},
    )
