"""Chapter 6's simulations: signal scales through deep MLPs, threshold search, the first bad layer."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.tutorial.simulations import ch06


def test_he_keeps_relu_signals_while_normal_explodes_and_xavier_vanishes():
    def run(init):
        return ch06.mlp_signal_scales(30, "relu", init, rng=np.random.default_rng(0))

    he, xavier, normal = run("he"), run("xavier"), run("normal")
    assert 0.3 < he.activation_std[-1] < 3 and 0.1 < he.gradient_std[0] / he.gradient_std[-1] < 10
    assert xavier.activation_std[-1] < 1e-3  # the variance halves at every ReLU layer
    assert normal.activation_std[-1] > 1e20  # sqrt(width / 2) = 8 per layer


def test_normal_init_overflows_float32_to_inf_in_a_deep_relu_net():
    s = ch06.mlp_signal_scales(50, "relu", "normal", rng=np.random.default_rng(0))
    assert not np.isfinite(s.activation_std[-1]) and np.isfinite(s.activation_std[0])


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="activation="):
        ch06.mlp_signal_scales(3, "gelu", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="depth must be >= 1"):
        ch06.mlp_signal_scales(0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="dtype="):
        ch06.mlp_signal_scales(3, dtype="float8_e4m3fn", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="start must be > 0"):
        ch06.nonfinite_threshold(np.exp, start=0.0)


@pytest.mark.parametrize("bad", [0, None, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        ch06.mlp_signal_scales(3, rng=bad)


F32_EXP_SLACK = 2 * float(np.spacing(np.float32(88.7)))  # 2 float32 ULPs at the threshold


def test_nonfinite_threshold_finds_float32_exp_overflow():
    r = ch06.nonfinite_threshold(lambda s: np.exp(np.float32(s)))
    assert r.found and r.doublings[-1] == 128.0
    # The bracket is this exp's own threshold ...
    with np.errstate(over="ignore"):
        assert np.isfinite(np.exp(np.float32(r.last_finite)))
        assert np.isinf(np.exp(np.float32(r.first_nonfinite)))
    # ... which for an exp within an ULP of correct is within a float32 spacing or two of the
    # exact one, log(float32 max) = 88.7228... (where it lands exactly depends on the CPU's exp)
    assert r.last_finite == pytest.approx(np.log(np.finfo(np.float32).max), abs=F32_EXP_SLACK)
    assert not ch06.nonfinite_threshold(lambda s: s, max_doublings=10).found
    broken = ch06.nonfinite_threshold(lambda s: np.nan)  # not finite at the start already
    assert not broken.found and broken.first_nonfinite == 1.0


def test_first_nonfinite_layer_checks_entries_not_sums():
    big = np.full(4, 60000, dtype=np.float16)  # finite, but its float16 sum overflows
    assert ch06.first_nonfinite_layer([np.ones(2), big, np.array([1.0, -np.inf])]) == 2
    assert ch06.first_nonfinite_layer([np.ones(2)]) is None
    assert ch06.first_nonfinite_layer([np.array(np.nan)]) == 0
