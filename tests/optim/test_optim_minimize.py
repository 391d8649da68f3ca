"""minimize: statuses from one table, counts, trajectory, closed-form rates on quadratics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from numdl.optim import (
    DIVERGENCE_FACTOR,
    MESSAGES,
    METHODS,
    OptimizeResult,
    Status,
    minimize,
    optimal_gradient_step,
    quadratic_gd_iterates,
    quadratic_rates,
    schedules,
)
from numdl.optim.problems import booth, quadratic, rosenbrock, saddle

H2 = np.diag([1.0, 100.0])


def test_status_table_is_complete_and_consistent():
    assert {s for s, _ in MESSAGES.values()} == set(Status)
    assert set(METHODS) == {"gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                            "newton", "bfgs", "lbfgs"}


@pytest.mark.parametrize("factor", [0.5, 0.9, 0.99])
def test_gd_converges_below_the_stability_limit(factor):
    q = quadratic(H2)
    lr = factor * quadratic_rates(H2).stability_limit
    r = minimize(q, [1.0, 1.0], method="gd", lr=lr, max_iter=20_000)
    assert r.status is Status.CONVERGED and r.success and r.reason == "converged"
    assert r.grad_norm <= r.tol == 1e-6
    assert r.message == MESSAGES["converged"][1].format(grad_norm=r.grad_norm, tol=r.tol)


@pytest.mark.parametrize("factor", [1.01, 1.1, 3.0])
def test_gd_diverges_above_the_stability_limit(factor):
    q = quadratic(H2)
    lr = factor * quadratic_rates(H2).stability_limit
    r = minimize(q, [1.0, 1.0], method="gd", lr=lr, max_iter=20_000)
    assert r.status is Status.DIVERGED and not r.success and r.reason == "exploded"
    # the stiff coordinate grows by |1 - lr * 100| per step; f by its square
    growth = (lr * 100 - 1) ** 2
    expected_nit = np.log(DIVERGENCE_FACTOR * 50 / 50.5) / np.log(growth)
    assert r.nit == pytest.approx(expected_nit, abs=2)
    assert abs(r.fun - 50.5) > DIVERGENCE_FACTOR * 50.5


def test_gd_at_the_best_step_contracts_at_the_predicted_rate():
    q = quadratic(H2)
    rates = quadratic_rates(H2)
    r = minimize(q, [1.0, 1.0], method="gd", lr=rates.best_step, max_iter=50, tol=0.0)
    err = np.linalg.norm(r.trajectory, axis=1)
    np.testing.assert_allclose(err[1:] / err[:-1], rates.rate, rtol=1e-9)


def test_nan_is_a_status_and_never_success():
    def f(x):
        return np.log(x[0]) + x[1] ** 2  # gradient steps push x[0] below 0: log -> nan

    def g(x):
        return np.array([1 / x[0], 2 * x[1]])

    r = minimize(f, [1.0, 1.0], method="gd", grad=g, lr=2.0, max_iter=100)
    assert r.status is Status.DIVERGED and r.reason == "nonfinite" and not r.success
    assert np.all(np.isfinite(r.x)) and np.isfinite(r.fun)  # the last finite iterate
    assert not np.all(np.isfinite(r.trajectory_fun))  # the trajectory shows the nan


def test_nan_at_the_start():
    r = minimize(lambda x: np.nan, [1.0], method="bfgs", grad=lambda x: np.zeros(1))
    assert r.status is Status.DIVERGED and r.nit == 0 and not r.success


def test_stalled_when_the_step_is_below_the_resolution_of_x():
    r = minimize(booth(), [1e8, 1e8], method="gd", lr=1e-30)
    assert r.status is Status.STALLED and r.reason == "no_step" and r.nit == 0


def test_stalled_when_the_gradient_is_wrong():
    p = rosenbrock()
    r = minimize(p.value, p.start, method="bfgs", grad=lambda x: -p.gradient(x))
    assert r.status is Status.STALLED and r.reason == "line_search"


def test_max_iter():
    p = rosenbrock()
    r = minimize(p, p.start, method="gd", lr=1e-4, max_iter=7)
    assert r.status is Status.MAX_ITER and r.nit == 7 and not r.success
    assert "max_iter = 7" in r.message
    assert minimize(p, p.start, method="bfgs", max_iter=0).nit == 0


def test_callback_sees_every_iterate_and_can_stop():
    p = rosenbrock()
    seen = []

    def cb(info):
        seen.append(info)
        return info.nit == 5

    r = minimize(p, p.start, method="bfgs", callback=cb)
    assert r.status is Status.CALLBACK and r.nit == 5 and [i.nit for i in seen] == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(seen[-1].x, r.x)
    assert seen[-1].grad_norm == r.grad_norm
    with pytest.raises(ValueError):
        seen[-1].x[0] = 0.0  # read-only: the callback cannot corrupt the run


@pytest.mark.parametrize(
    ("method", "lr", "options"),
    [("gd", 0.05, {}), ("momentum", 0.02, {"beta": 0.8}), ("nesterov", 0.02, {"beta": 0.8}),
     ("adagrad", 1.0, {}), ("rmsprop", 0.01, {"decay": 0.99}), ("adam", 0.05, {}),
     ("adamw", 0.05, {"weight_decay": 0.0})],
)
def test_first_order_methods_converge_on_booth(method, lr, options):
    r = minimize(booth(), [-3.0, -1.0], method=method, lr=lr, options=options, max_iter=20_000,
                 tol=1e-5)
    assert r.success, r.message
    np.testing.assert_allclose(r.x, [1.0, 3.0], atol=1e-5)
    assert r.nfev == r.ngev == r.nit + 1 and r.nhev == 0


def test_schedule_argument():
    s = schedules.exponential_schedule(0.05, decay_rate=0.999)
    r = minimize(booth(), [-3.0, -1.0], method="gd", schedule=s, max_iter=5000, tol=1e-6)
    assert r.success
    with pytest.raises(ValueError, match="not both"):
        minimize(booth(), [0.0, 0.0], method="gd", lr=0.1, schedule=s)


def test_adamw_decay_pulls_the_minimizer_toward_zero():
    r = minimize(booth(), [-3.0, -1.0], method="adamw", lr=0.01,
                 options={"weight_decay": 0.5}, max_iter=3000)
    assert r.status is Status.MAX_ITER
    assert np.linalg.norm(r.x) < np.linalg.norm([1.0, 3.0]) - 0.01


def test_evaluation_counts():
    p = rosenbrock()
    calls = {"f": 0, "g": 0}

    def f(x):
        calls["f"] += 1
        return p.value(x)

    def g(x):
        calls["g"] += 1
        return p.gradient(x)

    r = minimize(f, p.start, method="lbfgs", grad=g)
    assert (r.nfev, r.ngev, r.nhev) == (calls["f"], calls["g"], 0)
    # finite differences: 2n + 1 calls per (f, g), counted in nfev
    calls["f"] = 0
    r = minimize(f, p.start, method="gd", lr=1e-3, max_iter=10)
    assert r.ngev == 0 and r.nfev == calls["f"] == 11 * 5
    # grad=True: fun returns (f, g)
    r2 = minimize(lambda x: (p.value(x), p.gradient(x)), p.start, method="lbfgs", grad=True)
    assert r2.nfev == r2.ngev and r2.success


def test_fd_gradient_run_matches_analytic_run():
    p = rosenbrock()
    a = minimize(p.value, p.start, method="bfgs", tol=1e-6)
    b = minimize(p, p.start, method="bfgs", tol=1e-6)
    assert a.success and b.success
    np.testing.assert_allclose(a.x, b.x, atol=1e-6)


def test_trajectory_is_capped_and_thinned():
    r = minimize(booth(), [-3.0, -1.0], method="gd", lr=1e-3, max_iter=1000, tol=0.0,
                 max_trajectory=10)
    assert r.status is Status.MAX_ITER
    assert len(r.trajectory) <= 10 and r.trajectory.shape[1] == 2
    np.testing.assert_array_equal(r.trajectory[0], [-3.0, -1.0])
    np.testing.assert_array_equal(r.trajectory[-1], r.x)
    assert r.trajectory_iter[0] == 0 and r.trajectory_iter[-1] == 1000
    strides = np.diff(r.trajectory_iter[:-1])
    assert np.all(strides == strides[0]) and strides[0] >= 1000 // 10
    np.testing.assert_array_equal(r.trajectory_fun, booth().value(r.trajectory))
    full = minimize(booth(), [-3.0, -1.0], method="gd", lr=1e-3, max_iter=50, tol=0.0)
    assert len(full.trajectory) == 51
    np.testing.assert_array_equal(full.trajectory_iter, np.arange(51))


def test_default_trajectory_cap_bounds_memory():
    n = 2**18
    r = minimize(lambda x: 0.5 * x @ x, np.ones(n), grad=lambda x: x, method="gd", lr=0.1,
                 max_iter=20, tol=0.0)
    assert len(r.trajectory) <= 4 and r.trajectory.nbytes <= 8 * 2**20


def test_result_is_frozen_and_read_only():
    r = minimize(booth(), [0.0, 0.0], method="bfgs")
    assert isinstance(r, OptimizeResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.x = None
    for a in (r.x, r.grad, r.trajectory, r.trajectory_fun, r.trajectory_iter):
        assert not a.flags.writeable


def test_float32_run():
    p = rosenbrock()
    r = minimize(p, p.start.astype(np.float32), method="bfgs")
    assert r.x.dtype == np.float32 and r.tol == 1e-3
    assert r.success
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-2)


def test_saddle_escape_with_gd_is_divergence_of_an_unbounded_function():
    r = minimize(saddle(), [1.0, 1e-8], method="gd", lr=0.1, max_iter=10_000)
    assert r.reason == "exploded" and r.fun < 0
    # started exactly on the stable manifold it converges to the saddle
    r = minimize(saddle(), [1.0, 0.0], method="gd", lr=0.1)
    assert r.success and r.x[1] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"method": "sgd"}, ValueError, "method"),
        ({"method": "gd"}, ValueError, "lr"),
        ({"method": "bfgs", "lr": 0.1}, ValueError, "line search"),
        ({"method": "adam", "lr": 0.1, "options": {"beta": 0.9}}, ValueError, "options"),
        ({"method": "bfgs", "options": {"memory": 3}}, ValueError, "options"),
        ({"method": "newton", "options": {"damping": "trust"}}, ValueError, "damping"),
        ({"method": "bfgs", "options": {"c1": 0.5, "c2": 0.1}}, ValueError, "c1"),
        ({"method": "bfgs", "tol": -1.0}, ValueError, "tol"),
        ({"method": "bfgs", "max_iter": -1}, ValueError, "max_iter"),
        ({"method": "bfgs", "max_trajectory": 1}, ValueError, "max_trajectory"),
        ({"method": "bfgs", "grad": "analytic"}, TypeError, "grad"),
        ({"method": "bfgs", "fd_method": "backward"}, ValueError, "fd_method"),
    ],
)
def test_invalid_arguments(kwargs, exc, match):
    p = rosenbrock()
    with pytest.raises(exc, match=match):
        minimize(p, p.start, **kwargs)


def test_invalid_inputs():
    with pytest.raises(TypeError, match="x0"):
        minimize(lambda x: 0.0, ["a"], method="bfgs")
    with pytest.raises(TypeError, match="fun"):
        minimize(3.0, [1.0], method="bfgs")
    with pytest.raises(ValueError, match="scalar"):
        minimize(lambda x: x, [1.0, 2.0], method="gd", lr=0.1, grad=lambda x: x)
    with pytest.raises(ValueError, match="shape"):
        minimize(lambda x: 0.0, [1.0, 2.0], method="gd", lr=0.1, grad=lambda x: np.ones(3))


# -- closed forms on quadratics --------------------------------------------------------------------


def test_quadratic_rates_values():
    r = quadratic_rates([[1.0, 0.0], [0.0, 100.0]], g=[1.0, 1.0])
    assert (r.lambda_min, r.lambda_max, r.kappa) == (1.0, 100.0, 100.0)
    assert r.stability_limit == 0.02 and r.best_step == 2 / 101
    assert r.rate == 99 / 101 and r.momentum_rate == pytest.approx(9 / 11, rel=1e-15)
    assert r.momentum_lr == pytest.approx(4 / 121, rel=1e-15)
    assert r.momentum_beta == pytest.approx((9 / 11) ** 2, rel=1e-15)
    assert r.optimal_step == 2 / 101
    assert r.steps_per_digit == pytest.approx(-1 / np.log10(99 / 101))
    with pytest.raises(ValueError, match="positive definite"):
        quadratic_rates([[1.0, 0.0], [0.0, -1.0]])


def test_optimal_gradient_step_minimizes_along_the_gradient():
    rng = np.random.default_rng(0)
    q = quadratic(kappa=30.0, dim=3, rng=rng, b=rng.standard_normal(3))
    H = q.params["hessian"]
    x = np.array([1.0, -1.0, 2.0])
    g = q.gradient(x)
    t = optimal_gradient_step(H, g)
    ft = q.value(x - t * g)
    for s in (0.9 * t, 0.99 * t, 1.01 * t, 1.1 * t):
        assert q.value(x - s * g) > ft
    assert optimal_gradient_step(H, np.zeros(3)) == 0.0
    assert optimal_gradient_step(np.diag([1.0, -1.0]), [0.0, 1.0]) == np.inf


def test_heavy_ball_with_polyak_parameters_beats_gd():
    q = quadratic(H2)
    r = quadratic_rates(H2)
    gd = minimize(q, [1.0, 1.0], method="gd", lr=r.best_step, max_iter=10_000, tol=1e-8)
    hb = minimize(q, [1.0, 1.0], method="momentum", lr=r.momentum_lr,
                  options={"beta": r.momentum_beta}, max_iter=10_000, tol=1e-8)
    assert gd.success and hb.success
    # ~ kappa/2 * ln(1/tol) vs ~ sqrt(kappa)/2 * ln(1/tol) iterations
    assert gd.nit > 5 * hb.nit
    assert hb.nit <= 1.5 * np.log(1e-8 / 100) / np.log(r.momentum_rate)


def test_quadratic_gd_iterates_handles_indefinite_and_singular():
    H = np.diag([2.0, -1.0, 0.0])
    b = np.array([1.0, 1.0, 1.0])
    x0 = np.array([1.0, 1.0, 1.0])
    closed = quadratic_gd_iterates(H, x0, 0.1, 20, b=b)
    x = x0.copy()
    for k in range(20):
        x = x - 0.1 * (H @ x - b)
        np.testing.assert_allclose(closed[k + 1], x, rtol=1e-13)
