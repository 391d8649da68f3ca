"""Exercises of chapter 5b: least squares to a required accuracy, and the truncated (rcond) solution."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from numdl.exercises.encoding import Unsupported
from numdl.exercises.grading import Case, Exercise
from numdl.linalg import (
    condition_number,
    least_squares_problem,
    lstsq,
    matrix_with_condition,
    vandermonde,
)

__all__ = ["ACCURATE_LSTSQ", "EXERCISES", "REQUIRED", "TRUNCATED_LSTSQ", "exact_lstsq"]

# Required relative accuracy |x - x_exact| / |x_exact| by dtype.
REQUIRED = {"float64": 1e-6, "float32": 1e-3}


def _scaled_ints(a: np.ndarray) -> tuple[list, int]:
    """Integers ``k`` and an exponent ``e`` with ``a == k * 2**e`` exactly (an object array)."""
    a64 = np.asarray(a, dtype=np.float64)
    nonzero = a64[a64 != 0]
    # frexp: |v| = m * 2**ex with m in [0.5, 1) and 53 significant bits, so v * 2**(53 - ex_min)
    # is an integer for every v.
    e = int(np.min(np.frexp(nonzero)[1])) - 53 if nonzero.size else 0
    ints = np.array([int(Fraction(float(v)) / Fraction(2) ** e) for v in a64.ravel()], dtype=object)
    return ints.reshape(a64.shape), e


def exact_lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The exact least-squares solution of the stored (X, y), rounded once to float64.

    The normal equations are ill-conditioned only in floating point: formed and solved in exact
    rational arithmetic (integers scaled by powers of two, then Gaussian elimination with
    fractions) they give the exact minimizer of ``|y - X b|`` for full-rank X.
    """
    xi, ex = _scaled_ints(x)
    yi, ey = _scaled_ints(y)
    g = (xi.T @ xi).tolist()  # exact Python integers: X^T X * 4**ex
    h = (xi.T @ yi).tolist()  # X^T y * 2**(ex + ey)
    n = len(g)
    m = [[Fraction(v) for v in row] + [Fraction(hv)] for row, hv in zip(g, h)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                m[r] = [a - f * b for a, b in zip(m[r], m[col])]
    sol = [Fraction(0)] * n
    for r in range(n - 1, -1, -1):
        s = m[r][n] - sum(m[r][c] * sol[c] for c in range(r + 1, n))
        sol[r] = s / m[r][r]
    scale = Fraction(2) ** (ey - ex)
    return np.array([float(v * scale) for v in sol])


def _accurate_cases() -> list[Case]:
    rng = np.random.default_rng(5)

    def case(label, x, y, why, hostile=True):
        x, y = np.asarray(x), np.asarray(y)
        expected = exact_lstsq(x, y).astype(x.dtype)
        return Case(f"{label} ({x.dtype.name})", (x, y), expected, why, hostile=hostile)

    def problem(m, n, kappa, tan_theta=0.0, dtype="float64"):
        x, y, _ = least_squares_problem(m, n, kappa, tan_theta=tan_theta, dtype=dtype, rng=rng)
        return x, y

    t = np.linspace(0.0, 1.0, 40)
    return [
        case("50 x 5, kappa = 10", *problem(50, 5, 10.0), "", hostile=False),
        case("100 x 10, kappa = 1e7", *problem(100, 10, 1e7),
             "kappa**2 = 1e14: forming X^T X leaves about 2 correct digits in float64."),
        case("100 x 10, kappa = 3e6, a small residual (tan theta = 1e-6)",
             *problem(100, 10, 3e6, tan_theta=1e-6),
             "y is not exactly in the range of X: the answer is the exact minimizer of |y - X b|."),
        case("degree-9 polynomial fit of exp(t) at 40 points of [0, 1]",
             vandermonde(t, 10), np.exp(t),
             "Monomials 1, t, ..., t^9 on [0, 1] are nearly dependent: kappa is about 3.5e6."),
        case("100 x 10, kappa = 1e5, a large residual (tan theta = 0.1)",
             *problem(100, 10, 1e5, tan_theta=0.1),
             "A noisy fit: |r| is a tenth of |X b|.", hostile=False),
        case("60 x 6, kappa = 10", *problem(60, 6, 10.0, dtype="float32"), "", hostile=False),
        case("60 x 6, kappa = 1000", *problem(60, 6, 1000.0, dtype="float32"),
             "In float32 kappa**2 * u = 6e-2 already at kappa = 1000."),
    ]


def _rel_error(got: np.ndarray, expected: np.ndarray) -> float:
    e = expected.astype(np.float64)
    return float(np.linalg.norm(got.astype(np.float64) - e) / np.linalg.norm(e))


def _check_array(case: Case, got: Any) -> str | None:
    expected = np.asarray(case.expected)
    if isinstance(got, Unsupported):
        return f"returned {got.what}; return a NumPy array"
    if not isinstance(got, np.ndarray):
        return f"returned {type(got).__name__}; return a NumPy array of shape {expected.shape}"
    if got.shape != expected.shape:
        return f"returned shape {got.shape}, expected {expected.shape}"
    if got.dtype != expected.dtype:
        return (f"returned {got.dtype.name} for a {expected.dtype.name} problem; keep "
                f"{expected.dtype.name} (the point is to compute in it)")
    if not np.all(np.isfinite(got)):
        return "returned non-finite values"
    return None


def _check_accuracy(case: Case, got: Any) -> str | None:
    """Relative error at most REQUIRED[dtype]; the reason compares it with kappa**2 u and kappa u."""
    problem = _check_array(case, got)
    if problem:
        return problem
    dtype = np.asarray(case.expected).dtype.name
    tol = REQUIRED[dtype]
    err = _rel_error(got, case.expected)
    if err <= tol:
        return None
    x = case.args[0]
    kappa = condition_number(x)
    u = float(np.finfo(x.dtype).eps) / 2
    reason = f"relative error {err:.1e}, above the required {tol:.0e}"
    if kappa**2 * u > tol:
        reason += (f". kappa(X) = {kappa:.1e}: anything that forms X^T X loses kappa**2 * u = "
                   f"{kappa**2 * u:.1e}, too much, while a backward-stable solver (QR, SVD) "
                   f"loses about kappa * u = {kappa * u:.1e}")
    return reason


ACCURATE_LSTSQ = Exercise(
    id="05b_least_squares.accurate_lstsq",
    title="Least squares to six digits",
    prompt=(
        "Write `fit(X, y)` returning the least-squares solution $\\hat\\beta = \\arg\\min_\\beta "
        "\\lVert y - X\\beta\\rVert_2$ for a tall, full-rank `X` (m > n) and a vector `y`, in "
        "`X`'s dtype, with a relative error $\\lVert \\beta - \\hat\\beta\\rVert / \\lVert "
        "\\hat\\beta\\rVert$ of at most **1e-6 in float64** and **1e-3 in float32**. The "
        "reference is exact (rational arithmetic on the stored X and y). Some cases have "
        "$\\kappa(X)$ up to $10^7$."
    ),
    function="fit",
    start_code=(
        "def fit(X, y):\n"
        "    # the normal equations X^T X b = X^T y\n"
        "    return np.linalg.solve(X.T @ X, X.T @ y)\n"
    ),
    solution=(
        "import scipy.linalg\n\n"
        "def fit(X, y):\n"
        "    # Householder QR never forms X^T X: the error is ~ kappa * u, not kappa**2 * u.\n"
        "    Q, R = np.linalg.qr(X)  # reduced: Q is m x n, R is n x n upper triangular\n"
        "    # Back substitution with R, not inv(R): backward stable and n**2 flops.\n"
        "    return scipy.linalg.solve_triangular(R, Q.T @ y)\n"
        "    # np.linalg.lstsq(X, y, rcond=None)[0] (an SVD) passes too.\n"
    ),
    hints=(
        "Compare the failing cases' kappa with the error: does the error grow like kappa or like "
        "kappa squared?",
        "X^T X has condition number kappa(X)**2: once it is formed, about 2 log10(kappa) digits "
        "are gone. Factor X itself instead.",
        "With X = QR (np.linalg.qr), the problem becomes R b = Q^T y; solve it with "
        "scipy.linalg.solve_triangular. np.linalg.lstsq(X, y, rcond=None)[0] also works.",
    ),
    cases=_accurate_cases,
    check=_check_accuracy,
)


def _truncated_cases() -> list[Case]:
    rng = np.random.default_rng(8)

    def case(label, x, y, rcond, why, hostile=True):
        expected, _ = lstsq(x, y, method="svd", rcond=rcond)
        return Case(f"{label}, rcond = {rcond:g}", (x, y, rcond), expected, why, hostile=hostile)

    a, b = rng.standard_normal(30), rng.standard_normal(30)
    dup = np.column_stack([a, b, a])  # an exactly repeated feature
    low = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 5))  # rank 3 of 5
    graded = matrix_with_condition(30, 3, 1e6, rng=rng)  # singular values 1, 1e-3, 1e-6
    wide = rng.standard_normal((3, 6))
    x_full = matrix_with_condition(40, 4, 10.0, rng=rng)
    x_col = np.column_stack([a, b, a + b + 1e-12 * rng.standard_normal(30)])
    return [
        case("40 x 4 full rank (kappa = 10)", x_full, rng.standard_normal(40), 1e-10, "",
             hostile=False),
        case("features a, b, a + b + 1e-12 noise", x_col, a + 2 * b + 1e-3 * rng.standard_normal(30),
             1e-10,
             "The third singular value is about 1e-12 of the first, far below rcond: its "
             "direction (a + b - c) carries only noise and must get no coefficient. Kept, it "
             "would take coefficients near 1e8 that cancel."),
        case("features a, b, a (a repeated column)", dup, a - b + 0.01 * rng.standard_normal(30),
             1e-12,
             "X^T X is exactly singular: there are infinitely many least-squares solutions; the "
             "minimum-norm one splits a's coefficient equally between its two copies."),
        case("40 x 5 of rank 3", low, rng.standard_normal(40), 1e-10,
             "Two singular values are rounding noise (about 1e-16 of the first)."),
        case("singular values 1, 1e-3, 1e-6", graded, rng.standard_normal(30), 1e-4,
             "rcond is relative to the largest singular value: 1e-6 is dropped, 1e-3 is kept."),
        case("3 x 6 (more unknowns than equations)", wide, rng.standard_normal(3), 1e-12,
             "Underdetermined: every b with X b = y fits exactly; the answer is the one of "
             "smallest norm."),
    ]


def _check_truncated(case: Case, got: Any) -> str | None:
    """Relative error at most 1e-8 against the truncated-SVD minimum-norm solution."""
    problem = _check_array(case, got)
    if problem:
        return problem
    err = _rel_error(got, case.expected)
    if err <= 1e-8:
        return None
    norm_got = float(np.linalg.norm(np.asarray(got, dtype=np.float64)))
    norm_exp = float(np.linalg.norm(np.asarray(case.expected, dtype=np.float64)))
    reason = f"relative error {err:.1e} (allowed 1e-8); |your x| = {norm_got:.3g}, |expected| = {norm_exp:.3g}"
    if norm_got > 1.5 * norm_exp:
        reason += ": a singular value at or below rcond * sigma_max was kept (dividing by it)"
    return reason


TRUNCATED_LSTSQ = Exercise(
    id="05b_least_squares.truncated_lstsq",
    title="What rcond does: the truncated SVD solution",
    prompt=(
        "Write `truncated_lstsq(X, y, rcond)` for a float64 matrix `X` (any shape), a vector `y` "
        "and a relative tolerance `rcond`: treat every singular value $\\sigma_i \\le "
        "\\text{rcond}\\cdot\\sigma_{\\max}$ as zero and return the **minimum-norm** "
        "least-squares solution of what is left, $x = \\sum_{\\sigma_i > \\text{rcond}\\,"
        "\\sigma_{\\max}} v_i\\,(u_i^T y)/\\sigma_i$. This is what `np.linalg.lstsq`'s `rcond` "
        "does; write it with `np.linalg.svd` to see how."
    ),
    function="truncated_lstsq",
    start_code=(
        "def truncated_lstsq(X, y, rcond):\n"
        "    return np.linalg.solve(X.T @ X, X.T @ y)\n"
    ),
    solution=(
        "def truncated_lstsq(X, y, rcond):\n"
        "    U, s, Vt = np.linalg.svd(X, full_matrices=False)\n"
        "    keep = s > rcond * s[0]  # singular values are sorted, largest first\n"
        "    # Dividing by a dropped (tiny) sigma_i would blow rounding noise in u_i^T y up\n"
        "    # by 1/sigma_i; dropping it instead adds nothing along v_i: the minimum norm.\n"
        "    coeffs = (U[:, keep].T @ y) / s[keep]\n"
        "    return Vt[keep].T @ coeffs\n"
    ),
    hints=(
        "For X = U diag(s) V^T (np.linalg.svd(X, full_matrices=False)), the least-squares "
        "solution is the sum over i of V[:, i] * (U[:, i] @ y) / s[i].",
        "Keep only the terms with s[i] > rcond * s[0] (s is sorted, largest first). Leaving a "
        "term out is what makes the solution the one of minimum norm.",
        "The normal equations fail here: X^T X is singular or numerically so, and "
        "np.linalg.solve either raises or divides by rounding noise.",
    ),
    cases=_truncated_cases,
    check=_check_truncated,
)

EXERCISES = (ACCURATE_LSTSQ, TRUNCATED_LSTSQ)
