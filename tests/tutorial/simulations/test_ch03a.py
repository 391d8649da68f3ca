"""Chapter 3a's experiments measure what the prose says they do."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.optim import Status, minimize, optimal_gradient_step, quadratic_rates
from numdl.optim.problems import PROBLEMS, himmelblau, quadratic
from numdl.tutorial.simulations import ch03a


def test_contraction_per_step_of_a_geometric_sequence():
    e = 3.0 * 0.7 ** np.arange(60)
    assert ch03a.contraction_per_step(e) == pytest.approx(0.7, rel=1e-12)
    assert ch03a.contraction_per_step(2.0 * 1.1 ** np.arange(10)) == pytest.approx(1.1, rel=1e-12)
    # below 1e-13 of the start rounding rules: those errors are left out
    e = np.concatenate([0.5 ** np.arange(40), np.full(20, 1e-15)])
    assert ch03a.contraction_per_step(e) == pytest.approx(0.5, rel=1e-12)
    assert ch03a.contraction_per_step([1.0, 0.0]) == 0.0  # solved in one step
    assert np.isnan(ch03a.contraction_per_step([1.0]))
    with pytest.raises(ValueError, match="errors must be"):
        ch03a.contraction_per_step(np.ones((2, 2)))
    with pytest.raises(ValueError, match="errors must be"):
        ch03a.contraction_per_step([1.0, 0.5], [0, 1, 2])


@pytest.mark.parametrize("kappa", [1.0, 10.0, 100.0])
def test_gd_on_quadratic_measures_the_predicted_rate_at_the_best_step(kappa):
    rates = quadratic_rates(np.diag([1.0, kappa]))
    run = ch03a.gd_on_quadratic(kappa, rates.best_step, steps=5000, rng=np.random.default_rng(0))
    assert run.regime == "best" and run.result.status is Status.CONVERGED
    assert run.predicted == pytest.approx(rates.rate, abs=1e-12)
    # both eigen-components shrink by exactly (kappa - 1)/(kappa + 1) in magnitude per step
    assert run.measured == pytest.approx(rates.rate, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize(("fraction", "regime", "factor_index"),
                         [(0.2, "too small", 0), (0.97, "too large", 1)])
def test_gd_on_quadratic_is_limited_by_one_eigenvalue(fraction, regime, factor_index):
    run = ch03a.gd_on_quadratic(10.0, fraction * 0.2, steps=1000, rng=np.random.default_rng(1))
    assert run.regime == regime
    assert run.predicted == pytest.approx(run.factors[factor_index], rel=1e-12)
    assert run.measured == pytest.approx(run.predicted, rel=1e-6)


def test_gd_on_quadratic_diverges_above_the_stability_limit():
    run = ch03a.gd_on_quadratic(10.0, 1.02 * 0.2, steps=2000, rng=np.random.default_rng(2))
    assert run.regime == "diverges" and run.result.status is Status.DIVERGED
    assert run.measured == pytest.approx(1.04, rel=1e-6)  # |1 - 0.204 * 10|
    with pytest.raises(ValueError, match="lr="):
        ch03a.gd_on_quadratic(10.0, 0.0)


def test_gd_on_quadratic_without_rng_is_axis_aligned():
    run = ch03a.gd_on_quadratic(10.0, 0.1, steps=50)
    np.testing.assert_array_equal(run.problem.params["hessian"], np.diag([1.0, 10.0]))
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch03a.gd_on_quadratic(10.0, 0.1, rng=0)


def test_exact_step_descent_uses_the_second_order_step():
    q = quadratic(kappa=10.0, rng=np.random.default_rng(0))
    run = ch03a.exact_step_descent(q, q.start, 6)
    g0 = q.gradient(q.start)
    assert run.steps[0] == optimal_gradient_step(q.params["hessian"], g0)
    assert np.all(np.diff(run.values) < 0)
    # each step is between 1/lambda_max and 1/lambda_min
    assert np.all((run.steps >= 0.1 - 1e-12) & (run.steps <= 1.0 + 1e-12))
    # on a quadratic the exact line search makes consecutive gradients orthogonal
    g1 = q.gradient(run.iterates[1])
    assert abs(g0 @ g1) <= 1e-12 * np.linalg.norm(g0) * np.linalg.norm(g1)
    # at the minimum the gradient is 0 and the run stops
    assert ch03a.exact_step_descent(q, np.zeros(2), 5).steps.size == 0


def test_schedules_start_at_the_peak_and_decay():
    cat = ch03a.schedule_catalog(0.1, 300)
    assert set(cat) == {"constant", "step", "exponential", "inverse time", "cosine",
                        "warmup + cosine"}
    t = np.arange(300)
    for name, s in cat.items():
        lr = s(t)
        assert np.max(lr) == pytest.approx(0.1, rel=0.02), name
        if name != "constant":
            assert lr[-1] < 0.2 * 0.1, name
    assert cat["warmup + cosine"](0) == 0.0
    with pytest.raises(ValueError):
        ch03a.schedule_catalog(0.0, 100)
    with pytest.raises(ValueError, match="steps=5"):
        ch03a.schedule_catalog(0.1, 5)


def test_noisy_descent_decaying_schedules_beat_a_constant_step():
    q = quadratic(kappa=10.0, rng=np.random.default_rng(0))
    cat = ch03a.schedule_catalog(0.1, 400)
    final = {name: ch03a.noisy_descent(q, q.start, s, 400, noise=1.0, runs=200,
                                       rng=np.random.default_rng(3))[-1] for name, s in cat.items()}
    for name in ("step", "exponential", "cosine", "inverse time"):
        assert final[name] < 0.25 * final["constant"], name
    # without noise, a constant step converges to the minimum
    clean = ch03a.noisy_descent(q, q.start, 0.1, 400, noise=0.0, rng=np.random.default_rng(0))
    assert clean[-1] < 1e-12
    # above the stability limit the loss overflows and is reported as inf
    assert ch03a.noisy_descent(q, q.start, 0.25, 2000, noise=0.0, rng=np.random.default_rng(0))[-1] \
        == np.inf
    with pytest.raises(ValueError, match="runs=0"):
        ch03a.noisy_descent(q, q.start, 0.1, 10, noise=1.0, runs=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise=-1"):
        ch03a.noisy_descent(q, q.start, 0.1, 10, noise=-1.0, rng=np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ch03a.RACE_LR))
def test_race_learning_rates_are_the_best_of_their_grid(name):
    # The recipe of RACE_LR: lowest f after 2000 steps over 10**(-4, -3.5, ..., 0).
    grid = np.arange(-4.0, 0.01, 0.5)
    for method, best in ch03a.RACE_LR[name].items():
        finals = ch03a.learning_rate_grid(name, method, grid)
        # best, or tied with the best within rounding: two runs that both converged stop at
        # f ~ 1e-12 a few percent apart, and which is lower depends on the CPU's rounding
        assert finals[grid == best][0] <= 1.1 * finals.min(), (name, method, finals)
    p = PROBLEMS[name]()
    res = minimize(p, p.start, method="gd", lr=10.0**grid[-1], max_iter=2000)
    assert res.status is Status.DIVERGED and ch03a.learning_rate_grid(name, "gd", grid[-1:])[0] == np.inf


def test_learning_rate_grid_names_an_unknown_problem():
    with pytest.raises(ValueError, match="problem_name='nope'"):
        ch03a.learning_rate_grid("nope", "gd", [-3.0])


def test_grid_values_match_the_problem():
    p = himmelblau()
    xs, ys, z = ch03a.grid_values(p, points=5)
    assert z.shape == (5, 5) and xs[0] == -5.0 and ys[-1] == 5.0
    assert z[1, 3] == p.value([xs[3], ys[1]])
    with pytest.raises(ValueError, match="2-D"):
        ch03a.grid_values(PROBLEMS["rosenbrock"](dim=3))


def test_optimizer_race_runs_every_method_at_its_learning_rate():
    race = ch03a.optimizer_race("beale", ("gd", "adam"), steps=300, lr_scale=0.5)
    assert set(race) == {"gd", "adam"}
    assert race["adam"].trajectory.shape == (race["adam"].nit + 1, 2)
    direct = minimize(PROBLEMS["beale"](), PROBLEMS["beale"]().start, method="gd",
                      lr=0.5 * 10**ch03a.RACE_LR["beale"]["gd"], max_iter=300)
    np.testing.assert_array_equal(race["gd"].x, direct.x)
    with pytest.raises(ValueError, match="problem_name"):
        ch03a.optimizer_race("himmelblau")
    with pytest.raises(ValueError, match="no tuned learning rate"):
        ch03a.optimizer_race("beale", ("newton",))
    with pytest.raises(ValueError, match="lr_scale"):
        ch03a.optimizer_race("beale", lr_scale=0.0)


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    q = quadratic(kappa=10.0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch03a.noisy_descent(q, q.start, 0.1, 10, noise=1.0, rng=bad)
