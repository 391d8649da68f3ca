"""The simulations behind chapters 2c, 5b and 5c compute what their prose says they do."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from numdl import demos, naive
from numdl.linalg import condition_number, hilbert, lstsq

U64 = float(np.finfo(np.float64).eps) / 2


# -- chapter 2c ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e3])
def test_circle_to_ellipse_axes_are_the_singular_values(kappa):
    e = demos.circle_to_ellipse(kappa, angle=40.0)
    assert e.kappa == pytest.approx(kappa, rel=1e-12)
    np.testing.assert_allclose(e.matrix @ e.v, e.u * e.sigma, atol=1e-14)
    np.testing.assert_allclose(e.ellipse, e.matrix @ e.circle)
    radii = np.linalg.norm(e.ellipse, axis=0)
    assert radii.max() == pytest.approx(e.sigma[0], rel=1e-3)
    assert radii.min() == pytest.approx(e.sigma[1], rel=2e-2)
    assert np.all(e.v[1] >= 0)  # the sign convention of the figure
    with pytest.raises(ValueError, match="kappa"):
        demos.circle_to_ellipse(0.5)


def test_amplification_never_exceeds_kappa_and_the_worst_case_attains_it():
    kappas = np.logspace(0, 10, 6)
    rnd = demos.amplification_sweep(kappas, 1e-10, 300, rng=np.random.default_rng(0))
    worst = demos.amplification_sweep(kappas, 1e-10, 300, worst_case_x=True,
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
        demos.amplification_sweep([10.0], 0.0, rng=np.random.default_rng(0))


def test_hilbert_exact_inverse_and_condition_numbers():
    # The integer inverse is exact: H @ H^-1 = I in rational arithmetic.
    n = 6
    inv = demos._hilbert_inverse_exact(n)
    h = [[Fraction(1, i + j + 1) for j in range(n)] for i in range(n)]
    prod = [[sum(h[i][k] * inv[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    assert prod == [[int(i == j) for j in range(n)] for i in range(n)]
    rows = {r.n: r for r in demos.hilbert_study(range(2, 16))}
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
    r = demos.solve_vs_inverse(np.logspace(0, 14, 8), n=30, rng=np.random.default_rng(2))
    assert np.all(r.backward_solve <= 10 * 30 * U64)
    assert r.backward_inv[-1] > 1e5 * r.backward_solve[-1]
    assert np.all(r.error_solve <= 30 * r.kappas * U64 + 1e-15)
    assert np.all(r.error_inv <= 300 * r.kappas * U64 + 1e-15)


@pytest.mark.parametrize("kappa", [4.0, 30.0, 200.0])
def test_descent_with_the_optimal_rate_matches_the_contraction_factor(kappa):
    lr = 2.0 / (1.0 + 1.0 / kappa)
    run = demos.descend_quadratic(kappa, lr, 100_000)
    rho = (kappa - 1) / (kappa + 1)  # every eigen-component shrinks by this factor per step
    assert run.converged_at == pytest.approx(math.log(1e6) / math.log(1 / rho), abs=1.01)
    np.testing.assert_allclose(np.linalg.norm(run.path[5]), rho**5 * np.linalg.norm(run.path[0]),
                               rtol=1e-10)
    steps = demos.descent_iterations([kappa], "optimal")
    assert steps[0] == run.converged_at


def test_descent_diverges_past_two_over_l_and_newton_takes_one_step():
    assert demos.descend_quadratic(10.0, 2.05, 500).diverged
    assert not demos.descend_quadratic(10.0, 1.95, 5).diverged
    assert demos.descend_quadratic(1e3, 1.0, 5, newton=True).converged_at == 1
    kappas = np.logspace(1, 3, 9)
    opt = demos.descent_iterations(kappas, "optimal")
    one_over_l = demos.descent_iterations(kappas, "1/L")
    assert demos.loglog_slope(kappas, opt) == pytest.approx(1.0, abs=0.05)
    assert np.all(one_over_l > 1.8 * opt)  # 1 - 1/kappa against (kappa - 1)/(kappa + 1)
    assert np.all(demos.descent_iterations(kappas, "newton") == 1)
    with pytest.raises(ValueError, match="rule"):
        demos.descent_iterations(kappas, "adam")


# -- chapter 5b ----------------------------------------------------------------------------------


def test_loglog_slope_recovers_a_power_law_and_refuses_too_few_points():
    x = np.logspace(0, 6, 13)
    assert demos.loglog_slope(x, 3 * x**2) == pytest.approx(2.0)
    assert demos.loglog_slope(x, 3 * x**2, lo=10.0, hi=1e4) == pytest.approx(2.0)
    assert math.isnan(demos.loglog_slope(x[:2], x[:2]))
    assert math.isnan(demos.loglog_slope(x, np.full(13, np.nan)))


def test_lstsq_sweep_slopes_are_two_and_one():
    sweep = demos.lstsq_sweep(np.logspace(0, 12, 25), "float64", repeats=3)
    for m in ("normal_inv", "normal_solve", "cholesky"):
        assert sweep.slope(m) == pytest.approx(2.0, abs=0.2), m
    for m in ("qr", "svd", "lapack"):
        assert sweep.slope(m) == pytest.approx(1.0, abs=0.15), m
    assert sweep.statuses["cholesky"][-1] == "failed" and np.isnan(sweep.errors["cholesky"][-1])
    assert sweep.statuses["qr"][-1] == "success"
    assert sweep.errors["qr"][-1] < 1e-3 < sweep.errors["normal_solve"][-1]


def test_lstsq_sweep_float32_default_rcond_truncates_near_one_over_eps_max_mn():
    sweep = demos.lstsq_sweep(np.logspace(0, 6, 7), "float32", repeats=2)
    threshold = 1 / (float(np.finfo(np.float32).eps) * 100)  # rcond = eps * max(m, n)
    assert not sweep.truncated["svd"][sweep.realized < threshold / 2].any()
    assert sweep.truncated["svd"][sweep.realized > 2 * threshold].all()
    assert not sweep.truncated["qr"].any()
    assert sweep.dtype == "float32" and sweep.unit_roundoff == pytest.approx(2.0**-24)


def test_collinear_problem_rcond_drops_the_noise_direction():
    x, y = demos.collinear_problem(40, 1e-12, rng=np.random.default_rng(4))
    s = np.linalg.svd(x, compute_uv=False)
    assert 1e-14 < s[2] / s[0] < 1e-11
    kept, d_kept = lstsq(x, y, method="svd", rcond=0.0)
    dropped, d_drop = lstsq(x, y, method="svd", rcond=1e-8)
    assert d_kept.rank == 3 and d_drop.rank == 2 and d_drop.truncated == 1
    assert np.linalg.norm(kept) > 1e6 and np.linalg.norm(dropped) < 2
    assert d_drop.residual_norm < 1.01 * d_kept.residual_norm


def test_triangular_solve_is_backward_stable_and_the_literal_inverse_is_not():
    study = demos.qr_inverse_vs_triangular(np.logspace(0, 12, 5), repeats=3)
    lit, _, tri = demos.TRIANGULAR_VARIANTS
    assert np.all(study.backward[tri] <= 10 * 10 * U64)
    assert study.backward[lit][-1] > 1e4 * study.backward[tri][-1]
    for v in demos.TRIANGULAR_VARIANTS:
        assert np.all(study.errors[v] <= 100 * study.kappas * U64 + 1e-14), v


# -- chapter 5c ----------------------------------------------------------------------------------


def test_eps_rounds_to_zero_in_float16_and_a_constant_feature_gives_nan():
    e16 = demos.eps_effect(0.0, 1e-8, "float16")
    assert e16.eps_stored == 0.0 and e16.has_nan
    e32 = demos.eps_effect(0.0, 1e-8, "float32")
    assert not e32.has_nan and np.all(e32.y == 0)
    assert not demos.eps_effect(0.0, 1e-5, "float16").has_nan  # 1e-5 is a float16 subnormal


@pytest.mark.parametrize("std", [1e-4, 3e-3, 0.1])
def test_eps_shrinks_the_output_std_as_the_formula_says(std):
    e = demos.eps_effect(std, 1e-5, "float64", batch=64)
    assert e.output_std == pytest.approx(math.sqrt(e.batch_var / (e.batch_var + 1e-5)), rel=1e-9)
    curve = demos.eps_shrinkage(np.logspace(-5, 0, 11), 1e-5, "float32")
    assert np.all(np.diff(curve) > 0) and curve[0] < 0.01 and curve[-1] > 0.99


def test_batch_variance_quantiles_follow_the_chi_square_law():
    sizes = [4, 8, 64]
    qs = (0.05, 0.5, 0.95)
    got = demos.batch_variance_quantiles(sizes, 20_000, "normal", qs=qs, seed=1)
    want = np.array([[stats.chi2.ppf(q, b - 1) / b for q in qs] for b in sizes])
    np.testing.assert_allclose(got, want, rtol=0.06)
    heavy = demos.batch_variance_quantiles(sizes, 20_000, "heavy-tailed (Student t, 5 dof)",
                                           qs=qs, seed=1)
    assert np.all(heavy[:, 2] - heavy[:, 0] > got[:, 2] - got[:, 0])  # heavy tails: wider
    with pytest.raises(ValueError, match="at least 2"):
        demos.batch_variance_quantiles([1])


def test_running_variance_naive_breaks_and_welford_does_not():
    s32 = demos.running_variance_stream(1e4, 1.0, 64, 50, "float32")
    assert np.any(s32.naive < 0)
    assert np.max(np.abs(s32.welford - s32.exact) / s32.exact) < 1e-3
    assert s32.state_dtype == "float32"
    s16 = demos.running_variance_stream(100.0, 1.0, 64, 20, "float16")
    assert not np.all(np.isfinite(s16.naive))  # x**2 sums overflow float16
    assert np.max(np.abs(s16.welford - s16.exact) / s16.exact) < 1e-4  # float32 state
    # The exact value is the population variance of the stored samples.
    rng = np.random.default_rng(0)
    data = (1e4 + rng.standard_normal((50, 64))).astype(np.float32)
    assert s32.exact[-1] == pytest.approx(float(np.var(data.astype(np.float64))), rel=1e-12)
    assert naive.variance(data.ravel()) != pytest.approx(s32.exact[-1], rel=0.5)


def test_train_eval_mismatch_batch_of_two_gives_plus_minus_one_and_shift_moves_eval():
    te = demos.train_eval_mismatch(2, 0.0, trials=100)
    # Two values normalize to -+1/sqrt(1 + eps/var): 1 up to eps, whatever they are.
    assert np.all(np.abs(te.train_outputs) <= 1) and np.median(np.abs(te.train_outputs)) > 0.9999
    big = demos.train_eval_mismatch(64, 0.0, trials=200)
    assert big.running_mean == pytest.approx(3.0, abs=0.2)
    assert big.running_var == pytest.approx(4.0, rel=0.15)
    assert big.eval_output == pytest.approx(0.5, abs=0.15)
    assert np.mean(big.train_outputs) == pytest.approx(0.5, abs=0.05)
    shifted = demos.train_eval_mismatch(64, 1.0, trials=200)
    assert shifted.eval_output - big.eval_output == pytest.approx(1.0, abs=0.1)
    assert np.mean(shifted.train_outputs) == pytest.approx(0.5, abs=0.05)  # recentred
    with pytest.raises(ValueError, match="batch_size"):
        demos.train_eval_mismatch(1)


def test_exact_lstsq_reference_of_chapter05b_is_exact():
    from numdl.exercises.chapter05b import exact_lstsq

    # A problem with an exactly known answer: X = [[1, 0], [0, 1], [1, 1]], y = [1, 2, 4].
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 2.0, 4.0])
    # X^T X = [[2, 1], [1, 2]], X^T y = [5, 6]: beta = [4/3, 7/3].
    np.testing.assert_array_equal(exact_lstsq(x, y), [4 / 3, 7 / 3])
    h = hilbert(6)
    beta = exact_lstsq(h, h @ np.ones(6))
    assert np.max(np.abs(beta - 1)) < 1e-9  # the rounded b moves the exact answer by ~kappa u
