"""Exercises of chapter 2c: the condition number of a matrix as stored, and solving without inverting."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numdl.exercises.encoding import Unsupported
from numdl.exercises.grading import Case, Exercise
from numdl.linalg import condition_number, hilbert, matrix_with_condition, vandermonde

__all__ = ["CONDITION_DIGITS", "EXERCISES", "STABLE_SOLVE"]

_U64 = float(np.finfo(np.float64).eps) / 2


def _digits(kappa: float, dtype: Any) -> float:
    """Significant decimal digits a backward-stable solve keeps: -log10(kappa * u), at least 0."""
    u = float(np.finfo(dtype).eps) / 2
    if math.isinf(kappa):
        return 0.0
    return max(0.0, -math.log10(kappa * u))


def _condition_cases() -> list[Case]:
    def case(label, a, why="", hostile=False):
        a = np.asarray(a)
        kappa = condition_number(a)
        return Case(f"{label} ({a.dtype.name})", (a,), (kappa, _digits(kappa, a.dtype)), why,
                    hostile=hostile)

    f32, f64 = np.float32, np.float64
    rng = np.random.default_rng(11)
    q = np.linalg.qr(rng.standard_normal((40, 40)))[0]
    return [
        case("A = diag(1, 1e-3)", np.diag([1.0, 1e-3]).astype(f64)),
        case("a 40 x 40 orthogonal matrix", q.astype(f64),
             "An orthogonal matrix has every singular value 1: kappa = 1, nothing is lost. "
             "(np.linalg.norm of a matrix is the Frobenius norm, sqrt(40) here, not the 2-norm.)",
             hostile=True),
        case("the 8 x 8 Hilbert matrix", hilbert(8),
             "kappa is about 1.5e10: a float64 solve keeps about 6 of its 16 digits."),
        case("a 6 x 3 Vandermonde matrix (least-squares design)",
             vandermonde(np.linspace(0.0, 1.0, 6), 3),
             "A rectangular matrix has no inverse, but it has singular values: its condition "
             "number is sigma_max / sigma_min over its min(m, n) singular values.", hostile=True),
        case("A = [[1000, 999], [1001, 1000]]", np.array([[1000, 999], [1001, 1000]], dtype=f32),
             "det(A) = 1, yet kappa = 4e6: a determinant says nothing about conditioning "
             "(scaling A by 10 multiplies it by 100 and leaves kappa alone). In float32, "
             "kappa * u = 0.24: less than one digit is left."),
        case("a float32 matrix with kappa = 1e5",
             matrix_with_condition(30, 30, 1e5, rng=rng, dtype=f32),
             "In float32, kappa * u is about 6e-3: barely two digits survive a solve."),
        case("A = diag(2, 0)", np.diag([2.0, 0.0]).astype(f64),
             "A singular matrix: kappa is inf and no digit of a solution can be trusted (0, not "
             "a negative number or nan).", hostile=True),
        case("A = [[1, 1], [1, 1 + 2**-52]]", np.array([[1.0, 1.0], [1.0, 1.0 + 2.0**-52]]),
             "The rows differ in the last bit: kappa is about 1e16 > 1/u, so no digit is "
             "guaranteed. The count of digits never goes below 0.", hostile=True),
    ]


def _check_condition(case: Case, got: Any) -> str | None:
    """kappa within max(1e-6, 100 kappa u64) relative (the accuracy of a float64 SVD), digits within
    0.01; the reason says which of the two is off."""
    if isinstance(got, Unsupported):
        return f"returned {got.what}; return a tuple (kappa, digits) of two floats"
    if not isinstance(got, tuple | list) or len(got) != 2:
        return f"returned {type(got).__name__} {got!r:.60}; return a tuple (kappa, digits)"
    try:
        kappa, digits = (float(v) for v in got)
    except (TypeError, ValueError):
        return f"returned {got!r:.60}; both entries must be numbers"
    want_kappa, want_digits = case.expected
    a = case.args[0]
    if math.isinf(want_kappa):
        if not math.isinf(kappa):
            return f"returned kappa = {kappa:.6g}; the matrix is singular, kappa = inf"
    else:
        tol = max(1e-6, 100 * want_kappa * _U64)
        if not (math.isfinite(kappa) and abs(kappa - want_kappa) <= tol * want_kappa):
            return (f"returned kappa = {kappa:.10g}; expected sigma_max / sigma_min = "
                    f"{want_kappa:.10g}")
    if math.isnan(digits) or digits < 0:
        return f"returned digits = {digits:.4g}; a count of correct digits is at least 0"
    if abs(digits - want_digits) > 0.01:
        return (f"returned digits = {digits:.4g}; expected -log10(kappa * u) = {want_digits:.4g} "
                f"with the unit roundoff u = {np.finfo(a.dtype).eps / 2:.3g} of {a.dtype.name}")
    return None


CONDITION_DIGITS = Exercise(
    id="02c_conditioning.condition_digits",
    title="The condition number, and the digits it leaves",
    prompt=(
        "Write `condition_and_digits(A)` for a real matrix `A` (float32 or float64, square or "
        "tall) returning a tuple `(kappa, digits)`: the 2-norm condition number "
        "$\\kappa(A) = \\sigma_{\\max} / \\sigma_{\\min}$ **of the matrix as stored** (`inf` if "
        "it is singular), and the number of significant decimal digits a backward-stable solve "
        "in `A`'s dtype can still guarantee, $-\\log_{10}(\\kappa u)$ with $u$ the unit roundoff "
        "(`np.finfo(A.dtype).eps / 2`), **never below 0**."
    ),
    function="condition_and_digits",
    start_code=(
        "def condition_and_digits(A):\n"
        "    # the textbook definition: kappa = ||A|| ||A^-1||\n"
        "    kappa = np.linalg.norm(A) * np.linalg.norm(np.linalg.inv(A))\n"
        "    u = np.finfo(A.dtype).eps / 2\n"
        "    return float(kappa), float(-np.log10(kappa * u))\n"
    ),
    solution=(
        "def condition_and_digits(A):\n"
        "    # The 2-norm condition number from the singular values: no inverse needed,\n"
        "    # so rectangular and singular matrices work. (float32 converts to float64\n"
        "    # exactly; NumPy's SVD computes in float64 anyway, PyTorch's would not.)\n"
        "    s = np.linalg.svd(A.astype(np.float64), compute_uv=False)\n"
        "    kappa = np.inf if s[-1] == 0 else float(s[0] / s[-1])\n"
        "    u = np.finfo(A.dtype).eps / 2\n"
        "    # Once kappa * u >= 1 no digit is guaranteed: clip at 0 (and inf gives 0).\n"
        "    digits = 0.0 if np.isinf(kappa) else max(0.0, float(-np.log10(kappa * u)))\n"
        "    return kappa, digits\n"
    ),
    hints=(
        "Try the orthogonal case by hand: every singular value is 1, so kappa must be 1. What "
        "does np.linalg.norm return for a matrix (read its `ord` argument)?",
        "The 2-norm condition number is sigma_max / sigma_min, read off np.linalg.svd(A, "
        "compute_uv=False): no inverse, so rectangular and singular matrices work too.",
        "kappa * u >= 1 means no digit survives: clip the count at 0, and return kappa = inf "
        "(digits 0) when sigma_min is exactly 0.",
    ),
    cases=_condition_cases,
    check=_check_condition,
)


def _solve_cases() -> list[Case]:
    rng = np.random.default_rng(23)

    def case(label, a, why="", hostile=True):
        a = np.asarray(a)
        x_true = rng.standard_normal(a.shape[0])
        b = (a.astype(np.float64) @ x_true).astype(a.dtype)
        expected = np.linalg.solve(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)
        return Case(f"{label} ({a.dtype.name})", (a, b), expected, why, hostile=hostile)

    f32 = np.float32
    return [
        case("a 20 x 20 matrix with kappa = 10", matrix_with_condition(20, 20, 10.0, rng=rng),
             "", hostile=False),
        case("a 50 x 50 matrix with kappa = 1e12", matrix_with_condition(50, 50, 1e12, rng=rng),
             "The explicit inverse is computed with an error of about kappa * u relative to "
             "itself; multiplying b by it leaves a residual that grows with kappa."),
        case("the 10 x 10 Hilbert matrix", hilbert(10),
             "kappa = 1.6e13: inv(H) is accurate to about three digits, and so is inv(H) @ b's "
             "residual."),
        case("A = [[1, 1], [1, 1 + 1e-10]]", np.array([[1.0, 1.0], [1.0, 1.0 + 1e-10]]),
             "Nearly parallel rows (kappa = 4e10)."),
        case("a 30 x 30 float32 matrix with kappa = 1e5",
             matrix_with_condition(30, 30, 1e5, rng=rng, dtype=f32),
             "In float32, kappa * u = 6e-3: the inverse has two or three correct digits. Keep "
             "float32 (np.linalg.solve does)."),
        case("a 100 x 100 matrix with kappa = 1e8", matrix_with_condition(100, 100, 1e8, rng=rng),
             "A larger ill-conditioned system."),
    ]


def _backward_error(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> float:
    a64, b64, x64 = (v.astype(np.float64) for v in (a, b, x))
    denom = np.linalg.norm(a64, 2) * np.linalg.norm(x64)
    return float(np.linalg.norm(b64 - a64 @ x64) / denom) if denom > 0 else math.inf


def _check_backward(case: Case, got: Any) -> str | None:
    """Normwise backward error ``|b - A x| / (|A| |x|)`` at most ``10 n u`` of A's dtype."""
    a, b = case.args
    if isinstance(got, Unsupported):
        return f"returned {got.what}; return a NumPy array"
    if not isinstance(got, np.ndarray):
        return f"returned {type(got).__name__}; return a NumPy array of shape {b.shape}"
    if got.shape != b.shape:
        return f"returned shape {got.shape}, expected {b.shape}"
    if got.dtype != a.dtype:
        return f"returned {got.dtype.name} for a {a.dtype.name} system; keep {a.dtype.name}"
    if not np.all(np.isfinite(got)):
        return "returned non-finite values"
    n = a.shape[0]
    u = float(np.finfo(a.dtype).eps) / 2
    eta = _backward_error(a, b, got)
    if eta <= 10 * n * u:
        return None
    kappa = condition_number(a)
    return (f"the residual |b - A x| is {eta:.1e} relative to |A| |x|, {eta / u:.3g} times the "
            f"unit roundoff u (allowed: 10 n u = {10 * n * u:.1e}). Your x is the exact solution "
            f"of a system about {eta:.0e} away from the one you were given; kappa(A) = "
            f"{kappa:.1e}, and an explicit inverse loses backward stability in proportion to it")


STABLE_SOLVE = Exercise(
    id="02c_conditioning.stable_solve",
    title="Solve, don't invert",
    prompt=(
        "Write `solve_system(A, b)` returning x with $A x = b$ for a square, nonsingular `A` and "
        "a vector `b`, in `A`'s dtype. No solver can beat the conditioning: x may be wrong in its "
        "last $\\log_{10}\\kappa$ digits. What a good solver guarantees is a tiny **backward "
        "error**: the residual must satisfy $\\lVert b - A x\\rVert \\le 10\\, n\\, u\\, "
        "\\lVert A\\rVert\\, \\lVert x\\rVert$, i.e. x solves a system within a few roundings "
        "of yours."
    ),
    function="solve_system",
    start_code=(
        "def solve_system(A, b):\n"
        "    A_inv = np.linalg.inv(A)\n"
        "    return A_inv @ b\n"
    ),
    solution=(
        "def solve_system(A, b):\n"
        "    # LU with partial pivoting (LAPACK gesv) is backward stable: the computed x\n"
        "    # solves (A + dA) x = b with |dA| ~ n u |A| whatever kappa. Multiplying by a\n"
        "    # computed inverse is not, and costs three times as many flops.\n"
        "    return np.linalg.solve(A, b)\n"
    ),
    hints=(
        "Look at how the failing cases' residual grows with kappa. Which step of the start code "
        "has an error proportional to kappa?",
        "Computing inv(A) is itself solving n systems; its rounding errors are relative to "
        "inv(A), whose norm is 1/sigma_min. Solve the one system you need directly.",
        "np.linalg.solve(A, b) (LU with partial pivoting) keeps A's dtype and is backward stable.",
    ),
    cases=_solve_cases,
    check=_check_backward,
)

EXERCISES = (CONDITION_DIGITS, STABLE_SOLVE)
