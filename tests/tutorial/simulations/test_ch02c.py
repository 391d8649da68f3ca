"""Chapter 2c's simulations compute what its prose says they do."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from numdl.tutorial.simulations import ch02c

U64 = float(np.finfo(np.float64).eps) / 2


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e3])
def test_circle_to_ellipse_axes_are_the_singular_values(kappa):
    e = ch02c.circle_to_ellipse(kappa, angle=40.0)
    assert e.kappa == pytest.approx(kappa, rel=1e-12)
    np.testing.assert_allclose(e.matrix @ e.v, e.u * e.sigma, atol=1e-14)
    np.testing.assert_allclose(e.ellipse, e.matrix @ e.circle)
    radii = np.linalg.norm(e.ellipse, axis=0)
    assert radii.max() == pytest.approx(e.sigma[0], rel=1e-3)
    assert radii.min() == pytest.approx(e.sigma[1], rel=2e-2)
    assert np.all(e.v[1] >= 0)  # the sign convention of the figure
    with pytest.raises(ValueError, match="kappa"):
        ch02c.circle_to_ellipse(0.5)
    with pytest.raises(ValueError, match="points"):
        ch02c.circle_to_ellipse(2.0, points=2)


def test_amplification_never_exceeds_kappa_and_the_worst_case_attains_it():
    kappas = np.logspace(0, 10, 6)
    rnd = ch02c.amplification_sweep(kappas, 1e-10, 300, rng=np.random.default_rng(0))
    worst = ch02c.amplification_sweep(kappas, 1e-10, 300, worst_case_x=True,
                                      rng=np.random.default_rng(0))
    # the matrix built for kappa has that condition number up to its own rounding, ~kappa u
    eps = np.finfo(float).eps
    assert np.all(np.abs(rnd.condition / kappas - 1) <= 8 * kappas * eps)
    for sweep in (rnd, worst):
        assert np.all(sweep.amplification <= sweep.condition[:, None] * (1 + 1e-5))
    # x along v1: the best of 300 random directions of db comes within 1% of kappa.
    assert np.all(worst.amplification.max(axis=1) >= 0.99 * worst.condition)
    assert np.all(np.median(rnd.amplification[1:], axis=1) < 0.9 * rnd.condition[1:])
    with pytest.raises(ValueError, match="rel_perturbation"):
        ch02c.amplification_sweep([10.0], 0.0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="trials"):
        ch02c.amplification_sweep([10.0], 1e-10, 0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="kappa"):
        ch02c.amplification_sweep([0.5], rng=np.random.default_rng(0))


def test_hilbert_exact_inverse_and_condition_numbers():
    # The integer inverse is exact: H @ H^-1 = I in rational arithmetic.
    n = 6
    inv = ch02c._hilbert_inverse_exact(n)
    h = [[Fraction(1, i + j + 1) for j in range(n)] for i in range(n)]
    prod = [[sum(h[i][k] * inv[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    assert prod == [[int(i == j) for j in range(n)] for i in range(n)]
    rows = {r.n: r for r in ch02c.hilbert_study(range(2, 16))}
    assert rows[5].kappa_exact == pytest.approx(4.7661e5, rel=1e-4)
    assert rows[10].kappa_exact == pytest.approx(1.6025e13, rel=1e-3)
    for n in range(2, 10):  # kappa u << 1: the float64 SVD of the rounded matrix agrees
        assert rows[n].kappa_computed == pytest.approx(rows[n].kappa_exact, rel=1e-5)
        assert rows[n].digits_lost == pytest.approx(math.log10(rows[n].kappa_exact))
    for n in range(2, 12):
        assert rows[n].error_solve <= n * rows[n].kappa_exact * U64
        assert rows[n].backward_solve <= 10 * n * U64
    assert rows[14].kappa_computed < rows[14].kappa_exact / 10  # saturates near 1/u
    assert all(rows[n].backward_inv > 100 * max(rows[n].backward_solve, U64) for n in (9, 10, 11))


def test_solve_is_backward_stable_and_the_inverse_is_not():
    r = ch02c.solve_vs_inverse(np.logspace(0, 14, 8), n=30, rng=np.random.default_rng(2))
    assert np.all(r.backward_solve <= 10 * 30 * U64)
    assert r.backward_inv[-1] > 1e5 * r.backward_solve[-1]
    assert np.all(r.error_solve <= 30 * r.kappas * U64 + 1e-15)
    assert np.all(r.error_inv <= 300 * r.kappas * U64 + 1e-15)
    with pytest.raises(ValueError, match="repeats=0"):
        ch02c.solve_vs_inverse([10.0], repeats=0, rng=np.random.default_rng(2))


@pytest.mark.parametrize("kappa", [4.0, 30.0, 200.0])
def test_descent_with_the_optimal_rate_matches_the_contraction_factor(kappa):
    lr = 2.0 / (1.0 + 1.0 / kappa)
    run = ch02c.descend_quadratic(kappa, lr, 100_000)
    rho = (kappa - 1) / (kappa + 1)  # every eigen-component shrinks by this factor per step
    assert run.converged_at == pytest.approx(math.log(1e6) / math.log(1 / rho), abs=1.01)
    np.testing.assert_allclose(np.linalg.norm(run.path[5]), rho**5 * np.linalg.norm(run.path[0]),
                               rtol=1e-10)
    steps = ch02c.descent_iterations([kappa], "optimal")
    assert steps[0] == run.converged_at


def test_descent_diverges_past_two_over_l_and_newton_takes_one_step():
    assert ch02c.descend_quadratic(10.0, 2.05, 500).diverged
    assert not ch02c.descend_quadratic(10.0, 1.95, 5).diverged
    assert ch02c.descend_quadratic(1e3, 1.0, 5, newton=True).converged_at == 1
    kappas = np.logspace(1, 3, 9)
    opt = ch02c.descent_iterations(kappas, "optimal")
    one_over_l = ch02c.descent_iterations(kappas, "1/L")
    assert ch02c.loglog_slope(kappas, opt) == pytest.approx(1.0, abs=0.05)
    assert np.all(one_over_l > 1.8 * opt)  # 1 - 1/kappa against (kappa - 1)/(kappa + 1)
    assert np.all(ch02c.descent_iterations(kappas, "newton") == 1)
    with pytest.raises(ValueError, match="rule"):
        ch02c.descent_iterations(kappas, "adam")
    with pytest.raises(ValueError, match="kappas must be"):
        ch02c.descent_iterations([0.5], "optimal")
    with pytest.raises(ValueError, match="lr="):
        ch02c.descend_quadratic(10.0, 0.0)
    np.testing.assert_allclose(ch02c.descend_quadratic(10.0, 0.5, 3).hessian,
                               ch02c.quadratic_hessian(10.0))
    np.testing.assert_allclose(np.linalg.eigvalsh(ch02c.quadratic_hessian(10.0)), [0.1, 1.0])


def test_loglog_slope_recovers_a_power_law_and_refuses_too_few_points():
    x = np.logspace(0, 6, 13)
    assert ch02c.loglog_slope(x, 3 * x**2) == pytest.approx(2.0)
    assert ch02c.loglog_slope(x, 3 * x**2, lo=10.0, hi=1e4) == pytest.approx(2.0)
    assert math.isnan(ch02c.loglog_slope(x[:2], x[:2]))
    assert math.isnan(ch02c.loglog_slope(x, np.full(13, np.nan)))


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch02c.amplification_sweep([10.0], rng=bad)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch02c.solve_vs_inverse([10.0], rng=bad)
