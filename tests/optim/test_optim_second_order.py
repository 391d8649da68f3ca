"""Newton, BFGS, L-BFGS and the strong Wolfe line search."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.optim import (
    bfgs,
    bfgs_update,
    lbfgs,
    lbfgs_direction,
    minimize,
    newton,
    newton_direction,
    wolfe_line_search,
)
from numdl.optim.problems import quadratic, rosenbrock, saddle


def fg_of(p):
    return lambda x: (float(p.value(x)), p.gradient(x))


# -- line search -----------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha0", [1e-4, 1e-2, 1.0, 1e3])
@pytest.mark.parametrize("c2", [0.9, 0.1])
def test_wolfe_line_search_satisfies_both_strong_wolfe_conditions(alpha0, c2):
    p = rosenbrock()
    x = p.start
    f0, g0 = fg_of(p)(x)
    d = -g0
    c1 = 1e-4
    ls = wolfe_line_search(fg_of(p), x, d, f0=f0, g0=g0, alpha0=alpha0, c1=c1, c2=c2)
    assert ls.success and ls.alpha > 0
    np.testing.assert_array_equal(ls.x, x + ls.alpha * d)
    assert ls.fun == p.value(ls.x)
    assert ls.fun <= f0 + c1 * ls.alpha * (g0 @ d)
    assert abs(ls.grad @ d) <= c2 * abs(g0 @ d)
    assert ls.nfev <= 30


def test_newton_step_on_a_quadratic_is_accepted_at_once():
    q = quadratic([[3.0, 1.0], [1.0, 2.0]], b=[1.0, 1.0])
    x = np.array([5.0, -4.0])
    f0, g0 = fg_of(q)(x)
    d = np.linalg.solve(q.params["hessian"], -g0)
    ls = wolfe_line_search(fg_of(q), x, d, f0=f0, g0=g0)
    assert ls.success and ls.alpha == 1.0 and ls.nfev == 1
    np.testing.assert_allclose(ls.x, q.minimum.x, rtol=1e-14)


def test_line_search_interpolation_is_exact_on_a_quadratic():
    # a too-long first trial on a quadratic: the cubic through (0, f, f') and (a, f, f') is the
    # quadratic itself, so one interpolation lands on the exact minimizer along d
    q = quadratic([[100.0, 0.0], [0.0, 1.0]])
    x = np.array([1.0, 1.0])
    f0, g0 = fg_of(q)(x)
    ls = wolfe_line_search(fg_of(q), x, -g0, f0=f0, g0=g0, alpha0=1.0, c2=0.1)
    exact = (g0 @ g0) / (g0 @ q.params["hessian"] @ g0)
    assert ls.success and ls.nfev == 2
    assert ls.alpha == pytest.approx(exact, rel=1e-12)


def test_line_search_survives_overflow():
    def fg(x):
        return float(np.exp(x[0]) - 2 * x[0]), np.array([np.exp(x[0]) - 2])

    x = np.array([0.0])
    f0, g0 = fg(x)
    with np.errstate(over="ignore", invalid="ignore"):
        ls = wolfe_line_search(fg, x, np.array([1.0]), f0=f0, g0=g0, alpha0=1e4)
    assert ls.success
    assert abs(ls.grad[0]) <= 0.9 * abs(g0[0])


def test_line_search_refuses_an_uphill_direction():
    p = rosenbrock()
    f0, g0 = fg_of(p)(p.start)
    ls = wolfe_line_search(fg_of(p), p.start, g0, f0=f0, g0=g0)
    assert not ls.success and ls.alpha == 0.0 and ls.nfev == 0
    np.testing.assert_array_equal(ls.x, p.start)


# -- directions and updates ------------------------------------------------------------------------


def test_newton_direction_undamped_and_damped():
    H = np.array([[4.0, 1.0], [1.0, 3.0]])
    g = np.array([1.0, -2.0])
    exact = np.linalg.solve(H, -g)
    for damping in (None, "levenberg", "eigen"):
        r = newton_direction(H, g, damping=damping)
        np.testing.assert_allclose(r.direction, exact, rtol=1e-14)
        assert r.shift == pytest.approx(0.0, abs=1e-14)  # positive definite: left alone


def test_damped_newton_directions_go_downhill_at_a_saddle():
    H = np.diag([2.0, -2.0])
    g = np.array([1.0, 1.0])
    undamped = newton_direction(H, g).direction
    np.testing.assert_allclose(undamped, [-0.5, 0.5])
    assert undamped @ g == 0.0  # not a descent direction: it heads for the saddle
    eig = newton_direction(H, g, damping="eigen")
    np.testing.assert_allclose(eig.direction, [-0.5, -0.5], rtol=1e-15)  # |lambda| = 2 both ways
    assert eig.shift == 4.0
    lev = newton_direction(H, g, damping="levenberg")
    assert lev.direction @ g < 0 and lev.shift > 2.0
    Hs = H + lev.shift * np.eye(2)
    np.testing.assert_allclose(Hs @ lev.direction, -g, rtol=1e-12)


def test_singular_hessian():
    assert newton_direction(np.zeros((2, 2)), np.ones(2)).direction is None
    lev = newton_direction(np.zeros((2, 2)), np.ones(2), damping="levenberg")
    np.testing.assert_allclose(lev.direction, -np.ones(2) / 1e-3)
    with pytest.raises(ValueError, match="damping"):
        newton_direction(np.eye(2), np.ones(2), damping="trust")
    with pytest.raises(ValueError, match="shape"):
        newton_direction(np.eye(3), np.ones(2))


def test_bfgs_update_satisfies_the_secant_equation_and_stays_positive_definite():
    rng = np.random.default_rng(0)
    H = np.eye(4)
    A = rng.standard_normal((4, 4))
    A = A @ A.T + np.eye(4)
    for _ in range(6):
        s = rng.standard_normal(4)
        y = A @ s
        H = bfgs_update(H, s, y)
        np.testing.assert_allclose(H @ y, s, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(H, H.T)
        assert np.linalg.eigvalsh(H)[0] > 0
    with pytest.raises(ValueError, match="curvature"):
        bfgs_update(np.eye(2), np.array([1.0, 0.0]), np.array([-1.0, 0.0]))


def test_two_loop_recursion_equals_bfgs_with_the_same_pairs():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 5))
    A = A @ A.T + np.eye(5)
    S = [rng.standard_normal(5) for _ in range(4)]
    Y = [A @ s for s in S]
    g = rng.standard_normal(5)
    gamma = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
    H = gamma * np.eye(5)
    for s, y in zip(S, Y):
        H = bfgs_update(H, s, y)
    np.testing.assert_allclose(lbfgs_direction(g, S, Y), -H @ g, rtol=1e-10)
    np.testing.assert_array_equal(lbfgs_direction(g, [], []), -g)


# -- the methods -----------------------------------------------------------------------------------


def test_newton_converges_quadratically_near_the_rosenbrock_minimum():
    p = rosenbrock()
    errors = []
    r = minimize(p, [1.2, 1.3], method="newton", tol=0.0, max_iter=8,
                 callback=lambda info: errors.append(np.linalg.norm(info.x - 1)))
    e = np.array([np.linalg.norm(np.array([1.2, 1.3]) - 1), *errors])
    e = e[e > 1e-13]  # below that, rounding
    assert len(e) >= 4
    # quadratic convergence: e_{k+1} <= C e_k^2 with a constant C that stays bounded (~ |H^-1| |T|
    # for Rosenbrock's third derivative), while the linear ratio e_{k+1} / e_k goes to 0
    # measured from (1.2, 1.3): e = 0.36, 0.47, 0.24, 0.15, 0.038, 0.012, 3.2e-4, 1.8e-6, 8.1e-12,
    # ratios e_{k+1} / e_k^2 between 1.1 and 17
    ratios = e[1:] / e[:-1] ** 2
    assert np.all(ratios < 50)
    assert np.sum(e < 1e-2) >= 3  # at least three steps inside the quadratic regime
    assert e[-1] / e[-2] < 1e-4
    assert r.nhev >= len(e) - 1


@pytest.mark.parametrize("dim", [2, 10])
@pytest.mark.parametrize("method", ["bfgs", "lbfgs", "newton"])
def test_methods_reach_the_rosenbrock_minimum(method, dim):
    p = rosenbrock(dim)
    x0 = p.start if dim == 2 else np.zeros(dim)
    r = minimize(p, x0, method=method, tol=1e-9, max_iter=500)
    assert r.success, r.message
    assert r.grad_norm <= 1e-9
    np.testing.assert_allclose(r.x, np.ones(dim), atol=1e-8)
    assert r.nfev == r.ngev
    assert r.nhev == (r.nit if method == "newton" else 0)


def test_shorthands_equal_minimize():
    p = rosenbrock()
    for fn, m in ((newton, "newton"), (bfgs, "bfgs"), (lbfgs, "lbfgs")):
        a, b = fn(p, p.start), minimize(p, p.start, method=m)
        np.testing.assert_array_equal(a.x, b.x)
        assert a.nfev == b.nfev


def test_bfgs_recovers_the_inverse_hessian_direction_on_a_quadratic():
    rng = np.random.default_rng(2)
    q = quadratic(kappa=100.0, dim=6, rng=rng, b=rng.standard_normal(6))
    # The line search compares values of f, and a decrease below eps |f*| is rounding: from a
    # gradient g it is at least |g|^2 / (2 lambda_max), so |g| can be driven reliably down to
    # sqrt(2 lambda_max eps |f*|) (4e-7 here) and no further.  A tolerance below that floor is
    # met or not by the luck of the rounding, which differs between CPUs.
    lam = q.params["eigenvalues"]
    floor = np.sqrt(2 * lam[-1] * np.finfo(float).eps * abs(q.minimum.value))
    tol = 3 * floor
    r = minimize(q, np.zeros(6), method="bfgs", tol=tol)
    assert r.success and r.nit <= 20 and r.grad_norm <= tol
    # |x - x*| <= |g| / lambda_min on a quadratic
    assert np.linalg.norm(r.x - q.minimum.x) <= r.grad_norm / lam[0] * (1 + 1e-6)


def test_lbfgs_memory_option():
    p = rosenbrock(10)
    one = minimize(p, np.zeros(10), method="lbfgs", options={"memory": 1}, max_iter=2000)
    ten = minimize(p, np.zeros(10), method="lbfgs", options={"memory": 10})
    assert one.success and ten.success
    assert ten.nfev < one.nfev
    with pytest.raises(ValueError, match="memory"):
        minimize(p, np.zeros(10), method="lbfgs", options={"memory": 0})


def test_undamped_newton_jumps_to_the_saddle():
    # pure Newton solves grad = 0: on x^2 - y^2 it lands on the saddle in one step
    s = saddle()
    r = minimize(s, [0.3, -0.8], method="newton", options={"damping": None, "line_search": False},
                 max_iter=5)
    assert r.success and r.nit == 1
    np.testing.assert_array_equal(r.x, [0.0, 0.0])
    # with a line search it refuses the uphill direction: a status, not an exception
    r = minimize(s, [0.3, -0.8], method="newton", options={"damping": None})
    assert r.status.value == "stalled" and r.reason == "not_descent"
    # damped, it escapes downhill until f explodes: unbounded below
    r = minimize(s, [0.3, -0.8], method="newton", options={"damping": "eigen"}, max_iter=500)
    assert r.reason == "exploded" and r.fun < -1e11


def test_newton_with_finite_difference_hessian():
    p = rosenbrock()
    with_grad = minimize(p.value, p.start, method="newton", grad=p.gradient)
    assert with_grad.success and with_grad.nhev == 0
    assert with_grad.ngev > 4 * with_grad.nit  # 2n gradient calls per Hessian
    no_grad = minimize(p.value, p.start, method="newton", tol=1e-5)
    assert no_grad.success and no_grad.ngev == 0
    np.testing.assert_allclose(no_grad.x, [1.0, 1.0], atol=1e-5)


def test_a_tolerance_below_the_precision_of_f_stalls_instead_of_looping():
    # near the minimum f changes by ~|g|^2 / lambda, below eps |f| once |g| ~ 1e-9 here: the
    # line search cannot see a decrease, and the run says so
    rng = np.random.default_rng(2)
    q = quadratic(kappa=100.0, dim=6, rng=rng, b=rng.standard_normal(6))
    r = minimize(q, np.zeros(6), method="bfgs", tol=1e-14)
    assert r.status.value == "stalled" and r.reason == "line_search" and not r.success
    np.testing.assert_allclose(r.x, q.minimum.x, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"c1": 0.5, "c2": 0.1}, "c1"), ({"alpha0": 0.0}, "alpha0"), ({"max_evals": 0}, "max_evals")],
)
def test_line_search_invalid_arguments(kwargs, match):
    p = rosenbrock()
    f0, g0 = fg_of(p)(p.start)
    with pytest.raises(ValueError, match=match):
        wolfe_line_search(fg_of(p), p.start, -g0, f0=f0, g0=g0, **kwargs)
    with pytest.raises(ValueError, match="shape"):
        wolfe_line_search(fg_of(p), p.start, -g0[:1], f0=f0, g0=g0)
