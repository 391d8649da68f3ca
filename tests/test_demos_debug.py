"""The chapter-6 simulations: signal scales through deep MLPs, clipping, threshold search."""

from __future__ import annotations

import numpy as np
import pytest

from numdl import demos


def test_init_std_matches_the_schemes():
    assert demos.init_std("normal", 100, 100) == 1.0
    assert demos.init_std("xavier", 100, 300) == pytest.approx(np.sqrt(2 / 400))
    assert demos.init_std("he", 50, 10) == pytest.approx(np.sqrt(2 / 50))
    with pytest.raises(ValueError, match="init="):
        demos.init_std("lecun", 1, 1)


def test_he_keeps_relu_signals_while_normal_explodes_and_xavier_vanishes():
    def run(init):
        return demos.mlp_signal_scales(30, "relu", init, rng=np.random.default_rng(0))

    he, xavier, normal = run("he"), run("xavier"), run("normal")
    assert 0.3 < he.activation_std[-1] < 3 and 0.1 < he.gradient_std[0] / he.gradient_std[-1] < 10
    assert xavier.activation_std[-1] < 1e-3  # the variance halves at every ReLU layer
    assert normal.activation_std[-1] > 1e20  # sqrt(width / 2) = 8 per layer


def test_normal_init_overflows_float32_to_inf_in_a_deep_relu_net():
    s = demos.mlp_signal_scales(50, "relu", "normal", rng=np.random.default_rng(0))
    assert not np.isfinite(s.activation_std[-1]) and np.isfinite(s.activation_std[0])


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="activation="):
        demos.mlp_signal_scales(3, "gelu", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_norm"):
        demos.clip_by_global_norm([np.ones(2)], 0.0)


def test_clip_by_global_norm_keeps_the_direction_and_caps_the_length():
    g = [np.array([3.0, 0.0]), np.array([4.0])]
    r = demos.clip_by_global_norm(g, 1.0)
    assert r.total_norm == 5.0 and r.scale == pytest.approx(0.2) and r.finite
    np.testing.assert_allclose(np.concatenate(r.grads), [0.6, 0.0, 0.8])
    assert demos.clip_by_global_norm(g, 10.0).scale == 1.0


def test_clip_by_global_norm_squares_in_float64():
    g = [np.full(4, 1e20, dtype=np.float32)]  # float32 squares overflow; the norm is 2e20
    r = demos.clip_by_global_norm(g, 1.0)
    assert r.total_norm == pytest.approx(2e20, rel=1e-6) and r.finite
    np.testing.assert_allclose(r.grads[0], 0.5, rtol=1e-6)
    assert r.grads[0].dtype == np.float32


def test_a_nan_gradient_is_reported_not_spread():
    g = [np.array([1.0, np.nan]), np.array([2.0])]
    r = demos.clip_by_global_norm(g, 1.0)
    assert not r.finite and np.isnan(r.total_norm)
    np.testing.assert_array_equal(r.grads[1], [2.0])  # untouched, not nan
    with pytest.raises(FloatingPointError, match="nan"):
        demos.clip_by_global_norm(g, 1.0, error_if_nonfinite=True)


def test_clip_by_value_changes_direction():
    (c,) = demos.clip_by_value([np.array([10.0, 1.0])], 1.0)
    np.testing.assert_array_equal(c, [1.0, 1.0])


F32_EXP_SLACK = 2 * float(np.spacing(np.float32(88.7)))  # 2 float32 ULPs at the threshold


def test_nonfinite_threshold_finds_float32_exp_overflow():
    r = demos.nonfinite_threshold(lambda s: np.exp(np.float32(s)))
    assert r.found and r.doublings[-1] == 128.0
    # The bracket is this exp's own threshold ...
    with np.errstate(over="ignore"):
        assert np.isfinite(np.exp(np.float32(r.last_finite)))
        assert np.isinf(np.exp(np.float32(r.first_nonfinite)))
    # ... which for an exp within an ULP of correct is within a float32 spacing or two of the
    # exact one, log(float32 max) = 88.7228... (where it lands exactly depends on the CPU's exp)
    assert r.last_finite == pytest.approx(np.log(np.finfo(np.float32).max), abs=F32_EXP_SLACK)
    assert not demos.nonfinite_threshold(lambda s: s, max_doublings=10).found


def test_first_nonfinite_layer_checks_entries_not_sums():
    big = np.full(4, 60000, dtype=np.float16)  # finite, but its float16 sum overflows
    assert demos.first_nonfinite_layer([np.ones(2), big, np.array([1.0, -np.inf])]) == 2
    assert demos.first_nonfinite_layer([np.ones(2)]) is None
    assert demos.first_nonfinite_layer([np.array(np.nan)]) == 0
