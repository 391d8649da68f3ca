"""Exercises of chapter 3c: a Newton step that is solved, not inverted, and safe on saddles; BFGS."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.exercises.grading import Case, Exercise, describe
from numdl.optim import bfgs_update, newton_direction
from numdl.optim.problems import himmelblau, random_orthogonal

__all__ = ["BFGS_UPDATE", "EPS", "EXERCISES", "NEWTON_STEP"]

EPS = float(np.finfo(np.float64).eps)


def _positive_definite(h: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return False
    return True


def _hilbert(n: int) -> np.ndarray:
    i = np.arange(n)
    return 1.0 / (i[:, None] + i[None, :] + 1.0)


def _rotated(eigenvalues, seed: int) -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(lam.size, np.random.default_rng(seed))
    h = (q * lam) @ q.T
    return (h + h.T) / 2


def _expected_direction(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    if _positive_definite(h):
        return np.linalg.solve(h, -g)
    return newton_direction(h, g, damping="eigen").direction


# -- the Newton step --------------------------------------------------------------------------------


def _newton_cases() -> list[Case]:
    def case(label, h, g, why="", hostile=True):
        h = np.asarray(h, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        return Case(label, (h, g), _expected_direction(h, g), why, hostile=hostile)

    rng = np.random.default_rng(5)
    him = himmelblau()

    def at(x):
        x = np.asarray(x, dtype=np.float64)
        return him.hessian(x), him.gradient(x)

    return [
        case("H = diag(2, 8), g = (1, 1)", np.diag([2.0, 8.0]), [1.0, 1.0], hostile=False),
        case("a rotated 5-D H, condition number 1e6", _rotated(np.geomspace(1, 1e6, 5), 1),
             rng.standard_normal(5), "Positive definite: the plain Newton direction.",
             hostile=False),
        case("the 8x8 Hilbert matrix, g = ones", _hilbert(8), np.ones(8),
             "The Hilbert matrix is positive definite but has condition number 1.5e10: "
             "inv(H) @ g leaves a residual thousands of times larger than a solve does (it is "
             "not backward stable). np.linalg.solve (or a Cholesky solve) is."),
        case("the 10x10 Hilbert matrix, random g", _hilbert(10), rng.standard_normal(10),
             "Condition number 1.6e13: forming the inverse loses what a solve keeps."),
        case("Himmelblau at (0, 0): H negative definite", *at([0.0, 0.0]),
             why="Both eigenvalues are negative (a maximum is near): -H^-1 g points uphill, "
                 "towards the maximum. Flip the negative curvature: divide by |lambda|."),
        case("Himmelblau at (-0.4, -1.7): H indefinite", *at([-0.4, -1.7]),
             why="One negative eigenvalue: the Newton direction climbs (g . p > 0), towards the "
                 "saddle at (-0.128, -1.954)."),
        case("Himmelblau at (3.2, 0.3): H indefinite", *at([3.2, 0.3]),
             why="Here the Newton direction happens to go downhill, but it still aims at the "
                 "saddle at (3.385, 0.074): along the negative-curvature eigenvector it moves "
                 "towards the saddle instead of away from it."),
        case("H = [[1, 1], [1, 1]] (singular), g = (1, 0)", [[1.0, 1.0], [1.0, 1.0]], [1.0, 0.0],
             "H is singular: H p = -g has no solution (inv raises LinAlgError). With the "
             "eigenvalues floored at delta = sqrt(eps) max|lambda| the step is long but defined; "
             "the line search shortens it."),
        case("g = 0 at a minimum", np.diag([3.0, 1.0]), [0.0, 0.0],
             "At a critical point the step is 0.", hostile=False),
    ]


def _check_newton(case: Case, got: Any) -> str | None:
    h, g = case.args
    if not isinstance(got, np.ndarray):
        return f"returned {describe(got)}; return a NumPy array p of the shape of g"
    if got.shape != g.shape:
        return f"returned shape {got.shape}; expected shape {g.shape}"
    p = got.astype(np.float64)
    if not np.all(np.isfinite(p)):
        return f"returned {describe(got)}: not finite"
    n = g.size
    if _positive_definite(h):
        scale = np.linalg.norm(h, 2) * np.linalg.norm(p) + np.linalg.norm(g)
        backward = float(np.linalg.norm(h @ p + g) / scale) if scale > 0 else 0.0
        if backward <= 10 * n * EPS:
            return None
        return (f"H is positive definite, but the residual |Hp + g| is {backward / EPS:.3g} eps "
                f"relative to |H||p| + |g| (a linear solve gives about 1 eps)")
    if not np.any(g):
        return None if not np.any(p) else f"returned {describe(got)}; at g = 0 the step is 0"
    slope = float(g @ p)
    lam = np.linalg.eigvalsh(h)
    expected = case.expected
    if slope >= 0:
        return (f"p is not a descent direction: g . p = {slope:.3g} >= 0, so f increases along "
                f"p. H is not positive definite (eigenvalues {', '.join(f'{v:.3g}' for v in lam)})")
    if np.linalg.norm(p - expected) <= 1e-8 * np.linalg.norm(expected):
        return None
    return (f"p is a descent direction, but not the one asked for: with each eigenvalue lambda "
            f"replaced by max(|lambda|, sqrt(eps) max|lambda|) (eigenvalues "
            f"{', '.join(f'{v:.3g}' for v in lam)}) it is {describe(expected)}")


NEWTON_STEP = Exercise(
    id="03c_newton.newton_step",
    title="A Newton step: solve, never invert, and never climb",
    prompt=(
        "Write `newton_step(H, g)` returning the search direction `p` of Newton's method for a "
        "symmetric Hessian `H` and gradient `g` (float64):\n\n"
        "- if `H` is positive definite (a Cholesky factorization succeeds), the Newton direction, "
        "the solution of $H p = -g$ by a **linear solve** (`np.linalg.solve`, or the Cholesky "
        "factor), not by forming $H^{-1}$;\n"
        "- otherwise (indefinite or singular), the *saddle-free* direction "
        "$p = -\\sum_i \\frac{q_i^\\top g}{\\max(|\\lambda_i|, \\delta)} q_i$ from the "
        "eigendecomposition $H = \\sum_i \\lambda_i q_i q_i^\\top$, with "
        "$\\delta = \\sqrt{\\varepsilon}\\,\\max_i |\\lambda_i|$: a descent direction that keeps "
        "Newton's step length along each eigenvector.\n\n"
        "The cases include a badly conditioned Hilbert matrix, Hessians of Himmelblau's function "
        "near a maximum and near saddles, and a singular matrix."
    ),
    function="newton_step",
    start_code=(
        "def newton_step(H, g):\n"
        "    return -np.linalg.inv(H) @ g\n"
    ),
    solution=(
        "def newton_step(H, g):\n"
        "    try:\n"
        "        np.linalg.cholesky(H)  # succeeds exactly when H is (numerically) positive definite\n"
        "        return np.linalg.solve(H, -g)  # LU with pivoting: backward stable, no inverse\n"
        "    except np.linalg.LinAlgError:\n"
        "        pass\n"
        "    # Indefinite or singular: -H^-1 g may climb towards a saddle or a maximum.\n"
        "    # Divide by |lambda| instead (floored at delta, so singular H is defined too).\n"
        "    lam, Q = np.linalg.eigh(H)\n"
        "    delta = np.sqrt(np.finfo(H.dtype).eps) * np.max(np.abs(lam))\n"
        "    return -Q @ ((Q.T @ g) / np.maximum(np.abs(lam), delta))\n"
    ),
    hints=(
        "Which cases fail, and what do the failing ones have in common: a tiny residual test, a "
        "direction that climbs, an exception?",
        "np.linalg.solve(H, -g) is backward stable; inv(H) @ g is not. Test positive definiteness "
        "with np.linalg.cholesky inside try/except np.linalg.LinAlgError.",
        "For the other cases: lam, Q = np.linalg.eigh(H); divide Q.T @ g by np.maximum(np.abs(lam), "
        "delta) and map back with -Q @ (...).",
    ),
    cases=_newton_cases,
    check=_check_newton,
)


# -- the BFGS update --------------------------------------------------------------------------------


def _bfgs_expected(hinv: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    if not float(s @ y) > 0:
        return hinv.copy()
    return bfgs_update(hinv, s, y)


def _bfgs_cases() -> list[Case]:
    rng = np.random.default_rng(11)

    def case(label, hinv, s, y, why="", hostile=True):
        hinv, s, y = (np.asarray(a, dtype=np.float64) for a in (hinv, s, y))
        return Case(label, (hinv, s, y), _bfgs_expected(hinv, s, y), why, hostile=hostile)

    a5 = _rotated([0.5, 1.0, 2.0, 4.0, 8.0], 3)
    s5 = rng.standard_normal(5)
    return [
        case("H = I, s = (1, 0), y = (2, 1)", np.eye(2), [1.0, 0.0], [2.0, 1.0], hostile=False),
        case("5-D, y = A s for a positive definite A", _rotated([1, 1, 2, 3, 5], 4), s5, a5 @ s5,
             "", hostile=False),
        case("y^T s < 0 (a step across negative curvature)", np.eye(2), [1.0, 0.0], [-1.0, 0.5],
             "With y^T s < 0 the update makes the approximation indefinite, and the next "
             "direction -H g may climb. Skip the update: return Hinv unchanged."),
        case("y^T s = 0 exactly", np.diag([1.0, 2.0]), [1.0, 1.0], [1.0, -1.0],
             "rho = 1 / (y^T s) is a division by zero: inf and nan everywhere. Skip the update."),
        case("a small step: s = 1e-6 (1, 2), y = 3 s", np.eye(2), [1e-6, 2e-6], [3e-6, 6e-6],
             "Tiny s and y are fine as long as y^T s > 0; the update learns curvature 3 along s.",
             hostile=False),
    ]


def _check_bfgs(case: Case, got: Any) -> str | None:
    _, s, y = case.args
    expected = case.expected
    if not isinstance(got, np.ndarray):
        return f"returned {describe(got)}; return the (n, n) matrix"
    if got.shape != expected.shape:
        return f"returned shape {got.shape}; expected shape {expected.shape}"
    g = got.astype(np.float64)
    if np.all(np.isfinite(g)) and np.max(np.abs(g - expected)) <= 1e-10 * np.max(np.abs(expected)):
        return None
    sy = float(s @ y)
    if not sy > 0:
        what = "not finite" if not np.all(np.isfinite(g)) else "changed"
        return (f"y^T s = {sy:.3g} <= 0, and your matrix is {what}: the curvature condition fails, "
                f"so the update must be skipped (return Hinv unchanged)")
    if not np.all(np.isfinite(g)):
        return "returned a matrix with inf or nan"
    secant = float(np.linalg.norm(g @ y - s) / np.linalg.norm(s)) if np.any(s) else 0.0
    return (f"the result differs from the BFGS update by up to "
            f"{np.max(np.abs(g - expected)):.3g}; the secant equation H+ y = s is off by "
            f"{secant:.3g} relative")


BFGS_UPDATE = Exercise(
    id="03c_newton.bfgs_update",
    title="The BFGS update, with its curvature check",
    prompt=(
        "BFGS keeps an approximation `Hinv` of the **inverse** Hessian and updates it after each "
        "step `s` $= x_{k+1} - x_k$ with the gradient change `y` $= g_{k+1} - g_k$:\n\n"
        "$$H^+ = (I - \\rho\\, s y^\\top)\\, H\\, (I - \\rho\\, y s^\\top) + \\rho\\, s s^\\top, "
        "\\qquad \\rho = \\frac{1}{y^\\top s}.$$\n\n"
        "$H^+$ satisfies the secant equation $H^+ y = s$ and stays positive definite **only if** "
        "$y^\\top s > 0$. Write `bfgs_update(Hinv, s, y)` returning $H^+$, or `Hinv` unchanged "
        "when $y^\\top s \\le 0$."
    ),
    function="bfgs_update",
    start_code=(
        "def bfgs_update(Hinv, s, y):\n"
        "    rho = 1.0 / (y @ s)\n"
        "    I = np.eye(len(s))\n"
        "    return (I - rho * np.outer(s, y)) @ Hinv @ (I - rho * np.outer(y, s)) + rho * np.outer(s, s)\n"
    ),
    solution=(
        "def bfgs_update(Hinv, s, y):\n"
        "    sy = y @ s\n"
        "    if not sy > 0:\n"
        "        # Curvature condition violated: an update would lose positive\n"
        "        # definiteness (or divide by zero). Keep the old approximation.\n"
        "        return Hinv.copy()\n"
        "    rho = 1.0 / sy\n"
        "    I = np.eye(len(s))\n"
        "    return (I - rho * np.outer(s, y)) @ Hinv @ (I - rho * np.outer(y, s)) + rho * np.outer(s, s)\n"
    ),
    hints=(
        "Which cases fail? Compute y @ s for them.",
        "If y @ s <= 0, return Hinv (a copy) without updating. `not sy > 0` also catches nan.",
    ),
    cases=_bfgs_cases,
    check=_check_bfgs,
)

EXERCISES = (NEWTON_STEP, BFGS_UPDATE)
