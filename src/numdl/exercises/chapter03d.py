"""Exercises of chapter 3d: check a candidate point against the KKT conditions; find the multiplier
of a one-constraint problem from its solution."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.exercises.grading import Case, Exercise, close_to, describe
from numdl.optim.constrained import (
    CONDITIONS,
    Inequality,
    ball_quadratic,
    disk_and_halfplane,
    estimate_multipliers,
    kkt_residuals,
    linear_program,
    ridge_radius,
    ridge_solution,
)

__all__ = ["EXERCISES", "FIND_MULTIPLIER", "KKT_CHECK"]


def _constant_constraints(g: np.ndarray, G: np.ndarray) -> list[Inequality]:
    """Inequalities whose values and gradients at any point are the given numbers."""
    return [Inequality(lambda x, v=float(v): v, lambda x, row=row: row) for v, row in zip(g, G)]


def _residuals(grad_f, g, G, lam):
    n = np.asarray(grad_f).size
    return kkt_residuals(np.asarray(grad_f, dtype=np.float64),
                         _constant_constraints(np.asarray(g, dtype=np.float64),
                                               np.asarray(G, dtype=np.float64).reshape(-1, n)),
                         np.zeros(n), np.asarray(lam, dtype=np.float64))


# -- which KKT condition fails? ---------------------------------------------------------------------


def _at(problem, x, lam):
    """(grad_f, g, G, lam) of a numdl test problem at a candidate (x, lam)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.array([c.value(x) for c in problem.constraints])
    G = np.array([c.gradient(x) for c in problem.constraints])
    return problem.grad(x), g, G, np.asarray(lam, dtype=np.float64)


def _kkt_cases() -> list[Case]:
    tol = 1e-6

    def case(label, grad_f, g, G, lam, why="", hostile=True):
        args = (np.asarray(grad_f, np.float64), np.asarray(g, np.float64),
                np.asarray(G, np.float64).reshape(len(g), np.asarray(grad_f).size),
                np.asarray(lam, np.float64), tol)
        expected = list(_residuals(*args[:4]).violated(tol))
        return Case(label, args, expected, why, hostile=hostile)

    both = disk_and_halfplane(0.8)  # both constraints active at the solution
    lp = linear_program()
    disk = ball_quadratic((2.0, 1.0), 1.0)  # min 1/2 ||x - (2, 1)||^2 on the unit disk
    outside = np.array([1.2, 0.6])  # beyond the unit circle, on the ray through the center
    far = -np.array([2.0, 1.0]) / np.sqrt(5.0)  # the point of the circle farthest from c
    big = ball_quadratic((2.0, 1.0), 3.0)  # ||c|| < 3: the disk constraint is slack at c
    # a stationary point of the Lagrangian with lam = 0.25 that is strictly inside the disk:
    # x - c + 2 lam x = 0 gives x = c / 1.5, and ||x|| = 1.49 < 3
    slack_x = np.array([2.0, 1.0]) / 1.5
    near = both.solution.copy()
    near_lam = both.lam.copy()
    at_solution = _at(disk, disk.solution, disk.lam)
    return [
        case("the solution of a disk and a half-plane, both active", *_at(both, both.solution,
                                                                          both.lam),
             hostile=False),
        case("the vertex (3, 1) of a 2-D linear program", *_at(lp, lp.solution, lp.lam),
             "Two active constraints with positive multipliers, two inactive ones with zero.",
             hostile=False),
        case("a point outside the disk", *_at(disk, outside, disk.lam),
             "g(x) = ||x||^2 - 1 = 0.8 > 0: the point is infeasible. (Stationarity and "
             "complementary slackness fail too: a multiplier cannot fix an infeasible point.)"),
        case("the far side of the circle, lam = -(1 + sqrt 5)/2",
             *_at(disk, far, estimate_multipliers(disk.grad, disk.constraints, far)[0]),
             "x = -c/|c| is where f is LARGEST on the circle. grad f is parallel to grad g, so the "
             "Lagrangian is stationary, but with a negative multiplier: -grad f points into the "
             "disk, and moving inward lowers f. Only dual feasibility lam >= 0 catches it."),
        case("slack constraint with a positive multiplier", *_at(big, slack_x, [0.25]),
             "grad f + lam grad g = 0 holds, but the constraint is slack (g < 0) while lam > 0: "
             "complementary slackness lam g = 0 fails."),
        case(f"nearly active: g = (-1e-9, -5e-10), lam = ({near_lam[0]:.3g}, {near_lam[1]:.3g})",
             both.grad(near), np.array([-1e-9, -5e-10]),
             np.array([2 * near, both.params["normal"]]), near_lam,
             "A solution computed in floating point is rarely exactly on the boundary: g = -1e-9 "
             "is active within tol = 1e-6, and |lam g| is far below tol. An exact test "
             "lam * g == 0 rejects every computed solution."),
        case("slightly infeasible within tolerance: g = +5e-9", *_at(disk, disk.solution
                                                                     * (1 + 2.5e-9), disk.lam),
             "g = 5e-9 > 0 is a violation below tol = 1e-6: every residual is compared with tol, "
             "primal feasibility included (max(g, 0) <= tol, not g <= 0)."),
        case("no constraints at all (m = 0), at a stationary point", np.zeros(3), np.zeros(0),
             np.zeros((0, 3)), np.zeros(0),
             "With no constraints g, G and lam are empty: max over an empty array raises, so "
             "the feasibility residuals of nothing must be 0."),
        case("no constraints, not stationary", np.array([1e-3, 0.0]), np.zeros(0),
             np.zeros((0, 2)), np.zeros(0), "grad f = (1e-3, 0) is not 0.", hostile=False),
        case("grad L = (8e-7, 8e-7)", at_solution[0] + np.array([8e-7, 8e-7]), *at_solution[1:],
             "Each component of grad L is 8e-7 <= tol, but the residual is its Euclidean norm, "
             "1.13e-6 > tol."),
    ]


def _check_violations(case: Case, got: Any) -> str | None:
    """Same set of names as the library's KKTResiduals.violated(tol); the reason gives residuals."""
    if isinstance(got, str) or not isinstance(got, list | tuple):
        return (f"returned {describe(got)}; return a list of condition names, e.g. "
                f"['dual_feasibility'] or []")
    bad = [v for v in got if v not in CONDITIONS]
    if bad:
        return f"returned {list(got)!r}: {bad[0]!r} is not one of {list(CONDITIONS)!r}"
    want = set(case.expected)
    have = set(got)
    if have == want:
        return None
    r = _residuals(*case.args[:4])
    tol = case.args[4]
    values = dict(zip(CONDITIONS, r.as_array()))
    parts = []
    for name in CONDITIONS:
        if name in have - want:
            parts.append(f"{name} holds (residual {values[name]:.3g} <= tol = {tol:g})")
        elif name in want - have:
            parts.append(f"{name} fails (residual {values[name]:.3g} > tol = {tol:g})")
    return f"returned {sorted(have, key=CONDITIONS.index)!r}; but " + "; ".join(parts)


KKT_CHECK = Exercise(
    id="03d_constrained.kkt_check",
    title="Which KKT condition fails?",
    prompt=(
        "A candidate $(x, \\lambda)$ for $\\min f(x)$ subject to $g_i(x) \\le 0$ is given by "
        "its numbers at $x$: `grad_f` ($\\nabla f(x)$, shape `(n,)`), `g` (the values "
        "$g_i(x)$, shape `(m,)`), `G` (the gradients $\\nabla g_i(x)$ as rows, shape `(m, n)`) "
        "and `lam` (shape `(m,)`). Write `kkt_violations(grad_f, g, G, lam, tol)` returning the "
        "list of the conditions whose residual exceeds `tol`, by these names and definitions:\n\n"
        "| name | residual |\n|---|---|\n"
        "| `'stationarity'` | $\\lVert \\nabla f + \\sum_i \\lambda_i \\nabla g_i \\rVert_2$ |\n"
        "| `'primal_feasibility'` | $\\max_i \\max(g_i, 0)$ |\n"
        "| `'dual_feasibility'` | $\\max_i \\max(-\\lambda_i, 0)$ |\n"
        "| `'complementary_slackness'` | $\\max_i \\lvert\\lambda_i g_i\\rvert$ |\n\n"
        "A residual of no constraints ($m = 0$) is 0. Return `[]` for a KKT point. The cases are "
        "checked against `numdl.optim.constrained.kkt_residuals`."
    ),
    function="kkt_violations",
    start_code=(
        "def kkt_violations(grad_f, g, G, lam, tol):\n"
        "    failed = []\n"
        "    if np.linalg.norm(grad_f + G.T @ lam) > tol:\n"
        "        failed.append('stationarity')\n"
        "    if np.any(g > 0):\n"
        "        failed.append('primal_feasibility')\n"
        "    if np.any(lam < 0):\n"
        "        failed.append('dual_feasibility')\n"
        "    if np.any(lam * g != 0):\n"
        "        failed.append('complementary_slackness')\n"
        "    return failed\n"
    ),
    solution=(
        "def kkt_violations(grad_f, g, G, lam, tol):\n"
        "    # Each condition as one non-negative number; 0 means it holds exactly.\n"
        "    # initial=0.0: the max over no constraints is 0, not an error.\n"
        "    residuals = {\n"
        "        'stationarity': np.linalg.norm(grad_f + G.T @ lam),\n"
        "        'primal_feasibility': np.max(np.maximum(g, 0.0), initial=0.0),\n"
        "        'dual_feasibility': np.max(np.maximum(-lam, 0.0), initial=0.0),\n"
        "        'complementary_slackness': np.max(np.abs(lam * g), initial=0.0),\n"
        "    }\n"
        "    # Compare with tol, never with 0: a computed solution is only ever\n"
        "    # within rounding of the boundary.\n"
        "    return [name for name, r in residuals.items() if not r <= tol]\n"
    ),
    hints=(
        "Which cases fail? Look at the sizes of g and of lam * g there.",
        "A point computed in floating point has g = -1e-9 or +5e-9 where the exact solution has "
        "g = 0. Measure each condition by a residual and compare it with tol, as you already do "
        "for stationarity.",
        "Primal feasibility: max(max(g, 0)) <= tol. Complementary slackness: max|lam * g| <= tol. "
        "np.max(..., initial=0.0) handles m = 0.",
    ),
    cases=_kkt_cases,
    check=_check_violations,
)


# -- the multiplier of one constraint ---------------------------------------------------------------


def _lam_expected(grad_f, grad_g, g, tol) -> float:
    lam, _ = estimate_multipliers(grad_f, _constant_constraints(np.array([g]), grad_g[None, :]),
                                  np.zeros(grad_f.size), active_tol=tol)
    return float(lam[0])


def _multiplier_cases() -> list[Case]:
    tol = 1e-6

    def case(label, grad_f, grad_g, g, why="", hostile=True):
        grad_f = np.asarray(grad_f, np.float64)
        grad_g = np.asarray(grad_g, np.float64)
        return Case(label, (grad_f, grad_g, float(g), tol),
                    _lam_expected(grad_f, grad_g, float(g), tol), why, hostile=hostile)

    disk = ball_quadratic((2.0, 1.0), 1.0)
    x = disk.solution
    rng = np.random.default_rng(4)
    X = rng.standard_normal((20, 4))
    y = X @ rng.standard_normal(4) + 0.3 * rng.standard_normal(20)
    w = ridge_solution(X, y, 0.8)
    C = ridge_radius(X, y, 0.8)
    # min 1/2 ||x - c||^2 in 3-D subject to x3 <= 1, with c = (0.5, -1, 3): x = (0.5, -1, 1)
    c3 = np.array([0.5, -1.0, 3.0])
    x3 = np.array([0.5, -1.0, 1.0])
    # a numerically found solution: grad f + lam grad g is not exactly 0
    noise = np.array([3e-4, -2e-4])
    return [
        case("min 1/2||x - (2, 1)||^2 on the unit disk, at x = (2, 1)/sqrt(5)", disk.grad(x), 2 * x,
             float(x @ x) - 1.0, hostile=False),
        case("ridge regression as ||w||^2 <= C (lam = 0.8)", 2 * X.T @ (X @ w - y), 2 * w,
             float(w @ w) - C,
             "The multiplier of the norm constraint is the ridge penalty itself, 0.8.",
             hostile=False),
        case("the same disk, constraint written as 100 (||x||^2 - 1) <= 0", disk.grad(x), 200 * x,
             100 * (float(x @ x) - 1.0),
             "Scaling g by 100 scales its gradient by 100 and its multiplier by 1/100: a "
             "multiplier belongs to the constraint as written.", hostile=False),
        case("x3 <= 1 in 3-D: grad g = (0, 0, 1)", x3 - c3, np.array([0.0, 0.0, 1.0]), 0.0,
             "grad g has zeros: dividing one component of grad f by the same component of grad g "
             "gives 0/0 = nan. Use the whole vectors."),
        case("inactive: the minimum at the center of the disk", np.zeros(2), np.zeros(2), -1.0,
             "The unconstrained minimum x = 0 is strictly inside (g = -1): the constraint is "
             "inactive, so lam = 0 by complementary slackness -- and grad g = 0 there, so a "
             "formula dividing by grad g gives 0/0."),
        case("inactive, numerically computed: grad f = (2e-11, -1e-11), g = -0.3",
             np.array([2e-11, -1e-11]), np.array([0.4, 1.0]), -0.3,
             "The solver left a tiny gradient. With g = -0.3 the constraint is inactive and "
             "lam must be exactly 0, not a tiny number of either sign computed from that "
             "gradient."),
        case("nearly active: g = -4e-9 after a numerical solve", disk.grad(x * (1 - 2e-9)),
             2 * x * (1 - 2e-9), float((x * (1 - 2e-9)) @ (x * (1 - 2e-9))) - 1.0,
             "g = -4e-9 is active within tol = 1e-6: the multiplier is (sqrt(5) - 1)/2, not 0. "
             "Test |g| <= tol, not g == 0 or g < 0."),
        case("a numerically found solution (grad f + lam grad g = small residual)",
             disk.grad(x) + noise, 2 * x, float(x @ x) - 1.0,
             "grad f is not exactly parallel to grad g: each component gives a different ratio. "
             "The least-squares lam minimizes |grad f + lam grad g|: "
             "lam = -(grad f . grad g) / (grad g . grad g)."),
    ]


def _check_multiplier(case: Case, got: Any) -> str | None:
    reason = close_to(atol=1e-15)(case, got)
    if reason is None:
        return None
    g, tol = case.args[2], case.args[3]
    if isinstance(got, float | int | np.floating | np.integer) and not isinstance(got, bool):
        v = float(got)
        if np.isnan(v):
            return f"{reason}: nan, a 0/0 -- divide by |grad g|^2, and only for an active constraint"
        if case.expected == 0.0 and g < -tol:
            return (f"{reason}: the constraint is inactive (g = {g:.3g} < -tol), so "
                    "complementary slackness forces lam = 0")
        if case.expected > 0 and v == 0.0:
            return f"{reason}: the constraint is active (|g| = {abs(g):.3g} <= tol = {tol:g})"
    return reason


FIND_MULTIPLIER = Exercise(
    id="03d_constrained.find_multiplier",
    title="The multiplier of one constraint",
    prompt=(
        "A point $x^*$ solves $\\min f(x)$ subject to one constraint $g(x) \\le 0$. You get "
        "`grad_f` $= \\nabla f(x^*)$ and `grad_g` $= \\nabla g(x^*)$ (arrays of shape `(n,)`), "
        "the value `g` $= g(x^*)$ (a float) and a tolerance `tol`. Write "
        "`multiplier(grad_f, grad_g, g, tol)` returning the KKT multiplier $\\lambda \\ge 0$ "
        "(a float) with $\\nabla f + \\lambda \\nabla g = 0$: the constraint counts as active "
        "when $|g| \\le$ `tol`; $x^*$ was computed numerically, so take the least-squares "
        "$\\lambda$ that makes $\\lVert\\nabla f + \\lambda \\nabla g\\rVert$ smallest. Graded "
        "against `numdl.optim.constrained.estimate_multipliers`."
    ),
    function="multiplier",
    start_code=(
        "def multiplier(grad_f, grad_g, g, tol):\n"
        "    # stationarity grad_f + lam * grad_g = 0, read off the first coordinate\n"
        "    return -grad_f[0] / grad_g[0]\n"
    ),
    solution=(
        "def multiplier(grad_f, grad_g, g, tol):\n"
        "    # Complementary slackness: an inactive constraint has lam = 0, whatever\n"
        "    # tiny gradient the solver left behind.\n"
        "    if g < -tol:\n"
        "        return 0.0\n"
        "    gg = float(grad_g @ grad_g)\n"
        "    if gg == 0.0:  # no direction to push along: no multiplier is determined\n"
        "        return 0.0\n"
        "    # Least squares: the lam closest to making grad_f + lam * grad_g vanish.\n"
        "    return -float(grad_f @ grad_g) / gg\n"
    ),
    hints=(
        "Which cases fail? Look at g there, and at zeros in grad_g.",
        "If g < -tol the constraint is inactive and lam = 0. Otherwise grad_f = -lam grad_g; use "
        "all the components, not one.",
        "Minimizing |grad_f + lam grad_g|^2 over lam gives lam = -(grad_f . grad_g) / "
        "(grad_g . grad_g).",
    ),
    cases=_multiplier_cases,
    check=_check_multiplier,
)

EXERCISES = (KKT_CHECK, FIND_MULTIPLIER)
