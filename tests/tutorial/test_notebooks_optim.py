"""Chapters 3a-3c: the values the notebooks compute and quote agree with numdl.optim.

Each test runs a notebook with ``app.run(defs=...)``, its controls replaced by fixed values,
and checks the computed objects against the library (or against closed-form theory).
"""

from __future__ import annotations

import numpy as np
import pytest
from nbutil import control, default_run, html_of, load_app

from numdl.optim import Status, classify_critical_point, minimize
from numdl.optim.problems import PROBLEMS
from numdl.tutorial.simulations import ch01, ch03a


@pytest.fixture(scope="module")
def app3a():
    return load_app("03a_gradient_descent")


@pytest.fixture(scope="module")
def app3b():
    return load_app("03b_critical_points")


@pytest.fixture(scope="module")
def app3c():
    return load_app("03c_newton")


def _gd(app, kappa, frac, steps=1000):
    _, defs = app.run(defs={"gd_kappa": control(kappa), "gd_frac": control(frac),
                            "gd_steps": control(steps)})
    return defs


# -- 3a ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [10, 100])
def test_3a_measured_contraction_is_the_predicted_rate_at_the_best_step(app3a, kappa):
    defs = _gd(app3a, kappa, kappa / (kappa + 1.0), steps=3000)  # best step / stability limit
    run, rates = defs["gd_run"], defs["gd_rates"]
    assert rates.kappa == pytest.approx(kappa, rel=1e-9)
    assert rates.stability_limit == pytest.approx(2.0 / kappa, rel=1e-9)
    assert run.regime == "best"
    assert run.measured == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-6)
    assert run.measured == pytest.approx(rates.rate, rel=1e-6)


def test_3a_just_above_the_stability_limit_diverges(app3a):
    above = _gd(app3a, 10, 1.01)
    run = above["gd_run"]
    assert above["gd_lr"] > above["gd_rates"].stability_limit
    assert run.regime == "diverges" and run.result.status is Status.DIVERGED
    assert run.measured == pytest.approx(abs(1 - above["gd_lr"] * 10), rel=1e-6)  # 1.02
    below = _gd(app3a, 10, 0.99)["gd_run"]
    assert below.result.status is not Status.DIVERGED and below.measured < 1


@pytest.mark.parametrize(("frac", "regime", "limited_by"), [(0.3, "too small", 0),
                                                            (0.97, "too large", 1)])
def test_3a_the_slowest_eigen_direction_sets_the_rate(app3a, frac, regime, limited_by):
    outputs, defs = app3a.run(defs={"gd_kappa": control(20), "gd_frac": control(frac),
                                    "gd_steps": control(2000)})
    run = defs["gd_run"]
    assert run.regime == regime
    assert run.predicted == pytest.approx(run.factors[limited_by], rel=1e-12)
    assert run.measured == pytest.approx(run.predicted, rel=1e-6)
    assert f"{run.measured:.6f}" in html_of(outputs)


def test_3a_second_order_step_is_between_the_inverse_eigenvalues(app3a):
    _, defs = app3a.run(defs={"gd_kappa": control(50), "gd_frac": control(0.5),
                              "gd_steps": control(500)})
    rates = defs["gd_rates"]
    assert 1 / rates.lambda_max <= defs["ls_first"] <= 1 / rates.lambda_min
    assert rates.lambda_min <= defs["ls_rayleigh"] <= rates.lambda_max
    assert defs["ls_run"].steps[0] == defs["ls_first"]


def test_3a_decaying_schedules_beat_a_constant_step_only_with_noise(app3a):
    _, defs = app3a.run(defs={"sched_peak": control(0.5), "sched_noise": control(1.0),
                              "sched_steps": control(400)})
    final = {name: loss[-1] for name, loss in defs["sched_loss"].items()}
    assert all(final[name] < 0.5 * final["constant"] for name in final if name != "constant")
    _, defs = app3a.run(defs={"sched_peak": control(0.5), "sched_noise": control(0.0),
                              "sched_steps": control(400)})
    final = {name: loss[-1] for name, loss in defs["sched_loss"].items()}
    assert min(final, key=final.get) == "constant"


def test_3a_race_runs_the_library_optimizers(app3a):
    _, defs = app3a.run(defs={"race_problem": control("beale"),
                              "race_methods": control(["gd", "adam"]),
                              "race_scale": control(1.0), "race_steps": control(600)})
    race, p = defs["race"], PROBLEMS["beale"]()
    for method in ("gd", "adam"):
        direct = minimize(p, p.start, method=method, lr=10.0 ** ch03a.RACE_LR["beale"][method],
                          max_iter=600)
        np.testing.assert_array_equal(race[method].x, direct.x)
    _, defs = default_run("03a_gradient_descent")  # Rosenbrock, every method, 2000 steps
    race = defs["race"]
    assert race["adam"].fun < 1e-9 < 1e-2 < race["gd"].fun
    assert defs["tune"] is None  # the grid search waits for its button


@pytest.mark.slow
def test_3a_grid_search_button_finds_the_race_learning_rates(app3a):
    _, defs = app3a.run(defs={"tune_button": control(True)})
    grid = defs["tune_grid"]
    for method, finals in defs["tune"].items():
        best = ch03a.RACE_LR["rosenbrock"][method]  # best, or within rounding (test_ch03a)
        assert np.asarray(finals)[np.asarray(grid) == best][0] <= 1.1 * np.min(finals), method


# -- 3b ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "index"), [("himmelblau", 0), ("himmelblau", 4),
                                             ("beale", 2), ("six_hump_camel", 8)])
def test_3b_the_hessian_test_agrees_with_the_listed_kind(app3b, name, index):
    _, defs = app3b.run(defs={"cp_problem": control(name), "cp_point": control(index)})
    cp = PROBLEMS[name]().critical_points[index]
    np.testing.assert_array_equal(defs["cp"].x, cp.x)
    expected = classify_critical_point(PROBLEMS[name]().hessian(cp.x))
    assert defs["cp_class"].kind == expected.kind == cp.kind
    np.testing.assert_allclose(defs["cp_lam"], expected.eigenvalues, rtol=1e-12)
    assert defs["cp_grad_norm"] < 1e-6


def test_3b_monkey_saddle_is_inconclusive(app3b):
    outputs, defs = app3b.run(defs={"cp_problem": control("monkey_saddle"),
                                    "cp_point": control(0)})
    assert defs["cp_class"].kind == "degenerate" and defs["cp"].kind == "saddle"
    assert np.all(defs["cp_hessian"] == 0)
    assert "it cannot decide" in html_of(outputs)


def test_3b_degenerate_table(app3b):
    _, defs = default_run("03b_critical_points")
    rows = defs["degenerate_rows"]
    lam, naive, tolerant, sampled = rows["x² + y⁴"]
    assert 0 < lam[0] < 1e-6 and lam[1] == pytest.approx(2, rel=1e-6)
    assert (naive, tolerant, sampled) == ("minimum", "degenerate", "minimum")
    assert rows["x² − y⁴"][1:] == ("saddle", "degenerate", "saddle")
    assert rows["x² + y³"][2:] == ("degenerate", "saddle")
    assert rows["x³ − 3xy² (monkey saddle)"][2:] == ("degenerate", "saddle")


def test_3b_fraction_of_minima_falls_faster_than_coin_flips(app3b):
    _, defs = app3b.run(defs={"hd_trials": control(5000), "hd_max_dim": control(6)})
    frac, dims = defs["hd_frac"], defs["hd_dims"]
    assert frac[0] == ch01.fraction_of_minima(1, 5000, rng=np.random.default_rng(101))
    assert frac[0] == pytest.approx(0.5, abs=0.03)
    assert np.all(np.diff(frac) <= 0) and np.all(frac[1:4] < 0.5 ** dims[1:4])
    assert defs["hd_c"] < 0  # log fraction ~ a + hd_c n^2


@pytest.mark.parametrize("method", ["forward", "central", "richardson", "complex"])
def test_3b_jacobian_of_the_gradient_is_the_hessian(app3b, method):
    _, defs = app3b.run(defs={"jac_problem": control("himmelblau"), "jac_x": control(1.3),
                              "jac_y": control(-0.7), "jac_method": control(method)})
    exact = PROBLEMS["himmelblau"]().hessian(np.array([1.3, -0.7]))
    np.testing.assert_array_equal(defs["jac_exact"], exact)
    limit = {"forward": 1e-6, "central": 1e-9, "richardson": 1e-9, "complex": 1e-14}[method]
    assert defs["jac_err_j"] < limit
    if method == "central":
        assert defs["jac_err_h"] > defs["jac_err_j"]  # second differences of f lose more digits


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_3b_v_curves(app3b, dtype):
    _, defs = app3b.run(defs={"fd_fn": control("exp(x) sin(y)"), "fd_dtype": control(dtype)})
    curves = defs["fd_curves"]
    eps = float(np.finfo(dtype).eps)
    central = curves["central"]
    assert central.default_step == pytest.approx(eps ** (1 / 3))
    assert 1e-2 * eps ** (1 / 3) < central.best_step < 1e2 * eps ** (1 / 3)
    assert np.min(central.errors) < 100 * eps ** (2 / 3)
    assert np.min(curves["forward"].errors) > np.min(central.errors)
    # the complex step has no rounding branch: tiny steps stay accurate
    tiny = curves["complex"].steps < 1e-8
    assert np.max(curves["complex"].errors[tiny]) < 10 * eps
    assert np.all(np.isinf(central.errors[central.steps < 0.1 * eps]))  # x + h == x: 0/0


# -- 3c ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [10, 1000])
def test_3c_newton_solves_a_quadratic_in_one_step(app3c, kappa):
    outputs, defs = app3c.run(defs={"nq_kappa": control(kappa)})
    assert defs["nq_newton"].nit == 1 and defs["nq_newton"].success
    rates = defs["nq_rates"]
    assert rates.kappa == pytest.approx(kappa, rel=1e-9)
    predicted = np.log(1e-10) / np.log((kappa - 1) / (kappa + 1))
    assert abs(defs["nq_gd_steps"] - predicted) <= 2
    assert f"{defs['nq_gd_steps']:,} steps" in html_of(outputs)


def test_3c_newton_converges_quadratically_on_rosenbrock(app3c):
    _, defs = app3c.run(defs={"rb_start": control((-1.2, 1.0))})
    runs, err = defs["rb_runs"], defs["rb_err"]["newton"]
    assert runs["newton"].success and runs["bfgs"].success
    assert runs["newton"].nit < runs["bfgs"].nit < runs["gd"].nit
    assert err[-1] < 1e-14
    tail = err[-4:]
    assert np.all(tail[1:] <= 50 * tail[:-1] ** 2)  # e_k <= C e_(k-1)^2
    assert runs["gd"].status is Status.MAX_ITER and defs["rb_err"]["gd"][-1] > 1e-2


@pytest.mark.parametrize(("name", "start", "undamped"), [
    ("himmelblau", (3.2, 0.3), "saddle"),
    ("himmelblau", (0.0, 0.0), "maximum"),
    ("six_hump_camel", (0.2, 0.15), "saddle"),
])
def test_3c_undamped_newton_is_attracted_to_saddles_and_maxima(app3c, name, start, undamped):
    _, defs = app3c.run(defs={"sd_problem": control(name), "sd_x": control(start[0]),
                              "sd_y": control(start[1])})
    ends = defs["sd_end"]
    cp, dist = ends["undamped Newton"]
    assert cp.kind == undamped and dist < 1e-6
    assert defs["sd_runs"]["undamped Newton"].status is Status.CONVERGED  # |g| = 0: "converged"
    for name_ in ("Levenberg-damped Newton", "saddle-free Newton (absolute eigenvalues)"):
        cp, dist = ends[name_]
        assert cp.kind == "minimum" and dist < 1e-6, name_


def test_3c_cost_of_the_hessian(app3c):
    outputs, defs = default_run("03c_newton")
    cost = defs["cost"]
    np.testing.assert_array_equal(cost.n, [16, 32, 64, 128, 256, 512])
    np.testing.assert_array_equal(cost.hessian_bytes, 8.0 * cost.n.astype(float) ** 2)
    assert defs["cost_c3"] > 0 and defs["cost_c2"] > 0
    text = html_of(outputs)
    assert "measured on this machine" in text and "8 EB" in text


def test_3c_quasi_newton_table(app3c):
    _, defs = app3c.run(defs={"qn_dim": control(20), "qn_memory": control(5)})
    runs = defs["qn_runs"]
    assert runs["bfgs"].success and runs["lbfgs"].success
    assert runs["newton"].nhev == runs["newton"].nit and runs["bfgs"].nhev == 0
    p = PROBLEMS["rosenbrock"](dim=20)
    direct = minimize(p, p.start, method="lbfgs", options={"memory": 5})
    assert runs["lbfgs"].nit == direct.nit
    norms = defs["qn_grad_norms"]["bfgs"]
    assert norms[-1] <= runs["bfgs"].tol < norms[0]
