"""numdl.optim.constrained: KKT residuals, the three methods on problems with known solutions,
exact projections, infeasible and non-finite statuses, weight decay as a norm constraint.

Tolerances: every run uses the default KKT tolerance ``TOL = 1e-6`` (absolute, like
``minimize``'s gradient tolerance) and must end within ``X_TOL = 1e-5`` of the known solution
(max norm) with multipliers within ``LAM_RTOL = 1e-4`` relative (absolute below 1).  Those are
what a KKT residual of 1e-6 allows on these well-conditioned problems: the error of x is about the
residual divided by the smallest curvature of the Lagrangian on the active constraints' tangent
space (>= 0.1 here).
"""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numdl.optim import MESSAGES, Status
from numdl.optim import constrained as C
from numdl.optim.constrained import (
    CONDITIONS,
    Affine,
    Ball,
    Box,
    Equality,
    Inequality,
    Simplex,
    estimate_multipliers,
    kkt_residuals,
    minimize_constrained,
    project_ball,
    project_box,
    project_simplex,
    ridge_penalty_for_radius,
    ridge_radius,
    ridge_solution,
)

TOL = 1e-6
X_TOL = 1e-5
LAM_RTOL = 1e-4
ALL = C.CONSTRAINED_METHODS
PENALTY_METHODS = ("augmented_lagrangian", "penalty")


def _ridge_data(m=30, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    return X, X @ rng.standard_normal(n) + 0.5 * rng.standard_normal(m)


def _problems():
    X, y = _ridge_data()
    return {
        "ball_quadratic": (C.ball_quadratic((2.0, 1.0), 1.0), ALL),
        "ball_quadratic_inside": (C.ball_quadratic((0.3, -0.2), 1.0), ALL),
        "linear_program": (C.linear_program(), PENALTY_METHODS),
        "equality_quadratic": (C.equality_quadratic(6, 2, rng=np.random.default_rng(1)), ALL),
        "simplex_quadratic": (C.simplex_quadratic([0.8, 0.5, -0.2, 0.1, 0.45]), ALL),
        "ridge_ball": (C.ridge_ball(X, y, 0.5 * ridge_radius(X, y, 0.0)), ALL),
        "disk_and_halfplane_one": (C.disk_and_halfplane(0.0), PENALTY_METHODS),
        "disk_and_halfplane_both": (C.disk_and_halfplane(0.8), PENALTY_METHODS),
        "disk_and_halfplane_disk": (C.disk_and_halfplane(1.8), PENALTY_METHODS),
    }


PROBLEMS = _problems()
RUNS = [(name, m) for name, (_, methods) in PROBLEMS.items() for m in methods]


def _run(problem, method, **kw):
    cons = problem.set if (method == "projected_gradient" or problem.set is not None) \
        else problem.constraints
    return minimize_constrained(problem.fun, problem.x0, cons, method=method, grad=problem.grad,
                                **kw)


# -- the status table -------------------------------------------------------------------------------


def test_constrained_outcomes_are_in_the_one_table():
    for reason in ("kkt_converged", "kkt_max_iter", "infeasible", "inconsistent", "empty_set",
                   "nonfinite_constraints"):
        assert reason in MESSAGES
    assert MESSAGES["infeasible"][0] is MESSAGES["inconsistent"][0] is Status.INFEASIBLE
    assert MESSAGES["empty_set"][0] is Status.INFEASIBLE
    assert MESSAGES["kkt_converged"][0] is Status.CONVERGED


# -- known solutions --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_the_known_solutions_satisfy_kkt(name):
    p, _ = PROBLEMS[name]
    assert p.kkt().max <= 1e-12 * max(1.0, float(np.max(np.abs(p.lam), initial=1.0)))
    assert p.value == pytest.approx(p.fun(p.solution), rel=1e-15)


@pytest.mark.parametrize(("name", "method"), RUNS)
def test_each_method_reaches_the_solution_and_kkt(name, method):
    p, _ = PROBLEMS[name]
    r = _run(p, method)
    assert r.status is Status.CONVERGED and r.success and r.reason == "kkt_converged", r.message
    assert r.kkt.max <= TOL and r.tol == TOL
    assert np.max(np.abs(r.x - p.solution)) <= X_TOL
    lam, nu = r.multipliers
    np.testing.assert_allclose(lam, p.lam, rtol=LAM_RTOL, atol=LAM_RTOL)
    np.testing.assert_allclose(nu, p.nu, rtol=LAM_RTOL, atol=LAM_RTOL)
    assert r.fun == pytest.approx(p.value, rel=X_TOL, abs=X_TOL)  # an infeasibility of TOL moves f by lam TOL
    # the record's residuals are those of kkt_residuals at the final point
    again = kkt_residuals(p.grad, p.set or p.constraints, r.x, lam, nu)
    np.testing.assert_allclose(again.as_array(), r.kkt.as_array(), rtol=1e-12, atol=1e-300)
    # the trajectory ends at x with the same residuals, and its rows are consistent
    np.testing.assert_array_equal(r.trajectory[-1], r.x)
    np.testing.assert_allclose(r.trajectory_kkt[-1], r.kkt.as_array(), rtol=1e-12)
    assert r.trajectory_lam.shape == (len(r.trajectory), lam.size)
    assert r.trajectory_nu.shape == (len(r.trajectory), nu.size)
    assert np.all(np.diff(r.trajectory_iter) > 0) and r.trajectory_iter[-1] == r.nit


def test_linear_program_on_a_box_by_projected_gradient():
    # min -x1 - 2 x2 over [0, 3] x [0, 1]: the corner (3, 1), multipliers of the upper bounds (1, 2)
    cost = np.array([-1.0, -2.0])
    r = minimize_constrained(lambda x: float(cost @ x), [0.5, 0.5], Box([0.0, 0.0], [3.0, 1.0]),
                             method="projected_gradient", grad=lambda x: cost)
    assert r.success and r.x.tolist() == [3.0, 1.0]
    assert r.multipliers[0].tolist() == [1.0, 0.0, 2.0, 0.0]  # (x1<=3, x1>=0, x2<=1, x2>=0)
    assert r.kkt.max == 0.0 and r.kkt.active.tolist() == [True, False, True, False]


def test_projected_gradient_iterates_stay_feasible():
    p, _ = PROBLEMS["ridge_ball"]
    r = _run(p, "projected_gradient")
    radius = math.sqrt(p.params["C"])
    # projected onto the ball up to the rounding of the projection and of the norm: a few ULPs
    assert np.all(np.linalg.norm(r.trajectory, axis=1) <= radius * (1 + 8 * np.finfo(float).eps))
    assert np.all(r.trajectory_kkt[:, 1] <= 8 * np.finfo(float).eps * radius**2)


def test_augmented_lagrangian_keeps_the_penalty_moderate():
    """The point of the multiplier update: the penalty method must push mu to about lam / tol,
    the augmented Lagrangian converges with the initial mu."""
    p, _ = PROBLEMS["ball_quadratic"]
    al, pen = _run(p, "augmented_lagrangian"), _run(p, "penalty")
    assert al.penalty == 10.0
    assert pen.penalty >= 0.1 * p.lam[0] / TOL
    assert al.success and pen.success


def test_penalty_multiplier_estimates_are_mu_times_the_violation():
    p, _ = PROBLEMS["ball_quadratic"]
    r = _run(p, "penalty")
    g = float(np.sum(r.x**2)) - 1.0
    assert g > 0  # the penalty method approaches from outside
    assert r.multipliers[0][0] == pytest.approx(r.penalty * g, rel=1e-12)


def test_a_bare_projection_function_works_without_multipliers():
    p, _ = PROBLEMS["ball_quadratic"]
    r = minimize_constrained(p.fun, p.x0, lambda x: project_ball(x, 1.0),
                             method="projected_gradient", grad=p.grad)
    assert r.success and r.kkt is None and r.multipliers[0].size == 0
    assert np.max(np.abs(r.x - p.solution)) <= X_TOL
    assert np.all(np.isnan(r.trajectory_kkt))


def test_finite_difference_gradients_count_in_nfev():
    p, _ = PROBLEMS["ball_quadratic"]
    r = minimize_constrained(p.fun, p.x0, p.set)  # no grad: central differences, 2n calls each
    assert r.success and r.ngev == 0 and r.nfev > 4 * r.nit
    assert np.max(np.abs(r.x - p.solution)) <= X_TOL


def test_fixed_step_projected_gradient():
    p, _ = PROBLEMS["simplex_quadratic"]  # gradient Lipschitz constant 1
    r = minimize_constrained(p.fun, p.x0, p.set, method="projected_gradient", grad=p.grad, lr=0.5)
    assert r.success and np.max(np.abs(r.x - p.solution)) <= X_TOL


def test_max_iter_is_a_status():
    p, _ = PROBLEMS["ball_quadratic"]
    r = _run(p, "penalty", max_iter=2)
    assert r.status is Status.MAX_ITER and r.reason == "kkt_max_iter" and r.nouter == 2
    assert "max_iter = 2" in r.message and not r.success


# -- the disk and the half-plane: complementary slackness switches ----------------------------------


@pytest.mark.parametrize(("offset", "active"), [(0.0, [False, True]), (0.8, [True, True]),
                                                (1.8, [True, False])])
def test_moving_the_half_plane_switches_which_constraints_are_active(offset, active):
    p = C.disk_and_halfplane(offset)
    r = p.kkt()
    assert r.active.tolist() == active
    assert ((p.lam > 0) == np.array(active)).all()  # strict complementarity here
    assert np.all(p.lam[~np.array(active)] == 0) and np.all(r.g[~np.array(active)] < -0.01)


# -- kkt_residuals and estimate_multipliers ---------------------------------------------------------

# min (x - 2)^2 subject to x <= 1: x* = 1, lam* = 2
_G = Inequality(lambda x: x[0] - 1.0, lambda x: np.array([1.0]), name="x <= 1")


def _grad(x):
    return 2.0 * (np.asarray(x) - 2.0)


@pytest.mark.parametrize(("x", "lam", "violated", "values"), [
    (1.0, 2.0, (), (0.0, 0.0, 0.0, 0.0)),
    (1.5, 2.0, ("stationarity", "primal_feasibility", "complementary_slackness"),
     (1.0, 0.5, 0.0, 1.0)),
    (1.0, -1.0, ("stationarity", "dual_feasibility"), (3.0, 0.0, 1.0, 0.0)),
    (0.0, 4.0, ("complementary_slackness",), (0.0, 0.0, 0.0, 4.0)),
    (1.0 - 1e-9, 2.0, (), (2e-9, 0.0, 0.0, 2e-9)),
])
def test_kkt_residuals_closed_form(x, lam, violated, values):
    r = kkt_residuals(_grad, [_G], [x], [lam])
    np.testing.assert_allclose(r.as_array(), values, atol=1e-15)
    assert r.violated(1e-8) == violated
    assert r.satisfied(1e-8) is (violated == ())
    # grad_f as an array gives the same residuals as the function
    same = kkt_residuals(_grad([x]), [_G], [x], [lam])
    np.testing.assert_array_equal(same.as_array(), r.as_array())


def test_kkt_residuals_fields_and_active_tolerance():
    r = kkt_residuals(_grad, [_G], [1.0 - 1e-7], [2.0])
    assert r.active.tolist() == [True] and r.active_tol == 1e-6
    assert kkt_residuals(_grad, [_G], [1.0 - 1e-7], [2.0], active_tol=1e-8).active.tolist() == [False]
    assert r.max == max(r.as_array()) == getattr(r, r.worst) > 0
    assert r.g.tolist() == pytest.approx([-1e-7]) and r.lam.tolist() == [2.0]
    assert CONDITIONS == ("stationarity", "primal_feasibility", "dual_feasibility",
                          "complementary_slackness")


def test_kkt_with_equalities_and_no_constraints():
    h = Equality.linear([1.0, 1.0], 1.0)  # min x1^2 + x2^2 s.t. x1 + x2 = 1: x = (1/2, 1/2), nu = -1
    r = kkt_residuals(lambda x: 2 * x, [h], [0.5, 0.5], nu=[-1.0])
    assert r.max == 0.0 and r.h.tolist() == [0.0]
    free = kkt_residuals(lambda x: 2 * x, [], [0.5, 0.5])
    assert free.stationarity == pytest.approx(math.sqrt(2)) and free.primal_feasibility == 0.0
    assert free.active.size == 0


def test_nan_residuals_are_never_satisfied():
    r = kkt_residuals(np.array([np.nan]), [_G], [1.0], [2.0])
    assert math.isnan(r.stationarity) and "stationarity" in r.violated(1.0)
    assert math.isnan(r.max) and r.worst == "stationarity"


def test_constraint_gradients_default_to_finite_differences():
    g = Inequality(lambda x: x[0] ** 2 + x[1] ** 2 - 1.0)
    r = kkt_residuals(lambda x: np.array([1.0, 1.0]), [g], -np.ones(2) / math.sqrt(2),
                      [1 / math.sqrt(2)])
    assert r.max <= 1e-9


@pytest.mark.parametrize("name", ["ball_quadratic", "equality_quadratic", "simplex_quadratic",
                                  "ridge_ball"])
def test_closed_form_multipliers_of_sets_match_least_squares(name):
    p, _ = PROBLEMS[name]
    lam, nu = estimate_multipliers(p.grad, p.set, p.solution)
    lam2, nu2 = estimate_multipliers(p.grad, list(p.constraints), p.solution)
    np.testing.assert_allclose(lam, lam2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nu, nu2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lam, p.lam, rtol=1e-9, atol=1e-12)


def test_multipliers_at_a_wrong_point_show_dual_infeasibility():
    # on the sphere where f increases outward? no: where -grad f points inward, lam < 0
    x = np.array([1.0, 0.0])
    lam, _ = estimate_multipliers(np.array([1.0, 0.0]), Ball(1.0), x)  # grad f = e1: lam = -1/2
    assert lam.tolist() == [-0.5]
    assert kkt_residuals(np.array([1.0, 0.0]), Ball(1.0), x, lam).violated(1e-9) == \
        ("dual_feasibility",)


def test_inactive_constraints_get_zero_multipliers():
    lam, _ = estimate_multipliers(np.array([1.0, 0.0]), Ball(1.0), [0.2, 0.1])
    assert lam.tolist() == [0.0]


# -- projections ------------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
vectors = hnp.arrays(np.float64, st.integers(1, 12), elements=finite)


def _in_simplex(z, total, scale):
    """z >= 0 and sum z = total up to the rounding of sums of n numbers of size `scale`."""
    return np.all(z >= 0) and abs(z.sum() - total) <= 4 * z.size**2 * np.finfo(float).eps * scale


def _simplex_by_bisection(x, total):
    """A different algorithm: theta solves sum max(x - theta, 0) = total, found by bisection."""
    lo, hi = x.min() - total, x.max()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.maximum(x - mid, 0).sum() > total:
            lo = mid
        else:
            hi = mid
    return np.maximum(x - 0.5 * (lo + hi), 0)


@given(vectors, st.floats(0.0, 100.0))
def test_simplex_projection_properties(x, total):
    p = project_simplex(x, total)
    assert _in_simplex(p, total, max(1.0, float(np.abs(x).max()), total))
    np.testing.assert_allclose(project_simplex(p, total), p, atol=1e-9 * max(1.0, total))
    np.testing.assert_allclose(p, _simplex_by_bisection(x, total),
                               atol=1e-7 * max(1.0, float(np.abs(x).max()), total))


@given(vectors, st.data())
def test_projections_satisfy_the_variational_inequality(x, data):
    """p = P(x) iff (x - p) . (z - p) <= 0 for every z in the set: the optimality condition of
    min ||z - x||^2 over a convex set."""
    n = x.size
    lo = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-10, 0)))
    hi = lo + data.draw(hnp.arrays(np.float64, n, elements=st.floats(0, 10)))
    radius = data.draw(st.floats(0.0, 100.0))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    scale = max(1.0, float(np.abs(x).max()))
    for P, sample in (
        (lambda v: project_box(v, lo, hi), lambda: lo + (hi - lo) * rng.random(n)),
        (lambda v: project_ball(v, radius), lambda: project_ball(rng.standard_normal(n) * 100, radius)
         * rng.random()),
        (lambda v: project_simplex(v), lambda: rng.dirichlet(np.ones(n))),
    ):
        p = P(x)
        np.testing.assert_allclose(P(p), p, rtol=1e-12, atol=1e-12 * scale)  # idempotent
        for _ in range(5):
            z = sample()
            assert float(np.dot(x - p, z - p)) <= 1e-9 * scale * max(1.0, float(np.abs(z).max()))


@given(vectors, vectors)
def test_ball_projection_is_nonexpansive(x, y):
    if x.size != y.size:
        return
    px, py = project_ball(x, 3.0), project_ball(y, 3.0)
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) * (1 + 1e-12) + 1e-12
    assert np.linalg.norm(px) <= 3.0 * (1 + 4 * np.finfo(float).eps)


def test_projection_examples():
    assert project_box([-2.0, 0.5, 3.0], 0.0, 1.0).tolist() == [0.0, 0.5, 1.0]
    assert project_box([-2.0, 5.0], [-1.0, -np.inf], [1.0, np.inf]).tolist() == [-1.0, 5.0]
    assert project_ball([3.0, 4.0], 1.0).tolist() == pytest.approx([0.6, 0.8], rel=1e-15)
    assert project_ball([0.1, 0.2], 1.0).tolist() == [0.1, 0.2]
    assert project_ball([2.0, 0.0], 1.0, center=[1.5, 0.0]).tolist() == [2.0, 0.0]
    assert project_simplex([2.0, 0.0]).tolist() == [1.0, 0.0]
    assert project_simplex([0.0, 0.0, 0.0], total=0.0).tolist() == [0.0, 0.0, 0.0]
    rows = project_simplex(np.array([[1.0, 1.0], [5.0, -5.0]]))
    assert rows.tolist() == [[0.5, 0.5], [1.0, 0.0]]


def test_ball_projection_of_huge_vectors_does_not_overflow():
    p = project_ball([3e200, 4e200], 1.0)  # squaring 3e200 overflows float64
    assert p.tolist() == pytest.approx([0.6, 0.8], rel=1e-15)
    tiny = project_ball([3e-200, 4e-200], 1e-201)  # squaring 3e-200 underflows to 0
    assert tiny.tolist() == pytest.approx([6e-202, 8e-202], rel=1e-14)


@pytest.mark.parametrize(("call", "names"), [
    (lambda: project_box([0.0, 0.0], [0.0, 1.0], [1.0, 0.0]), "lower"),
    (lambda: project_box([np.nan], 0.0, 1.0), "x must not contain nan"),
    (lambda: project_ball([1.0], -1.0), "radius"),
    (lambda: project_ball([np.inf], 1.0), "x must be finite"),
    (lambda: project_simplex([1.0, 2.0], total=-1.0), "total"),
    (lambda: project_simplex([], total=1.0), "x must have at least one entry"),
    (lambda: project_simplex([1.0, np.nan]), "x must be finite"),
])
def test_projection_errors_name_the_argument(call, names):
    with pytest.raises(ValueError, match=names):
        call()


# -- infeasible, inconsistent, non-finite -----------------------------------------------------------


def _sq(x):
    return float(np.sum(x**2))


def _sq_grad(x):
    return 2 * x


@pytest.mark.parametrize("method", PENALTY_METHODS)
def test_an_unsatisfiable_constraint_is_infeasible(method):
    g = Inequality(lambda x: x[0] ** 2 + 1.0, lambda x: np.array([2 * x[0], 0.0]))
    r = minimize_constrained(_sq, [3.0, 2.0], [g], method=method, grad=_sq_grad)
    assert r.status is Status.INFEASIBLE and r.reason == "infeasible" and not r.success
    assert r.kkt.primal_feasibility == pytest.approx(1.0, abs=1e-6)
    assert r.nouter <= 10 and "cannot be satisfied" in r.message


@pytest.mark.parametrize("method", PENALTY_METHODS)
@pytest.mark.parametrize("constraints", [
    [Inequality.linear([-1.0, 0.0], -1.0), Inequality.linear([1.0, 0.0], 0.0)],  # x1>=1, x1<=0
    [Equality.linear([1.0, 1.0], 1.0), Equality.linear([1.0, 1.0], 2.0)],  # x1+x2 = 1 and = 2
], ids=["bounds", "equalities"])
def test_inconsistent_constraints_are_named(method, constraints):
    r = minimize_constrained(_sq, [3.0, 2.0], constraints, method=method, grad=_sq_grad)
    assert r.status is Status.INFEASIBLE and r.reason == "inconsistent"
    assert r.kkt.primal_feasibility == pytest.approx(0.5, abs=1e-4)  # the midway compromise
    assert ("g1, g2" in r.message) or ("h1, h2" in r.message)
    assert r.nouter <= 10


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize(("the_set", "why"), [
    (Box([0.0, 0.0], [1.0, -1.0]), "lower[1] = 0 > upper[1] = -1"),
    (Ball(-1.0), "radius = -1 < 0"),
    (Simplex(-2.0), "total = -2 < 0"),
    (Affine([[1.0, 1.0], [2.0, 2.0]], [1.0, 3.0]), "A x = b has no solution"),
], ids=["box", "ball", "simplex", "affine"])
def test_empty_sets_are_infeasible_before_any_work(method, the_set, why):
    r = minimize_constrained(_sq, [3.0, 2.0], the_set, method=method, grad=_sq_grad)
    assert r.status is Status.INFEASIBLE and r.reason == "empty_set" and why in r.message
    assert r.nit == 0 and r.nfev == 0 and r.kkt is None


@pytest.mark.parametrize("method", ALL)
def test_nan_objective_is_diverged(method):
    r = minimize_constrained(lambda x: math.nan, [0.5, 0.5], Ball(1.0), method=method,
                             grad=lambda x: np.zeros(2))
    assert r.status is Status.DIVERGED and r.reason == "nonfinite" and not r.success


@pytest.mark.parametrize("method", ALL)
def test_nan_start_is_diverged(method):
    r = minimize_constrained(_sq, [math.nan, 0.0], Ball(1.0), method=method, grad=_sq_grad)
    assert r.status is Status.DIVERGED and r.reason == "nonfinite"


@pytest.mark.parametrize("method", PENALTY_METHODS)
def test_nan_constraint_is_diverged(method):
    r = minimize_constrained(_sq, [0.5, 0.5], [Inequality(lambda x: math.nan)], method=method,
                             grad=_sq_grad)
    assert r.status is Status.DIVERGED and r.reason == "nonfinite_constraints"
    assert "constraint" in r.message


@pytest.mark.parametrize("method", ALL)
def test_an_objective_that_is_nan_near_the_solution_ends_at_a_finite_point(method):
    # f = -x1 is only defined (finite) for x1 < 5, but the constrained minimum is at x1 = 6
    def f(x):
        return -float(x[0]) if x[0] < 5 else math.nan

    r = minimize_constrained(f, [0.0], Box(-10.0, 6.0), method=method,
                             grad=lambda x: np.array([-1.0]))
    assert r.status in (Status.DIVERGED, Status.STALLED) and not r.success
    assert np.all(np.isfinite(r.x)) and math.isfinite(r.fun) and r.x[0] < 5


@pytest.mark.parametrize("method", ALL)
def test_an_unbounded_objective_is_diverged(method):
    cons = Affine([1.0, -1.0], [0.0])  # the line x1 = x2, along which -x1 - x2 is unbounded
    r = minimize_constrained(lambda x: -x[0] - x[1], [0.0, 0.0], cons, method=method,
                             grad=lambda x: np.array([-1.0, -1.0]))
    assert r.status is Status.DIVERGED and r.reason == "exploded"


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    (dict(method="sqp"), ValueError, "method='sqp'"),
    (dict(fun=3), TypeError, "fun must be callable"),
    (dict(x0=np.zeros((2, 2))), ValueError, "x0 must be a vector"),
    (dict(x0=[]), ValueError, "x0 must not be empty"),
    (dict(constraints=[Ball(1.0), 3]), TypeError, r"constraints\[0\]"),
    (dict(constraints=[Inequality(lambda x: 0.0), "g"]), TypeError, r"constraints\[1\]"),
    (dict(constraints=[Inequality(lambda x: 0.0)], method="projected_gradient"), TypeError,
     "projected_gradient"),
    (dict(constraints=lambda x: x), TypeError, "not a projection function"),
    (dict(lam0=[1.0, 2.0]), ValueError, "lam0 must have 1 entries"),
    (dict(lam0=[-1.0]), ValueError, "lam0 must be >= 0"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(penalty=0.0), ValueError, "penalty must be > 0"),
    (dict(penalty_growth=1.0), ValueError, "penalty_growth"),
    (dict(lr=0.1), ValueError, "lr is for method='projected_gradient'"),
    (dict(lr=-0.1, method="projected_gradient"), ValueError, "lr must be > 0"),
    (dict(grad=3), TypeError, "grad must be callable"),
    (dict(max_trajectory=1), ValueError, "max_trajectory"),
])
def test_bad_arguments_name_themselves(kwargs, exc, match):
    args = dict(fun=_sq, x0=[1.0, 1.0], constraints=Ball(1.0), grad=_sq_grad)
    args.update(kwargs)
    fun, x0, cons = args.pop("fun"), args.pop("x0"), args.pop("constraints")
    with pytest.raises(exc, match=match):
        minimize_constrained(fun, x0, cons, **args)


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: Inequality(3), TypeError, "fun must be callable"),
    (lambda: Equality(lambda x: 0.0, grad=2), TypeError, "grad must be callable"),
    (lambda: kkt_residuals(_grad, [_G], [1.0], [1.0, 2.0]), ValueError, "lam must have 1"),
    (lambda: kkt_residuals(_grad, [_G], [1.0], nu=[1.0]), ValueError, "nu must have 0"),
    (lambda: kkt_residuals(np.zeros(3), [_G], [1.0]), ValueError, "grad_f must have 1"),
    (lambda: kkt_residuals(_grad, [_G], [np.nan]), ValueError, "x must be finite"),
    (lambda: kkt_residuals(_grad, [_G], [1.0], active_tol=-1.0), ValueError, "active_tol"),
    (lambda: Box(lower=[[0.0]]), ValueError, "lower must be a scalar or a vector"),
    (lambda: Ball(math.nan), ValueError, "radius"),
    (lambda: Affine([[1.0, 2.0]], [1.0, 2.0]), ValueError, "b must have 1 entries"),
    (lambda: ridge_solution(np.ones(3), np.ones(3), 1.0), ValueError, "X must be"),
    (lambda: ridge_solution(np.ones((3, 2)), np.ones(2), 1.0), ValueError, "y must have 3"),
    (lambda: ridge_radius(np.ones((3, 2)), np.ones(3), -1.0), ValueError, "lam must be >= 0"),
    (lambda: ridge_penalty_for_radius(np.ones((3, 2)), np.ones(3), -1.0), ValueError, "C must"),
])
def test_other_bad_arguments_name_themselves(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# -- weight decay -----------------------------------------------------------------------------------


def test_ridge_solution_solves_the_normal_equations():
    X, y = _ridge_data()
    for lam in (0.0, 0.3, 50.0):
        w = ridge_solution(X, y, lam)
        np.testing.assert_allclose((X.T @ X + lam * np.eye(5)) @ w, X.T @ y, rtol=1e-12,
                                   atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.floats(-4, 4), st.floats(0.01, 3))
def test_the_radius_decreases_with_the_penalty(log_lam, gap):
    X, y = _ridge_data()
    lam = 10.0**log_lam
    assert ridge_radius(X, y, lam * (1 + gap)) < ridge_radius(X, y, lam)


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 0.5, 1.0, 30.0, 1e3, 1e6])
def test_penalty_and_radius_maps_are_inverse(lam):
    X, y = _ridge_data()
    C_ = ridge_radius(X, y, lam)
    assert ridge_penalty_for_radius(X, y, C_) == pytest.approx(lam, rel=1e-8)


def test_radius_map_special_cases():
    X, y = _ridge_data()
    C0 = ridge_radius(X, y, 0.0)
    assert ridge_penalty_for_radius(X, y, C0 * 1.01) == 0.0  # the constraint is inactive
    assert ridge_penalty_for_radius(X, y, math.inf) == 0.0
    assert ridge_penalty_for_radius(X, y, 0.0) == math.inf  # w = 0 needs an infinite penalty
    assert ridge_penalty_for_radius(X, np.zeros(30), 0.0) == 0.0  # X^T y = 0: w = 0 anyway
    # a rank-deficient X (a repeated column): the minimum-norm solutions still match up
    Xr = np.hstack([X, X[:, :1]])
    assert ridge_penalty_for_radius(Xr, y, ridge_radius(Xr, y, 0.7)) == pytest.approx(0.7, rel=1e-9)


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("lam", [0.1, 3.0, 100.0])
def test_the_multiplier_of_the_norm_constraint_is_the_penalty(method, lam):
    X, y = _ridge_data()
    pair = C.ridge_as_constrained(X, y, lam, method=method)
    if method == "penalty" and lam == 100.0:
        # The pure penalty method needs mu ~ lam / TOL = 1e8 here, and its subproblem's Hessian
        # grows with mu: whether BFGS's line search still finds a decrease at the last penalty
        # depends on the rounding of the BLAS kernel (it stalls with OpenBLAS's Prescott and
        # Sandybridge kernels, stationarity residuals 1e-4 to 1e-3 on a gradient of ~1e2).
        # Converged or stalled, it must say which, and its multiplier and weights must still be
        # right to the tolerances below.
        r = pair.result
        assert r.success or (r.status is Status.STALLED and r.reason == "line_search"), r.message
        assert r.kkt.primal_feasibility <= TOL
    else:
        assert pair.result.success, pair.result.message
    assert pair.radius == pytest.approx(ridge_radius(X, y, lam), rel=1e-14)
    # A violation of TOL in ||w||^2 <= C moves the multiplier by TOL |d lam / d C|, which is
    # large where C(lam) is flat (small lam): the multiplier is ill-conditioned there.
    dC = (ridge_radius(X, y, lam * 1.001) - ridge_radius(X, y, lam / 1.001)) / (lam * 0.002)
    assert abs(pair.multiplier - lam) <= 1e-4 * lam + 2 * TOL / abs(dC)
    assert pair.lam_from_radius == pytest.approx(lam, rel=1e-9)
    np.testing.assert_allclose(pair.w_constrained, pair.w_penalized, atol=X_TOL)


def test_the_factor_convention():
    """Loss ||Xw - y||^2 + lam ||w||^2: multiplier lam.  Loss 1/2 ||Xw - y||^2 + lam/2 ||w||^2: the
    same w, multiplier lam / 2 (the constraint is still ||w||^2 - C <= 0)."""
    X, y = _ridge_data()
    lam = 2.0
    w = ridge_solution(X, y, lam)
    ball = Ball(math.sqrt(float(w @ w)))
    full = kkt_residuals(lambda v: 2 * X.T @ (X @ v - y), ball, w, [lam])
    half = kkt_residuals(lambda v: X.T @ (X @ v - y), ball, w, [lam / 2])
    assert full.max <= 1e-12 and half.max <= 1e-12
    assert kkt_residuals(lambda v: X.T @ (X @ v - y), ball, w, [lam]).stationarity > 1.0


# -- docstrings -------------------------------------------------------------------------------------


SUBMODULES = ["constraints", "sets", "kkt", "solvers", "problems", "ridge"]


@pytest.mark.parametrize("name", ["__init__", *SUBMODULES])
def test_doctests(name):
    module = C if name == "__init__" else importlib.import_module(f"numdl.optim.constrained.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 1


def test_doctests_exist():
    total = sum(doctest.testmod(importlib.import_module(f"numdl.optim.constrained.{name}"),
                                optionflags=doctest.NORMALIZE_WHITESPACE).attempted
                for name in SUBMODULES)
    assert total >= 10
