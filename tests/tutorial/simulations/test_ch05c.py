"""Chapter 5c's simulations compute what its prose says they do."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from numdl import naive
from numdl.tutorial.simulations import ch05c


def test_eps_rounds_to_zero_in_float16_and_a_constant_feature_gives_nan():
    e16 = ch05c.eps_effect(0.0, 1e-8, "float16", rng=np.random.default_rng(0))
    assert e16.eps_stored == 0.0 and e16.has_nan
    e32 = ch05c.eps_effect(0.0, 1e-8, "float32", rng=np.random.default_rng(0))
    assert not e32.has_nan and np.all(e32.y == 0)
    # 1e-5 is a float16 subnormal
    assert not ch05c.eps_effect(0.0, 1e-5, "float16", rng=np.random.default_rng(0)).has_nan


@pytest.mark.parametrize("std", [1e-4, 3e-3, 0.1])
def test_eps_shrinks_the_output_std_as_the_formula_says(std):
    e = ch05c.eps_effect(std, 1e-5, "float64", batch=64, rng=np.random.default_rng(0))
    assert e.output_std == pytest.approx(math.sqrt(e.batch_var / (e.batch_var + 1e-5)), rel=1e-9)
    curve = ch05c.eps_shrinkage(np.logspace(-5, 0, 11), 1e-5, "float32",
                                rng=np.random.default_rng(0))
    assert np.all(np.diff(curve) > 0) and curve[0] < 0.01 and curve[-1] > 0.99


def test_eps_shrinkage_measures_every_std_on_one_draw():
    stds = [1e-3, 0.1]
    curve = ch05c.eps_shrinkage(stds, 1e-5, "float32", rng=np.random.default_rng(7))
    # each point is eps_effect of the same batch of N(0, 1) values, scaled
    each = [ch05c.eps_effect(s, 1e-5, "float32", batch=256, rng=np.random.default_rng(7)).output_std
            for s in stds]
    np.testing.assert_array_equal(curve, each)


def test_batch_variance_quantiles_follow_the_chi_square_law():
    sizes = [4, 8, 64]
    qs = (0.05, 0.5, 0.95)
    got = ch05c.batch_variance_quantiles(sizes, 20_000, "normal", qs=qs,
                                         rng=np.random.default_rng(1))
    want = np.array([[stats.chi2.ppf(q, b - 1) / b for q in qs] for b in sizes])
    np.testing.assert_allclose(got, want, rtol=0.06)
    heavy = ch05c.batch_variance_quantiles(sizes, 20_000, "heavy-tailed (Student t, 5 dof)",
                                           qs=qs, rng=np.random.default_rng(1))
    assert np.all(heavy[:, 2] - heavy[:, 0] > got[:, 2] - got[:, 0])  # heavy tails: wider
    with pytest.raises(ValueError, match="at least 2"):
        ch05c.batch_variance_quantiles([1], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="dist="):
        ch05c.batch_variance_quantiles([4], dist="cauchy", rng=np.random.default_rng(0))


def test_running_variance_naive_breaks_and_welford_does_not():
    s32 = ch05c.running_variance_stream(1e4, 1.0, 64, 50, "float32", rng=np.random.default_rng(0))
    assert np.any(s32.naive < 0)
    assert np.max(np.abs(s32.welford - s32.exact) / s32.exact) < 1e-3
    assert s32.state_dtype == "float32"
    s16 = ch05c.running_variance_stream(100.0, 1.0, 64, 20, "float16", rng=np.random.default_rng(0))
    assert not np.all(np.isfinite(s16.naive))  # x**2 sums overflow float16
    assert np.max(np.abs(s16.welford - s16.exact) / s16.exact) < 1e-4  # float32 state
    # The exact value is the population variance of the stored samples.
    rng = np.random.default_rng(0)
    data = (1e4 + rng.standard_normal((50, 64))).astype(np.float32)
    assert s32.exact[-1] == pytest.approx(float(np.var(data.astype(np.float64))), rel=1e-12)
    assert naive.variance(data.ravel()) != pytest.approx(s32.exact[-1], rel=0.5)
    with pytest.raises(ValueError, match="batch=0"):
        ch05c.running_variance_stream(1.0, batch=0, rng=np.random.default_rng(0))


def test_train_eval_mismatch_batch_of_two_gives_plus_minus_one_and_shift_moves_eval():
    te = ch05c.train_eval_mismatch(2, 0.0, trials=100, rng=np.random.default_rng(0))
    # Two values normalize to -+1/sqrt(1 + eps/var): 1 up to eps, whatever they are.
    assert np.all(np.abs(te.train_outputs) <= 1) and np.median(np.abs(te.train_outputs)) > 0.9999
    big = ch05c.train_eval_mismatch(64, 0.0, trials=200, rng=np.random.default_rng(0))
    assert big.running_mean == pytest.approx(3.0, abs=0.2)
    assert big.running_var == pytest.approx(4.0, rel=0.15)
    assert big.eval_output == pytest.approx(0.5, abs=0.15)
    assert np.mean(big.train_outputs) == pytest.approx(0.5, abs=0.05)
    shifted = ch05c.train_eval_mismatch(64, 1.0, trials=200, rng=np.random.default_rng(0))
    assert shifted.eval_output - big.eval_output == pytest.approx(1.0, abs=0.1)
    assert np.mean(shifted.train_outputs) == pytest.approx(0.5, abs=0.05)  # recentred
    with pytest.raises(ValueError, match="batch_size"):
        ch05c.train_eval_mismatch(1, rng=np.random.default_rng(0))


@pytest.mark.parametrize("call", [
    lambda: ch05c.eps_effect(-1.0, 1e-5, rng=np.random.default_rng(0)),
    lambda: ch05c.eps_shrinkage([1.0, -1.0], 1e-5, rng=np.random.default_rng(0)),
])
def test_a_negative_std_is_refused(call):
    with pytest.raises(ValueError, match=r"feature_std=-1\.0"):
        call()


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    for call in (lambda: ch05c.eps_effect(0.1, 1e-5, rng=bad),
                 lambda: ch05c.eps_shrinkage([0.1], 1e-5, rng=bad),
                 lambda: ch05c.batch_variance_quantiles([4], rng=bad),
                 lambda: ch05c.running_variance_stream(1.0, rng=bad),
                 lambda: ch05c.train_eval_mismatch(4, rng=bad)):
        with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
            call()
