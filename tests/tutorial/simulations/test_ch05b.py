"""Chapter 5b's simulations compute what its prose says they do."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.linalg import lstsq
from numdl.tutorial.simulations import ch05b

U64 = float(np.finfo(np.float64).eps) / 2


def test_lstsq_sweep_slopes_are_two_and_one():
    sweep = ch05b.lstsq_sweep(np.logspace(0, 12, 25), "float64", repeats=3,
                              rng=np.random.default_rng(0))
    for m in ("normal_inv", "normal_solve", "cholesky"):
        assert sweep.slope(m) == pytest.approx(2.0, abs=0.2), m
    for m in ("qr", "svd", "lapack"):
        assert sweep.slope(m) == pytest.approx(1.0, abs=0.15), m
    assert sweep.statuses["cholesky"][-1] == "failed" and np.isnan(sweep.errors["cholesky"][-1])
    assert sweep.statuses["qr"][-1] == "success"
    assert sweep.errors["qr"][-1] < 1e-3 < sweep.errors["normal_solve"][-1]


def test_lstsq_sweep_float32_default_rcond_truncates_near_one_over_eps_max_mn():
    sweep = ch05b.lstsq_sweep(np.logspace(0, 6, 7), "float32", repeats=2,
                              rng=np.random.default_rng(0))
    threshold = 1 / (float(np.finfo(np.float32).eps) * 100)  # rcond = eps * max(m, n)
    assert not sweep.truncated["svd"][sweep.realized < threshold / 2].any()
    assert sweep.truncated["svd"][sweep.realized > 2 * threshold].all()
    assert not sweep.truncated["qr"].any()
    assert sweep.dtype == "float32" and sweep.unit_roundoff == pytest.approx(2.0**-24)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"dtype": "float8_e5m2"}, "dtype="),
    ({"repeats": 0}, "repeats=0"),
    ({"methods": ("qr", "magic")}, "magic"),
])
def test_lstsq_sweep_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ch05b.lstsq_sweep([10.0], **kwargs, rng=np.random.default_rng(0))


def test_collinear_problem_rcond_drops_the_noise_direction():
    x, y = ch05b.collinear_problem(40, 1e-12, rng=np.random.default_rng(4))
    s = np.linalg.svd(x, compute_uv=False)
    assert 1e-14 < s[2] / s[0] < 1e-11
    kept, d_kept = lstsq(x, y, method="svd", rcond=0.0)
    dropped, d_drop = lstsq(x, y, method="svd", rcond=1e-8)
    assert d_kept.rank == 3 and d_drop.rank == 2 and d_drop.truncated == 1
    assert np.linalg.norm(kept) > 1e6 and np.linalg.norm(dropped) < 2
    assert d_drop.residual_norm < 1.01 * d_kept.residual_norm
    with pytest.raises(ValueError, match="noise="):
        ch05b.collinear_problem(40, -1.0, rng=np.random.default_rng(4))


def test_triangular_solve_is_backward_stable_and_the_literal_inverse_is_not():
    study = ch05b.qr_inverse_vs_triangular(np.logspace(0, 12, 5), repeats=3,
                                           rng=np.random.default_rng(0))
    lit, _, tri = ch05b.TRIANGULAR_VARIANTS
    assert np.all(study.backward[tri] <= 10 * 10 * U64)
    assert study.backward[lit][-1] > 1e4 * study.backward[tri][-1]
    for v in ch05b.TRIANGULAR_VARIANTS:
        assert np.all(study.errors[v] <= 100 * study.kappas * U64 + 1e-14), v
    with pytest.raises(ValueError, match="repeats=0"):
        ch05b.qr_inverse_vs_triangular([10.0], repeats=0, rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    for call in (lambda: ch05b.lstsq_sweep([10.0], rng=bad),
                 lambda: ch05b.collinear_problem(rng=bad),
                 lambda: ch05b.qr_inverse_vs_triangular([10.0], rng=bad)):
        with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
            call()
