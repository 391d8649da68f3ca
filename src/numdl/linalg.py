"""Conditioning and least squares: how much accuracy a linear problem allows, and which solvers keep it.

A linear least-squares problem ``min_x ||y - X x||_2`` with ``X`` of shape ``(m, n)`` has condition
number ``kappa = sigma_max / sigma_min`` (the ratio of ``X``'s extreme singular values).  A
backward-stable solver (Householder QR, the SVD, LAPACK's ``gelsd``) returns the exact solution of a
problem whose data moved by a few units of roundoff ``u``, so its relative forward error is about

    u * (kappa + kappa**2 * tan(theta)),        sin(theta) = ||r|| / ||y||,  r = y - X x,

where ``theta`` is the angle between ``y`` and the range of ``X``: ``kappa * u`` for a consistent
problem (``r = 0``).  The normal equations ``X^T X x = X^T y`` square the condition number before
solving anything -- forming ``X^T X`` in floating point already loses ``kappa(X^T X) u = kappa**2 u``
-- so they lose twice as many digits whatever the residual, and Cholesky breaks down once
``kappa**2 u`` approaches 1 (``kappa ~ 1e8`` in float64, ``kappa ~ 3e3`` in float32).

:func:`lstsq` offers six methods side by side and reports, with every solution, the rank it found,
``kappa``, the residual and the error bound theory predicts; :func:`matrix_with_condition` makes test
matrices of a chosen ``kappa``; :func:`hilbert` and :func:`vandermonde` are the classic
ill-conditioned families.

References
----------
.. [1] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002, ch. 7
       (conditioning), ch. 19 (QR) and ch. 20 (least squares: normal equations vs QR).
.. [2] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., Johns Hopkins, 2013,
       section 5.3 (theorem 5.3.1: the ``kappa + kappa**2 tan(theta)`` sensitivity) and 5.3.7.
.. [3] L. N. Trefethen and D. Bau, *Numerical Linear Algebra*, SIAM, 1997, lectures 11, 18 and 19.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

__all__ = [
    "LSTSQ_METHODS",
    "LSTSQ_STATUS",
    "LstsqBreakdown",
    "LstsqDiagnostics",
    "condition_number",
    "hilbert",
    "least_squares_problem",
    "lstsq",
    "matrix_with_condition",
    "solve_cholesky",
    "solve_lapack",
    "solve_normal_inv",
    "solve_normal_solve",
    "solve_qr",
    "solve_svd",
    "vandermonde",
]

# Methods whose solution goes through X^T X (error ~ kappa**2 u) and backward-stable ones (~ kappa u).
_NORMAL_METHODS = ("normal_inv", "normal_solve", "cholesky")
_STABLE_METHODS = ("qr", "svd", "lapack")
LSTSQ_METHODS: tuple[str, ...] = _NORMAL_METHODS + _STABLE_METHODS
"""Names accepted by :func:`lstsq`'s ``method``."""

LSTSQ_STATUS: dict[str, str] = {
    "success": "solved; X has full rank min(m, n) at the rank tolerance rcond * sigma_max",
    "rank_deficient": (
        "X is rank deficient at the rank tolerance (rank {rank} < min(m, n) = {k})"
    ),
    "ill_conditioned": (
        "solved, but the predicted forward error {bound:.1e} is >= 1: no correct digit is expected"
    ),
    "failed": "the method broke down; the solution is filled with NaN",
}
"""The statuses of :class:`LstsqDiagnostics`, with the template of the first line of its message."""

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_2d(A: Any, argname: str) -> np.ndarray:
    arr = np.asarray(A)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{argname} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{argname} must be a 2-D matrix, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{argname} must not be empty, got shape {arr.shape}")
    return arr


def _float_dtype(*arrays: np.ndarray, argnames: str) -> np.dtype:
    """float32 or float64: the computation dtype of ``np.result_type`` (integers and bools -> float64)."""
    dtype = np.result_type(*(a.dtype if a.dtype.kind == "f" else np.float64 for a in arrays))
    if dtype not in _SUPPORTED_DTYPES:
        raise TypeError(
            f"{argnames} must be float32 or float64 (or integers, taken as float64); got dtype "
            f"{dtype}: LAPACK has no {dtype} routines, convert explicitly"
        )
    return dtype


# ---------------------------------------------------------------------------------------------
# Condition numbers and test matrices
# ---------------------------------------------------------------------------------------------

_NORM_ORDERS = (None, 1, -1, 2, -2, math.inf, -math.inf, "fro")


def condition_number(A: Any, p: Any = 2) -> float:
    """Condition number of a matrix, ``||A||_p ||A^{-1}||_p`` (``sigma_max / sigma_min`` for p = 2).

    Parameters
    ----------
    A : array_like, shape (m, n)
        Real matrix (float32, float64 or integers).  Rectangular only for ``p`` in ``(2, -2,
        None)``.
    p : {2, None, -2, 1, -1, inf, -inf, 'fro'}
        Norm order, as in :func:`numpy.linalg.cond`: 2 (or None) gives ``sigma_max / sigma_min`` over
        the ``min(m, n)`` singular values, -2 its reciprocal; 1, -1, inf, -inf and ``'fro'`` use
        :func:`numpy.linalg.norm` of ``A`` and of ``inv(A)`` (square ``A`` only).

    Returns
    -------
    float
        The condition number, ``>= 1`` (except for p = -2); ``inf`` for a singular matrix.

    Raises
    ------
    TypeError
        If `A` is not a real numeric array.
    ValueError
        If `A` is not a non-empty 2-D matrix, if `p` is not one of the orders above, or if `p` needs
        a square matrix and `A` is not square.

    Notes
    -----
    The computation runs in float64 whatever `A`'s dtype (float32 entries convert exactly), so the
    result is the condition number of the matrix *as stored*: a float32 matrix built for
    ``kappa = 1e9`` has its own, different, realized condition number, and this function measures
    that one (with a relative error of about ``kappa * 1e-16`` in ``sigma_min``).

    Special values: ``inf`` when the matrix is singular (0 for p = -2) -- for p = 2, when the
    smallest computed singular value is exactly 0 (the zero matrix included); for the other orders, when LU factorization meets an exact zero
    pivot.  A matrix that is singular in exact arithmetic but whose rounding leaves a tiny nonzero
    ``sigma_min`` gets a huge finite value instead (``[[1, 2], [2, 4]]`` gives about ``2.5e16`` for
    p = 2, as with :func:`numpy.linalg.cond`): compare the result with ``1 / eps`` of the dtype you
    compute in.  A matrix containing NaN or inf gives NaN.

    References
    ----------
    .. [1] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002,
           sections 6.1 and 7.1.

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.linalg import condition_number, hilbert
    >>> float(condition_number(np.diag([1.0, 1e-3])))
    1000.0
    >>> f"{condition_number(hilbert(5)):.4e}"
    '4.7661e+05'
    >>> condition_number([[1.0, 1.0], [1.0, 1.0]], p=1)
    inf
    """
    arr = _check_2d(A, "A")
    if not (p is None or (isinstance(p, str) and p == "fro") or (
        not isinstance(p, bool | str) and isinstance(p, numbers.Real) and p in _NORM_ORDERS[1:-1]
    )):
        raise ValueError(
            f"p={p!r} is not a supported norm order; use one of 2, -2, 1, -1, inf, -inf, 'fro' "
            "(or None for 2)"
        )
    a64 = arr.astype(np.float64)
    if not np.isfinite(a64).all():
        return math.nan
    if p is None or p in (2, -2):
        s = np.linalg.svd(a64, compute_uv=False)
        if s[-1] == 0:  # singular (the zero matrix included)
            return 0.0 if p == -2 else math.inf
        return float(s[0] / s[-1] if p != -2 else s[-1] / s[0])
    m, n = arr.shape
    if m != n:
        raise ValueError(
            f"p={p!r} needs a square matrix (only p=2 and p=-2 handle rectangular ones); A has "
            f"shape {arr.shape}"
        )
    try:
        inv = np.linalg.inv(a64)
    except np.linalg.LinAlgError:
        return math.inf
    value = float(np.linalg.norm(a64, p) * np.linalg.norm(inv, p))
    return value if math.isfinite(value) else math.inf


def _check_int(value: Any, argname: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argname} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{argname} must be >= {minimum}, got {value}")
    return int(value)


def _random_orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """``rows x cols`` with orthonormal columns, Haar-distributed: Q of a Gaussian matrix's QR with
    the signs of R's diagonal moved into Q (without that fix the distribution is not uniform)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1
    return q * signs


def matrix_with_condition(
    m: int, n: int, kappa: float, *, rng: np.random.Generator, dtype: Any = np.float64
) -> np.ndarray:
    """A random ``m x n`` matrix with prescribed singular values ``1 = sigma_1 > ... > sigma_k = 1/kappa``.

    Parameters
    ----------
    m, n : int
        Shape, both ``>= 1``.
    kappa : float
        The 2-norm condition number, finite and ``>= 1``.  Must be 1 when ``min(m, n) == 1`` (a
        single singular value has ratio 1).
    rng : numpy.random.Generator
        Source of the random orthogonal factors.
    dtype : {float64, float32} dtype-like
        dtype of the result.

    Returns
    -------
    numpy.ndarray, shape (m, n), of `dtype`
        ``U diag(sigma) V^T`` with ``k = min(m, n)`` singular values spaced geometrically from 1 down
        to ``1/kappa``, and ``U`` (``m x k``), ``V`` (``n x k``) Haar-random with orthonormal
        columns.

    Raises
    ------
    TypeError
        If `m` or `n` is not an integer, `rng` not a Generator, or `dtype` not float32/float64.
    ValueError
        If `m` or `n` is below 1 or `kappa` is not finite and ``>= 1``.

    Notes
    -----
    The product is formed in float64 and rounded once to `dtype`.  The rounding perturbs every entry
    by up to ``u |a_ij|``, so the singular values of the returned matrix move by up to about
    ``u * sqrt(mn)`` (Weyl's inequality) and the *realized* condition number differs from `kappa`:
    slightly (relative change about ``kappa * u * sqrt(mn)``) while that is small, completely once
    ``kappa`` approaches ``1/u`` -- a float32 matrix asked for ``kappa = 1e12`` has a realized
    condition number near ``1/u ~ 1e7``, and a float64 one asked for ``1e17`` may be far from it
    too.  Measure the stored matrix with :func:`condition_number`.  The orthogonal factors come from
    the QR factorization of Gaussian matrices with the sign fix of Mezzadri [1]_.

    References
    ----------
    .. [1] F. Mezzadri, "How to generate random matrices from the classical compact groups",
           Notices of the AMS 54(5), 2007.
    .. [2] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002,
           section 28.3 (``randsvd``).

    Examples
    --------
    >>> import numpy as np
    >>> from numdl.linalg import condition_number, matrix_with_condition
    >>> A = matrix_with_condition(50, 10, 1e6, rng=np.random.default_rng(0))
    >>> f"{condition_number(A):.6e}"
    '1.000000e+06'
    """
    m = _check_int(m, "m", 1)
    n = _check_int(n, "n", 1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(kappa, bool) or not isinstance(kappa, numbers.Real):
        raise TypeError(f"kappa must be a real number, got {kappa!r}")
    if not (math.isfinite(kappa) and kappa >= 1):
        raise ValueError(f"kappa must be finite and >= 1, got {kappa!r}")
    out_dtype = np.dtype(dtype) if not isinstance(dtype, str) else np.dtype(dtype.lower())
    if out_dtype not in _SUPPORTED_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    k = min(m, n)
    if k == 1 and kappa != 1:
        raise ValueError(
            f"kappa={kappa!r} is impossible for shape ({m}, {n}): one singular value has "
            "condition number 1"
        )
    sigma = np.geomspace(1.0, 1.0 / float(kappa), k)
    u = _random_orthonormal(rng, m, k)
    v = _random_orthonormal(rng, n, k)
    return ((u * sigma) @ v.T).astype(out_dtype)



def least_squares_problem(
    m: int, n: int, kappa: float, *, tan_theta: float = 0.0, dtype: Any = np.float64,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A test problem ``(X, y, x_true)`` with ``kappa(X) = kappa`` and ``x_true`` its least-squares
    solution.

    ``y = X x_true + r`` with ``r`` orthogonal to the range of X and ``|r| =
    tan_theta * |X x_true|`` (``tan_theta = 0``: a consistent problem; ``theta`` is the angle
    between ``y`` and the range of ``X``).  X comes from :func:`matrix_with_condition`.  X and y
    are rounded to `dtype` once, so x_true solves the *stored* problem only to within about
    ``kappa * u`` (plus ``kappa**2 * u * tan_theta``): the error every method starts from
    (Higham, *Accuracy and Stability*, section 20.1).

    Raises
    ------
    TypeError
        If `dtype` is not float32 or float64, or an argument of :func:`matrix_with_condition` is
        of the wrong type.
    ValueError
        If `tan_theta` is negative or NaN, or `kappa`, `m`, `n` are out of range.
    """
    if isinstance(tan_theta, bool) or not isinstance(tan_theta, numbers.Real):
        raise TypeError(f"tan_theta must be a real number, got {tan_theta!r}")
    if not (math.isfinite(tan_theta) and tan_theta >= 0):
        raise ValueError(f"tan_theta={tan_theta!r} must be finite and >= 0")
    out_dtype = np.dtype(dtype) if not isinstance(dtype, str) else np.dtype(dtype.lower())
    if out_dtype not in _SUPPORTED_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    x = matrix_with_condition(m, n, kappa, rng=rng)  # float64
    x_true = rng.standard_normal(x.shape[1])
    fitted = x @ x_true
    y = fitted
    if tan_theta > 0:
        q = np.linalg.qr(x)[0]
        z = rng.standard_normal(x.shape[0])
        r = z - q @ (q.T @ z)  # orthogonal to range(X)
        y = fitted + tan_theta * np.linalg.norm(fitted) * r / np.linalg.norm(r)
    return x.astype(out_dtype), y.astype(out_dtype), x_true


def hilbert(n: int, *, dtype: Any = np.float64) -> np.ndarray:
    """The ``n x n`` Hilbert matrix ``H_ij = 1 / (i + j + 1)`` (0-based), rounded to `dtype`.

    Parameters
    ----------
    n : int
        Order, ``>= 1``.
    dtype : {float64, float32} dtype-like

    Returns
    -------
    numpy.ndarray, shape (n, n)

    Raises
    ------
    TypeError, ValueError
        For a non-integer `n` or one below 1, or an unsupported `dtype`.

    Notes
    -----
    The classic ill-conditioned matrix: symmetric positive definite, with ``kappa_2(H_n)`` growing
    like ``e^{3.5 n}`` -- about ``1.5e4`` for n = 4, ``4.8e5`` for n = 5, ``1.6e13`` for n = 10.  Its
    entries (1/3, 1/5, ...) are not binary fractions, so the returned matrix is the rounded Hilbert
    matrix: once ``kappa u`` nears 1 (n >= 12 in float64, n >= 6 in float32) its condition number and
    inverse differ greatly from the exact ones.  Each entry is correctly rounded (one division).

    References
    ----------
    .. [1] M.-D. Choi, "Tricks or treats with the Hilbert matrix", Amer. Math. Monthly 90(5), 1983.
    """
    n = _check_int(n, "n", 1)
    out_dtype = np.dtype(dtype) if not isinstance(dtype, str) else np.dtype(dtype.lower())
    if out_dtype not in _SUPPORTED_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    i = np.arange(n)
    # 1/(i+j+1) in float64 is correctly rounded; a second rounding to float32 could differ from the
    # correctly rounded float32 value only on exact ties, which 1/k for k < 2**24 never produces.
    return (1.0 / (i[:, None] + i[None, :] + 1.0)).astype(out_dtype)


def vandermonde(x: Any, n: int | None = None) -> np.ndarray:
    """Vandermonde matrix with *increasing* powers, ``V[i, j] = x_i ** j``, j = 0 .. n-1.

    Parameters
    ----------
    x : array_like, shape (m,)
        Nodes; float32 stays float32, integers become float64.
    n : int, optional
        Number of columns (polynomial degree + 1); default ``len(x)`` (square).

    Returns
    -------
    numpy.ndarray, shape (m, n)
        ``V @ c`` evaluates the polynomial ``sum_j c_j x**j`` at the nodes, so ``lstsq(V, y)`` fits a
        polynomial of degree ``n - 1``.

    Raises
    ------
    TypeError, ValueError
        If `x` is not a non-empty 1-D real array, or `n` is not an integer ``>= 1``.

    Notes
    -----
    :func:`numpy.vander` uses *decreasing* powers by default; this is
    ``numpy.vander(x, n, increasing=True)`` (and :func:`numpy.polynomial.polynomial.polyvander`).
    With equispaced nodes in [0, 1] the condition number grows exponentially in n (about ``1e7`` for
    n = 8 and 20 nodes), the textbook example of an ill-conditioned least-squares fit; Chebyshev
    nodes and an orthogonal basis keep it small.  Powers are computed by repeated multiplication in
    the input dtype (each column one rounding from the previous one).

    References
    ----------
    .. [1] W. Gautschi, "How (un)stable are Vandermonde systems?", in *Asymptotic and Computational
           Analysis*, Dekker, 1990.
    """
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"x must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    n = arr.size if n is None else _check_int(n, "n", 1)
    # Not np.vander: it promotes float32 to float64.
    out = np.empty((arr.size, n), dtype=arr.dtype)
    out[:, 0] = 1
    for j in range(1, n):
        out[:, j] = out[:, j - 1] * arr
    return out


# ---------------------------------------------------------------------------------------------
# Least squares
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LstsqDiagnostics:
    """What :func:`lstsq` found out while solving; see its Notes for the bound.

    Attributes
    ----------
    method : str
        The method used, one of :data:`LSTSQ_METHODS`.
    status : str
        One of :data:`LSTSQ_STATUS`, by precedence: ``"failed"`` (breakdown, NaN returned),
        ``"rank_deficient"`` (rank below ``min(m, n)`` at `rcond`), ``"ill_conditioned"`` (full rank,
        but ``forward_error_bound >= 1``: expect no correct digit) or ``"success"``.
    message : str
        A sentence saying what happened and, when something went wrong, what to do.
    success : bool
        ``status != "failed"``: a finite solution was returned.  Read `status` for its quality (a
        rank-deficient solve from "svd"/"lapack" is the minimum-norm solution of the truncated
        problem, a meaningful answer; an ill-conditioned one may have no correct digit).
    dtype : str
        The computation dtype, ``"float32"`` or ``"float64"``.
    rank : int
        Effective rank: for "svd" and "lapack" the number of singular values the solver kept; for
        the other methods the numerical rank of ``X``, the number of singular values of ``X``
        (computed in float64) above ``rcond * sigma_max``.
    rank_deficient : bool
        ``rank < min(m, n)``.
    rcond : float
        The relative rank tolerance used.
    truncated : int
        Number of singular values the solver set to zero because they were ``<= rcond *
        sigma_max`` ("svd" and "lapack" only; the other methods never truncate, so 0).
    kappa_estimate : float
        ``sigma_max / sigma_min`` of ``X`` as stored, from its singular values computed in float64
        (inf if ``sigma_min`` is 0); see :func:`condition_number`.
    residual_norm : float or numpy.ndarray
        ``||y - X x||_2`` of the returned solution, computed in float64; one value per column of a
        2-D `y` (shape ``(k,)``).  NaN when the solve failed.
    tan_theta : float or numpy.ndarray
        ``||r|| / ||X x||``, the tangent of the angle between ``y`` and the range of ``X`` (0 for a
        consistent problem, inf for ``y`` orthogonal to the range); per column like
        `residual_norm`.
    forward_error_bound : float or numpy.ndarray
        The relative forward error ``||x - x_exact|| / ||x_exact||`` theory predicts (see
        :func:`lstsq`); per column like `residual_norm`.  inf when rank deficient (except for a
        truncating method, where it uses ``sigma_1 / sigma_rank``); NaN when the solve failed.
    unit_roundoff : float
        ``u = eps / 2`` of the computation dtype.
    """

    method: str
    status: str
    message: str
    success: bool
    dtype: str
    rank: int
    rank_deficient: bool
    rcond: float
    truncated: int
    kappa_estimate: float
    residual_norm: Any
    tan_theta: Any
    forward_error_bound: Any
    unit_roundoff: float


class LstsqBreakdown(np.linalg.LinAlgError):
    """A least-squares method broke down (an exact zero pivot, a Cholesky factorization of a matrix
    that is not numerically positive definite); :func:`lstsq` turns it into status "failed"."""


# The methods of lstsq, one function each, with the signature (X, y, rcond) -> (solution, svd_info):
# svd_info is (rank, singular values) for the methods that compute them, else None.  rcond is the
# relative rank tolerance; only the SVD methods use it.  X and y are already in the computation
# dtype; errors raise LstsqBreakdown.


def solve_normal_inv(X: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, Any]:
    """Least squares by the normal equations with an explicit inverse: ``inv(X^T X) @ (X^T y)``.

    The textbook formula and the worst method: forming ``X^T X`` squares the condition number, and
    the explicit inverse adds its own error, so the forward error grows like ``kappa(X)**2 u``.
    `rcond` is unused.  Returns ``(solution, None)``; raises :class:`LstsqBreakdown` if ``X^T X``
    is exactly singular.
    """
    g = X.T @ X
    try:
        g_inv = np.linalg.inv(g)
    except np.linalg.LinAlgError:
        raise LstsqBreakdown(
            "inv(X^T X) failed: the computed X^T X is exactly singular; use method='svd' or "
            "'lapack' for a rank-deficient X"
        ) from None
    return g_inv @ (X.T @ y), None


def solve_normal_solve(X: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, Any]:
    """Least squares by the normal equations solved with LU: ``solve(X^T X, X^T y)``.

    No inverse, but ``X^T X`` still squares the condition number: error ~ ``kappa(X)**2 u``.
    `rcond` is unused.  Returns ``(solution, None)``; raises :class:`LstsqBreakdown` on an exact
    zero pivot.
    """
    try:
        return np.linalg.solve(X.T @ X, X.T @ y), None
    except np.linalg.LinAlgError:
        raise LstsqBreakdown(
            "solve(X^T X, X^T y) failed: LU met an exact zero pivot, the computed X^T X is "
            "singular; use method='svd' or 'lapack' for a rank-deficient X"
        ) from None


def solve_cholesky(X: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, Any]:
    """Least squares by the normal equations with a Cholesky factorization ``X^T X = L L^T``.

    The fast choice for well-conditioned problems (half the work of QR); error ~ ``kappa(X)**2 u``,
    and the factorization fails once ``kappa(X)**2 u`` approaches 1.  `rcond` is unused.  Returns
    ``(solution, None)``; raises :class:`LstsqBreakdown` if the factorization fails.
    """
    g = X.T @ X
    try:
        chol = scipy.linalg.cholesky(g, lower=True, check_finite=False)
    except np.linalg.LinAlgError as exc:
        raise LstsqBreakdown(
            f"Cholesky factorization of X^T X failed ({exc}): the computed X^T X is not "
            "numerically positive definite, which happens once kappa(X)**2 * u approaches 1; use "
            "method='qr', 'svd' or 'lapack'"
        ) from None
    z = scipy.linalg.solve_triangular(chol, X.T @ y, lower=True, check_finite=False)
    return scipy.linalg.solve_triangular(chol, z, lower=True, trans="T", check_finite=False), None


def solve_qr(X: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, Any]:
    """Least squares by Householder QR, ``X = Q R``, then back substitution ``R x = Q^T y``.

    Backward stable: the error is ~ ``kappa(X) u`` (plus ``kappa(X)**2 u tan(theta)`` for an
    inconsistent problem, the problem's own sensitivity).  `rcond` is unused.  Returns
    ``(solution, None)``; raises :class:`LstsqBreakdown` if R has an exact zero on its diagonal.
    """
    q, r = scipy.linalg.qr(X, mode="economic", check_finite=False)  # Householder (LAPACK geqrf)
    try:
        # Back substitution with R, never inv(R): a triangular solve is backward stable.
        return scipy.linalg.solve_triangular(r, q.T @ y, lower=False, check_finite=False), None
    except np.linalg.LinAlgError:
        raise LstsqBreakdown(
            "the triangular solve with R failed: R has an exact zero on its diagonal, X is rank "
            "deficient; use method='svd' or 'lapack'"
        ) from None


def solve_svd(X: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, Any]:
    """Least squares by the SVD ``X = U S V^T``, dropping singular values ``<= rcond * s[0]``.

    Backward stable, and the truncation gives the minimum-norm solution of a rank-deficient
    problem.  Returns ``(solution, (rank, singular_values))``.
    """
    u, s, vt = scipy.linalg.svd(X, full_matrices=False, check_finite=False)
    keep = s > rcond * s[0]
    r = int(keep.sum())
    coeffs = (u[:, :r].T @ y) / (s[:r, None] if y.ndim == 2 else s[:r])
    return vt[:r].T @ coeffs, (r, s)


def solve_lapack(X: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, Any]:
    """Least squares by LAPACK's ``gelsd`` (divide-and-conquer SVD), as ``numpy.linalg.lstsq`` and
    ``scipy.linalg.lstsq``: singular values ``<= rcond * s[0]`` are treated as zero.  Returns
    ``(solution, (rank, singular_values))``.
    """
    x, _, r, s = scipy.linalg.lstsq(X, y, cond=rcond, lapack_driver="gelsd", check_finite=False)
    return x, (int(r), s)


_SOLVERS = {
    "normal_inv": solve_normal_inv,
    "normal_solve": solve_normal_solve,
    "cholesky": solve_cholesky,
    "qr": solve_qr,
    "svd": solve_svd,
    "lapack": solve_lapack,
}


def _check_rcond(rcond: Any, dtype: np.dtype, m: int, n: int) -> float:
    if rcond is None:
        return float(np.finfo(dtype).eps) * max(m, n)
    if isinstance(rcond, bool) or not isinstance(rcond, numbers.Real):
        raise TypeError(f"rcond must be a real number or None, got {rcond!r}")
    if not (0 <= rcond < 1):
        raise ValueError(f"rcond must be in [0, 1), got {rcond!r}")
    return float(rcond)


def lstsq(
    X: Any, y: Any, *, method: str = "lapack", rcond: float | None = None
) -> tuple[np.ndarray, LstsqDiagnostics]:
    """Least-squares solution of ``min_x ||y - X x||_2`` by one of six methods, with diagnostics.

    Parameters
    ----------
    X : array_like, shape (m, n)
        The design matrix: float32 or float64 (integers are taken as float64).
    y : array_like, shape (m,) or (m, k)
        Right-hand side(s).  The computation dtype is ``np.result_type`` of `X` and `y`, so a
        float32 `X` with a float32 `y` is solved entirely in float32.
    method : {"lapack", "svd", "qr", "cholesky", "normal_solve", "normal_inv"}
        ``"normal_inv"``: ``inv(X^T X) @ (X^T y)``, the textbook formula.
        ``"normal_solve"``: ``solve(X^T X, X^T y)`` (LU with partial pivoting, no inverse).
        ``"cholesky"``: ``X^T X = L L^T`` and two triangular solves.
        ``"qr"``: Householder ``X = QR`` (LAPACK ``geqrf``, economic), then ``R x = Q^T y`` by back
        substitution (``solve_triangular``, never ``inv(R)``).
        ``"svd"``: ``X = U S V^T``; ``x = V S^+ U^T y`` with singular values ``<= rcond *
        sigma_max`` dropped.
        ``"lapack"``: :func:`scipy.linalg.lstsq` with LAPACK's ``gelsd`` (divide-and-conquer SVD), the
        solver behind :func:`numpy.linalg.lstsq`.
    rcond : float, optional
        Relative rank tolerance in ``[0, 1)``: singular values ``<= rcond * sigma_max`` count as zero.
        Default ``eps * max(m, n)`` of the computation dtype (the default of NumPy and PyTorch;
        :func:`scipy.linalg.lstsq` defaults to ``eps`` and so truncates less).  "svd" and "lapack"
        truncate at it; the other methods only use it to report the rank.

    Returns
    -------
    solution : numpy.ndarray, shape (n,) or (n, k), of the computation dtype
        All NaN when the method failed (``diagnostics.status == "failed"``).
    diagnostics : LstsqDiagnostics
        Frozen record: status and message, rank, truncation, ``kappa``, residual norm and the
        predicted forward-error bound.

    Raises
    ------
    TypeError
        If `X` or `y` is not a real numeric array, their dtype is not float32/float64 (float16 has no
        LAPACK routines), or `rcond` is not a number.
    ValueError
        If `X` is not a non-empty 2-D matrix; `y` is not 1-D or 2-D (with at least one column), or
        its length is not ``m``;
        `X` or `y` contains NaN or inf; `method` is unknown; `rcond` is outside ``[0, 1)``; or `X`
        is wide (``m < n``) and the method is not "svd" or "lapack".

    Notes
    -----
    **Predicted forward error.**  With ``u`` the unit roundoff of the computation dtype, ``kappa``
    the 2-norm condition number of ``X`` and ``tan(theta) = ||r|| / ||X x||``, ``diagnostics.
    forward_error_bound`` is

    * ``c * u * kappa**2`` for "normal_inv", "normal_solve" and "cholesky": rounding ``X^T X``
      perturbs it by ``~u ||X||**2``, a relative error ``kappa(X^T X) u = kappa**2 u`` in the
      solution before any solver runs [1]_ (section 20.4);
    * ``c * u * (kappa + kappa**2 * tan(theta))`` for "qr", "svd" and "lapack": these are backward
      stable, and this is the first-order sensitivity of the least-squares solution to relative
      perturbations of size ``u`` in ``X`` and ``y`` ([2]_, theorem 5.3.1, whose ``2 kappa /
      cos(theta)`` is ``~ 2 kappa`` for the small angles where the bound matters);

    with the constant ``c = sqrt(n)``.  These are first-order *estimates*, not rigorous bounds: the
    rigorous ones carry constants like ``gamma_{cmn} ~ cmn u`` that overstate the observed error by
    orders of magnitude, and ``sqrt(n)`` is the typical growth of the backward error of Householder
    QR and of the rounding error of the inner products in ``X^T X`` (random rounding errors add like
    a random walk).  On random problems (``matrix_with_condition``, 30 <= m <= 200, 3 <= n <= 20,
    float32 and float64, ``tan(theta)`` of 0, 1e-3 and 1) the observed error was 3 to 300 times
    below the estimate and never above 1.3 times it, except for "normal_inv", whose multiplication
    by an explicit inverse reached 12 times it once.  For a truncated "svd"/"lapack" solve ``kappa`` is replaced by
    ``sigma_1 / sigma_rank`` (the error is then measured against the minimum-norm solution of the
    truncated problem); for a rank-deficient non-truncating solve the estimate is inf.  Once the
    estimate reaches 1 the computed solution has no correct digits.

    **Status, never silence.**  A full-rank solve whose predicted error is ``>= 1`` gives status
    ``"ill_conditioned"`` (e.g. the normal equations at ``kappa = 1e9`` in float64, or ``3e3`` in
    float32).  A rank deficiency (rank below ``min(m, n)`` at `rcond`) gives
    status ``"rank_deficient"`` with a message: "svd" and "lapack" then return the minimum-norm
    solution of the truncated problem, a meaningful answer; the other methods do not truncate, and
    their solution is dominated by rounding error.  A breakdown -- Cholesky meeting a numerically
    non-positive-definite ``X^T X`` (typical once ``kappa**2 u`` nears 1), an exactly singular
    ``X^T X`` for "normal_inv"/"normal_solve", an exact zero on ``R``'s diagonal for "qr", or a
    solution with non-finite entries -- gives status ``"failed"``, a solution of NaN and a message
    naming the cause.  It does *not* raise :class:`numpy.linalg.LinAlgError`: a sweep over
    ``kappa`` in the tutorial (or a training loop) gets a record it can tabulate, and NaN cannot be
    mistaken for an answer.

    **Wide problems** (``m < n``, underdetermined): "svd" and "lapack" return the minimum-norm
    solution; the normal-equation methods and "qr" raise ValueError (``X^T X`` is singular and ``R``
    is not square; the minimum-norm variants through ``X X^T`` or the QR of ``X^T`` are not
    provided).

    ``kappa_estimate`` and, for the non-truncating methods, ``rank`` come from a float64 SVD of
    ``X`` (singular values only), an ``O(mn^2)`` cost beside the solve.

    References
    ----------
    .. [1] N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002,
           chapters 19 and 20.
    .. [2] G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013, section 5.3.
    .. [3] Å. Björck, *Numerical Methods for Least Squares Problems*, SIAM, 1996, section 2.2.

    Examples
    --------
    The normal equations lose twice as many digits as QR (``kappa = 1e6``, float64):

    >>> import numpy as np
    >>> from numdl.linalg import lstsq, matrix_with_condition
    >>> rng = np.random.default_rng(0)
    >>> X = matrix_with_condition(100, 10, 1e6, rng=rng)
    >>> x_true = rng.standard_normal(10)
    >>> y = X @ x_true
    >>> errors = {}
    >>> for method in ("normal_solve", "qr"):
    ...     x, diag = lstsq(X, y, method=method)
    ...     errors[method] = err = np.linalg.norm(x - x_true) / np.linalg.norm(x_true)
    ...     print(f"{method:12s} predicted {diag.forward_error_bound:.0e}, below: {err <= diag.forward_error_bound}")
    normal_solve predicted 4e-04, below: True
    qr           predicted 4e-10, below: True
    >>> bool(errors["normal_solve"] > 1e4 * errors["qr"])  # observed: 2e-05 and 1e-11
    True

    In float32 the same matrix has ``kappa**2 u ~ 6e4``: the rounded ``X^T X`` is not positive
    definite, and Cholesky says so instead of raising:

    >>> x, diag = lstsq(X.astype(np.float32), y.astype(np.float32), method="cholesky")
    >>> diag.status, bool(np.isnan(x).all())
    ('failed', True)
    """
    # 1. Validate and convert.
    X_arr = _check_2d(X, "X")
    y_arr = np.asarray(y)
    if y_arr.dtype == object or y_arr.dtype.kind not in "biuf":
        raise TypeError(f"y must be a real numeric array, got dtype {y_arr.dtype}")
    m, n = X_arr.shape
    if y_arr.ndim not in (1, 2):
        raise ValueError(f"y must have shape (m,) or (m, k), got an array of shape {y_arr.shape}")
    if y_arr.ndim == 2 and y_arr.shape[1] == 0:
        raise ValueError(f"y must have at least one column, got shape {y_arr.shape}")
    if y_arr.shape[0] != m:
        raise ValueError(
            f"y has {y_arr.shape[0]} rows but X has m={m} (X.shape={X_arr.shape}, "
            f"y.shape={y_arr.shape})"
        )
    if not isinstance(method, str) or method not in _SOLVERS:
        raise ValueError(f"method={method!r} is not one of {', '.join(LSTSQ_METHODS)}")
    if m < n and method not in ("svd", "lapack"):
        raise ValueError(
            f"method={method!r} needs m >= n, but X has shape {X_arr.shape} (wide: fewer equations "
            "than unknowns); use method='svd' or 'lapack' for the minimum-norm solution"
        )
    dtype = _float_dtype(X_arr, y_arr, argnames="X and y")
    Xc = X_arr.astype(dtype, copy=False)
    yc = y_arr.astype(dtype, copy=False)
    if not np.isfinite(Xc).all():
        raise ValueError("X contains NaN or inf")
    if not np.isfinite(yc).all():
        raise ValueError("y contains NaN or inf")
    rcond_used = _check_rcond(rcond, dtype, m, n)
    u = float(np.finfo(dtype).eps) / 2
    k = min(m, n)

    # 2. Solve, in the computation dtype; a breakdown becomes status "failed".
    failure = None
    with np.errstate(all="ignore"):
        try:
            solution, svd_info = _SOLVERS[method](Xc, yc, rcond_used)
        except LstsqBreakdown as exc:
            solution, svd_info, failure = None, None, str(exc)
    shape = (n, *yc.shape[1:])
    if failure is None and not np.isfinite(solution).all():
        failure = (
            f"the solution of method={method!r} has non-finite entries (overflow: X is numerically "
            "singular in "
            f"{dtype.name}); use method='svd' or 'lapack'"
        )
    if failure is not None:
        solution = np.full(shape, np.nan, dtype=dtype)
    solution = np.asarray(solution, dtype=dtype).reshape(shape)

    # 3. Diagnostics: singular values of X as stored (float64), rank, kappa, residual, bound.
    s64 = np.linalg.svd(Xc.astype(np.float64), compute_uv=False)
    with np.errstate(divide="ignore"):
        kappa = float(s64[0] / s64[-1]) if s64[0] > 0 else math.inf
    if svd_info is not None:
        rank = svd_info[0]
        truncated = k - rank
    else:
        rank = int(np.count_nonzero(s64 > rcond_used * s64[0]))
        truncated = 0
    rank_deficient = rank < k
    with np.errstate(all="ignore"):
        x64 = solution.astype(np.float64)
        fitted = Xc.astype(np.float64) @ x64
        residual = np.linalg.norm(yc.astype(np.float64) - fitted, axis=0)
        fitted_norm = np.linalg.norm(fitted, axis=0)
        tan_theta = np.where(residual == 0, 0.0, residual / fitted_norm)  # r/0 = inf
    if rank_deficient and truncated == 0:
        kappa_eff = math.inf
    elif truncated > 0:
        kappa_eff = float(s64[0] / s64[rank - 1]) if rank > 0 else math.inf
    else:
        kappa_eff = kappa
    c = math.sqrt(n)
    with np.errstate(all="ignore"):
        if method in _NORMAL_METHODS:
            bound = c * u * kappa_eff**2 * np.ones_like(residual)
        else:
            bound = c * u * (kappa_eff + kappa_eff**2 * tan_theta)
        bound = np.where(np.isnan(bound), math.inf, bound)  # inf * 0 for a consistent problem
    if failure is not None:
        residual = np.full_like(residual, np.nan)
        tan_theta = np.full_like(tan_theta, np.nan)
        bound = np.full_like(bound, np.nan)

    if failure is not None:
        status, message = "failed", failure
    elif rank_deficient:
        status = "rank_deficient"
        message = LSTSQ_STATUS["rank_deficient"].format(rank=rank, k=k)
        if method in ("svd", "lapack"):
            message += (
                f"; {truncated} singular value(s) <= rcond * sigma_max = {rcond_used:.3g} * "
                f"{s64[0]:.3g} were cut: the minimum-norm solution of the truncated problem is "
                "returned"
            )
        else:
            message += (
                f"; method={method!r} does not truncate, so the solution is dominated by rounding "
                "error; use method='svd' or 'lapack'"
            )
    elif np.max(bound) >= 1:
        status = "ill_conditioned"
        message = LSTSQ_STATUS["ill_conditioned"].format(bound=float(np.max(bound)))
        if method in _NORMAL_METHODS:
            message += (
                f" (kappa(X)**2 * u = {kappa:.1e}**2 * {u:.1e}); method='qr', 'svd' or 'lapack' "
                f"would predict {c * u * kappa:.1e} for a consistent problem"
            )
        else:
            message += f" (kappa(X) = {kappa:.1e}, tan(theta) = {float(np.max(tan_theta)):.1e})"
    else:
        status, message = "success", LSTSQ_STATUS["success"]
        if m < n:
            message += "; X is wide (m < n), the minimum-norm solution is returned"

    def per_column(values: np.ndarray) -> Any:
        return float(values) if yc.ndim == 1 else values

    diagnostics = LstsqDiagnostics(
        method=method,
        status=status,
        message=message,
        success=status != "failed",
        dtype=dtype.name,
        rank=rank,
        rank_deficient=rank_deficient,
        rcond=rcond_used,
        truncated=truncated,
        kappa_estimate=kappa,
        residual_norm=per_column(residual),
        tan_theta=per_column(tan_theta),
        forward_error_bound=per_column(bound),
        unit_roundoff=u,
    )
    return solution, diagnostics
